"""BoT-SORT's xywh Kalman filter (finetrack/tracker/kalman.py KalmanFilterXYWH), hand-checked;
the filters' box conversions; botsort with it through the scripted crossing."""
import numpy as np
import pytest

from finetrack.tracker import Tracker
from finetrack.tracker.association.botsort import BotSortSettings
from finetrack.tracker.kalman import KalmanFilter, KalmanFilterXYWH

from tests.tracker.test_tracker_crossing import bounce_scene, run_scene

WP, WV = 1.0 / 20, 1.0 / 160


def test_constant_velocity_box_is_predicted_exactly_after_convergence():
    kf = KalmanFilterXYWH()
    v = np.array([3.0, -1.5, 0.25, 0.5])  # cx, cy, w, h per frame: the box grows
    z0 = np.array([100.0, 400.0, 30.0, 80.0])
    mean, cov = kf.initiate(z0[None])
    errors = []
    for f in range(1, 100):
        mean, cov = kf.predict(mean, cov)
        errors.append(np.abs(mean[0, :4] - (z0 + f * v)).max())
        mean, cov = kf.update(mean, cov, (z0 + f * v)[None])
    assert errors[0] == pytest.approx(3.0)  # the first prediction knows no velocity
    pred, _ = kf.predict(mean, cov)
    np.testing.assert_allclose(pred[0, :4], z0 + 100 * v, atol=1e-4)
    np.testing.assert_allclose(pred[0, 4:], v, atol=1e-5)
    # the box it predicts, through the filter's own conversion
    cx, cy, w, h = z0 + 100 * v
    np.testing.assert_allclose(kf.to_xyxy(pred)[0], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2],
                               atol=1e-6)


def test_covariances_scale_with_width_for_x_and_with_height_for_y():
    kf = KalmanFilterXYWH()
    w, h = 40.0, 100.0
    mean, cov = kf.initiate(np.array([[200.0, 300.0, w, h]]))
    # BoT-SORT: 2 * wp * [w, h, w, h] and 10 * wv * [w, h, w, h]: 4, 10, 4, 10, 2.5, 6.25, 2.5, 6.25
    np.testing.assert_allclose(np.sqrt(np.diag(cov[0])), [4, 10, 4, 10, 2.5, 6.25, 2.5, 6.25])
    assert np.count_nonzero(cov[0] - np.diag(np.diag(cov[0]))) == 0
    # process noise, from a certain state: wp * [w, h, w, h] = 2, 5, 2, 5; wv * [...] = 0.25, 0.625
    _, q = kf.predict(mean, np.zeros((1, 8, 8)))
    np.testing.assert_allclose(np.sqrt(np.diag(q[0])), [2, 5, 2, 5, 0.25, 0.625, 0.25, 0.625])
    # measurement noise: wp * [w, h, w, h]
    _, s = kf.project(mean, np.zeros((1, 8, 8)))
    np.testing.assert_allclose(np.sqrt(np.diag(s[0])), [2, 5, 2, 5])
    # twice as wide: the x / w stds double, the y / h ones do not move
    _, q2 = kf.predict(mean * [1, 1, 2, 1, 1, 1, 1, 1], np.zeros((1, 8, 8)))
    np.testing.assert_allclose(np.sqrt(np.diag(q2[0])) / np.sqrt(np.diag(q[0])), [2, 1, 2, 1] * 2)
    # ByteTrack's filter scales everything with the height instead (its aspect entries are fixed)
    m_ah, _ = KalmanFilter().initiate(KalmanFilter().from_xyxy(kf.to_xyxy(mean)))
    _, q_ah = KalmanFilter().predict(m_ah, np.zeros((1, 8, 8)))
    np.testing.assert_allclose(np.sqrt(np.diag(q_ah[0]))[[0, 1, 3]], [5, 5, 5])


def test_batched_equals_one_by_one():
    rng = np.random.default_rng(3)
    kf = KalmanFilterXYWH()
    n = 6
    z = np.c_[rng.uniform(0, 900, (n, 2)), rng.uniform(20, 80, n), rng.uniform(60, 250, n)]
    mean, cov = kf.initiate(z)
    one = [kf.initiate(z[i:i + 1]) for i in range(n)]
    warp = np.array([[0.999, -0.02, 4.0], [0.02, 0.999, -3.0]])
    for step in range(4):
        mean, cov = kf.predict(mean, cov)
        one = [kf.predict(m, c) for m, c in one]
        mean, cov = kf.warp_affine(mean, cov, warp)
        one = [kf.warp_affine(m, c, warp) for m, c in one]
        zz = z + step * np.array([4.0, 1.0, 0.3, 0.6]) + rng.normal(0, 1, z.shape)
        mean, cov = kf.update(mean, cov, zz)
        one = [kf.update(m, c, zz[i:i + 1]) for i, (m, c) in enumerate(one)]
        np.testing.assert_allclose(mean, np.concatenate([m for m, _ in one]), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(cov, np.concatenate([c for _, c in one]), rtol=1e-12, atol=1e-9)
    maha = kf.gating_distance(mean, cov, z)
    for i, (m, c) in enumerate(one):
        np.testing.assert_allclose(maha[i], kf.gating_distance(m[0], c[0], z), rtol=1e-10)
        np.testing.assert_allclose(kf.project(m, c)[1][0], kf.project(mean, cov)[1][i], rtol=1e-12)


def test_warp_maps_every_xy_pair_of_the_state():
    """BoT-SORT's multi_gmc: a 2x zoom about the origin plus a shift doubles the centre, the size
    and the velocities and shifts the centre only."""
    kf = KalmanFilterXYWH()
    mean = np.array([[100.0, 50.0, 30.0, 80.0, 2.0, -1.0, 0.5, 0.25]])
    cov = np.diag(np.arange(1.0, 9.0))[None]
    m, c = kf.warp_affine(mean, cov, np.array([[2.0, 0.0, 7.0], [0.0, 2.0, -3.0]]))
    np.testing.assert_allclose(m[0], [207.0, 97.0, 60.0, 160.0, 4.0, -2.0, 1.0, 0.5])
    np.testing.assert_allclose(c[0], 4.0 * cov[0])


@pytest.mark.parametrize("kf", [KalmanFilter(), KalmanFilterXYWH()], ids=["xyah", "xywh"])
def test_measurement_round_trip(kf):
    xyxy = np.array([[10.0, 20.0, 50.0, 120.0], [0.5, 3.25, 7.75, 30.0]])
    z = kf.from_xyxy(xyxy)
    want = ([[30.0, 70.0, 0.4, 100.0], [4.125, 16.625, 7.25 / 26.75, 26.75]] if type(kf) is KalmanFilter
            else [[30.0, 70.0, 40.0, 100.0], [4.125, 16.625, 7.25, 26.75]])
    np.testing.assert_allclose(z, want, rtol=1e-14)
    np.testing.assert_allclose(kf.to_xyxy(z), xyxy, rtol=1e-14, atol=1e-12)
    mean, _ = kf.initiate(z)  # the state's first four entries are the measurement
    np.testing.assert_allclose(kf.to_xyxy(mean), xyxy, rtol=1e-14, atol=1e-12)


def test_lost_track_stops_growing():
    """BoT-SORT's multi_predict: a lost track's width and height velocities are zeroed."""
    t = Tracker("botsort", botsort=BotSortSettings(kalman="xywh"))
    assert isinstance(t.kf, KalmanFilterXYWH)
    emb = np.eye(1, 8)
    for f in range(12):
        t.update(np.array([[100.0 + 3 * f, 100.0, 140.0 + 4 * f, 200.0 + 2 * f]]), np.array([0.9]), emb)
    assert t.tracked_tracks[0].mean[6] > 0.5  # width velocity ~1 px / frame
    for _ in range(2):
        t.update(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 8)))
    (lost,) = t.lost_tracks
    np.testing.assert_array_equal(lost.mean[6:8], [0.0, 0.0])
    assert lost.mean[4] > 2.0  # the centre keeps moving


def test_botsort_xywh_keeps_ids_through_a_crossing():
    frames = bounce_scene(occluded=(12,))
    byte = run_scene(Tracker(mode="byte"), frames)
    assert byte[-1] == {0: 2, 1: 1}  # motion alone swaps them
    res = run_scene(Tracker("botsort", botsort=BotSortSettings(appearance_thresh=0.25, proximity_thresh=0.8,
                                                               kalman="xywh")), frames, np.eye(2, 32))
    assert all(m == {g: g + 1 for g in m} for m in res)
    assert res[-1] == {0: 1, 1: 2}
