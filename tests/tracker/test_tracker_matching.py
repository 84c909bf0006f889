"""Pure matching functions: assignment, IoU / cosine distances and FineTrack's fused distance."""
import numpy as np

from finetrack.tracker import matching
from finetrack.tracker.kalman import KalmanFilter


def test_linear_assignment_threshold_and_unmatched():
    cost = np.array([[0.1, 0.9, 0.9], [0.9, 0.2, 0.9], [0.9, 0.9, 0.95]])
    m, ua, ub = matching.linear_assignment(cost, thresh=0.8)
    assert m.tolist() == [[0, 0], [1, 1]]
    assert ua.tolist() == [2] and ub.tolist() == [2]
    # global optimum, not greedy: greedy would take (0,0)=0.0 then (1,1)=0.79 -> total 0.79
    cost = np.array([[0.0, 0.1], [0.2, 0.79]])
    m, _, _ = matching.linear_assignment(cost, thresh=0.8)
    assert sorted(m.tolist()) == [[0, 1], [1, 0]]
    m, ua, ub = matching.linear_assignment(np.zeros((0, 3)), 0.5)
    assert m.shape == (0, 2) and ua.tolist() == [] and ub.tolist() == [0, 1, 2]
    m, ua, ub = matching.linear_assignment(np.array([[np.inf, 0.3]]), 0.5)
    assert m.tolist() == [[0, 1]] and ub.tolist() == [0]


def test_iou_distance_and_pixel_offset():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    d = matching.iou_distance(a, b)
    np.testing.assert_allclose(d, [[1 - 50 / 150, 1.0]])
    d1 = matching.iou_distance(a, b, pixel_offset=1.0)  # cython_bbox: 11x11 boxes, 6x11 overlap
    np.testing.assert_allclose(d1[0, 0], 1 - 66 / (121 + 121 - 66))


def test_embedding_distance_and_fuse_score():
    f = np.array([[1.0, 0.0], [0.0, 2.0]])
    d = matching.embedding_distance(f, np.array([[3.0, 0.0], [-1.0, 0.0]]))
    np.testing.assert_allclose(d, [[0.0, 2.0], [1.0, 1.0]], atol=1e-12)
    fused = matching.fuse_score(np.array([[0.2, 1.0]]), np.array([0.5, 0.9]))
    np.testing.assert_allclose(fused, [[1 - 0.8 * 0.5, 1.0]])


def test_fuse_motion_gates_far_detections():
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[100.0, 100.0, 0.5, 100.0]]))
    dets = np.array([[100.0, 100.0, 0.5, 100.0], [600.0, 100.0, 0.5, 100.0]])
    cost = np.array([[0.3, 0.0]])
    fused = matching.fuse_motion(kf, cost, mean, cov, dets)
    np.testing.assert_allclose(fused[0, 0], 0.98 * 0.3)  # Mahalanobis 0 at the mean
    assert np.isinf(fused[0, 1])  # identical appearance but gated by motion
    assert cost[0, 1] == 0.0  # input untouched


def test_finetrack_distance_edges():
    d_iou = np.array([[1.0, 1.0, 0.4, 0.0, 0.9]])
    d_feat = np.array([[0.0, 1.5, 0.0, 0.0, 0.5]])
    d = matching.finetrack_distance(d_feat, d_iou)
    # no overlap -> 1 whatever the features; identical features on overlapping boxes -> 0
    np.testing.assert_allclose(d, [[1.0, 1.0, 0.0, 0.0, np.sqrt(0.5 * 0.9)]])
    # the no-overlap pair is never matched at the FineTrack threshold 0.5
    m, ua, ub = matching.linear_assignment(matching.finetrack_distance(
        np.array([[0.0]]), np.array([[1.0]])), 0.5)
    assert len(m) == 0 and ua.tolist() == [0] and ub.tolist() == [0]


def test_linear_assignment_shortcut_equals_lapjv_on_the_whole_matrix():
    """Isolated candidate pairs are taken directly and lapjv runs on the competing rest: the same
    answer as one lapjv call on the whole matrix (IoU-like matrices: mostly 1, a few overlaps)."""
    import lap

    rng = np.random.default_rng(0)
    for trial in range(300):
        n, m = rng.integers(0, 12, size=2)
        cost = np.ones((n, m))
        k = int(rng.integers(0, max(n * m, 1) + 1) * rng.uniform(0, 0.4))
        cost.flat[rng.choice(n * m, size=min(k, n * m), replace=False)] = rng.uniform(0, 1, k)
        if trial % 7 == 0 and cost.size:
            cost.flat[rng.integers(0, cost.size)] = np.inf
        got = matching.linear_assignment(cost, 0.8)
        if cost.size == 0:
            assert got[0].shape == (0, 2)
            continue
        _, x, y = lap.lapjv(np.where(np.isfinite(cost), cost, 1.8), extend_cost=True,
                            cost_limit=0.8)
        rows = np.flatnonzero(x >= 0)
        assert got[0].tolist() == np.stack([rows, x[rows]], axis=1).tolist()
        assert got[1].tolist() == np.flatnonzero(x < 0).tolist()
        assert got[2].tolist() == np.flatnonzero(y < 0).tolist()
