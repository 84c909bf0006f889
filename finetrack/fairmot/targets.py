"""FairMOT / CenterNet training targets on the stride-4 output grid.

For every GT box (network-input pixels, xyxy) with identity label ``id`` (``-1`` = no identity):

* the box is divided by the down ratio (4) and clipped to the output grid; its centre
  ``ct = ((x1 + x2) / 2, (y1 + y2) / 2)`` (clipped box) falls in cell ``ct_int = floor(ct)``;
* ``hm``: a 2-D Gaussian of radius :func:`gaussian_radius` (CenterNet's rule, ``min_overlap``
  0.7) on ``(ceil(h), ceil(w))`` of the clipped box, peak exactly 1 at ``ct_int``, element-wise max
  with the other objects' Gaussians (:func:`draw_gaussian`);
* ``wh``: ``(ct_x - x1, ct_y - y1, x2 - ct_x, y2 - ct_y)`` to the UNclipped box (FairMOT's ltrb);
* ``reg``: ``ct - ct_int``; ``ind``: ``ct_int_y * W + ct_int_x``; ``mask``: 1 for real rows;
* ``ids``: the identity label.

Pure numpy, no torch: used by the dataset workers.
"""
from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np

#: CenterNet's / FairMOT's IoU that a box from a corner shifted by the radius still reaches.
MIN_OVERLAP = 0.7


def gaussian_radius(det_size: Tuple[float, float], min_overlap: float = MIN_OVERLAP) -> float:
    """CenterNet's radius rule (``utils/image.py`` ``gaussian_radius``, kept as published).

    The smallest of the three radii for which a corner-shifted box keeps IoU ``min_overlap``.

    Args:
        det_size: ``(height, width)`` of the box in output cells.
    """
    height, width = float(det_size[0]), float(det_size[1])
    a1 = 1.0
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * a1 * c1)) / 2
    a2 = 4.0
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def gaussian_2d(radius: int) -> np.ndarray:
    """(2r+1, 2r+1) ``exp(-(x^2 + y^2) / (2 sigma^2))``, sigma = (2r+1) / 6, tiny values zeroed."""
    diameter = 2 * radius + 1
    sigma = diameter / 6.0
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    g = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    return g


def draw_gaussian(heatmap: np.ndarray, center: Tuple[int, int], radius: int) -> np.ndarray:
    """Element-wise max of ``heatmap`` (h, w) with a Gaussian at integer ``center = (x, y)``
    (CenterNet's ``draw_umich_gaussian``); in place, also returned."""
    g = gaussian_2d(radius)
    x, y = int(center[0]), int(center[1])
    h, w = heatmap.shape
    left, right = min(x, radius), min(w - x, radius + 1)
    top, bottom = min(y, radius), min(h - y, radius + 1)
    if left + right <= 0 or top + bottom <= 0:
        return heatmap
    region = heatmap[y - top:y + bottom, x - left:x + right]
    patch = g[radius - top:radius + bottom, radius - left:radius + right]
    np.maximum(region, patch, out=region)
    return heatmap


def build_targets(
    boxes_xyxy: np.ndarray,
    ids: np.ndarray,
    output_hw: Tuple[int, int],
    max_objs: int = 500,
    down_ratio: int = 4,
    min_overlap: float = MIN_OVERLAP,
) -> Dict[str, np.ndarray]:
    """Targets of one image.

    Args:
        boxes_xyxy: (N, 4) boxes in network-input pixels (may extend past the image).
        ids: (N,) int identity labels, -1 = unknown identity (no identity loss).
        output_hw: output grid ``(h, w)`` = input size / ``down_ratio``.
        max_objs: rows of the padded per-object targets (extra boxes are dropped).

    Returns:
        ``hm`` (1, h, w) float32; ``wh`` (K, 4) float32 ltrb in output cells; ``reg`` (K, 2);
        ``ind`` (K,) int64; ``mask`` (K,) float32; ``ids`` (K,) int64 (-1 on padding), K = max_objs.
    """
    h, w = int(output_hw[0]), int(output_hw[1])
    hm = np.zeros((1, h, w), dtype=np.float32)
    wh = np.zeros((max_objs, 4), dtype=np.float32)
    reg = np.zeros((max_objs, 2), dtype=np.float32)
    ind = np.zeros((max_objs,), dtype=np.int64)
    mask = np.zeros((max_objs,), dtype=np.float32)
    out_ids = np.full((max_objs,), -1, dtype=np.int64)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4) / float(down_ratio)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    k = 0
    for box, pid in zip(boxes, ids):
        if k >= max_objs:
            break
        clipped = box.copy()
        clipped[[0, 2]] = np.clip(clipped[[0, 2]], 0, w - 1)
        clipped[[1, 3]] = np.clip(clipped[[1, 3]], 0, h - 1)
        bh, bw = clipped[3] - clipped[1], clipped[2] - clipped[0]
        if bh <= 0 or bw <= 0:
            continue
        radius = max(0, int(gaussian_radius((math.ceil(bh), math.ceil(bw)), min_overlap)))
        ct = np.array([(clipped[0] + clipped[2]) / 2, (clipped[1] + clipped[3]) / 2])
        ct_int = ct.astype(np.int64)
        draw_gaussian(hm[0], (int(ct_int[0]), int(ct_int[1])), radius)
        wh[k] = (ct[0] - box[0], ct[1] - box[1], box[2] - ct[0], box[3] - ct[1])
        ind[k] = ct_int[1] * w + ct_int[0]
        reg[k] = ct - ct_int
        mask[k] = 1.0
        out_ids[k] = pid
        k += 1
    return {"hm": hm, "wh": wh, "reg": reg, "ind": ind, "mask": mask, "ids": out_ids}


def render_dense(targets: Dict[str, np.ndarray],
                 output_hw: Tuple[int, int]) -> Dict[str, np.ndarray]:
    """Scatter the per-object ``wh``/``reg`` rows onto (C, h, w) maps (what a perfect network
    would output; tests decode it back to the boxes)."""
    h, w = output_hw
    wh = np.zeros((4, h * w), dtype=np.float32)
    reg = np.zeros((2, h * w), dtype=np.float32)
    rows = targets["mask"] > 0
    wh[:, targets["ind"][rows]] = targets["wh"][rows].T
    reg[:, targets["ind"][rows]] = targets["reg"][rows].T
    return {"hm": targets["hm"], "wh": wh.reshape(4, h, w), "reg": reg.reshape(2, h, w)}
