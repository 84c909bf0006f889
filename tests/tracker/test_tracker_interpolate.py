"""ByteTrack's linear interpolation fills exactly the gaps shorter than the limit."""
import numpy as np

from finetrack.tracker import interpolate_tracks


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
