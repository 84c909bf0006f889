"""The ``robust`` mode: appearance that can only help.

- with uninformative (random) embeddings it is exactly ``byte`` on real detections;
- with informative embeddings it keeps identities through a scripted crossing and re-finds a person
  after an occlusion that IoU cannot bridge;
- occluded and low-score boxes do not update a track's feature;
- the calibrator's log-likelihood ratio has its hand-derived value and stays off for features that
  do not separate people;
- the identity gate (calibration at a lag of ``identity_lag_s``) keeps ``byte`` for features that are
  alike from one frame to the next but do not tell people apart a second later;
- ``restore_dropped`` gives back a pair of ``byte`` that appearance alone left unmatched.
"""
import numpy as np
import pytest

from finetrack.tracker import Tracker
from finetrack.tracker import RobustSettings
from finetrack.tracker.appearance import (SimilarityCalibrator, dynamic_ema_alpha, max_overlap,
                                          motion_gate)
from finetrack.synthetic.crowd import synthetic_crowd

from tests.tracker.test_tracker_crossing import bounce_scene, run_scene

# scripted scenes are short (two people, 30 frames): calibrate after 5 samples, identity gate at a
# 0.1 s (3-frame) lag on its point estimate (a confidence bound needs more samples than they have)
FAST = RobustSettings(min_samples=5, identity_lag_s=0.1, identity_z=0.0)


def _outputs(tracker, frames, embs=None):
    res = []
    for i, (xyxy, scores) in enumerate(frames):
        o = tracker.update(xyxy, scores, None if embs is None else embs[i])
        res.append((o.ids.copy(), np.round(o.xyxy, 6), o.det_indices.copy()))
    return res


@pytest.fixture(scope="module")
def crowd():
    frames = synthetic_crowd(n_frames=120, n_targets=40, seed=3)
    return [(f.xyxy, f.scores) for f in frames]


def test_random_embeddings_change_nothing(crowd):
    """Random features never separate people: every byte match (and id) is kept, frame by frame."""
    rng = np.random.default_rng(0)
    embs = [rng.normal(size=(len(s), 128)) for _, s in crowd]
    byte = _outputs(Tracker(mode="byte"), crowd)
    robust_t = Tracker(mode="robust", robust=FAST)
    robust = _outputs(robust_t, crowd, embs)
    assert not robust_t.association.calibrator.ready
    # the negative is the most similar *other* detection: for features without identity it
    # beats the true match on average, so d' < 0 and the default gate (d' >= 0) keeps byte
    assert robust_t.association.calibrator.state.separation < -0.5
    assert robust_t.association.stats["vetoes"] == 0 and robust_t.association.stats["recoveries"] == 0
    for (ib, bb, db), (ir, br, dr) in zip(byte, robust):
        np.testing.assert_array_equal(ib, ir)
        np.testing.assert_array_equal(db, dr)
        np.testing.assert_allclose(bb, br)


def test_random_embeddings_on_pets09_equal_byte(pets09_dir):
    from finetrack.data.mot import MOTSequence

    seq = MOTSequence(pets09_dir)
    det = seq.det()
    frames = [det.for_frame(f) for f in range(1, 201)]
    rng = np.random.default_rng(1)
    embs = [rng.normal(size=(len(s), 64)) for _, s in frames]
    byte = _outputs(Tracker(mode="byte", frame_rate=7), frames)
    robust = _outputs(Tracker(mode="robust", frame_rate=7), frames, embs)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2])
               for a, b in zip(byte, robust))


@pytest.mark.parametrize("occluded", [(), (12,), (11, 12, 13)])
def test_robust_keeps_ids_through_bounce(occluded):
    """Two people meet and turn back: byte's momentum swaps them, robust's appearance does not."""
    frames = bounce_scene(occluded=occluded)
    table = np.eye(2, 32)
    byte = run_scene(Tracker(mode="byte"), frames)
    rob_t = Tracker(mode="robust", robust=FAST)
    robust = run_scene(rob_t, frames, table)
    assert byte[-1] == {0: 2, 1: 1}  # the swap robust must undo
    assert robust[5] == {0: 1, 1: 2}
    assert robust[-1] == {0: 1, 1: 2}
    assert rob_t.association.stats["vetoes"] > 0


def walk_with_gap(n=40, gap=range(16, 26), speed=6.0):
    """A walks right, B stands still far away. A is undetected on `gap` frames and reappears
    60 px off its constant-velocity prediction (it slowed down): no IoU with the prediction."""
    frames = []
    for f in range(1, n + 1):
        xa = 100 + speed * f if f < gap.start else 100 + speed * f - 60
        boxes = [[xa, 300, xa + 40, 400], [600, 300, 640, 400]]
        gt = [0, 1]
        if f in gap:
            boxes, gt = boxes[1:], gt[1:]
        frames.append((np.array(boxes, float), np.array(gt)))
    return frames


def test_robust_refinds_after_occlusion():
    frames = walk_with_gap()
    table = np.eye(2, 32)
    byte = run_scene(Tracker(mode="byte"), frames)
    rob_t = Tracker(mode="robust", robust=FAST)
    robust = run_scene(rob_t, frames, table)
    assert byte[-1][0] != byte[5][0]  # IoU alone: a new id after the gap
    assert robust[-1] == robust[5] == {0: 1, 1: 2}
    assert rob_t.association.stats["recoveries"] >= 1


def test_recovery_respects_the_motion_gate():
    """The same person reappearing across the image (beyond the gate) is not re-found."""
    frames = walk_with_gap()
    frames = [(b + np.array([300.0, 0, 300, 0]) * (i >= 25) * (g[:, None] == 0), g)
              for i, (b, g) in enumerate(frames)]
    rob = run_scene(Tracker(mode="robust", robust=FAST), frames, np.eye(2, 32))
    assert rob[-1][0] != rob[5][0]


def test_occluded_and_low_boxes_do_not_update_features():
    t = Tracker(mode="robust", robust=RobustSettings(dynamic_ema=False, center=False))
    a = np.array([[100.0, 100, 140, 200]])
    f0 = np.eye(3, 8)[0]
    t.update(a, [0.9], f0[None])
    t.update(a, [0.9], f0[None])
    tr = t.tracked_tracks[0]
    n0, feat0 = tr.n_feats, tr.smooth_feat.copy()
    # an overlapping second box (IoU 0.5) makes the first one occluded: no EMA step
    both = np.array([[100.0, 100, 140, 200], [113.3, 100, 153.3, 200]])
    t.update(both, [0.9, 0.9], np.eye(3, 8)[[1, 2]])
    assert tr.n_feats == n0
    np.testing.assert_allclose(tr.smooth_feat, feat0)
    # a low-score box (matched in stage 2) does not update either
    t.update(a, [0.3], np.eye(3, 8)[[1]])
    assert tr.n_feats == n0
    # a clean high box does, with the plain EMA
    t.update(a, [0.9], np.eye(3, 8)[[1]])
    assert tr.n_feats == n0 + 1
    expect = 0.9 * feat0 + 0.1 * np.eye(3, 8)[1]
    np.testing.assert_allclose(tr.smooth_feat, expect / np.linalg.norm(expect))


def test_calibrator_llr_hand_value():
    c = SimilarityCalibrator(min_samples=2, min_separation=1.0)
    c.add([0.8, 0.9, 1.0], [0.1, 0.2, 0.3])
    st = c.state
    assert st.mu_pos == pytest.approx(0.9) and st.mu_neg == pytest.approx(0.2)
    assert st.sd == pytest.approx(0.1)  # pooled sample sd
    assert st.separation == pytest.approx(7.0)
    # llr(s) = (0.9 - 0.2) / 0.01 * (s - 0.55)
    np.testing.assert_allclose(c.llr(np.array([0.55, 0.65, 0.45])), [0.0, 7.0, -7.0])


def test_calibrator_off_when_features_do_not_separate():
    rng = np.random.default_rng(0)
    c = SimilarityCalibrator(min_samples=10)
    # uninformative features: the positive is one draw, the hardest negative the max of 5 draws
    c.add(rng.normal(0.5, 0.1, 200), rng.normal(0.5, 0.1, (200, 5)).max(axis=1))
    assert c.state.separation < 0 and not c.ready
    np.testing.assert_array_equal(c.llr(np.array([0.0, 1.0])), [0.0, 0.0])
    c2 = SimilarityCalibrator(min_samples=10)
    c2.add(rng.normal(0.8, 0.05, 5), rng.normal(0.2, 0.05, 5))
    assert not c2.ready  # too few samples


def test_gates_and_overlap_helpers():
    boxes = np.array([[0.0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 110, 110]])
    np.testing.assert_allclose(max_overlap(boxes), [1 / 3, 1 / 3, 0.0])
    tr = np.array([[0.0, 0, 20, 100]])  # centre (10, 50), h 100
    dets = np.array([[50.0, 0, 70, 100], [120.0, 0, 140, 100], [50.0, 0, 70, 40]])
    # 30 fps, 1 frame: reach 100 * (0.5 + 1/30) = 53.3 px; 2nd det is 120 px away; 3rd is too small
    np.testing.assert_array_equal(motion_gate(tr, dets, [1], 30.0), [[True, False, False]])
    # after 2 seconds lost the reach is 250 px
    np.testing.assert_array_equal(motion_gate(tr, dets, [60], 30.0), [[True, True, False]])
    np.testing.assert_allclose(dynamic_ema_alpha(0.9, np.array([1.0, 0.6, 0.8]), 0.6), [0.9, 1.0, 0.95])


def test_feature_centering_removes_the_scene_mean():
    """Embeddings sharing a large common component (BN statistics of another scene) are
    near-identical in cosine; centring on the running mean restores their differences."""
    from finetrack.tracker.appearance import FeatureCentering

    common = np.full(8, 10.0)
    ids = np.eye(2, 8)
    frame = common + ids  # two people
    raw = frame / np.linalg.norm(frame, axis=1, keepdims=True)
    assert raw[0] @ raw[1] > 0.99
    c = FeatureCentering(momentum=0.5)
    out = c(frame)
    np.testing.assert_allclose(c.mean, common + 0.5 * ids.sum(0))
    assert out[0] @ out[1] == pytest.approx(-1.0)
    # the running mean: warm-up average over the first 1 / momentum frames, then exponential
    c(frame + 2.0)
    np.testing.assert_allclose(c.mean, common + 0.5 * ids.sum(0) + 1.0)
    c(frame + 4.0)
    np.testing.assert_allclose(c.mean, common + 0.5 * ids.sum(0) + 0.5 * 1.0 + 0.5 * 4.0)


def drifting_embeddings(frames, dim=64, step=0.3, seed=0):
    """Per identity a random walk on the sphere: consecutive features alike (cos ~0.96), features
    one second (30 frames) apart barely related (cos ~0.27, no more than the most similar other
    person): what a model gives on a scene where the crop hardly changes between frames but the
    features carry little identity."""
    rng = np.random.default_rng(seed)
    cur, out = {}, []
    for f in frames:
        rows = []
        for g in f.gt_ids.tolist():
            v = cur.get(g)
            v = rng.normal(size=dim) if v is None else v + step * np.linalg.norm(v) / np.sqrt(dim) * rng.normal(size=dim)
            cur[g] = v / np.linalg.norm(v)
            rows.append(cur[g])
        out.append(np.array(rows).reshape(-1, dim))
    return out


def test_identity_gate_keeps_byte_when_features_only_match_frame_to_frame():
    frames = synthetic_crowd(n_frames=150, n_targets=80, speed=20.0, seed=5)  # fast: IoU is weak
    embs = drifting_embeddings(frames, step=0.3)
    dets = [(f.xyxy, f.scores) for f in frames]
    byte = _outputs(Tracker(mode="byte"), dets)
    rob_t = Tracker(mode="robust", robust=RobustSettings(center=False))
    robust = _outputs(rob_t, dets, embs)
    # frame to frame the features look informative: the first calibration separates well ...
    assert rob_t.association.calibrator.ready and rob_t.association.calibrator.state.separation > 2.0
    # ... but a second later they do not tell people apart, so appearance stays off
    st = rob_t.association.identity_calibrator.state
    assert st.n_pos >= 30 and st.separation < 0.5 and not rob_t.association.appearance_on
    for (ib, bb, db), (ir, br, dr) in zip(byte, robust):
        np.testing.assert_array_equal(ib, ir)
        np.testing.assert_array_equal(db, dr)
    # without the gate the same features do change byte's decisions
    free = Tracker(mode="robust", robust=RobustSettings(center=False, identity_lag_s=0.0))
    _outputs(free, dets, embs)
    assert free.association.stats["changed"] + free.association.stats["added"] > 0
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(byte, _outputs(free, dets, embs)))


def test_lagged_feature_is_the_newest_one_old_enough():
    t = Tracker(mode="robust", frame_rate=10, robust=RobustSettings(identity_lag_s=0.3))
    rob = t.association  # reads the tracker's frame_id
    assert rob._lag_frames == 3
    for frame in (1, 2, 4, 5):
        t.frame_id = frame
        rob._remember(7, np.eye(1, 4, frame % 4)[0] * 2.0)
    t.frame_id = 6  # cutoff frame 3: the entry of frame 2 (frame 1 is dropped)
    np.testing.assert_allclose(rob._lagged_feature(7), np.eye(1, 4, 2)[0])
    assert [fr for fr, _ in rob._history[7]] == [2, 4, 5]
    t.frame_id = 3  # nothing is 3 frames old yet at frame 3 ... for a new track
    rob._remember(8, np.ones(4))
    assert rob._lagged_feature(8) is None and rob._lagged_feature(9) is None


def test_calibrator_lower_confidence_bound_hand_value():
    """se(d') = sqrt((n_p + n_n) / (n_p n_n) + d'^2 / (2 (n_p + n_n))) = sqrt(2/3 + 49/12) = 2.179."""
    pos, neg = [0.8, 0.9, 1.0], [0.1, 0.2, 0.3]
    for z, ready in ((0.0, True), (2.0, True), (2.8, False)):
        c = SimilarityCalibrator(min_samples=2, min_separation=1.0, confidence_z=z)
        c.add(pos, neg)
        assert c.state.separation == pytest.approx(7.0)
        assert c.ready is ready, z  # 7 - 2 * 2.179 = 2.64 >= 1; 7 - 2.8 * 2.179 = 0.90 < 1


def two_walkers(n=20, odd_frame=10):
    """A walks right at the top, B walks left far below, 12 px a frame (IoU 0.54 between frames);
    on ``odd_frame`` A hesitates (its box 24 px behind the Kalman prediction: IoU 0.25, byte still
    matches it) and its feature is unlike anything seen (a third direction), e.g. a sudden pose or
    lighting change."""
    frames, embs = [], []
    for f in range(1, n + 1):
        xa, xb = 100 + 12 * f - 24 * (f == odd_frame), 700 - 12 * f
        frames.append((np.array([[xa, 100, xa + 40, 200], [xb, 400, xb + 40, 500]], float),
                       np.array([0.9, 0.9])))
        e = np.eye(3, 16)[[0, 1]].copy()
        if f == odd_frame:
            e[0] = np.eye(3, 16)[2]
        embs.append(e)
    return frames, embs


def test_restore_dropped_keeps_byte_pair_that_appearance_only_dislikes():
    frames, embs = two_walkers()
    params = dict(min_samples=3, identity_lag_s=0.1, center=False, min_track_feats=1)
    byte = _outputs(Tracker(mode="byte", frame_rate=7), frames)
    off_t = Tracker(mode="robust", frame_rate=7, robust=RobustSettings(restore_dropped=False, **params))
    off = _outputs(off_t, frames, embs)
    on_t = Tracker(mode="robust", frame_rate=7, robust=RobustSettings(restore_dropped=True, **params))
    on = _outputs(on_t, frames, embs)
    assert on_t.association.appearance_on and off_t.association.appearance_on
    # without the rule the disliked pair is dropped: A is not tracked on that frame (its detection
    # starts an unconfirmed track instead); with it, every frame is byte's
    assert off_t.association.stats["changed"] >= 1
    odd = 9  # frame 10
    assert 0 in byte[odd][2].tolist() and 0 not in off[odd][2].tolist()
    assert on_t.association.stats["restored"] >= 1
    for (ib, _, db), (ir, _, dr) in zip(byte, on):
        np.testing.assert_array_equal(ib, ir)
        np.testing.assert_array_equal(db, dr)


def test_identity_threshold_follows_the_frame_rate():
    """identity_ref_fps 30: at 7.5 fps a quarter of the d' asked at 30 fps; never above it."""
    fixed = RobustSettings(min_identity_separation=0.8, identity_ref_fps=0.0)
    scaled = RobustSettings(min_identity_separation=0.8, identity_ref_fps=30.0)
    assert fixed.identity_threshold(7.5) == 0.8 and fixed.identity_threshold(60.0) == 0.8
    assert scaled.identity_threshold(7.5) == pytest.approx(0.2)
    assert scaled.identity_threshold(30.0) == pytest.approx(0.8)
    assert scaled.identity_threshold(60.0) == pytest.approx(0.8)
    # the tracker's identity gate uses it: the same samples open it at 7.5 fps, not at 30 fps
    pos = [0.5 + 0.02 * k for k in range(10)]
    neg = [0.48 + 0.02 * k for k in range(10)]  # d' = 0.02 / 0.0606 = 0.33: above 0.2, below 0.8
    for fps, ready in ((7.5, True), (30.0, False)):
        t = Tracker(mode="robust", frame_rate=fps,
                    robust=RobustSettings(min_samples=5, identity_z=0.0, min_identity_separation=0.8,
                                       identity_ref_fps=30.0))
        t.association.identity_calibrator.add(pos, neg)
        assert t.association.identity_calibrator.state.separation == pytest.approx(0.33, abs=0.01)
        assert t.association.identity_calibrator.ready is ready


def test_decisions_read_the_identity_calibration():
    """Once the identity calibration is ready, the first stage and the recovery read its llr (a
    feature of identity_lag_s ago vs now), not the next-frame calibration's."""
    frames = walk_with_gap()
    rob = Tracker(mode="robust", robust=FAST)
    calls = {"next": [], "identity": []}
    for name, cal in (("next", rob.association.calibrator), ("identity", rob.association.identity_calibrator)):
        def spy(sims, _cal=cal, _name=name, _orig=cal.llr):
            calls[_name].append(rob.frame_id)
            return _orig(sims)
        cal.llr = spy
    res = run_scene(rob, frames, np.eye(2, 32))
    assert res[-1] == res[5] == {0: 1, 1: 2}  # the person is re-found either way
    assert calls["identity"], "the identity calibration was never read"
    first = min(calls["identity"])
    assert all(f < first for f in calls["next"])  # next-frame llr only before it was ready


def jump_walkers(n=20, jump_frame=12, jump=30.0):
    """A walks right 12 px a frame, B far below walks left; from ``jump_frame`` on A is ``jump`` px
    further right than its constant-velocity path (its box overlaps the prediction at IoU 0.14:
    byte's cost 1 - 0.14 * 0.9 is above 0.8, so byte starts a new track). Features: one-hot ids."""
    frames, embs = [], []
    for f in range(1, n + 1):
        xa, xb = 100 + 12 * f + jump * (f >= jump_frame), 700 - 12 * f
        frames.append((np.array([[xa, 100, xa + 40, 200], [xb, 400, xb + 40, 500]], float),
                       np.array([0.9, 0.9])))
        embs.append(np.eye(2, 16))
    return frames, embs


@pytest.mark.parametrize("add_llr, kept", [(0.0, True), (4.0, True), (float("inf"), False)])
def test_add_llr_admits_low_iou_pairs_only_on_confident_appearance(add_llr, kept):
    import dataclasses

    frames, embs = jump_walkers()
    byte = _outputs(Tracker(mode="byte", frame_rate=7), frames)
    assert byte[-1][0][0] != byte[5][0][0]  # IoU alone: A gets a new id after the jump
    rob = Tracker(mode="robust", frame_rate=7,
                  robust=dataclasses.replace(FAST, center=False, add_llr=add_llr))
    res = _outputs(rob, frames, embs)
    assert rob.association.appearance_on
    # the one-hot features give the true pair an llr far above 4: only an infinite bar refuses it
    assert bool(res[-1][0][0] == res[5][0][0]) is kept
    assert (rob.association.stats["added"] >= 1) is kept
