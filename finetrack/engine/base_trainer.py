"""The one training core: the epoch/iteration loop every FineTrack trainer runs.

:class:`BaseTrainer` owns everything that is not specific to a model: the iteration loop (progress
bar, log lines, TensorBoard scalars, per-epoch means), the finite-loss check on every rank (all
ranks stop together under DDP), the AMP ``GradScaler`` step, the periodic NaN/inf check of the
weights, per-epoch selection, ``best.pth`` / ``last.pth`` (best first: a run killed in between
resumes from the older ``last.pth``), resume (optimizer, scaler, RNG states, best, history; config
checked) and the DDP barrier after the main rank's checkpoint.

A trainer subclasses it and overrides the *step* and the *evaluation*::

    class MyTrainer(BaseTrainer):
        loss_key = "total"                      # the loss-dict entry shown on the progress bar

        def epoch_batches(self, epoch):         # data of one epoch: (iterable, number of steps)
            return self.loader, len(self.loader)

        def train_step(self, batch):            # forward + losses, then the shared optimiser step
            losses = self.criterion(self.model(batch["x"]), batch["y"])
            self.backward_step(losses["total"], losses)
            return {k: float(v) for k, v in losses.items()}

        def evaluate_epoch(self, epoch):        # selection metrics (main rank) or None
            return {"mAP": ..., "rank1": ...}

Extension points (all optional except :meth:`train_step` and :meth:`epoch_batches`):

* :meth:`epoch_batches` (required): ``(iterable of batches, number of steps)`` for an epoch; set
  samplers' epochs, augmentation phases etc. here.
* :meth:`train_step` (required): one batch -> ``{loss name: float}`` (or None to skip the batch).
  Call :meth:`backward_step` with the scalar loss: it checks finiteness on every rank (raises
  :class:`NonFiniteLossError` with the loss dict), zero-grads, backward through the scaler,
  checks the weights every :data:`FINITE_CHECK_EVERY` iterations and steps. ``self.iter`` is the
  number of finished iterations (incremented by the loop after the step).
* :meth:`evaluate_epoch`: per-epoch selection metrics ``{name: float}`` on the main rank (e.g.
  ``mAP``, ``AP50``; ``best_metric`` must be one of them) or None when not evaluated; stored in the
  epoch record as ``metric_prefix + name``. :meth:`should_evaluate` decides the epochs.
* :meth:`model_state` / :meth:`load_model_state`: the model part of a checkpoint (default: the
  unwrapped model's ``checkpoint_state()`` or ``{"model": state_dict}``).
* :meth:`end_epoch`: after the epoch's iterations (default: step an epoch lr scheduler).
* :meth:`write_metrics`: called after every checkpoint (``finished=False``) and at the end
  (``finished=True``, main rank); default: nothing.
* :meth:`finish`: after the last epoch on the main rank (e.g. the evaluation split report).
* :meth:`check_finite`: what "finite model" means (default: the trained model's weights, and
  gradients without AMP).
* Class attributes: ``loss_key``, ``loss_prefix`` / ``metric_prefix`` (record key prefixes),
  ``best_keys`` (selection metrics copied into ``best``), ``best_metrics`` (valid
  ``best_metric`` values).

Checkpoint contents (written by :func:`finetrack.utils.checkpoint.save_checkpoint`)::

    {**model_state(), "optimizer", "scheduler", "scaler", "epoch", "iter", "best", "history",
     "train_seconds", "rng", **extra_state}
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from finetrack.utils.progress import progress_bar

from finetrack.config import check_resume_config
from finetrack.utils.checkpoint import (
    BEST,
    LAST,
    check_finite_model,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unwrap_model,
)
from finetrack.engine.logger import ScalarWriter, format_losses

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
#: iterations between checks of the weights (and gradients) for NaN/inf; every checkpoint is
#: checked before it is written, whatever this says
FINITE_CHECK_EVERY = 50


def barrier() -> None:
    """Synchronise DDP ranks (no-op without torch.distributed)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def all_ranks_finite(loss: torch.Tensor) -> bool:
    """True when ``loss`` is finite on every rank (so that under DDP all ranks stop together:
    one rank raising alone would leave the others hanging in the gradient all-reduce)."""
    finite = torch.isfinite(loss.detach()).all().float()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    return bool(finite)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN/inf; the message holds the loss dict, epoch and iteration."""


def kept_checkpoint(out_dir: Path) -> str:
    """What a stopped run leaves: its last good ``last.pth`` or nothing."""
    last = Path(out_dir) / LAST
    if last.is_file():
        return f"the last good checkpoint {last} is kept"
    return "no checkpoint was written"


def scalar(value: Any) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


class BaseTrainer:
    """Epoch loop, checkpoints and resume shared by every trainer (see the module docstring).

    Args:
        model: the trained module (possibly DDP-wrapped; :func:`unwrap_model` gives the core).
        optimizer: over the trainable parameters.
        scheduler: an epoch lr scheduler stepped by :meth:`end_epoch` (``state_dict`` saved), or
            None / an object the subclass drives itself.
        out_dir: run directory (checkpoints, metrics.json).
        epochs: total number of epochs.
        device: training device.
        amp: mixed precision (CUDA only).
        log_every: iterations between log lines.
        eval_every: epochs between selections (the last epoch is always evaluated).
        max_iters_per_epoch: cap on iterations per epoch; None = full epoch.
        best_metric: what ``best.pth`` maximises (one of ``best_metrics``).
        max_train_seconds: stop after the epoch that crosses this budget; None = no budget.
        extra_state: saved in every checkpoint (resolved config, git revision...).
        writer: TensorBoard writer; None = no events.
        is_main: this process writes files and evaluates (rank 0).
        on_epoch_end: called with (epoch index, epoch record) after the checkpoint is written.
        progress: show a tqdm bar (main rank).
    """

    #: loss-dict entry shown on the progress bar
    loss_key = "total"
    #: epoch-record key prefixes of the mean losses and of the selection metrics
    loss_prefix = ""
    metric_prefix = ""
    #: selection metrics copied into ``best`` (and valid ``best_metric`` values)
    best_keys: Tuple[str, ...] = ()
    best_metrics: Tuple[str, ...] = ()

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        out_dir: Path,
        epochs: int,
        device: torch.device,
        amp: bool = False,
        log_every: int = 20,
        eval_every: int = 1,
        max_iters_per_epoch: Optional[int] = None,
        best_metric: str = "",
        max_train_seconds: Optional[float] = None,
        extra_state: Optional[Dict[str, Any]] = None,
        writer: Optional[ScalarWriter] = None,
        is_main: bool = True,
        on_epoch_end=None,
        progress: bool = True,
    ) -> None:
        if self.best_metrics and best_metric not in self.best_metrics:
            raise ValueError(
                f"best_metric must be one of {' or '.join(self.best_metrics)}, got {best_metric!r}"
            )
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.out_dir = Path(out_dir)
        self.epochs = int(epochs)
        self.device = device
        self.amp = bool(amp) and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.log_every = max(1, int(log_every))
        self.eval_every = max(1, int(eval_every))
        self.max_iters_per_epoch = max_iters_per_epoch
        self.best_metric = best_metric
        self.max_train_seconds = max_train_seconds
        self.extra_state = dict(extra_state or {})
        self.writer = writer or ScalarWriter(None)
        self.is_main = is_main
        self.on_epoch_end = on_epoch_end
        self.progress = bool(progress) and is_main
        # run state (restored by resume)
        self.start_epoch = 0  # finished epochs when train() starts
        self.iter = 0  # finished iterations
        self.best: Dict[str, Any] = {"metric": best_metric, "value": -math.inf, "epoch": -1}
        self.history: List[Dict[str, Any]] = []
        self.train_seconds = 0.0
        self._epoch = 0  # the epoch being trained (messages)

    # ------------------------------------------------------------------ to override
    def epoch_batches(self, epoch: int) -> Tuple[Iterable[Any], int]:
        """(batches of epoch ``epoch`` (0-based), number of steps to take from them)."""
        raise NotImplementedError

    def train_step(self, batch: Any) -> Optional[Dict[str, float]]:
        """One optimisation step; returns the loss terms as floats (None: batch skipped)."""
        raise NotImplementedError

    def evaluate_epoch(self, epoch: int) -> Optional[Dict[str, float]]:
        """Selection metrics after epoch ``epoch`` (main rank); None = no selection."""
        return None

    def should_evaluate(self, epoch: int) -> bool:
        """Whether :meth:`evaluate_epoch` runs after epoch ``epoch`` (0-based)."""
        return (epoch + 1) % self.eval_every == 0 or epoch + 1 == self.epochs

    def model_state(self) -> Dict[str, Any]:
        """The model part of a checkpoint."""
        core = unwrap_model(self.model)
        if hasattr(core, "checkpoint_state"):
            return core.checkpoint_state()
        return {"model": {k: v.detach().cpu() for k, v in core.state_dict().items()}}

    def load_model_state(self, ckpt: Dict[str, Any]) -> None:
        """Restore :meth:`model_state` from a checkpoint dict."""
        unwrap_model(self.model).load_state_dict(ckpt["model"], strict=True)

    def end_epoch(self, epoch: int) -> None:
        """After the iterations of epoch ``epoch``: steps the epoch lr scheduler."""
        if self.scheduler is not None and hasattr(self.scheduler, "step"):
            self.scheduler.step()

    def write_metrics(self, finished: bool) -> None:
        """Write metrics.json (main rank; after every checkpoint and at the end)."""

    def finish(self) -> None:
        """After the last epoch (main rank), before the final :meth:`write_metrics`."""

    def check_finite(self, where: str) -> None:
        """Stop (NonFiniteModelError) on NaN/inf weights or gradients of the trained model."""
        check_finite_model(unwrap_model(self.model), where, grads=not self.amp,
                           kept=kept_checkpoint(self.out_dir))

    def lr(self) -> float:
        """The learning rate of the first parameter group (logged)."""
        return float(self.optimizer.param_groups[0]["lr"])

    def log_suffix(self) -> str:
        """Extra text at the end of the iteration log line."""
        return ""

    # ------------------------------------------------------------------ the shared step
    def backward_step(self, loss: torch.Tensor, losses: Dict[str, Any]) -> None:
        """Finite check (every rank), zero-grad, backward (scaled under AMP), weight check every
        :data:`FINITE_CHECK_EVERY` iterations, optimizer step.

        Raises:
            NonFiniteLossError: ``loss`` is NaN/inf on some rank (nothing is stepped); the
                message holds ``losses`` as floats, the epoch and the iteration.
        """
        if not all_ranks_finite(loss):
            values = {k: scalar(v) for k, v in losses.items()}
            raise NonFiniteLossError(
                f"non-finite loss at epoch {self._epoch + 1} iteration {self.iter + 1}: {values}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if (self.iter + 1) % FINITE_CHECK_EVERY == 0:  # a finite loss can hide NaN weights
            self.check_finite(f"iteration {self.iter + 1}")
        self.scaler.step(self.optimizer)
        self.scaler.update()

    # ------------------------------------------------------------------ state
    def state_dict(self, epoch: int) -> Dict[str, Any]:
        """Everything needed to continue after ``epoch`` finished epochs."""
        state = self.model_state()
        sched = self.scheduler
        state.update(
            {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": sched.state_dict() if hasattr(sched, "state_dict") else None,
                "scaler": self.scaler.state_dict() if self.amp else None,
                "epoch": epoch,
                "iter": self.iter,
                "best": dict(self.best),
                "history": list(self.history),
                "train_seconds": self.train_seconds,
                "rng": rng_state(),
            }
        )
        state.update(self.extra_state)
        return state

    def resume(self, path: Path, config: Optional[Dict[str, Any]] = None) -> None:
        """Restore a ``last.pth`` written by this trainer; training continues at its epoch.

        Args:
            config: this run's resolved config (:func:`~finetrack.config.to_dict`); when given,
                a checkpoint made under another config is refused (ConfigError).
        """
        ckpt = load_checkpoint(path, map_location=self.device)
        if config is not None:
            check_resume_config(ckpt.get("config"), config, path)
        self.load_model_state(ckpt)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        sched = self.scheduler
        if hasattr(sched, "load_state_dict") and ckpt.get("scheduler") is not None:
            sched.load_state_dict(ckpt["scheduler"])
        if self.amp and ckpt.get("scaler") is not None:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.start_epoch = int(ckpt["epoch"])
        self.iter = int(ckpt["iter"])
        self.best = dict(ckpt["best"])
        self.history = list(ckpt.get("history", []))
        self.train_seconds = float(ckpt.get("train_seconds", 0.0))
        set_rng_state(ckpt.get("rng"))
        logger.info(
            "resumed from %s: %d epoch(s) done, iteration %d, best %s %.2f (epoch %d)",
            path, self.start_epoch, self.iter, self.best_metric, self.best["value"],
            self.best["epoch"],
        )

    def save(self, name: str, state: Dict[str, Any]) -> Path:
        """Write ``state`` as ``out_dir/name`` atomically."""
        return save_checkpoint(self.out_dir / name, state)

    # ------------------------------------------------------------------ loop
    def train_one_epoch(self, epoch: int) -> Dict[str, float]:
        """Run the steps of one epoch; returns the mean of every loss term."""
        self._epoch = epoch
        self.model.train()
        batches, n_total = self.epoch_batches(epoch)
        if self.max_iters_per_epoch is not None:
            n_total = min(n_total, int(self.max_iters_per_epoch))
        sums: Dict[str, float] = {}
        steps = 0
        window: Dict[str, float] = {}
        window_n = 0
        bar = progress_bar(total=n_total, desc=f"epoch {epoch + 1}/{self.epochs}",
                   disable=not self.progress, dynamic_ncols=True, leave=False)
        t0 = time.perf_counter()
        it = iter(batches)
        try:
            for i in range(n_total):
                try:
                    batch = next(it)
                except StopIteration:
                    break
                values = self.train_step(batch)
                if values is None:
                    bar.update(1)
                    continue
                self.iter += 1
                steps += 1
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                    window[k] = window.get(k, 0.0) + v
                window_n += 1
                if self.is_main:
                    short = {k.replace("_loss", ""): v for k, v in values.items()}
                    self.writer.scalars("train", {**short, "lr": self.lr()}, self.iter)
                bar.update(1)
                bar.set_postfix(loss=f"{values[self.loss_key]:.3f}")
                if self.is_main and self.iter % self.log_every == 0:
                    mean = {k.replace("_loss", ""): v / window_n for k, v in window.items()}
                    rate = steps / max(time.perf_counter() - t0, 1e-9)
                    logger.info("epoch %d iter %d (%d/%d) lr %.2e %.2f it/s%s | %s", epoch + 1,
                                self.iter, i + 1, n_total, self.lr(), rate, self.log_suffix(),
                                format_losses(mean))
                    window, window_n = {}, 0
        finally:
            bar.close()
            del it
        return {k: v / max(steps, 1) for k, v in sums.items()}

    def _over_budget(self, epoch_seconds: float) -> bool:
        """The time budget is spent after an epoch of ``epoch_seconds`` of training."""
        return self.max_train_seconds is not None and (
            self.train_seconds + epoch_seconds >= self.max_train_seconds)

    def train(self) -> Dict[str, Any]:
        """Run epochs ``start_epoch .. epochs-1`` (or until ``max_train_seconds``), then
        :meth:`finish` and the final :meth:`write_metrics`; returns :meth:`summary`."""
        for epoch in range(self.start_epoch, self.epochs):
            t0 = time.perf_counter()
            losses = self.train_one_epoch(epoch)
            self.end_epoch(epoch)
            train_time = time.perf_counter() - t0
            record: Dict[str, Any] = {"epoch": epoch + 1, "iter": self.iter,
                                      "train_seconds": round(train_time, 2)}
            record.update({self.loss_prefix + k: v for k, v in losses.items()})
            # the last epoch: of the run, or the one that crosses the time budget
            last_epoch = epoch + 1 == self.epochs or self._over_budget(train_time)
            if self.is_main and (self.should_evaluate(epoch) or last_epoch):
                t1 = time.perf_counter()
                metrics = self.evaluate_epoch(epoch)
                if metrics is not None:
                    record.update({self.metric_prefix + k: v for k, v in metrics.items()})
                    record["select_seconds"] = round(time.perf_counter() - t1, 2)
            self.train_seconds += time.perf_counter() - t0
            self.history.append(record)
            # never write a NaN model over a good one (every rank checks: they stop together)
            self.check_finite(f"the end of epoch {epoch + 1}")
            if self.is_main:
                improved = self.update_best(epoch, record, last_epoch)
                state = self.state_dict(epoch + 1)
                # best first: a run killed in between resumes from the older last.pth and
                # redoes this epoch, so best.pth never lags behind what last.pth says is best
                if improved:
                    self.save(BEST, state)
                self.save(LAST, state)
                self.write_metrics(finished=False)
                self.writer.flush()
                short = {k.replace("_loss", ""): v for k, v in losses.items()}
                logger.info("epoch %d done in %.1fs (train %.1fs) | %s%s", epoch + 1,
                            time.perf_counter() - t0, train_time, format_losses(short),
                            " | new best" if improved else "")
            barrier()  # other ranks wait for the selection + checkpoint of the main rank
            self.start_epoch = epoch + 1
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch, record)
            if last_epoch:
                if epoch + 1 < self.epochs:
                    logger.warning("time budget of %.0f s reached after epoch %d of %d",
                                   self.max_train_seconds, epoch + 1, self.epochs)
                break
        if self.is_main:
            self.finish()
            self.write_metrics(finished=True)
        return self.summary()

    def update_best(self, epoch: int, record: Dict[str, Any], last_epoch: bool) -> bool:
        """Update ``best`` from the epoch record (main rank); True when this epoch is the new
        best. Without any selection metric every epoch is the best (best = last epoch)."""
        value = record.get(self.metric_prefix + self.best_metric)
        if value is None and not any(self.metric_prefix + k in record for k in self.best_keys):
            if self.has_selection():
                return False  # a selection run on an epoch that was not evaluated
            self.best = {"metric": self.best_metric, "value": float(epoch), "epoch": epoch + 1,
                         **{k: None for k in self.best_keys}}
            return True
        if value is not None and value > self.best["value"]:
            self.best = {"metric": self.best_metric, "value": float(value), "epoch": epoch + 1,
                         **{k: record.get(self.metric_prefix + k) for k in self.best_keys}}
            return True
        return False

    def has_selection(self) -> bool:
        """Whether :meth:`evaluate_epoch` can return metrics (False: best = last epoch)."""
        return True

    def summary(self) -> Dict[str, Any]:
        """What :meth:`train` returns: best record, history, time and epochs done."""
        return {"best": dict(self.best), "history": list(self.history),
                "train_seconds": self.train_seconds, "epochs_done": self.start_epoch}


__all__: Sequence[str] = (
    "BEST", "FINITE_CHECK_EVERY", "LAST", "METRICS_FILE", "BaseTrainer", "NonFiniteLossError",
    "all_ranks_finite", "barrier", "kept_checkpoint",
)
