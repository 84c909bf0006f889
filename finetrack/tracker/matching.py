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

    Args:
        cost: (N, M) cost matrix.
        thresh: Maximum cost of a match.

    Returns:
        matches (K, 2) int64 ``[row, col]`` pairs sorted by row, unmatched rows (N-K,) int64 and
        unmatched columns (M-K,) int64, both ascending.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if cost.size == 0:
        return (np.empty((0, 2), dtype=np.int64), np.arange(n, dtype=np.int64),
                np.arange(m, dtype=np.int64))
    if not np.isfinite(cost).all():
        cost = np.where(np.isfinite(cost), cost, float(thresh) + 1.0)
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=float(thresh))
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    rows = np.flatnonzero(x >= 0)
    matches = np.stack([rows, x[rows]], axis=1).astype(np.int64).reshape(-1, 2)
    return matches, np.flatnonzero(x < 0).astype(np.int64), np.flatnonzero(y < 0).astype(np.int64)


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


def fuse_iou(emb_cost: np.ndarray, iou_cost: np.ndarray) -> np.ndarray:
    """ByteTrack/FairMOT's ``fuse_iou``: ``1 - (1 - emb_cost) * (1 + (1 - iou_cost)) / 2``.

    Args:
        emb_cost: (N, M) embedding distance.
        iou_cost: (N, M) IoU distance.

    Returns:
        (N, M) fused cost.
    """
    emb_cost = np.asarray(emb_cost, dtype=np.float64)
    if emb_cost.size == 0:
        return emb_cost.copy()
    return 1.0 - (1.0 - emb_cost) * (1.0 + (1.0 - np.asarray(iou_cost))) / 2.0


def fuse_motion(
    kf: KalmanFilter,
    cost: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    det_xyah: np.ndarray,
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
        det_xyah: (M, 4) detections as ``(cx, cy, a, h)``.
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
    maha = kf.gating_distance(means, covariances, det_xyah, only_position=only_position)
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
