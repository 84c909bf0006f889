"""The paper's pipeline configs (issue 12): a Re-ID head on a FROZEN detector of our own training.

Each ``*_frozen_det.yaml`` names the ``best.pth`` of its ``det_*.yaml`` as ``model.det_ckpt``, freezes
it, and runs at the detector's variant and input size; the checkpoint it writes marks the detector
head as trained (so tracking with it alone takes the joint, one-backbone-pass path).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from finetrack.config import Config
from finetrack.configlib import load_config
from finetrack.det_config import DetConfig
from finetrack.engine.context import resolve_data_root

REPO = Path(__file__).resolve().parents[2]
PAIRS = [("pets09_frozen_det", "det_pets09", "MOT15"), ("mot17_09_frozen_det", "det_mot17_09", "MOT17")]


@pytest.mark.parametrize("reid, det, data", PAIRS, ids=[p[0] for p in PAIRS])
def test_frozen_det_config_matches_its_detector(reid, det, data, monkeypatch):
    monkeypatch.chdir(REPO)  # relative data paths of a config are read from the current folder
    cfg = load_config(Config, REPO / "configs" / f"{reid}.yaml")
    dcfg = load_config(DetConfig, REPO / "configs" / f"{det}.yaml")
    m = cfg.model
    assert m.freeze_detector is True
    assert m.det_ckpt == f"outputs/{det}/best.pth" == str(Path(dcfg.run_dir) / "best.pth")
    assert m.detector == dcfg.model.detector and list(m.input_size) == list(dcfg.model.input_size)
    assert resolve_data_root(cfg.data.root) == (REPO / ".." / "shared" / "data" / data).resolve()
    assert cfg.reid_eval.select_on == "train_tail" and cfg.data.split == "half"
    assert [s.half for s in dcfg.data.train] == ["train"] and dcfg.data.val.half == "val"

