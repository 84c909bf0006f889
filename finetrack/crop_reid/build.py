"""Config -> crop-network Re-ID training (``tools/train_crop_reid.py``).

The data, selection slice, protocol, loss, optimiser, schedule and sampler are built exactly as
for the FineTrack head (:mod:`finetrack.engine.reid_build`: the same frames, identities and
batches of frames); the frames are served as crops of their GT boxes
(:class:`finetrack.crop_reid.data.CropFrameDataset`) and the model is a
:class:`finetrack.crop_reid.model.CropReIDNet`.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional

import torch
from torch.utils.data import DataLoader

from finetrack.configlib import ConfigError
from finetrack.crop_reid.config import CropReIDConfig
from finetrack.crop_reid.data import CropFrameDataset, collate_crops
from finetrack.data.identities import IdentityTable
from finetrack.data.reid_dataset import ReIDFrameDataset
from finetrack.data.samplers import build_batch_sampler
from finetrack.engine.context import run_context
from finetrack.crop_reid.trainer import CropReIDTrainer
from finetrack.engine.evaluator import evaluate_gt_reid
from finetrack.engine.reid_build import (
    build_training_datasets,
    exclude_frames,
    fit_reid,
    protocol_counts,
    seen_identities,
)

logger = logging.getLogger(__name__)


def crop_loader(cfg: CropReIDConfig, frames: ReIDFrameDataset, **kwargs: Any) -> DataLoader:
    """A loader of ``frames`` as crops (evaluation order unless a ``batch_sampler`` is given)."""
    crops = CropFrameDataset(frames, cfg.model.crop_size)
    if "batch_sampler" not in kwargs:
        kwargs.update(batch_size=cfg.train.batch_size, shuffle=False)
    return DataLoader(crops, collate_fn=collate_crops, num_workers=cfg.data.num_workers, **kwargs)


def make_crop_evaluate_fn(
    cfg: CropReIDConfig,
    frames: ReIDFrameDataset,
    device: torch.device,
    identities: Optional[IdentityTable] = None,
):
    """``model -> ReIDResult`` on ``frames``' GT crops, with the FineTrack head's protocol
    (:func:`finetrack.engine.reid_build.make_evaluate_fn`: v2 window, query spacing, open set)."""
    loader = crop_loader(cfg, frames)
    window = exclude_frames(frames, cfg.reid_eval.exclude_seconds)
    seen = None if identities is None else seen_identities(frames, identities)

    def _evaluate(model: torch.nn.Module):
        return evaluate_gt_reid(
            model, loader, device, first_frames=frames.first_frames,
            query_every=cfg.reid_eval.query_every, amp=cfg.train.amp, exclude_frames=window,
            seen_identities=seen, progress=cfg.train.progress,
        )

    return _evaluate


def train_crop_from_config(cfg: CropReIDConfig, on_epoch_end=None) -> Dict[str, Any]:
    """Train a crop Re-ID network; writes what ``train_from_config`` writes into ``cfg.run_dir``
    (config.yaml, train.log, tb/, last.pth, best.pth, metrics.json)."""
    with run_context(cfg) as run:
        return _train(cfg, run, on_epoch_end)


def _train(cfg: CropReIDConfig, run, on_epoch_end) -> Dict[str, Any]:
    from finetrack.crop_reid.model import build_crop_model

    if run.world_size > 1:
        raise ConfigError("the crop Re-ID trainer runs on one process (no torchrun)")
    device = run.device
    train_set, val_set, select_set = build_training_datasets(cfg)
    if select_set is not None:
        window = exclude_frames(select_set, cfg.reid_eval.exclude_seconds)
        if protocol_counts(select_set, cfg.reid_eval.query_every, window).num_queries == 0:
            raise ConfigError(
                f"reid_eval.select_frac={cfg.reid_eval.select_frac}: the selection slice has no "
                "scorable query; raise it or use reid_eval.select_on=final_epoch"
            )
    model = build_crop_model(cfg.model.arch, train_set.num_identities, cfg.model.crop_size)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    logger.info(
        "crop Re-ID network %s on %dx%d crops, %d identities, %.3fM parameters, device %s",
        cfg.model.arch, *cfg.model.crop_size, train_set.num_identities,
        sum(p.numel() for p in params) / 1e6, device,
    )
    sampler = build_batch_sampler(
        cfg.data.sampler, train_set.seq_lengths, batch_size=cfg.train.batch_size,
        group_size=cfg.data.group_size, seed=cfg.seed, rank=0, world_size=1,
    )
    loader = crop_loader(cfg, train_set, batch_sampler=sampler)
    return fit_reid(
        CropReIDTrainer, cfg, run, model, params, loader, sampler, train_set, val_set,
        evaluate=make_crop_evaluate_fn(cfg, select_set, device) if select_set is not None else None,
        report=make_crop_evaluate_fn(cfg, val_set, device, train_set.identities),
        extra_state={}, on_epoch_end=on_epoch_end, unit="crops",
    )
