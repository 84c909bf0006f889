"""A short explicit Re-ID training loop (STYLE.md section 3).

Per iteration: forward the batch's frames and GT boxes, sum the loss dict, stop on a non-finite
loss (the dict is in the error), backward (GradScaler under AMP on CUDA), step. Per epoch: the lr
scheduler steps, Rank-1/mAP on the *selection* slice is computed (main rank; a slice of the
training half that is not trained on, or none), ``last.pth`` is written and, when the selection
metric improved, ``best.pth``; then ``metrics.json``. The evaluation split is read only once,
after the last epoch (``report``): for the final-epoch weights and for ``best.pth``, both written
to metrics.json under their own labels (SPEC section 4: selection never reads the reported split).

Resume: the state of a finished epoch (model, optimizer, scheduler, scaler, RNG states, best,
history, elapsed time) is in ``last.pth``; a resumed run restarts at the next epoch. Samplers
derive their order from (seed, epoch), so a run killed after epoch e and resumed gives the same
weights as an uninterrupted run (work done inside the killed epoch is redone).

Subclasses override :meth:`ReIDTrainer.forward_backward` only.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

import torch
from tqdm import tqdm

from finetrack.config import check_resume_config
from finetrack.engine.checkpoint import (
    BEST,
    LAST,
    NonFiniteModelError,  # noqa: F401  (raised by check_finite_model; tools catch it from here)
    check_finite_model,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unwrap_model,
)
from finetrack.engine.logger import ScalarWriter, format_losses
from finetrack.eval.reid_metrics import ReIDResult, summary_line
from finetrack.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

#: ``evaluate(model) -> ReIDResult`` (validation on the main rank).
EvaluateFn = Callable[[torch.nn.Module], ReIDResult]
#: ``criterion(outputs, labels) -> {"total": scalar tensor, <term>: scalar tensor, ...}``
Criterion = Callable[[Dict[str, torch.Tensor], torch.Tensor], Dict[str, torch.Tensor]]

METRICS_FILE = "metrics.json"
#: iterations between checks of the weights (and gradients) for NaN/inf; every checkpoint is
#: checked before it is written, whatever this says
FINITE_CHECK_EVERY = 50


def _barrier() -> None:
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



class ReIDTrainer:
    """Train a Re-ID model on GT boxes, validate each epoch, checkpoint, resume.

    Args:
        model: FineTrackModel (possibly DDP-wrapped); ``model(images, boxes)`` -> head outputs.
        criterion: loss dict from outputs and (N,) identity labels; must contain ``total``.
        optimizer: over the trainable parameters.
        scheduler: stepped once per epoch.
        train_loader: yields :func:`finetrack.data.reid_dataset.collate_frames` batches.
        batch_sampler: the loader's batch sampler (``set_epoch`` is called every epoch).
        out_dir: run directory (checkpoints, metrics.json, events).
        epochs: total number of epochs.
        device: training device.
        evaluate: selection function (Rank-1/mAP on the selection slice, every ``eval_every``
            epochs); None = no selection (best = last epoch).
        report: evaluation-split function, called only after the last epoch, on the final
            weights and on ``best.pth``; None = no reported numbers.
        selected_on: metrics.json label of what ``evaluate`` runs on (``train_tail_10pct``);
            ``final_epoch`` when ``evaluate`` is None.
        amp: mixed precision (CUDA only).
        log_every: iterations between log lines.
        eval_every: epochs between validations (the last epoch is always validated).
        max_iters_per_epoch: cap on iterations per epoch; None = full epoch.
        best_metric: ``mAP`` or ``rank1``: what ``best.pth`` maximises on the selection slice.
        extra_state: saved in every checkpoint (resolved config, git revision, identities...).
        writer: TensorBoard writer; None = no events.
        is_main: this process writes files and validates (rank 0).
        on_epoch_end: called with (epoch index, epoch record) after the checkpoint is written.
        progress: show a tqdm bar.
        val_name: TensorBoard tag part of the selection set (``val/<val_name>/mAP``); the
            reported numbers go to ``eval/<val_name>/{final,selected}_mAP``.
        report_info: extra metrics.json entries describing the evaluation (split, protocol).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        criterion: Criterion,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        train_loader: Iterable[Dict[str, Any]],
        batch_sampler: Any,
        out_dir: Path,
        epochs: int,
        device: torch.device,
        evaluate: Optional[EvaluateFn] = None,
        amp: bool = False,
        log_every: int = 20,
        eval_every: int = 1,
        max_iters_per_epoch: Optional[int] = None,
        best_metric: str = "mAP",
        extra_state: Optional[Dict[str, Any]] = None,
        writer: Optional[ScalarWriter] = None,
        is_main: bool = True,
        on_epoch_end: Optional[Callable[[int, Dict[str, Any]], None]] = None,
        progress: bool = True,
        val_name: str = "reid",
        report: Optional[EvaluateFn] = None,
        selected_on: Optional[str] = None,
        report_info: Optional[Dict[str, Any]] = None,
    ) -> None:
        if best_metric not in ("mAP", "rank1"):
            raise ValueError(f"best_metric must be mAP or rank1, got {best_metric!r}")
        self.model = model
        self.criterion = criterion
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loader = train_loader
        self.batch_sampler = batch_sampler
        self.out_dir = Path(out_dir)
        self.epochs = int(epochs)
        self.device = device
        self.evaluate = evaluate
        self.amp = bool(amp) and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.log_every = max(1, int(log_every))
        self.eval_every = max(1, int(eval_every))
        self.max_iters_per_epoch = max_iters_per_epoch
        self.best_metric = best_metric
        self.extra_state = dict(extra_state or {})
        self.writer = writer or ScalarWriter(None)
        self.is_main = is_main
        self.on_epoch_end = on_epoch_end
        self.progress = progress
        self.val_name = val_name
        self.report = report
        self.selected_on = "final_epoch" if evaluate is None else (selected_on or "selection")
        self.report_info = dict(report_info or {})
        self.reported: Dict[str, Any] = {}
        # run state (restored by resume)
        self.start_epoch = 0
        self.iter = 0
        self.best: Dict[str, Any] = {"metric": best_metric, "value": -math.inf, "epoch": -1}
        self.history: List[Dict[str, Any]] = []
        self.train_seconds = 0.0

    # ------------------------------------------------------------------ state
    def state_dict(self, epoch: int) -> Dict[str, Any]:
        """Everything needed to continue after ``epoch`` finished epochs."""
        core = unwrap_model(self.model)
        if hasattr(core, "checkpoint_state"):
            state = core.checkpoint_state()
        else:
            state = {"model": {k: v.detach().cpu() for k, v in core.state_dict().items()}}
        state.update(
            {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
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
        unwrap_model(self.model).load_state_dict(ckpt["model"], strict=True)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
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
            path,
            self.start_epoch,
            self.iter,
            self.best_metric,
            self.best["value"],
            self.best["epoch"],
        )

    # ------------------------------------------------------------------ steps
    def forward_backward(self, batch: Dict[str, Any]) -> Dict[str, float]:
        """One optimisation step on one batch; returns the loss terms as floats.

        Raises:
            NonFiniteLossError: the total loss is NaN or infinite (nothing is stepped).
        """
        images = batch["images"].to(self.device, non_blocking=True)
        boxes = [b.to(self.device) for b in batch["boxes"]]
        labels = batch["labels"].to(self.device)
        with torch.autocast(device_type=self.device.type, enabled=self.amp):
            outputs = self.model(images, boxes)
        losses = self.criterion({k: v.float() for k, v in outputs.items()}, labels)
        total = losses["total"]
        if not all_ranks_finite(total):
            values = {k: float(v.detach()) for k, v in losses.items()}
            raise NonFiniteLossError(f"non-finite loss at iteration {self.iter}: {values}")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if (self.iter + 1) % FINITE_CHECK_EVERY == 0:  # a finite loss can hide NaN weights
            check_finite_model(unwrap_model(self.model), f"iteration {self.iter + 1}",
                               grads=not self.amp, kept=kept_checkpoint(self.out_dir))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {k: float(v.detach()) for k, v in losses.items()}

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def train_one_epoch(self, epoch: int) -> Dict[str, float]:
        """Iterate the loader once; returns the mean of every loss term."""
        self.model.train()
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)
        n_total = len(self.train_loader)
        if self.max_iters_per_epoch is not None:
            n_total = min(n_total, int(self.max_iters_per_epoch))
        sums: Dict[str, float] = {}
        steps = 0
        window: Dict[str, float] = {}
        window_n = 0
        bar = tqdm(
            total=n_total,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            disable=not (self.progress and self.is_main),
            dynamic_ncols=True,
            leave=False,
        )
        t0 = time.perf_counter()
        try:
            for i, batch in enumerate(self.train_loader):
                if i >= n_total:
                    break
                if sum(len(b) for b in batch["boxes"]) == 0:
                    logger.debug("skipping a batch without boxes")
                    bar.update(1)
                    continue
                values = self.forward_backward(batch)
                self.iter += 1
                steps += 1
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                    window[k] = window.get(k, 0.0) + v
                window_n += 1
                if self.is_main:
                    self.writer.scalars("train", values, self.iter)
                    self.writer.scalars("train", {"lr": self._lr()}, self.iter)
                bar.update(1)
                bar.set_postfix(loss=f"{values['total']:.3f}")
                if self.iter % self.log_every == 0 and self.is_main:
                    mean = {k: v / window_n for k, v in window.items()}
                    rate = steps / max(time.perf_counter() - t0, 1e-9)
                    logger.info(
                        "epoch %d iter %d (%d/%d) lr %.2e %.2f it/s | %s",
                        epoch + 1,
                        self.iter,
                        i + 1,
                        n_total,
                        self._lr(),
                        rate,
                        format_losses(mean),
                    )
                    window, window_n = {}, 0
        finally:
            bar.close()
        return {k: v / max(steps, 1) for k, v in sums.items()}

    # ------------------------------------------------------------------ main loop
    def _write_metrics(self, finished: bool) -> None:
        best = self.best if self.best["epoch"] >= 0 else {}
        rep = self.reported
        # the evaluation split's numbers, known only after the last epoch (``report``)
        selected = rep.get("selected", {"rank1": None, "mAP": None})
        data = {
            "selected_on": self.selected_on,
            "best": {
                "label": f"selected checkpoint ({self.selected_on})",
                "epoch": best.get("epoch"),
                **selected,
            },
            "final": {"label": "final epoch", **rep["final"]} if rep else {},
            "selection": {
                "on": self.selected_on,
                "metric": self.best_metric,
                "epoch": best.get("epoch"),
                "rank1": best.get("rank1"),
                "mAP": best.get("mAP"),
            },
            **self.report_info,
            "eval_seconds": rep.get("eval_seconds"),
            "train_seconds": round(self.train_seconds, 2),
            "finished": finished,
            "history": self.history,
        }
        atomic_write_text(self.out_dir / METRICS_FILE, json.dumps(data, indent=2) + "\n")

    def _report(self) -> None:
        """Evaluate the final weights and ``best.pth`` on the evaluation split (main rank)."""
        if self.report is None:
            return
        final_epoch = self.history[-1]["epoch"] if self.history else self.start_epoch
        core = unwrap_model(self.model)
        t0 = time.perf_counter()
        final = self.report(core)
        logger.info("evaluation split, final epoch %d: %s", final_epoch, summary_line(final))
        selected = final
        sel_epoch = self.best.get("epoch", -1)
        if sel_epoch not in (-1, final_epoch) and (self.out_dir / BEST).is_file():
            model = copy.deepcopy(core)
            model.load_state_dict(load_checkpoint(self.out_dir / BEST)["model"], strict=True)
            selected = self.report(model)
            del model
        logger.info(
            "evaluation split, selected checkpoint (epoch %d, %s): %s",
            sel_epoch, self.selected_on, summary_line(selected),
        )
        self.reported = {
            "final": {"epoch": final_epoch, **final.as_percent()},
            "selected": selected.as_percent(),
            "eval_seconds": round(time.perf_counter() - t0, 2),
        }
        self.writer.scalars(
            f"eval/{self.val_name}",
            {
                "final_rank1": 100.0 * final.rank1,
                "final_mAP": 100.0 * final.mAP,
                "selected_rank1": 100.0 * selected.rank1,
                "selected_mAP": 100.0 * selected.mAP,
            },
            self.iter,
        )

    def train(self) -> Dict[str, Any]:
        """Run epochs ``start_epoch .. epochs-1``, then the evaluation-split report; returns the
        metrics.json content."""
        for epoch in range(self.start_epoch, self.epochs):
            t0 = time.perf_counter()
            losses = self.train_one_epoch(epoch)
            if self.scheduler is not None:
                self.scheduler.step()
            train_time = time.perf_counter() - t0
            record: Dict[str, Any] = {"epoch": epoch + 1, "train_seconds": round(train_time, 2)}
            record.update({f"loss_{k}": v for k, v in losses.items()})
            do_eval = self.evaluate is not None and (
                (epoch + 1) % self.eval_every == 0 or epoch + 1 == self.epochs
            )
            if self.is_main and do_eval:
                t1 = time.perf_counter()
                result = self.evaluate(unwrap_model(self.model))
                pct = result.as_percent()
                # selection-slice numbers (never the evaluation split)
                record.update({f"select_{k}": v for k, v in pct.items()})
                record["select_seconds"] = round(time.perf_counter() - t1, 2)
                self.writer.scalars(
                    f"val/{self.val_name}", {"rank1": pct["rank1"], "mAP": pct["mAP"]}, self.iter
                )
                logger.info(
                    "epoch %d selection (%s): %s", epoch + 1, self.selected_on,
                    summary_line(result),
                )
            self.train_seconds += time.perf_counter() - t0
            self.history.append(record)
            improved = False
            # never write a NaN model over a good one (every rank checks: they stop together)
            check_finite_model(unwrap_model(self.model), f"the end of epoch {epoch + 1}",
                               grads=not self.amp, kept=kept_checkpoint(self.out_dir))
            if self.is_main:
                value = record.get(f"select_{self.best_metric}")
                if self.evaluate is None:
                    value, improved = float(epoch), True
                elif value is not None and value > self.best["value"]:
                    improved = True
                if improved:
                    self.best = {
                        "metric": self.best_metric,
                        "value": float(value),
                        "epoch": epoch + 1,
                        "rank1": record.get("select_rank1"),
                        "mAP": record.get("select_mAP"),
                    }
                state = self.state_dict(epoch + 1)
                # best first: a run killed in between resumes from the older last.pth and
                # redoes this epoch, so best.pth never lags behind what last.pth says is best
                if improved:
                    save_checkpoint(self.out_dir / BEST, state)
                save_checkpoint(self.out_dir / LAST, state)
                self._write_metrics(finished=False)
                self.writer.flush()
                logger.info(
                    "epoch %d done in %.1fs (train %.1fs) | %s%s",
                    epoch + 1,
                    time.perf_counter() - t0,
                    train_time,
                    format_losses(losses),
                    " | new best" if improved else "",
                )
            _barrier()  # other ranks wait for validation + checkpoint of the main rank
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch, record)
        if self.is_main:
            self._report()
            self._write_metrics(finished=True)
        return json.loads((self.out_dir / METRICS_FILE).read_text()) if self.is_main else {}
