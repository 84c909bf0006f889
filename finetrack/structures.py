"""Box format converters: the only place that converts between xyxy, tlwh and xyah.

All functions take and return float numpy arrays of shape (N, 4) (or (4,)) and never modify
their input in place.
"""
from __future__ import annotations

import numpy as np


def _as2d(boxes) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    return b.reshape(-1, 4) if b.ndim != 2 else b


def tlwh_to_xyxy(tlwh) -> np.ndarray:
    """(N, 4) [x_left, y_top, w, h] -> (N, 4) [x1, y1, x2, y2]."""
    b = _as2d(tlwh).copy()
    b[:, 2:] += b[:, :2]
    return b


def xyxy_to_tlwh(xyxy) -> np.ndarray:
    """(N, 4) [x1, y1, x2, y2] -> (N, 4) [x_left, y_top, w, h]."""
    b = _as2d(xyxy).copy()
    b[:, 2:] -= b[:, :2]
    return b


def tlwh_to_xyah(tlwh) -> np.ndarray:
    """(N, 4) tlwh -> (N, 4) [cx, cy, aspect=w/h, h] (the Kalman filter's measurement space)."""
    b = _as2d(tlwh).copy()
    b[:, :2] += b[:, 2:] / 2.0
    b[:, 2] /= np.maximum(b[:, 3], 1e-12)
    return b


def xyah_to_tlwh(xyah) -> np.ndarray:
    """(N, 4) [cx, cy, a, h] -> (N, 4) tlwh."""
    b = _as2d(xyah).copy()
    b[:, 2] *= b[:, 3]
    b[:, :2] -= b[:, 2:] / 2.0
    return b


def xyxy_to_xyah(xyxy) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4) [cx, cy, a, h]."""
    return tlwh_to_xyah(xyxy_to_tlwh(xyxy))


def xyah_to_xyxy(xyah) -> np.ndarray:
    """(N, 4) [cx, cy, a, h] -> (N, 4) xyxy."""
    return tlwh_to_xyxy(xyah_to_tlwh(xyah))


def box_iou_xyxy(a, b) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M) float64 in [0, 1]."""
    a = _as2d(a)
    b = _as2d(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
