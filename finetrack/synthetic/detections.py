"""Occlusion-aware visibility and a noisy "public detector" for synthetic sequences."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Tuple

import numpy as np

logger = logging.getLogger(__name__)


def visibility_far_to_near(boxes_xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Visible fraction of each box given boxes in drawing order (far first, near last).

    Visibility of box i = (pixels of box i inside the image and not covered by any box drawn after
    it) / (area of box i). Parts of the box outside the image count as not visible.

    Args:
        boxes_xyxy: (N, 4) integer-valued boxes [x1, y1, x2, y2], x2/y2 exclusive, in far-to-near
            order.
        width, height: image size.

    Returns:
        (N,) float64 in [0, 1].
    """
    b = np.asarray(boxes_xyxy, dtype=np.int64).reshape(-1, 4)
    n = len(b)
    vis = np.zeros(n, dtype=np.float64)
    for i in range(n):
        x1, y1, x2, y2 = b[i]
        area = (x2 - x1) * (y2 - y1)
        if area <= 0:
            continue
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        free = np.ones((cy2 - cy1, cx2 - cx1), dtype=bool)
        for j in range(i + 1, n):
            ox1, oy1 = max(b[j, 0], cx1) - cx1, max(b[j, 1], cy1) - cy1
            ox2, oy2 = min(b[j, 2], cx2) - cx1, min(b[j, 3], cy2) - cy1
            if ox2 > ox1 and oy2 > oy1:
                free[oy1:oy2, ox1:ox2] = False
        vis[i] = free.sum() / area
    return vis


@dataclass(frozen=True)
class DetectorNoise:
    """How the synthetic detector errs.

    Attributes:
        miss_rate: probability of missing a fully visible person.
        vis_full: at or above this visibility the miss probability is ``miss_rate``.
        vis_zero: at or below this visibility the person is always missed; linear in between.
        jitter: std of the box centre noise as a fraction of the box width/height; the size
            is scaled by exp(N(0, jitter)).
        score_mean, score_std: score of a fully visible detection ~ N(score_mean, score_std).
        score_occlusion: the mean score drops by this much at visibility ``vis_zero``
            (linearly in visibility), so occluded people land in ByteTrack's low-score set.
        fp_rate: mean false positives per frame (Poisson).
        fp_partial: fraction of false positives that are half-body boxes on a real person (the
            rest are person-sized boxes on the background).
        fp_score_range: false-positive scores ~ U(range).
        min_score: scores are clipped to [min_score, 0.99].
    """

    miss_rate: float = 0.05
    vis_full: float = 0.6
    vis_zero: float = 0.15
    jitter: float = 0.04
    score_mean: float = 0.85
    score_std: float = 0.08
    score_occlusion: float = 0.45
    fp_rate: float = 0.3
    fp_partial: float = 0.3
    fp_score_range: Tuple[float, float] = (0.1, 0.7)
    min_score: float = 0.05


def miss_probability(vis: np.ndarray, noise: DetectorNoise) -> np.ndarray:
    """(N,) probability of missing a person of visibility ``vis`` (N,)."""
    vis = np.asarray(vis, dtype=np.float64)
    span = max(noise.vis_full - noise.vis_zero, 1e-6)
    occl = np.clip((noise.vis_full - vis) / span, 0.0, 1.0)
    return noise.miss_rate + (1.0 - noise.miss_rate) * occl


def detect_frame(
    rng: np.random.Generator,
    gt_xyxy: np.ndarray,
    vis: np.ndarray,
    width: int,
    height: int,
    noise: DetectorNoise,
    fp_box_sampler,
) -> Tuple[np.ndarray, np.ndarray]:
    """Noisy detections of one frame.

    Args:
        rng: consumed.
        gt_xyxy: (N, 4) float ground-truth boxes of the frame.
        vis: (N,) their visibilities.
        width, height: image size (detections are clipped to it).
        noise: the error model.
        fp_box_sampler: callable(rng, k) -> (k, 4) xyxy person-sized background boxes.

    Returns:
        xyxy (M, 4) float64 clipped to the image, scores (M,) float64; true positives first, in
        the order of ``gt_xyxy``, then false positives.
    """
    gt = np.asarray(gt_xyxy, dtype=np.float64).reshape(-1, 4)
    n = len(gt)
    keep = rng.random(n) >= miss_probability(vis, noise)
    w = gt[:, 2] - gt[:, 0]
    h = gt[:, 3] - gt[:, 1]
    cx = (gt[:, 0] + gt[:, 2]) / 2 + noise.jitter * w * rng.standard_normal(n)
    cy = (gt[:, 1] + gt[:, 3]) / 2 + noise.jitter * h * rng.standard_normal(n)
    w = w * np.exp(noise.jitter * rng.standard_normal(n))
    h = h * np.exp(noise.jitter * rng.standard_normal(n))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    span = max(1.0 - noise.vis_zero, 1e-6)
    occl = np.clip((1.0 - np.asarray(vis, dtype=np.float64)) / span, 0.0, 1.0)
    scores = noise.score_mean - noise.score_occlusion * occl
    scores = scores + noise.score_std * rng.standard_normal(n)
    boxes, scores = boxes[keep], scores[keep]

    k = int(rng.poisson(noise.fp_rate))
    if k:
        partial = rng.random(k) < noise.fp_partial if n else np.zeros(k, dtype=bool)
        fp = np.asarray(fp_box_sampler(rng, k), dtype=np.float64).reshape(k, 4)
        for i in np.flatnonzero(partial):  # upper half of a random real person, shifted
            g = gt[int(rng.integers(n))]
            gw, gh = g[2] - g[0], g[3] - g[1]
            dx = 0.15 * gw * rng.standard_normal()
            fp[i] = [g[0] + dx, g[1], g[2] + dx, g[1] + gh * float(rng.uniform(0.4, 0.6))]
        lo, hi = noise.fp_score_range
        boxes = np.concatenate([boxes, fp])
        scores = np.concatenate([scores, rng.uniform(lo, hi, k)])
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    good = ((boxes[:, 2] - boxes[:, 0]) >= 2) & ((boxes[:, 3] - boxes[:, 1]) >= 2)
    return boxes[good], np.clip(scores[good], noise.min_score, 0.99)
