"""scripts/cmc_modes.py: user errors are one line on stderr, exit code 2."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "cmc_modes.py"), *args],
                          capture_output=True, text=True, cwd=REPO)


def test_missing_cache_and_bad_override_exit_2(tmp_path):
    r = _run("--cache", str(tmp_path / "none.npz"), "--seq", str(tmp_path), "--out",
             str(tmp_path / "o"))
    assert r.returncode == 2 and r.stderr.strip() == f"error: not found: {tmp_path / 'none.npz'}"
    r = _run("--cache", "x", "--seq", "y", "--out", str(tmp_path / "o"), "tracker.nope=1")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "nope" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
