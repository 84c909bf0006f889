"""README stays a page for users, and the docs' links lead somewhere.

README.md is short (the studies live in docs/experiments/), names the command CI runs (`.ci/run`
runs `make test`), has no machine-local /tmp path, and every relative link in it and in the docs
points to a file or folder of this checkout.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 400

#: Pages written by another helper of the same stop; a link to one of them may precede its merge.
#: Remove an entry once the file is in the tree (the test then checks that link like any other).
PENDING = {ROOT / "docs" / "experiments" / "unseen_scenes.md"}

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_links(text):
    """Targets of the Markdown links in ``text`` that point into the checkout.

    Fenced code and HTML comments are skipped; URLs (scheme:) and pure #anchors are not relative;
    a target's #anchor is dropped.
    """
    text = _COMMENT.sub("", _FENCE.sub("", text))
    out = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
            continue
        out.append(target.split("#", 1)[0])
    return out


def broken_links(page):
    """Relative link targets of ``page`` that do not exist (PENDING pages excepted)."""
    bad = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path = (page.parent / target).resolve()
        if not path.exists() and path not in PENDING:
            bad.append(target)
    return bad


def test_link_parser_by_hand(tmp_path):
    page = tmp_path / "p.md"
    (tmp_path / "there.md").write_text("x")
    page.write_text(
        "[a](there.md) [b](there.md#sec) ![c](missing.png) [d](https://x.org/y) [e](#top)\n"
        "<!-- [f](hidden.md) -->\n```\n[g](in_code.md)\n```\n[h](gone/)\n")
    assert relative_links(page.read_text()) == ["there.md", "there.md", "missing.png", "gone/"]
    assert broken_links(page) == ["missing.png", "gone/"]


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines (at most {MAX_README_LINES}): move studies to docs/experiments/"


def test_readme_names_the_ci_command():
    # .ci/run runs `make test`, the Makefile defines it, and README tells users to run it
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^test:", (ROOT / "Makefile").read_text(), re.M)
    blocks = "\n".join(_FENCE.findall(README.read_text(encoding="utf-8")))
    assert re.search(r"^make test\b", blocks, re.M), "README's command block must show `make test`"


def test_readme_has_no_tmp_path():
    lines = [i + 1 for i, ln in enumerate(README.read_text(encoding="utf-8").splitlines()) if "/tmp/" in ln]
    assert not lines, f"README.md lines {lines} name a /tmp/ path (write outputs/... instead)"


DOC_PAGES = [README, ROOT / "CHANGELOG.md"] + sorted((ROOT / "docs").glob("*.md")) \
    + sorted((ROOT / "docs" / "experiments").glob("*.md"))


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_exist(page):
    assert not broken_links(page), f"{page.relative_to(ROOT)}: links to missing files {broken_links(page)}"


def test_experiments_index_lists_every_study():
    index = ROOT / "docs" / "experiments" / "README.md"
    linked = {(index.parent / t).resolve() for t in relative_links(index.read_text(encoding="utf-8"))}
    for study in (ROOT / "docs" / "experiments").glob("*.md"):
        if study.name != "README.md":
            assert study.resolve() in linked, f"docs/experiments/README.md does not link {study.name}"
