"""Pure cost-matrix and assignment functions for the tracker (numpy in, numpy out).

Ports of ByteTrack/FairMOT ``matching.py`` working on plain arrays instead of track objects, plus
FineTrack's fused appearance/IoU distance (paper eq. 9-12). No function modifies its inputs.

Conventions: rows index tracks (N), columns index detections (M); boxes are ``xyxy`` in pixels;
features are (N, D) / (M, D) float arrays (L2-normalised or not: cosine is scale invariant).
"""
from __future__ import annotations

import logging
from typing import Tuple

import lap
import numpy as np

from finetrack.structures import box_iou_xyxy
from finetrack.tracker.kalman import CHI2INV95, KalmanFilter

logger = logging.getLogger(__name__)

#: FairMOT/JDE weight of the appearance term in :func:`fuse_motion` (1 - weight goes to motion).
FUSE_MOTION_LAMBDA = 0.98
_EPS = 1e-12


def linear_assignment(
    cost: np.ndarray, thresh: float
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost assignment with a rejection threshold (ByteTrack's ``linear_assignment``).

    Solved by ``lap.lapjv(cost, extend_cost=True, cost_limit=thresh)``: a pair is only matched when
    its cost is below ``thresh`` (leaving both unmatched costs ``thresh``). Non-finite costs (gated
    pairs) are replaced by ``thresh + 1`` so they can never be matched.

    Only the pairs below ``thresh`` (candidates) can be in the optimum, and a candidate that is the
    only one of its row and of its column is in every optimum: such pairs are taken directly. The
    rows and columns that compete are solved by enumerating their matchings when they have at most
    ``_MAX_ENUM_EDGES`` candidates, else by ``lapjv`` (whose fixed cost per call is most of a
    frame's on a few boxes). The result is ``lapjv``'s on the whole matrix whenever the optimum is
    unique (a near-tie goes to ``lapjv``); a pair costing exactly ``thresh`` (a tie with leaving
    it unmatched) sends the whole matrix to ``lapjv``.

    Args:
        cost: (N, M) cost matrix.
        thresh: Maximum cost of a match.

    Returns:
        matches (K, 2) int64 ``[row, col]`` pairs sorted by row, unmatched rows (N-K,) int64 and
        unmatched columns (M-K,) int64, both ascending.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    thresh = float(thresh)
    if cost.size == 0:
        return (np.empty((0, 2), dtype=np.int64), np.arange(n, dtype=np.int64),
                np.arange(m, dtype=np.int64))
    rows, cols = (cost <= thresh).nonzero()  # candidates (and ties); inf and nan are never
    if len(rows) == 0:
        return (np.empty((0, 2), dtype=np.int64), np.arange(n, dtype=np.int64),
                np.arange(m, dtype=np.int64))
    rows, cols = rows.tolist(), cols.tolist()  # row-major: rows ascending
    vals = cost[rows, cols].tolist()
    x = [-1] * n
    y = [-1] * m
    if thresh in vals or -np.inf in vals:  # a tie, or a -inf lapjv would not see as is: no shortcut
        _solve_lapjv(cost, np.arange(n), np.arange(m), thresh, x, y)
    else:
        row_n = [0] * n
        col_n = [0] * m
        for r, c in zip(rows, cols):
            row_n[r] += 1
            col_n[c] += 1
        sub_r, sub_c = set(), set()
        for r, c in zip(rows, cols):
            if row_n[r] == 1 and col_n[c] == 1:
                x[r], y[c] = c, r
            else:
                sub_r.add(r)
                sub_c.add(c)
        if sub_r:  # competing candidates: enumerated when few, else lapjv on their rows/cols
            edges = [(r, c, v - thresh) for r, c, v in zip(rows, cols, vals)
                     if r in sub_r or c in sub_c]
            best = _best_matching(edges) if len(edges) <= _MAX_ENUM_EDGES else None
            if best is None:
                _solve_lapjv(cost, np.array(sorted(sub_r)), np.array(sorted(sub_c)), thresh, x, y)
            else:
                for r, c in best:
                    x[r], y[c] = c, r
    matches = [(r, c) for r, c in enumerate(x) if c >= 0]
    return (np.array(matches, dtype=np.int64).reshape(-1, 2),
            np.array([r for r, c in enumerate(x) if c < 0], dtype=np.int64),
            np.array([c for c, r in enumerate(y) if r < 0], dtype=np.int64))


#: competing candidate pairs up to this many are solved by enumeration instead of lapjv
_MAX_ENUM_EDGES = 10
#: enumeration answers only when its optimum beats every other matching by this much (else lapjv)
_ENUM_MARGIN = 1e-9


def _best_matching(edges: list):
    """Exact minimum-cost matching over a few candidate ``(row, col, cost - thresh)`` edges (all
    negative: each one saves its amount over leaving its row and column unmatched).

    Returns:
        The list of (row, col) pairs of the optimum, or None when another matching comes within
        ``_ENUM_MARGIN`` of it (near-ties are left to lapjv, whose choice is then the reference).
    """
    by_row: dict = {}
    for r, c, v in edges:
        by_row.setdefault(r, []).append((c, v))
    order = sorted(by_row)
    totals = []  # (total, pairs) of every matching

    def walk(k: int, used: frozenset, total: float, pairs: tuple) -> None:
        if k == len(order):
            totals.append((total, pairs))
            return
        r = order[k]
        walk(k + 1, used, total, pairs)  # row r unmatched
        for c, v in by_row[r]:
            if c not in used:
                walk(k + 1, used | {c}, total + v, pairs + ((r, c),))

    walk(0, frozenset(), 0.0, ())
    totals.sort(key=lambda tp: tp[0])
    if len(totals) > 1 and totals[1][0] - totals[0][0] < _ENUM_MARGIN:
        return None
    return list(totals[0][1])


def _solve_lapjv(cost: np.ndarray, sub_r: np.ndarray, sub_c: np.ndarray, thresh: float,
                 x: list, y: list) -> None:
    """Solve the sub-problem ``cost[sub_r][:, sub_c]`` with ``lap.lapjv`` (non-finite costs
    become ``thresh + 1``) and write its matches into the row->col list ``x`` and col->row ``y``."""
    sub = cost[np.ix_(sub_r, sub_c)]
    finite = np.isfinite(sub)
    if not finite.all():
        sub = np.where(finite, sub, thresh + 1.0)
    _, sx, _ = lap.lapjv(sub, extend_cost=True, cost_limit=thresh)
    for i, j in enumerate(np.asarray(sx).tolist()):
        if j >= 0:
            r, c = int(sub_r[i]), int(sub_c[j])
            x[r], y[c] = c, r


def iou_distance(
    tracks_xyxy: np.ndarray, dets_xyxy: np.ndarray, pixel_offset: float = 0.0
) -> np.ndarray:
    """IoU distance ``1 - IoU`` between track and detection boxes.

    Args:
        tracks_xyxy: (N, 4) boxes xyxy.
        dets_xyxy: (M, 4) boxes xyxy.
        pixel_offset: Added to widths and heights before computing areas/intersections. 0 (default)
            is the continuous convention (boxmot, torchvision); 1 reproduces the ``+1`` pixel
            convention of ``cython_bbox.bbox_overlaps`` used by the official ByteTrack code.

    Returns:
        (N, M) float64 distances in [0, 1].
    """
    a = np.asarray(tracks_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(dets_xyxy, dtype=np.float64).reshape(-1, 4)
    if pixel_offset:
        a = a.copy()
        b = b.copy()
        a[:, 2:] += pixel_offset
        b[:, 2:] += pixel_offset
    return 1.0 - box_iou_xyxy(a, b)


def embedding_distance(track_feats: np.ndarray, det_feats: np.ndarray) -> np.ndarray:
    """Cosine distance ``1 - cos`` clipped at 0 (FairMOT's ``embedding_distance``).

    Args:
        track_feats: (N, D) track (EMA) features.
        det_feats: (M, D) detection features.

    Returns:
        (N, M) float64 distances in [0, 2].
    """
    a = np.asarray(track_feats, dtype=np.float64)
    b = np.asarray(det_feats, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), _EPS)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), _EPS)
    return np.clip(1.0 - a @ b.T, 0.0, 2.0)


def fuse_score(cost: np.ndarray, det_scores: np.ndarray) -> np.ndarray:
    """ByteTrack's ``fuse_score``: ``1 - (1 - cost) * score`` per detection column.

    Args:
        cost: (N, M) IoU distance.
        det_scores: (M,) detection scores.

    Returns:
        (N, M) fused cost.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.size == 0:
        return cost.copy()
    return 1.0 - (1.0 - cost) * np.asarray(det_scores, dtype=np.float64)[None, :]


def fuse_motion(
    kf: KalmanFilter,
    cost: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    det_z: np.ndarray,
    only_position: bool = False,
    lambda_: float = FUSE_MOTION_LAMBDA,
    gate: float | None = None,
) -> np.ndarray:
    """FairMOT/JDE motion fusion: gate by Mahalanobis distance, then blend.

    ``cost' = lambda_ * cost + (1 - lambda_) * maha``, and ``inf`` where the squared Mahalanobis
    distance exceeds ``gate`` (default ``CHI2INV95[4]`` = 9.4877, or ``CHI2INV95[2]`` with
    ``only_position``).

    Args:
        kf: The Kalman filter (for projection to measurement space).
        cost: (N, M) appearance cost.
        means: (N, 8) predicted track means.
        covariances: (N, 8, 8) predicted track covariances.
        det_z: (M, 4) detections in ``kf``'s measurement space (``kf.from_xyxy``).
        only_position: Gate on the centre only (2 dof).
        lambda_: Weight of the appearance cost.
        gate: Gating threshold on the squared Mahalanobis distance.

    Returns:
        (N, M) fused cost with ``inf`` for gated pairs.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.size == 0:
        return cost.copy()
    if gate is None:
        gate = CHI2INV95[2 if only_position else 4]
    maha = kf.gating_distance(means, covariances, det_z, only_position=only_position)
    fused = lambda_ * cost + (1.0 - lambda_) * maha
    return np.where(maha > gate, np.inf, fused)


def finetrack_distance(feat_cost: np.ndarray, iou_cost: np.ndarray) -> np.ndarray:
    """FineTrack's fused distance (paper eq. 11-12).

    ``d_feat~ = 1 - (1 - d_feat) * [d_iou < 1]`` (appearance only counts for overlapping boxes),
    ``d = sqrt(d_feat~ * d_iou)``. A pair without overlap has ``d = 1``; identical features on
    identical boxes give ``d = 0``.

    Args:
        feat_cost: (N, M) cosine distance ``1 - cos`` between EMA track and detection features.
        iou_cost: (N, M) IoU distance ``1 - IoU`` between predicted track and detection boxes.

    Returns:
        (N, M) float64 distances in [0, sqrt(2)].
    """
    feat_cost = np.asarray(feat_cost, dtype=np.float64)
    iou_cost = np.asarray(iou_cost, dtype=np.float64)
    overlap = (iou_cost < 1.0).astype(np.float64)
    feat_masked = 1.0 - (1.0 - feat_cost) * overlap
    return np.sqrt(np.clip(feat_masked * iou_cost, 0.0, None))
