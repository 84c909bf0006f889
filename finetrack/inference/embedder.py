"""Appearance embeddings of given boxes from a trained FineTrack model (one backbone pass/frame)."""
from __future__ import annotations

import logging

import numpy as np
import torch

logger = logging.getLogger(__name__)


class Embedder:
    """Wraps a :class:`finetrack.models.reid_head.FineTrackModel` for tracking.

    Args:
        model: the model (put in eval mode and its head in inference form here:
            :meth:`finetrack.models.reid_head.ReIDHead.fuse`).
        device: torch device string.
    """

    def __init__(self, model, device: str = "cpu"):
        self.model = model.to(device).eval()
        self.model.head.fuse()
        self.device = device

    @classmethod
    def from_checkpoint(cls, path, device: str = "cpu") -> "Embedder":
        from finetrack.models.build import model_from_checkpoint

        return cls(model_from_checkpoint(path, map_location=device), device)

    @property
    def dim(self) -> int:
        return int(self.model.head.embedding_dim)

    @torch.inference_mode()
    def __call__(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """Embeddings of boxes in one frame.

        Args:
            image_bgr: (H, W, 3) uint8 original frame.
            xyxy: (N, 4) boxes in original-image pixels.

        Returns:
            (N, D) float32 L2-normalised embeddings (D = 256 + K*128 for MPMG).
        """
        if len(xyxy) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        tensor, ratio = self.model.detector.preprocess(image_bgr)
        h, w = image_bgr.shape[:2]
        boxes = np.asarray(xyxy, dtype=np.float32).copy()
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        boxes_in = torch.from_numpy(boxes * np.float32(ratio)).to(self.device)
        return self.model.extract(tensor[None].to(self.device), [boxes_in])
