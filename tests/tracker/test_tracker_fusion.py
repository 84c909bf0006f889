"""BoT-SORT's fusion rule (finetrack/tracker/association/botsort.py): hand-derived costs, and the
crossing where byte swaps two ids."""
import numpy as np

from finetrack.tracker import Tracker
from finetrack.tracker.association.botsort import BotSortSettings, botsort_cost

from tests.tracker.test_tracker_crossing import bounce_scene, run_scene


def test_botsort_cost_hand_checked():
    d_iou = np.array([[0.2, 0.9], [0.4, 0.3]])
    fused = d_iou + 0.05
    d_emb = np.array([[0.1, 0.1], [0.6, 0.2]])  # halved: 0.05, 0.05 / 0.3, 0.1
    out = botsort_cost(d_iou, fused, d_emb, appearance_thresh=0.25, proximity_thresh=0.5)
    # [0,0]: min(0.25, 0.05); [0,1]: too far (0.9 > 0.5) -> appearance 1 -> 0.95;
    # [1,0]: appearance 0.3 > 0.25 -> 1 -> 0.45; [1,1]: min(0.35, 0.1)
    np.testing.assert_allclose(out, [[0.05, 0.95], [0.45, 0.1]])


def test_botsort_keeps_ids_through_a_crossing():
    frames = bounce_scene(occluded=(12,))
    byte = run_scene(Tracker(mode="byte"), frames)
    assert byte[-1] == {0: 2, 1: 1}  # motion alone swaps them
    # botsort: appearance counts only for boxes closer than proximity_thresh (IoU distance);
    # the Kalman prediction carries each track past its person, so at BoT-SORT's 0.5 the right
    # pair is too far for appearance to count and the ids swap as in byte; at 0.8 they are kept
    res = run_scene(Tracker("botsort", botsort=BotSortSettings(appearance_thresh=0.25, proximity_thresh=0.8)),
                    frames, np.eye(2, 32))
    assert res[-1] == {0: 1, 1: 2}
    near = run_scene(Tracker("botsort", botsort=BotSortSettings(proximity_thresh=0.5)), frames, np.eye(2, 32))
    assert near[-1] == byte[-1]


def test_botsort_is_byte_when_appearance_says_nothing():
    """Identical features for everyone: the rules fall back to byte's IoU decisions."""
    frames = bounce_scene()
    byte = run_scene(Tracker(mode="byte"), frames)
    same = run_scene(Tracker(mode="botsort"), frames, np.ones((2, 8)))
    # botsort takes min(d_iou, 0) for every close pair: byte's motion cannot be overruled
    assert same[5] == byte[5]


def _low_match_feature(mode):
    """One person, frame 1 high (feature e0), frame 2 low (0.3: stage 2), frame 3 high: the
    track's feature after frame 2."""
    t = Tracker(mode=mode, track_thresh=0.6, low_thresh=0.1)
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    e0, e1 = np.eye(2, 8)[:1], np.eye(2, 8)[1:]
    t.update(box, np.array([0.9]), e0)
    t.update(box + 1.0, np.array([0.3]), e1)  # matched in stage 2 (low detection)
    (track,) = t.tracked_tracks
    assert track.end_frame == 2  # the low detection was matched
    return track.smooth_feat


def test_botsort_low_detections_carry_no_embedding():
    """As in BoT-SORT, a track matched to a low detection keeps its feature (byte-style modes
    take the low detection's embedding into the EMA), so only high detections need embedding."""
    kept = _low_match_feature("botsort")
    np.testing.assert_allclose(kept, np.eye(1, 8)[0])
    moved = _low_match_feature("finetrack")
    assert moved[1] > 0.05 and moved[0] < 1.0  # EMA 0.9: (0.9, 0.1) renormalised
    assert Tracker(mode="botsort", track_thresh=0.6, low_thresh=0.1).embedding_floor == 0.6
