"""The default for unseen video (issue 27): ``botsort`` on ``color+imagenet``, no checkpoint.

The scripted crossing where ``byte`` swaps two ids (tests/tracker/test_tracker_crossing.py) is
kept by the default mode, both on identity-bearing embeddings and end to end through
``run_tracking`` on rendered frames with neither ``--mode`` nor ``--reid-ckpt``.
"""
import numpy as np
import pytest

from finetrack.config import Config, TrackerConfig
from finetrack.configlib import freeze, load_config
from finetrack.inference.build import build_tracker, resolve_appearance
from finetrack.tracker import Tracker

from tests.inference.test_color import write_bounce_sequence
from tests.tracker.test_tracker_crossing import bounce_scene, run_scene


def test_defaults_are_botsort_on_training_free_cues_and_finetrack_stays_the_papers():
    cfg = TrackerConfig()
    assert cfg.mode == "botsort" and resolve_appearance(cfg) == "color+imagenet"
    assert resolve_appearance(cfg, "finetrack") == "reid"  # the paper's exact rule
    assert resolve_appearance(cfg, "robust") == "auto"
    assert (cfg.botsort.appearance_thresh, cfg.botsort.proximity_thresh) == (0.15, 0.8)


@pytest.mark.parametrize("occluded", [(), (12,)])
def test_default_mode_keeps_ids_where_byte_swaps(occluded):
    frames = bounce_scene(occluded=occluded)
    byte = run_scene(Tracker(mode="byte"), frames)
    assert byte[-1] == {0: 2, 1: 1}
    tracker = build_tracker(TrackerConfig(), 30.0)
    assert tracker.mode == "botsort"
    res = run_scene(tracker, frames, np.eye(2, 32))
    assert res[-1] == {0: 1, 1: 2}


def test_run_tracking_default_needs_no_mode_nor_checkpoint(tmp_path):
    from finetrack.data.results import read_results
    from finetrack.inference.app import run_tracking

    frames = bounce_scene(occluded=(12,))
    write_bounce_sequence(tmp_path, frames)
    cfg = freeze(load_config(Config, None, ["tracker.min_box_area=0"]))

    def track(mode):
        out = tmp_path / str(mode)
        summary = run_tracking(cfg, str(tmp_path), "train", str(out), det="public", mode=mode,
                               progress=False)
        res = read_results(out / "BOUNCE-01.txt")
        first, last = res.frames == 1, res.frames == len(frames)
        a0 = int(res.ids[first][np.argmin(res.tlwh[first][:, 0])])
        a1 = int(res.ids[last][np.argmin(res.tlwh[last][:, 0])])  # A ends on the left
        return summary, a0, a1

    _, a0, a1 = track("byte")
    assert a0 != a1  # motion alone swaps them
    summary, a0, a1 = track(None)
    assert summary["mode"] == "botsort" and summary["appearance"] == "color+imagenet"
    assert summary["pipeline"] == "boxes" and summary["timing"]["appearance"] > 0  # the cues were read
    assert a0 == a1
    with pytest.raises(ValueError, match="--reid-ckpt"):  # the paper's rule reads Re-ID features
        track("finetrack")
