"""The tracker's per-mode choices come from one table (MODE_TABLE -> ModePolicy)."""
import numpy as np
import pytest

from finetrack.tracker import Tracker
from finetrack.tracker.tracker import MODE_TABLE, MODES, mode_policy

THRESH = {"match_thresh": 0.8, "fused_match_thresh": 0.5, "jde_match_thresh": 0.4}


def test_table_covers_every_mode():
    assert sorted(MODE_TABLE) == sorted(MODES)


@pytest.mark.parametrize("mode,first,thresh,emb,low,fuse_unconf", [
    ("byte", "iou", 0.8, False, True, True),
    ("finetrack", "fused", 0.5, True, True, True),
    ("jde", "motion", 0.4, True, False, False),
    ("robust", "robust", 0.8, True, True, True),
])
def test_policy_of_each_mode(mode, first, thresh, emb, low, fuse_unconf):
    p = mode_policy(mode, THRESH, mot20=False, center=True)
    assert (p.first_stage, p.first_thresh, p.needs_embeddings, p.low_stage,
            p.fuse_score_unconfirmed) == (first, thresh, emb, low, fuse_unconf)
    assert p.fuse_score_iou
    assert p.center_embeddings == (mode == "robust") and p.feature_alpha == (mode == "robust")


def test_mot20_and_centring_switches():
    p = mode_policy("byte", THRESH, mot20=True, center=True)
    assert not p.fuse_score_iou and not p.fuse_score_unconfirmed
    assert not mode_policy("robust", THRESH, False, center=False).center_embeddings


def test_tracker_builds_its_policy_once_and_checks_the_mode():
    t = Tracker(mode="jde", jde_match_thresh=0.3, mot20=True)
    assert t.policy == mode_policy("jde", {**THRESH, "jde_match_thresh": 0.3}, True, True)
    assert t.first_match_thresh == 0.3
    with pytest.raises(ValueError, match="unknown tracker mode 'sort'; valid modes: byte, "
                                         "finetrack, jde, robust"):
        Tracker(mode="sort")
    with pytest.raises(ValueError, match="mode 'finetrack' needs embeddings"):
        Tracker(mode="finetrack").update(np.array([[0, 0, 10, 20.0]]), np.array([0.9]))
