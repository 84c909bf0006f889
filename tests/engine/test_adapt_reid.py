"""Adaptation without labels: the tracklet miner's rules, and `finetrack adapt` never reading gt."""

from __future__ import annotations

import json

import numpy as np
import pytest

from finetrack.configlib import freeze
from finetrack.data.pseudo import MinerRules, mine_tracklets, track_for_mining
from finetrack.engine.reid_build import train_from_config
from finetrack.tracker import Tracker

from .conftest import tiny_config, write_tiny_sequence


def _row(frame, tid, x, score=0.9, overlap=0.0, h=100.0):
    return [frame, tid, x, 0.0, x + 40.0, h, score, 0.0, overlap]


def test_miner_keeps_only_tracklets_that_pass_its_rules():
    rules = MinerRules(min_len=5, min_score=0.7, min_mean_score=0.75, isolation_iou=0.05,
                       max_per_tracklet=6, min_height=24)
    rows = []
    rows += [_row(f, 1, 10 * f) for f in range(1, 11)]                   # long, clean: kept
    rows += [_row(f, 2, 500, score=0.65) for f in range(1, 11)]          # low score: dropped
    rows += [_row(f, 3, 800) for f in range(1, 5)]                       # too short: dropped
    rows += [_row(f, 4, 300, overlap=0.2 if f % 2 else 0.0) for f in range(1, 11)]  # 5 isolated: kept
    rows += [_row(f, 5, 900, h=20) for f in range(1, 11)]                # too small: dropped
    rows += [_row(f, 6, 600, overlap=0.3) for f in range(1, 11)]         # never isolated: dropped
    mined = mine_tracklets(np.array(rows, float), rules)
    assert sorted(set(mined[:, 1].astype(int))) == [1, 2]  # tracklets 1 and 4 renumbered 1..2
    one = mined[mined[:, 1] == 1]
    assert len(one) == 6  # max_per_tracklet spread over the 10 frames
    assert one[0, 0] == 1 and one[-1, 0] == 10
    four = mined[mined[:, 1] == 2]
    assert sorted(four[:, 0].astype(int)) == [2, 4, 6, 8, 10]  # only its isolated frames


def test_track_for_mining_records_detections_and_overlap():
    a = np.array([[0.0, 0, 40, 100], [20, 0, 60, 100], [300, 0, 340, 100]])
    frames = [(a, np.array([0.9, 0.9, 0.9]))] * 3
    rows = track_for_mining(frames, Tracker(mode="byte", min_box_area=0))
    assert len(rows) == 9
    last = rows[rows[:, 0] == 3]
    np.testing.assert_allclose(sorted(last[:, 8]), [0.0, 1 / 3, 1 / 3])
    np.testing.assert_allclose(np.sort(last[:, 2]), [0.0, 20.0, 300.0])  # detection boxes, not Kalman


@pytest.fixture(scope="module")
def target_and_ckpt(tmp_path_factory):
    """A trained tiny checkpoint and an unlabelled target sequence (det.txt, no gt/)."""
    root = tmp_path_factory.mktemp("adapt")
    write_tiny_sequence(root / "train" / "TINY-01", seed=0)
    run = root / "run"
    train_from_config(freeze(tiny_config(root, run, ["train.epochs=1"])))
    target = root / "target" / "TINY-09"
    write_tiny_sequence(target, seed=9, num_frames=24)
    rows = [line.split(",") for line in (target / "gt" / "gt.txt").read_text().split()]
    (target / "det").mkdir()
    (target / "det" / "det.txt").write_text(
        "".join(f"{r[0]},-1,{r[2]},{r[3]},{r[4]},{r[5]},0.95,-1,-1,-1\n" for r in rows))
    (target / "gt" / "gt.txt").unlink()  # adaptation must never need (or read) gt
    (target / "gt").rmdir()
    return target, run / "last.pth"


def test_adapt_reid_without_gt_writes_a_checkpoint_track_takes(target_and_ckpt, tmp_path):
    from finetrack.config import Config
    from finetrack.configlib import load_config
    from finetrack.engine.adapt import adapt_reid
    from finetrack.inference.app import run_tracking

    target, ckpt = target_and_ckpt
    out = tmp_path / "adapt"
    report = adapt_reid(str(target), str(ckpt), str(out), MinerRules(min_len=5),
                        ["model.input_size=[128,224]", "train.batch_size=4", "train.epochs=1",
                         "train.max_iters_per_epoch=2", "reid_eval.query_every=4",
                         "reid_eval.max_frames=8"], progress=False)
    assert not (target / "gt").exists()
    assert report["mining"]["pseudo_ids"] == 3  # three walkers, all isolated at score 0.95
    assert json.loads((out / "adapt.json").read_text())["adapted"] == str(out / "adapted.pth")
    # no labels on the target: the final epoch is the checkpoint, nothing is selected (a tail
    # slice of pseudo-labels can hold no query with a positive: MOT17-09 failed that way)
    assert json.loads((out / "run" / "metrics.json").read_text())["selected_on"] == "final_epoch"
    # the adapted checkpoint drives tracking in robust mode
    cfg = freeze(load_config(Config, None, ["tracker.min_box_area=0"]))
    res = tmp_path / "track"
    summary = run_tracking(cfg, str(target.parent.parent), "target", str(res), det="public",
                           mode="robust", reid_ckpt=str(out / "adapted.pth"), progress=False)
    assert summary["sequences"]["TINY-09"]["ids"] == 3
    # and with the colour histogram beside it as a second cue (tracker.appearance=auto)
    cfg = freeze(load_config(Config, None, ["tracker.min_box_area=0", "tracker.appearance=auto"]))
    summary = run_tracking(cfg, str(target.parent.parent), "target", str(tmp_path / "auto"),
                           det="public", mode="robust", reid_ckpt=str(out / "adapted.pth"),
                           progress=False)
    assert summary["appearance"] == "auto" and summary["sequences"]["TINY-09"]["ids"] == 3
    with pytest.raises(ValueError, match="needs --mode robust"):
        run_tracking(cfg, str(target.parent.parent), "target", str(tmp_path / "auto2"),
                     det="public", mode="finetrack", reid_ckpt=str(out / "adapted.pth"),
                     progress=False)


def test_adapt_reid_refuses_a_source_without_detections(target_and_ckpt, tmp_path, capsys):
    from finetrack.cli import adapt as tool

    _, ckpt = target_and_ckpt
    seq = tmp_path / "NODET"
    write_tiny_sequence(seq, seed=3)
    rc = tool.main(["--source", str(seq), "--reid-ckpt", str(ckpt), "--out", str(tmp_path / "o"),
                    "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "det.txt not found" in err and "Traceback" not in err
