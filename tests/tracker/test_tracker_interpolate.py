"""Linear interpolation fills exactly the gaps shorter than the limit; GSI smooths, keeps lines."""
import numpy as np
import pytest

from finetrack.tracker import gaussian_smooth_tracks, gsi_tracks, interpolate_tracks


def _track(tid, frames, x0=0.0):
    return np.array([[f, tid, x0 + 2.0 * f, 10.0, 20.0, 40.0 + f, 0.8, -1, -1, -1]
                     for f in frames])


def test_fills_only_short_gaps():
    # gaps: frame diff 5 (4 missing) and diff 20 (19 missing, not < 20), diff 19 (18 missing)
    frames = list(range(1, 11)) + list(range(15, 31)) + list(range(50, 60)) + [78]
    res = np.concatenate([_track(1, frames), _track(2, range(1, 5))])
    before = res.copy()
    out = interpolate_tracks(res, max_gap=20, min_track_len=25)
    np.testing.assert_array_equal(res, before)  # input untouched
    t1 = out[out[:, 1] == 1]
    assert sorted(set(t1[:, 0]) - set(frames)) == list(range(11, 15)) + list(range(60, 78))
    assert len(out[out[:, 1] == 2]) == 4  # too short to interpolate
    row = t1[t1[:, 0] == 12][0]
    # linear between frame 10 and 15 boxes: x = 2f, h = 40 + f, score 1, rest -1
    np.testing.assert_allclose(row, [12, 1, 24.0, 10.0, 20.0, 52.0, 1.0, -1, -1, -1])
    assert np.all(np.diff(out[:, 0]) >= 0)


def test_min_len_and_empty():
    res = _track(3, [1, 5])
    assert len(interpolate_tracks(res, min_track_len=0)) == 5
    assert len(interpolate_tracks(res)) == 2
    assert interpolate_tracks(np.zeros((0, 10))).shape == (0, 10)


# ------------------------------------------------------------------ GSI (StrongSORT)
def test_gsi_length_scale():
    from finetrack.tracker.interpolate import gsi_length_scale

    assert gsi_length_scale(100, 10) == pytest.approx(10 * np.log(10))  # 23.03 frames
    assert gsi_length_scale(1, 10) == pytest.approx(10 * np.log(1000))  # 69.08 < tau^2
    assert gsi_length_scale(5000, 10) == pytest.approx(0.1)  # clipped to 1 / tau


def test_gsi_keeps_a_straight_line_and_fills_its_gap():
    frames = [f for f in range(1, 81) if not 30 <= f <= 39]  # 10 missing frames
    res = _track(1, frames)
    out = gsi_tracks(res, max_gap=20, min_track_len=25, tau=10)
    assert out[:, 0].tolist() == list(range(1, 81))
    f = out[:, 0]
    truth = np.column_stack([2.0 * f, np.full_like(f, 10.0), np.full_like(f, 20.0), 40.0 + f])
    assert np.abs(out[:, 2:6] - truth).max() < 1e-3


def test_gsi_smooths_a_noisy_track():
    rng = np.random.default_rng(0)
    f = np.arange(1.0, 101.0)
    truth = np.column_stack([300 + 4 * f + 30 * np.sin(f / 15), 200 - f, 40 + 0.1 * f,
                             100 + 0.2 * f])
    res = np.zeros((100, 10))
    res[:, 0], res[:, 1], res[:, 6] = f, 7, 0.9
    res[:, 2:6] = truth + rng.normal(0, 3.0, truth.shape)
    before = res.copy()
    out = gaussian_smooth_tracks(res, tau=10)
    np.testing.assert_array_equal(res, before)  # input untouched
    rms_in = np.sqrt(np.mean((res[:, 2:6] - truth) ** 2))
    rms_out = np.sqrt(np.mean((out[:, 2:6] - truth) ** 2))
    assert rms_in == pytest.approx(3.0, rel=0.1)
    assert rms_out < 0.5 * rms_in
    np.testing.assert_array_equal(out[:, [0, 1, 6]], res[:, [0, 1, 6]])  # frames, ids, scores


def test_gsi_equals_the_gp_posterior_mean_by_hand():
    """Three rows, a large noise alpha: K (K + alpha I)^-1 y, K_ij = exp(-(ti - tj)^2 / (2 l^2))."""
    res = np.array([[1, 4, 10.0, 0, 5, 5, 1, -1, -1, -1],
                    [2, 4, 12.0, 3, 5, 5, 1, -1, -1, -1],
                    [4, 4, 11.0, 1, 5, 5, 1, -1, -1, -1]])
    out = gaussian_smooth_tracks(res, tau=10, alpha=0.5)
    ls = 10 * np.log(1000 / 3)  # 58.1 frames
    t = res[:, 0]
    k = np.exp(-(t[:, None] - t[None]) ** 2 / (2 * ls ** 2))
    expect = k @ np.linalg.solve(k + 0.5 * np.eye(3), res[:, 2:6])
    np.testing.assert_allclose(out[:, 2:6], expect, rtol=1e-10)
    # every row is pulled towards the others (zero prior mean shrinks by ~1/(1 + alpha/3))
    assert out[0, 2] > 10.0 * 0.8 and out[1, 2] < 12.0


def test_postprocess_follows_config_and_old_bools():
    from finetrack.config import Config
    from finetrack.configlib import load_config
    from finetrack.inference.app import postprocess_tracks

    res = _track(1, [f for f in range(1, 41) if f != 20])[:, :7]
    for value, rows, smoothed in (("false", 39, False), ("true", 40, False),
                                  ("none", 39, False), ("linear", 40, False), ("gsi", 40, True)):
        cfg = load_config(Config, None, [f"tracker.interpolate={value}"]).tracker
        out = postprocess_tracks(res, cfg)
        assert len(out) == rows, value
        assert cfg.interpolate in ("none", "linear", "gsi")
        if not smoothed:
            np.testing.assert_array_equal(out[np.isin(out[:, 0], res[:, 0])], res)
