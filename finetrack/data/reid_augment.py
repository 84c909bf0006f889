"""Re-ID training augmentations on whole frames with their GT boxes (``data.augment``).

The FineTrack head ROI-aligns boxes on backbone maps of the whole frame, so the usual crop-level
Re-ID augmentations are applied to the frame and its boxes before preprocessing:

* horizontal flip of the frame (boxes mirrored), probability ``flip``;
* colour jitter: brightness, contrast and saturation scaled by factors in ``1 +- color``, and a
  hue shift of up to ``color * 18`` degrees (one draw per frame: a scene's lighting changes
  together);
* random erasing (Zhong et al.): each box, with probability ``erase``, gets a rectangle of 2-30%
  of its area filled with random noise (an occluder the model must look past);
* box jitter: each box side moves by ``N(0, box_jitter * size)`` (detections are looser than GT).

All draws come from the ``rng`` passed in, so a seeded generator gives the same augmentation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass(frozen=True)
class AugmentParams:
    """Probabilities / strengths; all zero = no augmentation (the paper's recipe)."""

    flip: float = 0.0
    color: float = 0.0
    erase: float = 0.0
    box_jitter: float = 0.0

    @property
    def active(self) -> bool:
        return any(v > 0 for v in (self.flip, self.color, self.erase, self.box_jitter))


def _color_jitter(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    import cv2

    b, c, s = rng.uniform(1.0 - strength, 1.0 + strength, size=3)
    hue = rng.uniform(-strength, strength) * 18.0  # OpenCV hue is 0..180
    out = img.astype(np.float32) * b
    mean = out.mean()
    out = (out - mean) * c + mean
    out = np.clip(out, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + hue) % 180.0
    hsv[..., 1] = np.clip(hsv[..., 1] * s, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def _erase(img: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> None:
    """Fill a random rectangle of 2-30% of ``box``'s area with noise, in place."""
    h_img, w_img = img.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    if bw < 4 or bh < 4:
        return
    area = rng.uniform(0.02, 0.3) * bw * bh
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
    ew = min(bw, np.sqrt(area * aspect))
    eh = min(bh, np.sqrt(area / aspect))
    ex = x1 + rng.uniform(0, bw - ew)
    ey = y1 + rng.uniform(0, bh - eh)
    xa, ya = int(max(0, ex)), int(max(0, ey))
    xb, yb = int(min(w_img, ex + ew)), int(min(h_img, ey + eh))
    if xb > xa and yb > ya:
        img[ya:yb, xa:xb] = rng.integers(0, 256, size=(yb - ya, xb - xa, 3), dtype=np.uint8)


def augment_frame(
    img: np.ndarray, boxes: np.ndarray, params: AugmentParams, rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray]:
    """Augment one frame and its boxes.

    Args:
        img: (H, W, 3) uint8 BGR frame (not modified).
        boxes: (N, 4) float xyxy boxes in original-image pixels (not modified).
        params: what to apply.
        rng: the random generator.

    Returns:
        (augmented image (H, W, 3) uint8, boxes (N, 4) float64 clipped to the image; every box
        keeps at least 2 pixels of width and height).
    """
    out = img.copy()
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    h, w = out.shape[:2]
    if params.flip > 0 and rng.random() < params.flip:
        out = out[:, ::-1].copy()
        b = np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1)
    if params.color > 0:
        out = _color_jitter(out, params.color, rng)
    if params.box_jitter > 0 and len(b):
        size = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]] * 2, axis=1)
        b = b + rng.normal(0.0, params.box_jitter, size=b.shape) * size
    if len(b):
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        b[:, 2] = np.maximum(b[:, 2], np.minimum(b[:, 0] + 2, w))
        b[:, 3] = np.maximum(b[:, 3], np.minimum(b[:, 1] + 2, h))
        b[:, 0] = np.minimum(b[:, 0], b[:, 2] - 2)
        b[:, 1] = np.minimum(b[:, 1], b[:, 3] - 2)
    if params.erase > 0:
        for box in b:
            if rng.random() < params.erase:
                _erase(out, box, rng)
    return out, b
