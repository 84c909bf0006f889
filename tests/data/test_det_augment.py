"""yolox's mosaic / letterbox keep boxes on their pixels (solid rectangles of a known colour)."""
import random

import cv2
import numpy as np
import pytest

from finetrack.data.det_dataset import DetRecord
from finetrack.data.det_transforms import (
    build_train_dataset,
    normalize_chw,
    random_input_size,
    resize_batch,
    set_mosaic,
)
from finetrack.models.detector import IMAGENET_MEAN, IMAGENET_STD, preprocess_image

RED_BGR = np.array([0, 0, 255])
INPUT_HW = (128, 160)
#: pixels at the box border that resizing blends with the background.
BORDER = 2
#: |channel - expected| allowed inside a box (bilinear interpolation, JPEG-free PNG input).
TOL = 40


def _write_images(tmp_path, n=4):
    """n images (h, w differ) with 3 red rectangles each on a blue-green background."""
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        h, w = 120 + 20 * i, 200 - 10 * i
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = (200, 160, 0)
        boxes = []
        for _ in range(3):
            bw, bh = int(rng.integers(20, 40)), int(rng.integers(30, 60))
            x1, y1 = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            img[y1 : y1 + bh, x1 : x1 + bw] = RED_BGR
            boxes.append([x1, y1, x1 + bw, y1 + bh])
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), img)
        no_ignore = np.zeros((0, 4), np.float32)
        records.append(DetRecord(path, np.array(boxes, np.float32), no_ignore, str(i)))
    return records


def _to_bgr(chw: np.ndarray) -> np.ndarray:
    """Undo normalize_chw: (3, H, W) normalised RGB -> (H, W, 3) BGR 0..255."""
    rgb = chw * np.asarray(IMAGENET_STD)[:, None, None] + np.asarray(IMAGENET_MEAN)[:, None, None]
    return (rgb[::-1].transpose(1, 2, 0) * 255.0)


def _check_boxes_on_red(img_bgr: np.ndarray, targets: np.ndarray, interior: bool = True) -> int:
    """Every box interior is red, and (almost) every red pixel lies in a box; returns #boxes.

    With ``interior=False`` (rotation / shear: a box is the hull of a rotated rectangle, its
    corners are background) only the second half is checked: every figure is still covered.
    """
    valid = targets[targets[:, 3] * targets[:, 4] > 0]
    covered = np.zeros(img_bgr.shape[:2], bool)
    checked = 0
    for _, cx, cy, w, h in valid:
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        covered[max(int(np.floor(y1)) - BORDER, 0) : int(np.ceil(y2)) + BORDER,
                max(int(np.floor(x1)) - BORDER, 0) : int(np.ceil(x2)) + BORDER] = True
        ix1, iy1 = int(np.ceil(x1)) + BORDER, int(np.ceil(y1)) + BORDER
        ix2, iy2 = int(np.floor(x2)) - BORDER, int(np.floor(y2)) - BORDER
        if ix2 <= ix1 or iy2 <= iy1 or not interior:
            checked += not interior
            continue
        inside = img_bgr[iy1:iy2, ix1:ix2].reshape(-1, 3)
        assert np.all(np.abs(inside - RED_BGR) < TOL), f"box {x1, y1, x2, y2} is not on red pixels"
        checked += 1
    red = np.all(np.abs(img_bgr - RED_BGR) < TOL, axis=2)
    if red.sum():
        assert covered[red].mean() > 0.99, "red pixels outside every box"
    return checked


@pytest.mark.parametrize(
    "mosaic,degrees,shear",
    [(True, 0.0, 0.0), (False, 0.0, 0.0), (True, 10.0, 2.0)],  # the last: the CPU configs' geometry
)
def test_boxes_follow_pixels(tmp_path, mosaic, degrees, shear):
    """Boxes sit on their figures; under rotation / shear every figure stays inside a box."""
    random.seed(0)
    np.random.seed(0)
    ds = build_train_dataset(
        _write_images(tmp_path), INPUT_HW, mosaic=mosaic, mixup=False, degrees=degrees,
        shear=shear, translate=0.1, mosaic_scale=(0.5, 1.5), hsv_prob=0.0, flip_prob=0.5,
        max_labels=30,
    )
    checked = 0
    for k in range(12):
        img, targets, _, _ = ds[k % len(ds)]
        assert img.shape == (3,) + INPUT_HW and img.dtype == np.float32
        assert targets.shape == (30, 5)
        checked += _check_boxes_on_red(_to_bgr(img), targets, interior=degrees == shear == 0.0)
    assert checked >= 12  # boxes were actually checked (mosaic keeps several per sample)


def test_mixup_keeps_labels_of_both_images(tmp_path):
    """Same seed with and without mixup: the mosaic labels stay, the pasted image adds its own."""
    records = _write_images(tmp_path)
    out = {}
    for mixup in (False, True):
        random.seed(1)
        np.random.seed(1)
        ds = build_train_dataset(records, INPUT_HW, mosaic=True, mixup=mixup, mixup_prob=1.0,
                                 degrees=0.0, shear=0.0, hsv_prob=0.0, flip_prob=0.0, max_labels=60)
        img, targets, _, _ = ds[0]
        out[mixup] = (img, targets[targets[:, 3] * targets[:, 4] > 0])
    (img0, plain), (img1, mixed) = out[False], out[True]
    assert len(plain) >= 1 and len(mixed) > len(plain)
    np.testing.assert_allclose(mixed[: len(plain)], plain, atol=1e-4)
    assert np.abs(img1 - img0).mean() > 0.05  # the pixels of a second image were blended in


def test_set_mosaic_off_is_plain_letterbox(tmp_path):
    records = _write_images(tmp_path, n=1)
    ds = build_train_dataset(records, INPUT_HW, hsv_prob=0.0, flip_prob=0.0, max_labels=10)
    set_mosaic(ds, False)
    img, targets, _, _ = ds[0]
    expected, ratio = preprocess_image(cv2.imread(str(records[0].image_path)), INPUT_HW)
    np.testing.assert_allclose(img, expected, atol=0.05)  # the wrapper's inference preprocessing
    b = records[0].boxes_xyxy * ratio
    cxcywh = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0],
                       b[:, 3] - b[:, 1]], 1)
    np.testing.assert_allclose(targets[:3, 1:], cxcywh, atol=1e-4)
    assert np.all(targets[3:] == 0) and np.all(targets[:3, 0] == 0)


def test_normalize_matches_wrapper_preprocessing():
    img = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    chw_bgr = img.transpose(2, 0, 1).astype(np.float32)
    ours = normalize_chw(chw_bgr)
    wrapper, _ = preprocess_image(img, (40, 60))
    np.testing.assert_allclose(ours, wrapper, atol=1e-5)
    assert np.array_equal(chw_bgr, img.transpose(2, 0, 1))  # input untouched


def test_random_size_and_resize_batch():
    rng = random.Random(0)
    sizes = {random_input_size((288, 384), (7, 11), rng) for _ in range(50)}
    assert all(h % 32 == 0 and w % 32 == 0 and 224 <= h <= 352 for h, w in sizes)
    assert (288, 384) in sizes and len(sizes) > 2
    import torch

    images = torch.zeros(1, 3, 64, 96)
    targets = torch.tensor([[[0.0, 48.0, 32.0, 10.0, 20.0], [0, 0, 0, 0, 0]]])
    new_images, new_targets = resize_batch(images, targets, (32, 192))
    assert new_images.shape == (1, 3, 32, 192)
    torch.testing.assert_close(new_targets[0, 0], torch.tensor([0.0, 96.0, 16.0, 20.0, 10.0]))
    assert targets[0, 0, 1] == 48.0 and torch.all(new_targets[0, 1] == 0)
