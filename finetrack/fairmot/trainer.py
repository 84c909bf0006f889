"""FairMOT training: the step and the evaluation on top of the one engine core.

:class:`FairMOTTrainer` subclasses :class:`finetrack.engine.base_trainer.BaseTrainer` (loop,
finite-loss check, AMP, best/last, resume, TensorBoard) and overrides only:

* :meth:`FairMOTTrainer.epoch_batches`: the seeded shuffled loader of the epoch (the dataset's
  per-item augmentation generators are keyed on the epoch);
* :meth:`FairMOTTrainer.train_step`: forward, :class:`~finetrack.fairmot.loss.FairMOTLoss`,
  the shared optimiser step;
* :meth:`FairMOTTrainer.evaluate_epoch`: the selection metric (AP50 / AP of the heads on the
  training sequences' held-out tail);
* the model part of the checkpoint: ``{"kind": "fairmot", "model", "model_args", "criterion"
  (identity classifier, s_det, s_id)}`` - what :meth:`finetrack.fairmot.model.FairMOT.
  from_checkpoint` and ``tools/track.py --det fairmot`` read.

The lr schedule is FairMOT's: Adam, x ``lr_gamma`` after the epochs in ``lr_steps``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, RandomSampler

from finetrack.engine.base_trainer import BaseTrainer, kept_checkpoint
from finetrack.utils.checkpoint import check_finite_model

logger = logging.getLogger(__name__)

#: loss-dict entries logged (``total`` first); s_det / s_id are the learned weights.
LOG_KEYS = ("total", "det", "hm", "wh", "off", "id", "s_det", "s_id")
CHECKPOINT_KIND = "fairmot"
#: selection metrics kept in the epoch records (from finetrack.eval.coco_ap)
SELECTION_KEYS = ("AP50", "AP", "AP75")


def build_optimizer(params, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam (FairMOT) or AdamW over ``params`` (the network's and the loss's: classifier, s_*)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; valid: ['adam', 'adamw']")


class FairMOTTrainer(BaseTrainer):
    """Train a :class:`~finetrack.fairmot.model.FairMOT` with :class:`FairMOTLoss`.

    Args:
        model: the network.
        criterion: :class:`finetrack.fairmot.loss.FairMOTLoss` (its parameters are trained).
        dataset: :class:`finetrack.fairmot.dataset.FairMOTDataset`.
        out_dir: run folder.
        epochs, batch_size, lr, optimizer, lr_steps, lr_gamma, weight_decay: schedule.
        num_workers, seed: data loading (the shuffle of epoch e is seeded with seed * 1000 + e).
        evaluate: ``evaluate(model) -> {"AP50", "AP", ...}`` on the selection slice (the model is
            in eval mode); None = no selection (best = last epoch).
        **kwargs: :class:`BaseTrainer` arguments (device, amp, log_every, eval_every,
            max_iters_per_epoch, best_metric, max_train_seconds, extra_state, writer, progress).
    """

    loss_key = "total"
    best_keys = ("AP50", "AP")
    best_metrics = ("AP50", "AP")

    def __init__(
        self,
        model: nn.Module,
        criterion: nn.Module,
        dataset,
        out_dir: Path,
        epochs: int = 30,
        batch_size: int = 12,
        lr: float = 1e-4,
        optimizer: str = "adam",
        lr_steps: Sequence[int] = (20,),
        lr_gamma: float = 0.1,
        weight_decay: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
        evaluate: Optional[Callable[[nn.Module], Dict[str, float]]] = None,
        device: torch.device = torch.device("cpu"),
        best_metric: str = "AP50",
        **kwargs: Any,
    ) -> None:
        model = model.to(device)
        criterion = criterion.to(device)
        params = list(model.parameters()) + list(criterion.parameters())
        opt = build_optimizer(params, optimizer, lr, weight_decay)
        sched = torch.optim.lr_scheduler.MultiStepLR(
            opt, milestones=sorted(int(s) for s in lr_steps), gamma=lr_gamma)
        super().__init__(model, opt, sched, out_dir, epochs, device, best_metric=best_metric,
                         **kwargs)
        self.criterion = criterion
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.seed = int(seed)
        self.evaluate_fn = evaluate

    # ------------------------------------------------------------------ the overrides
    def epoch_batches(self, epoch: int) -> Tuple[Iterable[Dict[str, torch.Tensor]], int]:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        g = torch.Generator()
        g.manual_seed(self.seed * 1000 + epoch)
        loader = DataLoader(self.dataset, batch_size=self.batch_size,
                            sampler=RandomSampler(self.dataset, generator=g),
                            num_workers=self.num_workers, drop_last=True,
                            pin_memory=self.device.type == "cuda")
        return loader, max(1, len(self.dataset) // self.batch_size)

    def forward_losses(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The loss dict of one batch (no backward)."""
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device_type=self.device.type, enabled=self.amp):
            out = self.model(batch["image"])
        return self.criterion({k: v.float() for k, v in out.items()}, batch)

    def train_step(self, batch: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """Forward, FairMOT's loss, the shared optimiser step; returns the logged terms."""
        self.criterion.train()
        losses = self.forward_losses(batch)
        self.backward_step(losses["total"], losses)
        return {k: float(losses[k].detach()) for k in LOG_KEYS if k in losses}

    def evaluate_epoch(self, epoch: int) -> Optional[Dict[str, float]]:
        if self.evaluate_fn is None:
            return None
        was = self.model.training
        self.model.eval()
        try:
            metrics = self.evaluate_fn(self.model)
        finally:
            self.model.train(was)
        logger.info("epoch %d selection: AP50 %.1f AP %.1f", epoch + 1, metrics["AP50"],
                    metrics["AP"])
        self.writer.scalars("val/select", {k: metrics[k] for k in ("AP50", "AP")}, self.iter)
        return {k: float(metrics[k]) for k in SELECTION_KEYS if k in metrics}

    def has_selection(self) -> bool:
        return self.evaluate_fn is not None

    def model_state(self) -> Dict[str, Any]:
        model = self.model
        return {
            "kind": CHECKPOINT_KIND,
            "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "model_args": dict(model.model_args),
            "criterion": {k: v.detach().cpu().clone()
                          for k, v in self.criterion.state_dict().items()},
        }

    def load_model_state(self, ckpt: Dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"], strict=True)
        self.criterion.load_state_dict(ckpt["criterion"], strict=True)

    def check_finite(self, where: str) -> None:
        super().check_finite(where)
        check_finite_model(self.criterion, where + " (loss parameters)", grads=False,
                           kept=kept_checkpoint(self.out_dir))
