"""Training-time transforms: yolox's own augmentation, ByteTrack's normalisation, random resize.

yolox 0.3.0's ``TrainTransform`` letterboxes (top-left, pad 114) and returns BGR 0..255 pixels, while
ByteTrack's models (and :func:`finetrack.utils.letterbox.preprocess_image`, used at inference) take
RGB / 255 normalised with the ImageNet mean/std. :class:`NormalizedTransform` applies exactly that
normalisation after yolox's transform, so the trained detector sees at inference what it saw in
training (the same thing yolox's ``ValTransform(legacy=True)`` does).
"""
from __future__ import annotations

import random
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from yolox.data import MosaicDetection, TrainTransform

from finetrack.data.det_dataset import DetDataset, DetRecord
from finetrack.utils.letterbox import normalize_chw  # noqa: F401  (re-exported)

#: yolox's input sizes are multiples of the largest stride.
SIZE_DIVISOR = 32


class NormalizedTransform:
    """yolox ``TrainTransform`` (HSV jitter, flip, letterbox, padded targets) + :func:`normalize_chw`.

    Args:
        max_labels: rows of the padded target array.
        flip_prob: horizontal flip probability.
        hsv_prob: HSV jitter probability.

    Call: ``(img BGR uint8 (h, w, 3), labels (N, 5) [x1, y1, x2, y2, cls], input_dim (H, W))`` ->
    ``(image (3, H, W) float32 normalised, targets (max_labels, 5) float32 [cls, cx, cy, w, h])``
    with boxes in network-input pixels; the unused rows are zero. ``img`` may be jittered in place
    by yolox (it is a freshly read or mosaicked array, never caller data).
    """

    def __init__(self, max_labels: int = 500, flip_prob: float = 0.5, hsv_prob: float = 1.0) -> None:
        self.inner = TrainTransform(max_labels=max_labels, flip_prob=flip_prob, hsv_prob=hsv_prob)

    def __call__(
        self, img: np.ndarray, labels: np.ndarray, input_dim: Tuple[int, int]
    ) -> Tuple[np.ndarray, np.ndarray]:
        chw, targets = self.inner(img, labels, input_dim)
        return normalize_chw(chw), targets


def build_train_dataset(
    records: Sequence[DetRecord],
    input_size: Tuple[int, int],
    mosaic: bool = True,
    mosaic_prob: float = 1.0,
    mixup: bool = True,
    mixup_prob: float = 1.0,
    degrees: float = 10.0,
    translate: float = 0.1,
    mosaic_scale: Sequence[float] = (0.1, 2.0),
    mixup_scale: Sequence[float] = (0.5, 1.5),
    shear: float = 2.0,
    hsv_prob: float = 1.0,
    flip_prob: float = 0.5,
    max_labels: int = 500,
) -> MosaicDetection:
    """yolox's ``MosaicDetection`` over a :class:`DetDataset`, as ByteTrack's ``get_data_loader``.

    Items are ``(image (3, H, W) float32, targets (max_labels, 5), img_info, img_id)``.
    :func:`set_mosaic` switches mosaic and mixup off for the final epochs.
    """
    preproc = NormalizedTransform(max_labels=max_labels, flip_prob=flip_prob, hsv_prob=hsv_prob)
    base = DetDataset(records, input_size, preproc=preproc)
    return MosaicDetection(
        base,
        img_size=base.input_dim,
        mosaic=mosaic,
        preproc=preproc,
        degrees=degrees,
        translate=translate,
        mosaic_scale=tuple(mosaic_scale),
        mixup_scale=tuple(mixup_scale),
        shear=shear,
        enable_mixup=mixup,
        mosaic_prob=mosaic_prob,
        mixup_prob=mixup_prob,
    )


def set_mosaic(dataset: MosaicDetection, enabled: bool) -> None:
    """Turn mosaic (and with it mixup) on or off; takes effect for loaders created afterwards."""
    dataset.enable_mosaic = bool(enabled)


def random_input_size(
    base_hw: Tuple[int, int], size_range: Sequence[int], rng: random.Random
) -> Tuple[int, int]:
    """yolox's ``random_resize`` without CUDA: a random height ``32 * k``, width keeping the aspect.

    Args:
        base_hw: nominal input (H, W).
        size_range: ``[k_min, k_max]`` (inclusive) multiples of 32 for the height.
        rng: the generator to draw from.

    Returns:
        (H', W') multiples of 32.
    """
    k = rng.randint(int(size_range[0]), int(size_range[1]))
    factor = base_hw[1] / base_hw[0]
    return SIZE_DIVISOR * k, SIZE_DIVISOR * int(k * factor)


def resize_batch(
    images: torch.Tensor, targets: torch.Tensor, size_hw: Tuple[int, int]
) -> Tuple[torch.Tensor, torch.Tensor]:
    """yolox ``Exp.preprocess``: bilinear-resize a batch and scale its targets (new tensors).

    Args:
        images: (B, 3, H, W).
        targets: (B, L, 5) ``[cls, cx, cy, w, h]`` in input pixels. Not modified.
        size_hw: new (H', W').

    Returns:
        ``(images (B, 3, H', W'), targets (B, L, 5))``.
    """
    h, w = images.shape[-2:]
    if (h, w) == tuple(size_hw):
        return images, targets
    scale_y, scale_x = size_hw[0] / h, size_hw[1] / w
    images = F.interpolate(images, size=tuple(size_hw), mode="bilinear", align_corners=False)
    scale = targets.new_tensor([1.0, scale_x, scale_y, scale_x, scale_y])
    return images, targets * scale


def worker_init_fn(worker_id: int) -> None:
    """Seed numpy and python ``random`` of a DataLoader worker from its torch seed.

    yolox's augmentations draw from ``random`` and ``np.random``; forked workers would otherwise
    share the parent's numpy state (identical augmentations in every worker and epoch).
    """
    seed = torch.initial_seed() % (2**32)
    np.random.seed(seed)
    random.seed(seed)


def make_generator(seed: Optional[int]) -> torch.Generator:
    """A seeded ``torch.Generator`` for samplers and loaders."""
    g = torch.Generator()
    if seed is not None:
        g.manual_seed(int(seed))
    return g
