"""finetrack/studies/paper_scale_check.py: the MOT17 layouts it links, its refusals, and (slow) the whole check."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import load_script

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def psc():
    return load_script("paper_scale_check")


def _fake_seq(root: Path, n: int) -> Path:
    seq = root / "MOT17-02-FRCNN"
    (seq / "img1").mkdir(parents=True)
    for i in range(1, n + 1):
        (seq / "img1" / f"{i:06d}.jpg").write_bytes(b"x")
    (seq / "det").mkdir()
    (seq / "det" / "det.txt").write_text("1,-1,1,1,5,5,0.9\n")
    (seq / "gt").mkdir()
    (seq / "gt" / "gt.txt").write_text("1,1,1,1,5,5,1,1,1.0\n")
    (seq / "seqinfo.ini").write_text(
        "[Sequence]\nname=MOT17-02-FRCNN\nimDir=img1\nframeRate=30\nseqLength=600\nimWidth=1920\n"
        "imHeight=1080\nimExt=.jpg\n")
    return seq


def test_test_layout_copy_renames_cuts_and_drops_gt(psc, tmp_path):
    src = _fake_seq(tmp_path / "src", 5)
    dst = tmp_path / "test" / "MOT17-01-FRCNN"
    psc.link_sequence(src, dst, frames=3, with_gt=False)
    assert sorted(p.name for p in (dst / "img1").iterdir()) == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert all((dst / "img1" / n).is_symlink() for n in ("000001.jpg", "000003.jpg"))  # linked, not copied
    assert not (dst / "gt").exists()
    ini = configparser.ConfigParser()
    ini.optionxform = str
    ini.read(dst / "seqinfo.ini")
    assert ini["Sequence"]["name"] == "MOT17-01-FRCNN" and ini["Sequence"]["seqLength"] == "3"
    assert ini["Sequence"]["frameRate"] == "30"


def test_train_layout_links_everything(psc, tmp_path):
    src = _fake_seq(tmp_path / "src", 4)
    dst = tmp_path / "train" / "MOT17-02-FRCNN"
    psc.link_sequence(src, dst)
    assert (dst / "seqinfo.ini").resolve() == (src / "seqinfo.ini").resolve()
    assert (dst / "gt" / "gt.txt").read_text() == (src / "gt" / "gt.txt").read_text()
    assert len(list((dst / "img1").iterdir())) == 4


def test_refuses_non_empty_out(tmp_path):
    if not (DATA / "MOT17-mini" / "train").is_dir():
        pytest.skip("../shared/data/MOT17-mini is absent")
    (tmp_path / "keep.txt").write_text("mine")
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "paper_scale_check.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not empty" in r.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_paper_scale_check_passes(tmp_path):
    """The whole check at 800x1440 on CPU (about 10-20 min on 2 cores; batch 2 to keep it shorter)."""
    if not (DATA / "MOT17" / "train" / "MOT17-09-FRCNN").is_dir():
        pytest.skip("../shared/data/MOT17/train/MOT17-09-FRCNN is absent")
    out = tmp_path / "psc"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "paper_scale_check.py"), "--out", str(out),
                        "--batch", "2", "--frames", "1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rep = json.loads((out / "paper_scale_check.json").read_text())
    assert rep["passed"] and [s["step"] for s in rep["steps"]] == ["checkpoint", "train", "track", "submission"]
    assert rep["steps"][3]["zip_files"] == 21
