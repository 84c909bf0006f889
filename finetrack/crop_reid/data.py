"""Box crops for a separate crop-based Re-ID network (the DeepSORT / BoT-SORT / boxmot design).

Every box is cut out of the original BGR frame (clipped to it, at least 1 pixel), resized to the
network input with ``cv2.INTER_LINEAR``, turned to RGB and normalised with ImageNet's mean/std,
torchreid's preprocessing. Training (:class:`CropFrameDataset`) and tracking
(:class:`finetrack.crop_reid.embedder.CropEmbedder`) call the same :func:`crop_boxes`.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from finetrack.data.reid_dataset import ReIDFrameDataset

logger = logging.getLogger(__name__)

#: torchreid's input size (H, W) for OSNet and its ResNets
CROP_HW: Tuple[int, int] = (256, 128)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def crop_boxes(
    image_bgr: np.ndarray, xyxy: np.ndarray, crop_hw: Sequence[int] = CROP_HW
) -> torch.Tensor:
    """(N, 3, H, W) float32 normalised RGB crops of ``xyxy`` (original-image pixels).

    Args:
        image_bgr: (h, w, 3) uint8 frame.
        xyxy: (N, 4) boxes; parts outside the frame are clipped away.
        crop_hw: network input (H, W).
    """
    import cv2

    ch, cw = int(crop_hw[0]), int(crop_hw[1])
    h_img, w_img = image_bgr.shape[:2]
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    out = np.empty((len(boxes), ch, cw, 3), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        x1 = int(min(max(0, np.floor(x1)), w_img - 1))
        y1 = int(min(max(0, np.floor(y1)), h_img - 1))
        x2 = int(min(w_img, np.ceil(x2)))
        y2 = int(min(h_img, np.ceil(y2)))
        crop = image_bgr[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
        out[i] = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
    out = (out / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class CropFrameDataset(Dataset):
    """The frames of a :class:`ReIDFrameDataset` as crops: one item = one frame's GT boxes cut
    out of the original frame (same frames, boxes, identities, augmentation and index layout,
    so the same batch samplers apply).

    Args:
        frames: the frame dataset (its ``__getitem__`` is not used: crops come from the
            original-resolution frame, not from the detector's letterboxed input).
        crop_hw: crop (H, W).
    """

    def __init__(self, frames: ReIDFrameDataset, crop_hw: Sequence[int] = CROP_HW) -> None:
        self.frames = frames
        self.crop_hw = (int(crop_hw[0]), int(crop_hw[1]))

    def __len__(self) -> int:
        return len(self.frames)

    # what the samplers, the protocol and the trainer read from a frame dataset
    @property
    def seq_lengths(self) -> List[int]:
        return self.frames.seq_lengths

    @property
    def num_identities(self) -> int:
        return self.frames.num_identities

    def __getitem__(self, index: int) -> Dict[str, object]:
        """``crops`` (N, 3, H, W) float32, ``labels``, ``track_ids`` (N,) int64, ``seq_index``,
        ``frame`` (1-based)."""
        seq_index, frame, img, boxes, t = self.frames.augmented_frame(index)
        return {
            "crops": crop_boxes(img, boxes, self.crop_hw),
            "labels": torch.as_tensor(t["labels"], dtype=torch.int64),
            "track_ids": torch.as_tensor(t["track_ids"], dtype=torch.int64),
            "seq_index": seq_index,
            "frame": frame,
        }


def collate_crops(items: List[Dict[str, object]]) -> Dict[str, object]:
    """Concatenate the frames' crops.

    Returns:
        {"crops": (sum N_i, 3, H, W), "labels", "track_ids", "seq_index", "frame": (sum N_i,)
         per crop, "frames": list of B (seq_index, frame)}
    """
    counts = torch.as_tensor([len(it["labels"]) for it in items], dtype=torch.int64)

    def per_box(key: str) -> torch.Tensor:
        return torch.repeat_interleave(
            torch.as_tensor([it[key] for it in items], dtype=torch.int64), counts
        )

    return {
        "crops": torch.cat([it["crops"] for it in items]),
        "labels": torch.cat([it["labels"] for it in items]),
        "track_ids": torch.cat([it["track_ids"] for it in items]),
        "seq_index": per_box("seq_index"),
        "frame": per_box("frame"),
        "frames": [(it["seq_index"], it["frame"]) for it in items],
    }
