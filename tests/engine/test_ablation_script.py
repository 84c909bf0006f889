"""scripts/run_reid_ablations.py: argument handling, refused overrides, tables and orderings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def abl():
    spec = importlib.util.spec_from_file_location("run_reid_ablations", REPO / "scripts" / "run_reid_ablations.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _metrics(rank1, mAP, epoch=2):
    return {"best": {"rank1": rank1, "mAP": mAP, "epoch": epoch}, "final": {"rank1": rank1, "mAP": mAP},
            "train_seconds": 10.0}


def test_overrides_after_tables_are_overrides(abl):
    args = abl.parse_args(["-c", "x.yaml", "--tables", "3", "4", "seed=1", "train.epochs=2"])
    assert args.tables == ["3", "4"] and args.overrides == ["seed=1", "train.epochs=2"]


def test_an_override_of_a_varied_key_is_refused(abl, tmp_path, capsys):
    rc = abl.main(["-c", "configs/synthetic_reid.yaml", "--out", str(tmp_path), "model.pooling=gap"])
    assert rc == 2 and "model.pooling" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was trained or written


def test_table_rows_and_ordering_against_the_paper(abl):
    # Table 4 in the paper's mAP order (FAFPN+MPMG > FAFPN+GAP > FPN+MPMG > FPN+GAP) ...
    results = {"fpn_gap": _metrics(80, 50), "fpn_mpmg": _metrics(81, 55), "fafpn_gap": _metrics(82, 58),
               "fafpn_mpmg": _metrics(83, 61)}
    md = abl.markdown("t", results, ["4"], "cmd")
    assert "| FPN + MPMG | 81.0 | 55.0 |" in md
    assert "mAP ordering: same as the paper." in md
    # ... and with FPN + GAP on top, the note names both orderings.
    results["fpn_gap"] = _metrics(90, 70)
    md = abl.markdown("t", results, ["4"], "cmd")
    assert ("differs from the paper** (ours: FPN + GAP > FAFPN + MPMG > FAFPN + GAP > FPN + MPMG; "
            "paper: FAFPN + MPMG > FAFPN + GAP > FPN + MPMG > FPN + GAP)") in md
