"""ByteTrack's letterbox and normalisation: the one copy, used by the detector, the datasets and
the training transforms (a leaf module: numpy and OpenCV only).

Network input = top-left letterbox to (H, W) (scale ``ratio = min(H / h, W / w)``, pad 114),
BGR -> RGB, ``(x / 255 - mean) / std`` with the ImageNet mean/std of ByteTrack's MOT exps.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

#: ByteTrack's normalisation (``rgb_means``/``std`` of its MOT exps) and letterbox pad value.
IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)
LETTERBOX_PAD_VALUE: float = 114.0


def letterbox(
    img_bgr: np.ndarray, input_size: Tuple[int, int], pad_value: float = LETTERBOX_PAD_VALUE
) -> Tuple[np.ndarray, float]:
    """Top-left letterbox of an image into ``input_size``.

    Args:
        img_bgr: (h, w, 3) uint8 BGR image. Not modified.
        input_size: network input (H, W).
        pad_value: value of the padding pixels.

    Returns:
        ``(padded (H, W, 3) float32 BGR 0..255, ratio)``; the content occupies
        ``[:int(h * ratio), :int(w * ratio)]``.
    """
    if img_bgr.ndim != 3 or img_bgr.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) BGR image, got shape {img_bgr.shape}")
    in_h, in_w = int(input_size[0]), int(input_size[1])
    h, w = img_bgr.shape[:2]
    ratio = min(in_h / h, in_w / w)
    new_w, new_h = int(w * ratio), int(h * ratio)
    resized = cv2.resize(img_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    padded = np.full((in_h, in_w, 3), pad_value, dtype=np.float32)
    padded[:new_h, :new_w] = resized.astype(np.float32)
    return padded, float(ratio)


def normalize_chw(
    chw_bgr: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> np.ndarray:
    """ByteTrack's normalisation of a letterboxed image.

    Args:
        chw_bgr: (3, H, W) BGR pixels in 0..255 (yolox ``preproc`` output). Not modified.
        mean: RGB mean after /255.
        std: RGB std after the mean.

    Returns:
        (3, H, W) float32 RGB, ``(x / 255 - mean) / std``.
    """
    rgb = chw_bgr[::-1].astype(np.float32) / 255.0
    mean_c = np.asarray(mean, np.float32)[:, None, None]
    std_c = np.asarray(std, np.float32)[:, None, None]
    rgb = (rgb - mean_c) / std_c
    return np.ascontiguousarray(rgb, dtype=np.float32)


def preprocess_image(
    img_bgr: np.ndarray,
    input_size: Tuple[int, int],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    pad_value: float = LETTERBOX_PAD_VALUE,
) -> Tuple[np.ndarray, float]:
    """ByteTrack's ``preproc``: top-left letterbox, BGR->RGB, /255, normalise.

    Args:
        img_bgr: (h, w, 3) uint8 BGR image (OpenCV order). Not modified.
        input_size: network input (H, W).
        mean: per-channel RGB mean subtracted after /255.
        std: per-channel RGB std divided after the mean.
        pad_value: value of the padding pixels before normalisation.

    Returns:
        ``(chw, ratio)``: (3, H, W) float32 array; ``ratio = min(H / h, W / w)``, the scale from
        original to network-input pixels (the content occupies ``[:int(h*r), :int(w*r)]``).
    """
    padded, ratio = letterbox(img_bgr, input_size, pad_value)
    return normalize_chw(padded.transpose(2, 0, 1), mean, std), ratio
