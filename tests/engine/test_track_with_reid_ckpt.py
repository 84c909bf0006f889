"""A train_reid.py best.pth drives tools/track.py on its own, whatever the detection source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from finetrack.configlib import freeze
from finetrack.data.results import read_results
from finetrack.engine.reid_build import train_from_config

from .conftest import tiny_config, write_tiny_sequence

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data root with det.txt = gt boxes at score 0.9, best.pth of a 1-epoch tiny run)."""
    root = tmp_path_factory.mktemp("reid_track")
    seq = root / "train" / "TINY-01"
    write_tiny_sequence(seq, seed=0)
    (seq / "det").mkdir()
    rows = [line.split(",") for line in (seq / "gt" / "gt.txt").read_text().split()]
    (seq / "det" / "det.txt").write_text(
        "".join(f"{r[0]},-1,{r[2]},{r[3]},{r[4]},{r[5]},0.9,-1,-1,-1\n" for r in rows)
    )
    out = root / "run"
    train_from_config(freeze(tiny_config(root, out, ["train.epochs=1"])))
    return root, out / "best.pth"


@pytest.mark.parametrize("det", ["gt", "public", "yolox"])
def test_track_rebuilds_the_model_from_best_pth(trained, tmp_path, det):
    root, ckpt = trained
    out = tmp_path / det
    r = subprocess.run(
        [sys.executable, str(REPO / "tools" / "track.py"), "--data-root", str(root), "--split",
         "train", "--det", det, "--mode", "finetrack", "--reid-ckpt", str(ckpt), "--out", str(out),
         "--no-progress"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    if det == "yolox":
        # the detector inside a Re-ID checkpoint trained from a random backbone was never
        # trained (model.det_ckpt: null): refused with one line naming the file, exit 2
        assert r.returncode == 2, r.stderr[-3000:]
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("error:") and str(ckpt) in last and "never trained" in last
        assert not (out / "TINY-01.txt").exists()
        return
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "track_summary.json").read_text())
    assert summary["timing"].get("reid", 0.0) > 0.0  # embeddings came from the checkpoint's head
    res = read_results(out / "TINY-01.txt")
    # 3 people walking apart on 16 frames with exact boxes: 3 ids, 48 boxes
    assert len(res) == 48 and sorted(set(res.ids.tolist())) == [1, 2, 3]
