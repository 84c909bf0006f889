"""Scripted scenes: ids across crossings, lost-and-found, low-score recovery, id counter."""
import numpy as np
import pytest

from finetrack.tracker import Tracker

W, H = 40.0, 100.0


def bounce_scene(n=30, turn=12, speed=8.0, dy=10.0, occluded=(11, 12, 13)):
    """A (left, moving right) and B (right, moving left) meet at frame `turn` and turn back.

    On the `occluded` frames only B (in front) is detected. Returns per frame (boxes, gt ids).
    """
    frames = []
    for f in range(1, n + 1):
        t = f if f <= turn else 2 * turn - f
        xa = 200 - speed * turn + speed * t
        xb = 200 + speed * turn - speed * t
        boxes = [[xa, 300, xa + W, 300 + H], [xb, 300 + dy, xb + W, 300 + dy + H]]
        gt = [0, 1]
        if f in occluded:
            boxes, gt = boxes[1:], gt[1:]
        frames.append((np.array(boxes), np.array(gt)))
    return frames


def run_scene(tracker, frames, emb_table=None):
    """Returns, per frame, {gt id: track id} for the detections that are tracked."""
    out = []
    for boxes, gt in frames:
        emb = None if emb_table is None else emb_table[gt]
        o = tracker.update(boxes, np.full(len(boxes), 0.9), emb)
        out.append({int(gt[d]): int(i) for d, i in zip(o.det_indices, o.ids)})
    return out


@pytest.mark.parametrize("occluded", [(), (12,), (11, 12, 13)])
def test_byte_switches_but_finetrack_keeps_ids(occluded):
    frames = bounce_scene(occluded=occluded)
    emb_table = np.eye(2, 32)  # distinct appearances
    byte = run_scene(Tracker(mode="byte"), frames)
    fine = run_scene(Tracker(mode="finetrack"), frames, emb_table)
    jde = run_scene(Tracker(mode="jde"), frames, emb_table)
    for res in (byte, fine, jde):  # before the meeting both trackers agree
        assert res[5] == {0: 1, 1: 2}
    # motion only: the Kalman momentum carries each track through -> ids swapped at the end
    assert byte[-1] == {0: 2, 1: 1}
    # appearance: every frame keeps the identities
    assert all(m == {g: g + 1 for g in m} for m in fine)
    assert fine[-1] == {0: 1, 1: 2}
    assert jde[-1] == {0: 1, 1: 2}


def static_scene(present):
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    return [(box if f in present else np.zeros((0, 4))) for f in range(1, max(present) + 3)]


def _ids(tracker, scene):
    res = []
    for boxes in scene:
        o = tracker.update(boxes, np.full(len(boxes), 0.9))
        res.append(o.ids.tolist())
    return res


def test_lost_and_found_within_buffer_keeps_id_after_buffer_new_id():
    tr = Tracker(track_buffer=30, frame_rate=30)  # max_time_lost = 30
    assert tr.max_time_lost == 30
    # seen on frames 1-10, gone 11-30, back on 31: within the buffer
    res = _ids(tr, static_scene(set(range(1, 11)) | {31, 32}))
    assert res[9] == [1] and res[10] == [] and res[30] == [1] and res[31] == [1]
    # gone for 40 frames: the lost track was removed -> new id (2, confirmed one frame later)
    tr.reset()
    res = _ids(tr, static_scene(set(range(1, 11)) | {51, 52, 53}))
    assert res[50] == [] and res[51] == [2] and res[52] == [2]
    # boundary (ByteTrack quirk): removed at frame 10 + 30 + 1 = 41 but still matchable at 42
    tr.reset()
    res = _ids(tr, static_scene(set(range(1, 11)) | {42, 43}))
    assert res[41] == [1]
    tr.reset()
    res = _ids(tr, static_scene(set(range(1, 11)) | {43, 44}))
    assert res[42] == [] and res[43] == [2]


def test_buffer_scales_with_frame_rate():
    assert Tracker(track_buffer=30, frame_rate=7).max_time_lost == 7
    assert Tracker(track_buffer=30, frame_rate=60).max_time_lost == 60


def test_ids_start_at_one_per_instance_and_after_reset():
    boxes = np.array([[0.0, 0.0, 40.0, 100.0], [200.0, 0.0, 240.0, 100.0]])
    a = Tracker()
    assert a.update(boxes, np.array([0.9, 0.9])).ids.tolist() == [1, 2]
    b = Tracker()  # no class-level counter: a second tracker starts at 1 again
    out = b.update(boxes[:1], np.array([0.9]))
    assert out.ids.tolist() == [1] and isinstance(out.ids[0].item(), int)
    a.reset()
    assert a.frame_id == 0
    assert a.update(boxes[1:], np.array([0.9])).ids.tolist() == [1]


def test_low_score_second_stage_recovers_track():
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    scores = [0.9] * 5 + [0.3] * 3 + [0.9] * 2
    for low_thresh, expect_kept in ((0.1, True), (0.5, False)):
        tr = Tracker(low_thresh=low_thresh)
        res = [tr.update(box + 3.0 * f, np.array([s])) for f, s in enumerate(scores)]
        if expect_kept:  # score 0.3 is in the low set (0.1, 0.6]: matched in the second stage
            assert [r.ids.tolist() for r in res] == [[1]] * 10
            np.testing.assert_allclose(res[6].scores, [0.3])
        else:  # without the low stage the track is lost, 0.3 cannot start one
            assert [r.ids.tolist() for r in res[5:8]] == [[], [], []]
            assert res[-1].ids.tolist() == [1]  # found again by the first stage


def test_new_track_needs_new_track_thresh_and_output_filters():
    tr = Tracker()  # track_thresh 0.6 -> new tracks need >= 0.7
    boxes = np.array([[0.0, 0.0, 40.0, 100.0], [200.0, 0.0, 240.0, 100.0],
                      [400.0, 0.0, 460.0, 30.0],  # w/h = 2 > 1.6: tracked, not output
                      [600.0, 0.0, 605.0, 10.0]])  # area 50 <= 100: tracked, not output
    out = tr.update(boxes, np.array([0.65, 0.75, 0.9, 0.9]))
    assert out.ids.tolist() == [1] and out.det_indices.tolist() == [1]
    assert len(tr.tracked_tracks) == 3
    np.testing.assert_allclose(out.xyxy, boxes[1:2])


def test_inputs_not_modified_and_embeddings_required():
    boxes = np.array([[0.0, 0.0, 40.0, 100.0]])
    scores = np.array([0.9])
    emb = np.array([[3.0, 4.0]])
    tr = Tracker(mode="finetrack")
    tr.update(boxes, scores, emb)
    np.testing.assert_array_equal(emb, [[3.0, 4.0]])
    np.testing.assert_allclose(tr.tracked_tracks[0].smooth_feat, [0.6, 0.8])
    with pytest.raises(ValueError, match="needs embeddings"):
        tr.update(boxes, scores)
    with pytest.raises(ValueError, match="valid modes"):
        Tracker(mode="sort")


def test_ema_feature_update():
    tr = Tracker(mode="finetrack")
    box = np.array([[0.0, 0.0, 40.0, 100.0]])
    tr.update(box, np.array([0.9]), np.array([[1.0, 0.0]]))
    tr.update(box, np.array([0.9]), np.array([[0.0, 1.0]]))
    expect = np.array([0.9, 0.1]) / np.linalg.norm([0.9, 0.1])
    np.testing.assert_allclose(tr.tracked_tracks[0].smooth_feat, expect)


def test_finetrack_first_stage_needs_overlap_and_uses_appearance():
    emb = np.array([[1.0, 0.0]])
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    # a small-IoU jump (IoU ~0.1): byte (fused IoU cost 0.91 > 0.8) loses it, finetrack
    # (identical feature: d = 0) keeps it
    jump = box + [[33.0, 0.0, 33.0, 0.0]]
    for mode, expect in (("byte", []), ("finetrack", [1])):
        tr = Tracker(mode=mode)
        e = emb if mode == "finetrack" else None
        tr.update(box, np.array([0.9]), e)
        tr.update(box, np.array([0.9]), e)
        assert tr.update(jump, np.array([0.9]), e).ids.tolist() == expect
    # no overlap at all: d = 1, never matched in the first stage despite identical features
    tr = Tracker(mode="finetrack")
    tr.update(box, np.array([0.9]), emb)
    tr.update(box, np.array([0.9]), emb)
    far = box + [[300.0, 0.0, 300.0, 0.0]]
    assert tr.update(far, np.array([0.9]), emb).ids.tolist() == []
    assert [t.track_id for t in tr.lost_tracks] == [1]
    assert [t.track_id for t in tr.tracked_tracks] == [2]
