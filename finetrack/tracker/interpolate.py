"""Post-processing of results arrays: linear gap filling and Gaussian-smoothed interpolation.

* :func:`interpolate_tracks`: ByteTrack's linear interpolation of short track gaps
  (``tools/interpolation.py`` ``dti``).
* :func:`gaussian_smooth_tracks` / :func:`gsi_tracks`: StrongSORT's GSI
  (``AFLink``/``GSI.py``): linear gap filling, then each track's boxes are replaced by a Gaussian
  process posterior mean over its frames (RBF kernel, fixed length scale from ``tau``).

Both are off by default in the pipeline (``tracker.interpolate=none|linear|gsi``).
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


#: GSI's Gaussian-process noise (scikit-learn ``GaussianProcessRegressor``'s default ``alpha``).
GSI_ALPHA = 1e-10


def gsi_length_scale(n_rows: int, tau: float = 10.0) -> float:
    """StrongSORT's RBF length scale (frames): ``clip(tau * log(tau^3 / n), 1 / tau, tau^2)``."""
    return float(np.clip(tau * np.log(tau ** 3 / max(n_rows, 1)), 1.0 / tau, tau ** 2))


def gaussian_smooth_tracks(
    results: np.ndarray, tau: float = 10.0, alpha: float = GSI_ALPHA
) -> np.ndarray:
    """Replace each track's boxes by a Gaussian-process posterior mean (StrongSORT's smoothing).

    For a track with frames ``t`` (n rows) and the RBF kernel ``K_ij = exp(-(t_i - t_j)^2 /
    (2 l^2))`` with ``l = gsi_length_scale(n, tau)``, each box column ``y`` becomes
    ``K (K + alpha I)^-1 y``: the prediction at its own frames of scikit-learn's
    ``GaussianProcessRegressor(RBF(l, "fixed"))`` fitted on ``(t, y)``, the closed form StrongSORT
    evaluates. It is computed through ``K = U diag(lambda) U^T`` as
    ``U diag(lambda / (lambda + alpha)) U^T y``: components of the track along kernel
    eigenvectors with eigenvalue << alpha (fast wiggles) are removed, smooth motion is kept.

    Args:
        results: (R, C) float array, C >= 7, rows ``frame, id, x, y, w, h, score, ...``.
            Not modified.
        tau: GSI's ``tau`` (StrongSORT: 10).
        alpha: noise variance added to the kernel diagonal (scikit-learn's default 1e-10).

    Returns:
        (R, C) float64 array sorted by frame then id, boxes ``x, y, w, h`` smoothed, the other
        columns (scores included) unchanged.
    """
    res = np.array(results, dtype=np.float64)
    if res.ndim != 2 or (res.size and res.shape[1] < 7):
        raise ValueError(f"results must be (R, >=7), got shape {res.shape}")
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    for tid in np.unique(res[:, 1]):
        rows = np.flatnonzero(res[:, 1] == tid)
        rows = rows[np.argsort(res[rows, 0], kind="stable")]
        t = res[rows, 0]
        scale = gsi_length_scale(len(rows), tau)
        k = np.exp(-np.square(t[:, None] - t[None, :]) / (2.0 * scale * scale))
        lam, u = np.linalg.eigh(k)
        lam = np.maximum(lam, 0.0)
        res[rows, 2:6] = u @ ((lam / (lam + alpha))[:, None] * (u.T @ res[rows, 2:6]))
    order = np.lexsort((res[:, 1], res[:, 0]))
    return res[order]


def gsi_tracks(
    results: np.ndarray,
    max_gap: int = 20,
    min_track_len: int = 25,
    tau: float = 10.0,
) -> np.ndarray:
    """StrongSORT's GSI: :func:`interpolate_tracks` then :func:`gaussian_smooth_tracks`.

    Args:
        results: (R, C >= 7) rows ``frame, id, x, y, w, h, score, ...``. Not modified.
        max_gap: linear stage: frame differences < this are filled (StrongSORT's interval 20).
        min_track_len: linear stage: only tracks with more rows are filled (StrongSORT fills
            every track: pass 0); every track is smoothed.
        tau: smoothing length-scale parameter (StrongSORT: 10).

    Returns:
        (R + added, C) float64 array sorted by frame then id.
    """
    filled = interpolate_tracks(results, max_gap=max_gap, min_track_len=min_track_len)
    return gaussian_smooth_tracks(filled, tau=tau)
