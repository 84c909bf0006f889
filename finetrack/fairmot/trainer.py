"""FairMOT training loop: one explicit loop, checkpoint dict, resume, TensorBoard, selection.

Written on the current ``finetrack/engine`` helpers (checkpoint I/O, RNG capture, finite checks,
scalar writer) as a class whose subclass points are :meth:`FairMOTTrainer.forward_backward` (one
iteration's loss and gradients) and :meth:`FairMOTTrainer.evaluate` (the selection metric), so it
can move onto the shared base trainer of issue 15 by dropping the rest.

Per epoch: the lr schedule steps (FairMOT: x0.1 after epoch 20), the selection metric (AP50 of
the heads on the training sequences' held-out tail) decides ``best.pth``, ``last.pth`` always.
Checkpoints: ``{"kind": "fairmot", "model", "model_args", "criterion" (identity classifier,
s_det, s_id), "optimizer", "scheduler", "scaler", "epoch", "iter", "best", "history",
"train_seconds", "rng", "config", "git_revision", "identities"}``; resume restarts after the last
finished epoch with every state restored.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from finetrack.config import check_resume_config
from finetrack.engine.checkpoint import (BEST, LAST, check_finite_model, load_checkpoint,
                                         rng_state, save_checkpoint, set_rng_state)
from finetrack.engine.logger import ScalarWriter, format_losses
from finetrack.engine.trainer import NonFiniteLossError, kept_checkpoint

logger = logging.getLogger(__name__)

#: loss-dict entries logged (``total`` first); s_det / s_id are the learned weights.
LOG_KEYS = ("total", "det", "hm", "wh", "off", "id", "s_det", "s_id")
CHECKPOINT_KIND = "fairmot"


def build_optimizer(params, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam (FairMOT) or AdamW over ``params`` (the network's and the loss's: classifier, s_*)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; valid: ['adam', 'adamw']")


class FairMOTTrainer:
    """Train a :class:`~finetrack.models.fairmot.FairMOT` with :class:`FairMOTLoss`.

    Args:
        model: the network.
        criterion: :class:`finetrack.losses.fairmot.FairMOTLoss` (its parameters are trained).
        dataset: :class:`finetrack.data.fairmot_dataset.FairMOTDataset`.
        out_dir: run folder.
        epochs, batch_size, lr, optimizer, lr_steps, lr_gamma, weight_decay: schedule.
        grad_clip: max gradient norm (None = none).
        device: training device; amp: mixed precision (CUDA only).
        num_workers, seed: data loading.
        evaluate: ``evaluate(model) -> {"AP50", "AP", ...}`` (the selection slice); None = the
            last epoch is best.
        best_metric: key of ``evaluate``'s result that best.pth maximises.
        extra_state: stored in every checkpoint (config, identities, git revision).
        max_iters_per_epoch, max_train_seconds: caps for quick runs / time budgets.
    """

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
        grad_clip: Optional[float] = None,
        device: torch.device = torch.device("cpu"),
        amp: bool = False,
        num_workers: int = 0,
        seed: int = 0,
        log_every: int = 20,
        eval_every: int = 1,
        evaluate: Optional[Callable[[nn.Module], Dict[str, float]]] = None,
        best_metric: str = "AP50",
        max_iters_per_epoch: Optional[int] = None,
        max_train_seconds: Optional[float] = None,
        extra_state: Optional[Dict[str, Any]] = None,
        writer: Optional[ScalarWriter] = None,
        progress: bool = True,
    ) -> None:
        self.device = device
        self.model = model.to(device)
        self.criterion = criterion.to(device)
        self.dataset = dataset
        self.out_dir = Path(out_dir)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.grad_clip = grad_clip
        self.amp = bool(amp) and device.type == "cuda"
        self.num_workers = int(num_workers)
        self.seed = int(seed)
        self.log_every = max(1, int(log_every))
        self.eval_every = max(1, int(eval_every))
        self.evaluate_fn = evaluate
        self.best_metric = best_metric
        self.max_iters_per_epoch = max_iters_per_epoch
        self.max_train_seconds = max_train_seconds
        self.extra_state = dict(extra_state or {})
        self.writer = writer
        self.progress = progress
        params = list(self.model.parameters()) + list(self.criterion.parameters())
        self.optimizer = build_optimizer(params, optimizer, lr, weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=sorted(int(s) for s in lr_steps), gamma=lr_gamma)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        n = max(1, len(dataset) // self.batch_size)
        self.iters_per_epoch = min(n, int(max_iters_per_epoch)) if max_iters_per_epoch else n
        self.epoch = 0
        self.iter = 0
        self.history: List[Dict[str, Any]] = []
        self.best: Dict[str, Any] = {"metric": best_metric, "value": -math.inf, "epoch": 0}
        self.train_seconds = 0.0

    # ------------------------------------------------------------------ subclass points
    def forward_backward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """One iteration: forward, loss, backward, step; returns the logged loss values.

        Raises:
            NonFiniteLossError: NaN/inf loss (the message names the terms, epoch, iteration).
        """
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device_type=self.device.type, enabled=self.amp):
            out = self.model(batch["image"])
        out = {k: v.float() for k, v in out.items()}
        losses = self.criterion(out, batch)
        values = {k: float(losses[k].detach()) for k in LOG_KEYS if k in losses}
        loss = losses["total"]
        if not bool(torch.isfinite(loss.detach()).all()):
            raise NonFiniteLossError(f"non-finite loss at epoch {self.epoch + 1} iteration "
                                     f"{self.iter + 1}: {values}; {kept_checkpoint(self.out_dir)}")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return values

    def evaluate(self) -> Optional[Dict[str, float]]:
        """The selection metric of the current weights (None without an ``evaluate`` fn)."""
        if self.evaluate_fn is None:
            return None
        was = self.model.training
        self.model.eval()
        try:
            return self.evaluate_fn(self.model)
        finally:
            self.model.train(was)

    # ------------------------------------------------------------------ loop
    def _loader(self, epoch: int) -> DataLoader:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        g = torch.Generator()
        g.manual_seed(self.seed * 1000 + epoch)
        return DataLoader(self.dataset, batch_size=self.batch_size,
                          sampler=RandomSampler(self.dataset, generator=g),
                          num_workers=self.num_workers, drop_last=True,
                          pin_memory=self.device.type == "cuda")

    def train_one_epoch(self, epoch: int) -> Dict[str, float]:
        self.model.train()
        self.criterion.train()
        sums: Dict[str, float] = {}
        n = 0
        it = iter(self._loader(epoch))
        bar = tqdm(total=self.iters_per_epoch, desc=f"epoch {epoch + 1}/{self.epochs}",
                   disable=not self.progress, leave=False)
        lr = self.optimizer.param_groups[0]["lr"]
        try:
            for i in range(self.iters_per_epoch):
                try:
                    batch = next(it)
                except StopIteration:
                    break
                values = self.forward_backward(batch)
                self.iter += 1
                n += 1
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update(1)
                bar.set_postfix(loss=f"{values['total']:.3f}")
                if self.iter % self.log_every == 0 or i == 0:
                    logger.info("epoch %d iter %d/%d (global %d) lr %.2e: %s", epoch + 1, i + 1,
                                self.iters_per_epoch, self.iter, lr, format_losses(values))
                    if self.writer is not None:
                        self.writer.scalars("train", {**values, "lr": lr}, self.iter)
                if (self.iter % 50) == 0:  # a finite loss can hide NaN weights
                    self.check_finite(f"iteration {self.iter}")
        finally:
            bar.close()
            del it
        return {k: v / max(n, 1) for k, v in sums.items()}

    def train(self) -> Dict[str, Any]:
        """Run the remaining epochs.

        Returns:
            ``{"best", "history", "train_seconds", "epochs_done"}``.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        logger.info("training %d epochs x %d iterations, batch %d, %d images", self.epochs,
                    self.iters_per_epoch, self.batch_size, len(self.dataset))
        for epoch in range(self.epoch, self.epochs):
            t0 = time.time()
            losses = self.train_one_epoch(epoch)
            self.scheduler.step()
            self.epoch = epoch + 1
            seconds = time.time() - t0
            self.train_seconds += seconds
            last_epoch = self.epoch == self.epochs or self._over_budget()
            record: Dict[str, Any] = {"epoch": self.epoch, "iter": self.iter,
                                      "seconds": round(seconds, 1), **losses}
            metrics = None
            if self.epoch % self.eval_every == 0 or last_epoch:
                metrics = self.evaluate()
            if metrics is not None:
                record.update({k: metrics[k] for k in ("AP50", "AP") if k in metrics})
                logger.info("epoch %d selection: AP50 %.1f AP %.1f", self.epoch,
                            metrics.get("AP50", float("nan")), metrics.get("AP", float("nan")))
                if self.writer is not None:
                    self.writer.scalars("val/select", {k: metrics[k] for k in ("AP50", "AP")
                                                       if k in metrics}, self.iter)
            logger.info("epoch %d done in %.0f s: %s", self.epoch, seconds, format_losses(losses))
            self.history.append(record)
            value = record.get(self.best_metric)
            improved = (value is not None and value > self.best["value"]) or (
                self.evaluate_fn is None and last_epoch)
            if improved:
                self.best = {"metric": self.best_metric,
                             "value": value if value is not None else -math.inf,
                             "epoch": self.epoch, "AP50": record.get("AP50"),
                             "AP": record.get("AP")}
                self.save(BEST)
            self.save(LAST)
            if self.writer is not None:
                self.writer.flush()
            if last_epoch:
                if self.epoch < self.epochs:
                    logger.warning("time budget of %.0f s reached after epoch %d of %d",
                                   self.max_train_seconds, self.epoch, self.epochs)
                break
        return {"best": dict(self.best), "history": list(self.history),
                "train_seconds": self.train_seconds, "epochs_done": self.epoch}

    def _over_budget(self) -> bool:
        return self.max_train_seconds is not None and self.train_seconds >= self.max_train_seconds

    # ------------------------------------------------------------------ checkpoints
    def check_finite(self, where: str) -> None:
        kept = kept_checkpoint(self.out_dir)
        check_finite_model(self.model, where, grads=not self.amp, kept=kept)
        check_finite_model(self.criterion, where + " (loss parameters)", grads=False, kept=kept)

    def state_dict(self) -> Dict[str, Any]:
        cpu = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        return {
            "kind": CHECKPOINT_KIND,
            "model": cpu,
            "model_args": dict(self.model.model_args),
            "criterion": {k: v.detach().cpu().clone()
                          for k, v in self.criterion.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.amp else None,
            "epoch": self.epoch,
            "iter": self.iter,
            "best": dict(self.best),
            "history": list(self.history),
            "train_seconds": self.train_seconds,
            "rng": rng_state(),
            **self.extra_state,
        }

    def save(self, name: str) -> Path:
        self.check_finite(f"epoch {self.epoch} (before writing {name})")
        return save_checkpoint(self.out_dir / name, self.state_dict())

    def resume(self, path: Path, config: Optional[Dict[str, Any]] = None) -> None:
        """Restore everything from ``last.pth``; training continues with the next epoch.

        Raises:
            ConfigError: the checkpoint was made under another config (when ``config`` given).
        """
        state = load_checkpoint(path, map_location="cpu")
        if config is not None:
            check_resume_config(state.get("config"), config, path)
        self.model.load_state_dict(state["model"])
        self.criterion.load_state_dict(state["criterion"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.amp and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.iter = int(state["iter"])
        self.best = dict(state["best"])
        self.history = list(state["history"])
        self.train_seconds = float(state["train_seconds"])
        set_rng_state(state.get("rng"))
        logger.info("resumed from %s: %d epochs done, iteration %d", path, self.epoch, self.iter)
