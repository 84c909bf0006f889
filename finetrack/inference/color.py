"""A colour-histogram appearance cue that needs no training (``tracker.appearance``).

On a scene the Re-ID head was never trained on, its features tell people apart poorly over time
(README's cross-scene section: the robust mode's identity separation d' is 0.5-0.8 on the unseen
scenes with the project's models). A per-box HSV histogram of the upper and lower body, the
classic appearance cue of pre-deep-learning trackers, does not depend on any training scene.
``tracker.appearance`` chooses what the tracker's embeddings are:

- ``reid``: the Re-ID head's (default; the paper's);
- ``color``: the colour histogram only (no Re-ID checkpoint needed);
- ``auto`` (``robust`` mode): both, concatenated (:func:`fuse_embeddings` at ``w = 1/2``), and the
  tracker told they are two cues (``Tracker(cues=(-1, COLOR_DIM))``): each is calibrated on the
  sequence on its own and the decisions read the cue that tells this sequence's people apart
  best, chosen without labels.

The feature of a box (:func:`color_histogram`): the box is trimmed by ``trim`` of its width on
each side and 10 % of its height at the top and the bottom (background, feet), split into an upper
and a lower half; each half gives a hue x saturation histogram (``bins[0] x bins[1]``) and a value
histogram (``bins[2]``, weight 1/2), each normalised to sum 1, and the square root of the bins
(Hellinger). The two halves are concatenated and the vector L2-normalised.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from finetrack.tracker.track import l2_normalize

#: the default bins' feature width, 2 * (16 * 4 + 8)
COLOR_DIM = 144
#: ``auto``: the two cues side by side at equal weight (the tracker normalises each on its own)
AUTO_COLOR_WEIGHT = 0.5


def color_histogram(image_bgr: np.ndarray, box: Sequence[float], bins: Tuple[int, int, int] = (16, 4, 8),
                    trim: float = 0.2) -> np.ndarray:
    """The colour feature of one box.

    Args:
        image_bgr: (H, W, 3) uint8 frame.
        box: ``(x1, y1, x2, y2)`` in pixels (clipped to the image).
        bins: hue, saturation and value bins.
        trim: share of the box width cut on each side.

    Returns:
        (2 * (bins[0] * bins[1] + bins[2]),) float32, L2 norm 1; zeros for a box with no pixels.
    """
    dim = 2 * (bins[0] * bins[1] + bins[2])
    h, w = image_bgr.shape[:2]
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if x2 - x1 < 2 or y2 - y1 < 4:
        return np.zeros(dim, dtype=np.float32)
    dx = int(trim * (x2 - x1))
    if x2 - x1 - 2 * dx >= 2:
        x1, x2 = x1 + dx, x2 - dx
    hsv = cv2.cvtColor(np.ascontiguousarray(image_bgr[y1:y2, x1:x2]), cv2.COLOR_BGR2HSV)
    n = hsv.shape[0]
    parts = [hsv[int(0.1 * n):int(0.5 * n)], hsv[int(0.5 * n):int(0.9 * n)]]
    out = []
    for part in parts:
        if part.size == 0:
            part = hsv
        hs = cv2.calcHist([part], [0, 1], None, [bins[0], bins[1]], [0, 180, 0, 256]).ravel()
        v = cv2.calcHist([part], [2], None, [bins[2]], [0, 256]).ravel()
        out.append(np.sqrt(np.concatenate([hs / max(hs.sum(), 1.0), 0.5 * v / max(v.sum(), 1.0)])))
    f = np.concatenate(out)
    return (f / max(float(np.linalg.norm(f)), 1e-12)).astype(np.float32)


class ColorHistogramEmbedder:
    """``embedder(image_bgr, xyxy) -> (N, D)`` colour features (:func:`color_histogram`); the same
    call as :class:`finetrack.inference.embedder.Embedder`."""

    def __init__(self, bins: Tuple[int, int, int] = (16, 4, 8), trim: float = 0.2):
        self.bins = tuple(int(b) for b in bins)
        self.trim = float(trim)

    @property
    def dim(self) -> int:
        return 2 * (self.bins[0] * self.bins[1] + self.bins[2])

    def __call__(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        if len(xyxy) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([color_histogram(image_bgr, b, self.bins, self.trim) for b in xyxy])


def fuse_embeddings(reid: Optional[np.ndarray], color: np.ndarray, weight: float) -> np.ndarray:
    """Concatenate L2-normalised Re-ID and colour features so that cosines add with ``weight``.

    ``[sqrt(1 - w) * reid / |reid|, sqrt(w) * color / |color|]`` has norm 1 and the cosine of two
    such vectors is ``(1 - w) * cos(reid) + w * cos(color)``. A zero Re-ID row (a box the head
    skipped) stays zero in its part.

    Args:
        reid: (N, D1) or None (colour only, returned L2-normalised).
        color: (N, D2).
        weight: ``w`` in [0, 1].

    Returns:
        (N, D1 + D2) float32, or (N, D2) when ``reid`` is None.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"color weight must be in [0, 1], got {weight}")
    color = np.asarray(color)
    color = l2_normalize(color if color.ndim == 2 else color.reshape(len(color), -1))
    if reid is None:
        return color.astype(np.float32)
    reid = np.asarray(reid)
    if len(reid) != len(color):
        raise ValueError(f"{len(reid)} Re-ID rows but {len(color)} colour rows")
    return np.concatenate([np.sqrt(1.0 - weight) * l2_normalize(reid), np.sqrt(weight) * color],
                          axis=1).astype(np.float32)


class ColorAppearance:
    """The colour part of ``tracker.appearance``: turns a frame's Re-ID embeddings (or None) into
    the tracker's embeddings.

    Args:
        appearance: ``color`` (colour only) or ``auto`` (both, weight 1/2: two cues).
    """

    def __init__(self, appearance: str):
        if appearance not in ("color", "auto"):
            raise ValueError(f"ColorAppearance: appearance must be color or auto, got {appearance!r}")
        self.appearance = appearance
        self.weight = AUTO_COLOR_WEIGHT
        self.embedder = ColorHistogramEmbedder()

    def __call__(self, image_bgr: np.ndarray, xyxy: np.ndarray, reid: Optional[np.ndarray]) -> np.ndarray:
        color = self.embedder(image_bgr, xyxy)
        if self.appearance == "color":
            return fuse_embeddings(None, color, 1.0)
        if reid is None:
            raise ValueError(f"tracker.appearance={self.appearance}: this frame has no Re-ID embeddings")
        return fuse_embeddings(reid, color, self.weight)


def color_reid_model(bins: Tuple[int, int, int] = (16, 4, 8), trim: float = 0.2):
    """The colour histogram as a Re-ID "model" for the GT-box retrieval protocol
    (:func:`finetrack.engine.evaluator.evaluate_gt_reid`): ``model(images, boxes)["embedding"]``.

    ``images`` are the detector's letterboxed, normalised inputs (B, 3, H, W) (RGB,
    :func:`finetrack.utils.letterbox.normalize_chw`), ``boxes`` a list of (N_b, 4) xyxy tensors in
    those pixels; the histograms are taken on the de-normalised letterboxed frame (the resized
    image, not the original resolution the tracker reads).
    """
    import torch

    from finetrack.utils.letterbox import IMAGENET_MEAN, IMAGENET_STD

    class ColorReID(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedder = ColorHistogramEmbedder(bins, trim)
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(3, 1, 1))

        @torch.no_grad()
        def forward(self, images, boxes):
            out = []
            for img, bx in zip(images, boxes):
                rgb = (img.float() * self.std + self.mean).clamp(0, 1) * 255.0
                bgr = np.ascontiguousarray(rgb.flip(0).permute(1, 2, 0).round().byte().cpu().numpy())
                out.append(torch.from_numpy(self.embedder(bgr, bx.detach().cpu().numpy())))
            emb = torch.cat(out) if out else torch.zeros((0, self.embedder.dim))
            return {"embedding": emb.to(images.device)}

    return ColorReID()
