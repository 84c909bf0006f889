"""The Re-ID trainer: :class:`~finetrack.engine.base_trainer.BaseTrainer` with the Re-ID step and
selection (STYLE.md section 3).

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

The loop, checkpoints, resume and the finite checks are the base trainer's; this module adds the
step (:meth:`ReIDTrainer.train_step`), the per-epoch selection, metrics.json and the report.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import torch

from finetrack.engine.base_trainer import (  # noqa: F401  (re-exported for the tools and tests)
    FINITE_CHECK_EVERY,
    METRICS_FILE,
    BaseTrainer,
    NonFiniteLossError,
    all_ranks_finite,
    kept_checkpoint,
)
from finetrack.utils.checkpoint import (
    BEST,
    NonFiniteModelError,  # noqa: F401  (raised by check_finite_model; tools catch it from here)
    load_checkpoint,
    unwrap_model,
)
from finetrack.engine.logger import ScalarWriter
from finetrack.eval.reid_metrics import ReIDResult, summary_line
from finetrack.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

#: ``evaluate(model) -> ReIDResult`` (validation on the main rank).
EvaluateFn = Callable[[torch.nn.Module], ReIDResult]
#: ``criterion(outputs, labels) -> {"total": scalar tensor, <term>: scalar tensor, ...}``
Criterion = Callable[[Dict[str, torch.Tensor], torch.Tensor], Dict[str, torch.Tensor]]


class ReIDTrainer(BaseTrainer):
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

    loss_key = "total"
    loss_prefix = "loss_"
    metric_prefix = "select_"
    best_keys = ("rank1", "mAP")
    best_metrics = ("mAP", "rank1")

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
        super().__init__(
            model, optimizer, scheduler, out_dir, epochs, device, amp=amp, log_every=log_every,
            eval_every=eval_every, max_iters_per_epoch=max_iters_per_epoch,
            best_metric=best_metric, extra_state=extra_state, writer=writer, is_main=is_main,
            on_epoch_end=on_epoch_end, progress=progress,
        )
        self.criterion = criterion
        self.train_loader = train_loader
        self.batch_sampler = batch_sampler
        self.evaluate = evaluate
        self.val_name = val_name
        self.report = report
        self.selected_on = "final_epoch" if evaluate is None else (selected_on or "selection")
        self.report_info = dict(report_info or {})
        self.reported: Dict[str, Any] = {}

    # ------------------------------------------------------------------ step and evaluation
    def epoch_batches(self, epoch: int) -> Tuple[Iterable[Dict[str, Any]], int]:
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)
        return self.train_loader, len(self.train_loader)

    def train_step(self, batch: Dict[str, Any]) -> Optional[Dict[str, float]]:
        """One optimisation step on one batch; returns the loss terms as floats (None: a batch
        without boxes, skipped).

        Raises:
            NonFiniteLossError: the total loss is NaN or infinite (nothing is stepped).
        """
        if sum(len(b) for b in batch["boxes"]) == 0:
            logger.debug("skipping a batch without boxes")
            return None
        images = batch["images"].to(self.device, non_blocking=True)
        boxes = [b.to(self.device) for b in batch["boxes"]]
        labels = batch["labels"].to(self.device)
        with torch.autocast(device_type=self.device.type, enabled=self.amp):
            outputs = self.model(images, boxes)
        losses = self.criterion({k: v.float() for k, v in outputs.items()}, labels)
        self.backward_step(losses["total"], losses)
        return {k: float(v.detach()) for k, v in losses.items()}

    def has_selection(self) -> bool:
        return self.evaluate is not None

    def evaluate_epoch(self, epoch: int) -> Optional[Dict[str, Any]]:
        """Rank-1/mAP (percent) on the selection slice; None without a selection function."""
        if self.evaluate is None:
            return None
        result = self.evaluate(unwrap_model(self.model))
        pct = result.as_percent()
        scalars = {"rank1": pct["rank1"], "mAP": pct["mAP"]}
        if "mask_corr" in pct:  # MPMG part-mask diversity (issue 13 item 6): 1 = one pattern
            scalars["mask_corr"] = pct["mask_corr"]
            scalars["mask_abs_corr"] = pct["mask_abs_corr"]
        if "mask_border" in pct:
            scalars["mask_border"] = pct["mask_border"]
        self.writer.scalars(f"val/{self.val_name}", scalars, self.iter)
        logger.info("epoch %d selection (%s): %s", epoch + 1, self.selected_on,
                    summary_line(result))
        return pct

    # ------------------------------------------------------------------ main loop
    def write_metrics(self, finished: bool) -> None:
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

    def finish(self) -> None:
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
        metrics.json content (``{}`` on other ranks)."""
        super().train()
        return json.loads((self.out_dir / METRICS_FILE).read_text()) if self.is_main else {}
