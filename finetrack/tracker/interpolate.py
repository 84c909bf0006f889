"""ByteTrack's linear interpolation of short track gaps (``tools/interpolation.py`` ``dti``).

Post-processing on a results array, off by default in the pipeline.
"""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def interpolate_tracks(
    results: np.ndarray,
    max_gap: int = 20,
    min_track_len: int = 25,
    interp_score: float = 1.0,
    fill_value: float = -1.0,
) -> np.ndarray:
    """Fill the missing frames inside each track by linear interpolation of its boxes.

    Between two consecutive rows of the same track at frames ``f0 < f1``, the frames
    ``f0+1 .. f1-1`` are added when ``1 < f1 - f0 < max_gap`` (ByteTrack's ``n_dti``: with the
    default 20, gaps of up to 18 missing frames are filled, 19 or more are left open). Only
    tracks with more than ``min_track_len`` rows are interpolated (ByteTrack's ``n_min``).

    Args:
        results: (R, C) float array, C >= 7, rows ``frame, id, x, y, w, h, score, ...``
            (MOTChallenge results: C = 10). Not modified.
        max_gap: Exclusive upper bound of the frame difference that is interpolated.
        min_track_len: Tracks with at most this many rows are not interpolated.
        interp_score: Score column (index 6) of the added rows (ByteTrack: 1).
        fill_value: Value of the columns after the score in added rows (MOTChallenge: -1).

    Returns:
        (R + added, C) float64 array sorted by frame then id (stable), original rows unchanged.
    """
    res = np.array(results, dtype=np.float64)
    if res.ndim != 2 or (res.size and res.shape[1] < 7):
        raise ValueError(f"results must be (R, >=7), got shape {res.shape}")
    if len(res) == 0:
        return res
    added = []
    for tid in np.unique(res[:, 1]):
        trk = res[res[:, 1] == tid]
        if len(trk) <= min_track_len:
            continue
        trk = trk[np.argsort(trk[:, 0], kind="stable")]
        frames = trk[:, 0]
        gaps = np.diff(frames)
        for i in np.flatnonzero((gaps > 1) & (gaps < max_gap)):
            f0, f1 = frames[i], frames[i + 1]
            b0, b1 = trk[i, 2:6], trk[i + 1, 2:6]
            new_frames = np.arange(f0 + 1, f1)
            w = ((new_frames - f0) / (f1 - f0))[:, None]
            rows = np.full((len(new_frames), res.shape[1]), fill_value, dtype=np.float64)
            rows[:, 0] = new_frames
            rows[:, 1] = tid
            rows[:, 2:6] = b0[None] + w * (b1 - b0)[None]
            rows[:, 6] = interp_score
            added.append(rows)
    n_added = int(sum(len(a) for a in added))
    logger.debug("interpolated %d rows", n_added)
    out = np.concatenate([res] + added, axis=0) if added else res
    order = np.lexsort((out[:, 1], out[:, 0]))
    return out[order]
