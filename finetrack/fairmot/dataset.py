"""FairMOT training images: MOTChallenge frames with boxes AND identity labels, augmented as
FairMOT's ``JointDataset`` does, turned into stride-4 targets.

Per item: the project's letterbox (top-left, keep aspect ratio, pad 114;
:func:`finetrack.utils.letterbox.letterbox`, so training and tracking see the same input),
then (``augment=True``) FairMOT's ``random_affine`` (rotation +-degrees, translation +-translate,
scale in ``scale``, shear +-shear; boxes from the warped corners, kept when wider/taller than 4 px
with more than 10 % of their area left), HSV saturation/value jitter (``x (1 +- hsv)``) and a
horizontal flip, then normalisation and :func:`finetrack.fairmot.targets.build_targets`.

Randomness is drawn from ``numpy.random.default_rng((seed, epoch, index))``: an item is the same
whatever worker loads it, and resume reproduces it.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from finetrack.fairmot.targets import build_targets
from finetrack.utils.letterbox import LETTERBOX_PAD_VALUE, letterbox, normalize_chw
from finetrack.data.identities import GTFilter, IdentityTable
from finetrack.data.mot import list_sequences, MOTSequence, read_image
from finetrack.data.mot import tail_split_frames

logger = logging.getLogger(__name__)

PAD_VALUE = int(LETTERBOX_PAD_VALUE)


@dataclass(frozen=True)
class FairMOTRecord:
    """One training frame: ``boxes_xyxy`` (N, 4) float32 original pixels, ``ids`` (N,) int64
    identity labels (0..M-1, -1 = not in the identity table)."""

    image_path: Path
    boxes_xyxy: np.ndarray
    ids: np.ndarray
    name: str


def fairmot_records(
    split_dir: Path,
    seqs: Optional[Sequence[str]] = None,
    half: str = "train",
    gt_filter: GTFilter = GTFilter(),
    mot17_detector: Optional[str] = "FRCNN",
    frame_step: int = 1,
    portion: str = "whole",
    tail_frac: float = 0.0,
    identities: Optional[IdentityTable] = None,
) -> Tuple[List[FairMOTRecord], IdentityTable]:
    """Frames of the sequences' ``half`` (its head/tail ``portion``) with identity labels.

    Args:
        identities: the (sequence, track id) -> label table; None = built here from the kept GT
            rows of exactly these frames (what training uses: M = its length).

    Returns:
        ``(records, identities)``, records sorted by sequence then frame.
    """
    per_seq = []
    for seq_dir in list_sequences(split_dir, seqs, mot17_detector):
        seq = MOTSequence(seq_dir)
        if not seq.has_gt:
            raise FileNotFoundError(f"{seq.name}: no gt/gt.txt, cannot train FairMOT")
        fr = seq.frames(half)
        first, last = tail_split_frames(fr[0], fr[-1], tail_frac, portion)
        gt = gt_filter.apply(seq.gt()).in_frames(first, last)
        per_seq.append((seq, first, last, gt))
    if identities is None:
        identities = IdentityTable.build({s.name: gt for s, _, _, gt in per_seq})
    out: List[FairMOTRecord] = []
    for seq, first, last, gt in per_seq:
        boxes = gt.xyxy().astype(np.float32)
        labels = identities.labels(seq.name, gt.ids)
        for frame in list(range(first, last + 1))[::frame_step]:
            m = gt.frames == frame
            out.append(FairMOTRecord(seq.frame_path(frame), boxes[m], labels[m],
                                     f"{seq.name}/{frame:06d}"))
    logger.info("%s (%s half, %s): %d images, %d boxes, %d identities", split_dir, half, portion,
                len(out), sum(len(r.boxes_xyxy) for r in out), len(identities))
    return out, identities


def letterbox_with_boxes(img: np.ndarray, boxes: np.ndarray, input_hw: Tuple[int, int]):
    """The project's letterbox (:func:`finetrack.utils.letterbox.letterbox`) as uint8, with the
    boxes scaled alike: ``(image (H, W, 3) uint8, boxes * ratio, ratio)``."""
    padded, r = letterbox(img, input_hw, PAD_VALUE)
    return padded.astype(np.uint8), boxes * r, r


def random_affine(img: np.ndarray, boxes: np.ndarray, keep: np.ndarray, rng: np.random.Generator,
                  degrees: float, translate: float, scale: Tuple[float, float], shear: float):
    """FairMOT's ``random_affine``: ``(image, boxes (N', 4), kept row indices)``."""
    h, w = img.shape[:2]
    a = rng.uniform(-degrees, degrees)
    s = rng.uniform(scale[0], scale[1])
    R = np.eye(3)
    R[:2] = cv2.getRotationMatrix2D((w / 2, h / 2), a, s)
    T = np.eye(3)
    T[0, 2] = rng.uniform(-1, 1) * translate * w
    T[1, 2] = rng.uniform(-1, 1) * translate * h
    S = np.eye(3)
    S[0, 1] = math.tan(math.radians(rng.uniform(-shear, shear)))
    S[1, 0] = math.tan(math.radians(rng.uniform(-shear, shear)))
    M = S @ T @ R
    out = cv2.warpAffine(img, M[:2], dsize=(w, h), flags=cv2.INTER_LINEAR,
                         borderValue=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    if not len(boxes):
        return out, boxes, keep
    n = len(boxes)
    pts = np.ones((n * 4, 3))
    pts[:, :2] = boxes[:, [0, 1, 2, 3, 0, 3, 2, 1]].reshape(n * 4, 2)
    pts = (pts @ M.T)[:, :2].reshape(n, 8)
    xs, ys = pts[:, [0, 2, 4, 6]], pts[:, [1, 3, 5, 7]]
    nb = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], 1)
    # FairMOT: shrink the rotated box's axis-aligned hull back towards the original size
    rad = math.radians(abs(a) % 90.0)
    red = max(abs(math.sin(rad)), abs(math.cos(rad))) ** 0.5
    cx, cy = (nb[:, 0] + nb[:, 2]) / 2, (nb[:, 1] + nb[:, 3]) / 2
    bw, bh = (nb[:, 2] - nb[:, 0]) * red, (nb[:, 3] - nb[:, 1]) * red
    nb = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    area0 = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * s * s
    clipped = nb.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, w)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, h)
    cw, ch = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    ok = (cw > 4) & (ch > 4) & (cw * ch / (area0 + 1e-16) > 0.1)
    return out, clipped[ok].astype(np.float32), keep[ok]


def augment_hsv(img: np.ndarray, rng: np.random.Generator, fraction: float) -> np.ndarray:
    """FairMOT's HSV jitter: S and V scaled by ``1 + U(-fraction, fraction)`` each."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
    for c in (1, 2):
        hsv[:, :, c] = np.clip(hsv[:, :, c] * (1 + rng.uniform(-fraction, fraction)), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def normalize(img_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> RGB (3, H, W) float32, /255, ImageNet mean/std (the detector's)."""
    return normalize_chw(img_bgr.transpose(2, 0, 1))


class FairMOTDataset(Dataset):
    """Augmented images + FairMOT targets.

    Args:
        records: :func:`fairmot_records` output.
        input_size: network input (H, W), multiples of 32.
        augment: affine + HSV + flip (False: letterbox only).
        degrees, translate, scale, shear, hsv, flip: augmentation settings (FairMOT's: 5, 0.1,
            (0.5, 1.2), 2, 0.5, 0.5).
        max_objs: padded object rows per image.
        seed: base of the per-item generators.

    Items: ``{"image": (3, H, W) float32, "hm": (1, H/4, W/4), "wh": (K, 4), "reg": (K, 2),
    "ind": (K,), "mask": (K,), "ids": (K,)}`` as tensors.
    """

    def __init__(self, records: Sequence[FairMOTRecord], input_size: Tuple[int, int],
                 augment: bool = True, degrees: float = 5.0, translate: float = 0.1,
                 scale: Tuple[float, float] = (0.5, 1.2), shear: float = 2.0, hsv: float = 0.5,
                 flip: float = 0.5, max_objs: int = 500, seed: int = 0) -> None:
        if not records:
            raise ValueError("FairMOTDataset needs at least one record")
        self.records = list(records)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.augment = augment
        self.degrees, self.translate, self.scale, self.shear = degrees, translate, scale, shear
        self.hsv, self.flip = hsv, flip
        self.max_objs = int(max_objs)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(letterboxed+augmented BGR image (H, W, 3), boxes (N, 4) input px, ids (N,))``."""
        rec = self.records[index]
        img, boxes, _ = letterbox_with_boxes(read_image(rec.image_path),
                                             rec.boxes_xyxy.astype(np.float64), self.input_size)
        keep = np.arange(len(boxes))
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            img, boxes, keep = random_affine(img, boxes, keep, rng, self.degrees, self.translate,
                                             tuple(self.scale), self.shear)
            if self.hsv > 0:
                img = augment_hsv(img, rng, self.hsv)
            if rng.random() < self.flip:
                img = np.ascontiguousarray(img[:, ::-1])
                w = img.shape[1]
                boxes = boxes.copy()
                boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
        return img, np.asarray(boxes, np.float32).reshape(-1, 4), rec.ids[keep]

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        img, boxes, ids = self.load(index)
        h, w = self.input_size
        t = build_targets(boxes, ids, (h // 4, w // 4), self.max_objs)
        item = {"image": torch.from_numpy(normalize(img))}
        item.update({k: torch.from_numpy(v) for k, v in t.items()})
        return item
