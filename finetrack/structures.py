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
    """(N, 4) xyxy -> (N, 4) [cx, cy, a, h] (``tlwh_to_xyah(xyxy_to_tlwh(.))`` with one copy)."""
    b = _as2d(xyxy).copy()
    b[:, 2:] -= b[:, :2]
    b[:, :2] += b[:, 2:] / 2.0
    b[:, 2] /= np.maximum(b[:, 3], 1e-12)
    return b


def xyah_to_xyxy(xyah) -> np.ndarray:
    """(N, 4) [cx, cy, a, h] -> (N, 4) xyxy (``tlwh_to_xyxy(xyah_to_tlwh(.))`` with one copy)."""
    b = _as2d(xyah).copy()
    b[:, 2] *= b[:, 3]
    b[:, :2] -= b[:, 2:] / 2.0
    b[:, 2:] += b[:, :2]
    return b


def box_iou_xyxy(a, b) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M) float64 in [0, 1]."""
    a = _as2d(a)
    b = _as2d(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    # np.clip(x, 0, None) is np.maximum(x, 0), at a higher call cost (the tracker calls this
    # several times a frame on a few boxes: the number of numpy calls is the cost)
    a3 = a[:, None, :]
    wh = np.minimum(a3[..., 2:], b[:, 2:])  # (N, M, 2) right-bottom of the intersection
    wh -= np.maximum(a3[..., :2], b[:, :2])  # minus its left-top
    np.maximum(wh, 0.0, out=wh)
    inter = wh[..., 0] * wh[..., 1]
    wh_a = np.maximum(a[:, 2:] - a[:, :2], 0.0)
    wh_b = np.maximum(b[:, 2:] - b[:, :2], 0.0)
    union = (wh_a[:, 0] * wh_a[:, 1])[:, None] + wh_b[:, 0] * wh_b[:, 1]
    union -= inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
