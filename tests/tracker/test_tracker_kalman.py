"""The vectorised Kalman filter equals ByteTrack's per-track formulas."""
import numpy as np
import scipy.linalg

from finetrack.tracker.kalman import CHI2INV95, KalmanFilter

WP, WV = 1.0 / 20, 1.0 / 160
F = np.eye(8)
F[:4, 4:] = np.eye(4)
H = np.eye(4, 8)


def ref_initiate(z):
    h = z[3]
    std = [2 * WP * h, 2 * WP * h, 1e-2, 2 * WP * h, 10 * WV * h, 10 * WV * h, 1e-5, 10 * WV * h]
    return np.r_[z, np.zeros(4)], np.diag(np.square(std))


def ref_predict(mean, cov):
    h = mean[3]
    q = np.diag(np.square([WP * h, WP * h, 1e-2, WP * h, WV * h, WV * h, 1e-5, WV * h]))
    return F @ mean, np.linalg.multi_dot((F, cov, F.T)) + q


def ref_project(mean, cov):
    h = mean[3]
    r = np.diag(np.square([WP * h, WP * h, 1e-1, WP * h]))
    return H @ mean, np.linalg.multi_dot((H, cov, H.T)) + r


def ref_update(mean, cov, z):
    pm, pc = ref_project(mean, cov)
    chol = scipy.linalg.cho_factor(pc, lower=True, check_finite=False)
    gain = scipy.linalg.cho_solve(chol, (cov @ H.T).T, check_finite=False).T
    new_mean = mean + (z - pm) @ gain.T
    return new_mean, cov - np.linalg.multi_dot((gain, pc, gain.T))


def ref_maha(mean, cov, zs):
    pm, pc = ref_project(mean, cov)
    chol = np.linalg.cholesky(pc)
    sol = scipy.linalg.solve_triangular(chol, (zs - pm).T, lower=True)
    return np.sum(sol * sol, axis=0)


def _states(rng, n):
    z = np.c_[rng.uniform(0, 1000, (n, 2)), rng.uniform(0.3, 0.6, n), rng.uniform(50, 300, n)]
    return z


def test_vectorised_equals_per_track_formulas():
    rng = np.random.default_rng(0)
    kf = KalmanFilter()
    z0 = _states(rng, 7)
    mean, cov = kf.initiate(z0)
    for i in range(7):
        m, c = ref_initiate(z0[i])
        np.testing.assert_allclose(mean[i], m)
        np.testing.assert_allclose(cov[i], c)
    means_ref = [ref_initiate(z)[0] for z in z0]
    covs_ref = [ref_initiate(z)[1] for z in z0]
    for step in range(5):
        mean, cov = kf.predict(mean, cov)
        pred = [ref_predict(m, c) for m, c in zip(means_ref, covs_ref)]
        means_ref, covs_ref = [p[0] for p in pred], [p[1] for p in pred]
        np.testing.assert_allclose(mean, np.stack(means_ref), rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(cov, np.stack(covs_ref), rtol=1e-10, atol=1e-9)
        z = z0 + rng.normal(0, 3, z0.shape) * [1, 1, 0.01, 1] + step * np.array([5, -2, 0, 1])
        mean, cov = kf.update(mean, cov, z)
        upd = [ref_update(m, c, zz) for m, c, zz in zip(means_ref, covs_ref, z)]
        means_ref, covs_ref = [u[0] for u in upd], [u[1] for u in upd]
        np.testing.assert_allclose(mean, np.stack(means_ref), rtol=1e-9, atol=1e-8)
        np.testing.assert_allclose(cov, np.stack(covs_ref), rtol=1e-9, atol=1e-8)
    # velocity follows the motion
    assert mean[:, 4].mean() > 0 and mean[:, 5].mean() < 0
    # gating distance: batch (N, M) equals per-track rows
    zs = _states(rng, 5)
    maha = kf.gating_distance(mean, cov, zs)
    assert maha.shape == (7, 5)
    for i in range(7):
        np.testing.assert_allclose(maha[i], ref_maha(means_ref[i], covs_ref[i], zs), rtol=1e-8)
        np.testing.assert_allclose(kf.gating_distance(mean[i], cov[i], zs), maha[i])


def test_gating_distance_zero_at_mean_and_inputs_untouched():
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[100.0, 200.0, 0.5, 100.0]]))
    m0, c0 = mean.copy(), cov.copy()
    mean2, cov2 = kf.predict(mean, cov)
    np.testing.assert_array_equal(mean, m0)
    np.testing.assert_array_equal(cov, c0)
    d = kf.gating_distance(mean2, cov2, np.array([[100.0, 200.0, 0.5, 100.0],
                                                  [400.0, 200.0, 0.5, 100.0]]))
    assert d[0, 0] == 0.0 and d[0, 1] > CHI2INV95[4]
    assert kf.update(np.zeros((0, 8)), np.zeros((0, 8, 8)), np.zeros((0, 4)))[0].shape == (0, 8)


def test_measurement_round_trip_through_the_filter():
    """The filter owns the box <-> measurement conversion the tracker uses (hand-derived values)."""
    kf = KalmanFilter()
    xyxy = np.array([[10.0, 20.0, 50.0, 120.0], [0.5, 3.25, 7.75, 30.0]])
    z = kf.from_xyxy(xyxy)
    np.testing.assert_allclose(z, [[30.0, 70.0, 0.4, 100.0], [4.125, 16.625, 7.25 / 26.75, 26.75]],
                               rtol=1e-14)
    np.testing.assert_allclose(kf.to_xyxy(z), xyxy, rtol=1e-14, atol=1e-12)
    mean, cov = kf.initiate(z)  # a state's box is its first four entries
    np.testing.assert_allclose(kf.to_xyxy(mean), xyxy, rtol=1e-14, atol=1e-12)
    mean[:, kf.lost_velocity] = 5.0  # the entry a lost track drops is the height velocity
    assert np.all(kf.predict(mean, cov)[0][:, 3] == z[:, 3] + 5.0)
