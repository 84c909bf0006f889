"""The crop-network Re-ID trainer: :class:`~finetrack.engine.trainer.ReIDTrainer` (and so the one
engine, :class:`~finetrack.engine.base_trainer.BaseTrainer`) with a step on box crops.

Everything else is the FineTrack head's: per-epoch selection on the training half's tail,
``best.pth`` / ``last.pth``, resume, metrics.json, the evaluation-split report after the last
epoch. Only the batch differs: :func:`finetrack.crop_reid.data.collate_crops` (the crops of the
batch's frames) instead of frames + boxes.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional

import torch

from finetrack.engine.trainer import ReIDTrainer

logger = logging.getLogger(__name__)


class CropReIDTrainer(ReIDTrainer):
    """:class:`ReIDTrainer` whose model maps ``(N, 3, H, W)`` crops to the head's output dict
    (:class:`finetrack.crop_reid.model.CropReIDNet`); same arguments."""

    def train_step(self, batch: Dict[str, Any]) -> Optional[Dict[str, float]]:
        """One optimisation step on the crops of one batch of frames (None: no crop).

        Raises:
            NonFiniteLossError: the total loss is NaN or infinite (nothing is stepped).
        """
        if batch["crops"].shape[0] < 2:  # BatchNorm needs 2 samples; a triplet needs a pair
            logger.debug("skipping a batch with fewer than 2 crops")
            return None
        crops = batch["crops"].to(self.device, non_blocking=True)
        labels = batch["labels"].to(self.device)
        with torch.autocast(device_type=self.device.type, enabled=self.amp):
            outputs = self.model(crops)
        losses = self.criterion({k: v.float() for k, v in outputs.items()}, labels)
        self.backward_step(losses["total"], losses)
        return {k: float(v.detach()) for k, v in losses.items()}
