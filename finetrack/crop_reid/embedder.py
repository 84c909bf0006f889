"""Appearance embeddings of given boxes from a separate crop Re-ID network (DeepSORT / BoT-SORT /
boxmot's design): every box is cropped from the frame, resized to the network input and embedded
(:func:`finetrack.crop_reid.data.crop_boxes`, the crops the network was trained on)."""
from __future__ import annotations

import logging

import numpy as np
import torch

from finetrack.crop_reid.data import crop_boxes

logger = logging.getLogger(__name__)


class CropEmbedder:
    """Wraps a :class:`finetrack.crop_reid.model.CropReIDNet`; same call as
    :class:`finetrack.inference.embedder.Embedder`.

    Args:
        model: the network (put in eval mode here).
        device: torch device string.
        max_batch: crops per forward pass (bounds memory on crowded frames).
    """

    def __init__(self, model, device: str = "cpu", max_batch: int = 256):
        self.model = model.to(device).eval()
        self.device = device
        self.max_batch = int(max_batch)

    @classmethod
    def from_checkpoint(cls, path, device: str = "cpu") -> "CropEmbedder":
        from finetrack.utils.checkpoint import load_checkpoint
        from finetrack.crop_reid.model import crop_model_from_state

        return cls(crop_model_from_state(load_checkpoint(path, device), path), device)

    @property
    def dim(self) -> int:
        return int(self.model.embedding_dim)

    @torch.inference_mode()
    def __call__(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """Embeddings of boxes in one frame.

        Args:
            image_bgr: (H, W, 3) uint8 original frame.
            xyxy: (N, 4) boxes in original-image pixels.

        Returns:
            (N, D) float32 L2-normalised embeddings.
        """
        if len(xyxy) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        crops = crop_boxes(image_bgr, xyxy, self.model.crop_size)
        out = [self.model.extract(crops[i:i + self.max_batch].to(self.device))
               for i in range(0, len(crops), self.max_batch)]
        return torch.cat(out).cpu().numpy().astype(np.float32)
