"""A short explicit YOLOX training loop that runs on CPU and on CUDA (AMP, DDP).

yolox's own ``Trainer`` assumes CUDA, so the model is driven here: ``det.model(images, targets)``
(yolox's ``YOLOX`` in train mode) returns the loss dict; the loop sums nothing itself (yolox's
``total_loss`` is 5 * iou + obj + cls + l1), stops on a non-finite loss, steps SGD, updates yolox's
``ModelEMA``, sets the lr from yolox's ``LRScheduler`` every iteration, and redraws the input size every
``resize_every`` iterations (ByteTrack's random resize). The last ``no_aug_epochs`` epochs run without
mosaic/mixup and with the L1 loss (as yolox/ByteTrack do).

Per epoch (main rank): AP@0.5 and AP@[.5:.95] on the validation records (EMA weights), ``last.pth``
and, when the selected metric improved, ``best.pth``, then ``metrics.json``. Checkpoints are
ByteTrack-compatible (``{"model": state_dict of yolox's YOLOX, ...}``; EMA weights when EMA is on)
and carry the detector variant and input size. Resume restarts after the last finished epoch.
"""
from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, RandomSampler
from yolox.data import MosaicDetection
from yolox.utils import LRScheduler, ModelEMA

from finetrack.eval.coco_ap import evaluate_detector, format_ap
from finetrack.data.det_dataset import DetRecord
from finetrack.data.det_transforms import (
    make_generator,
    random_input_size,
    resize_batch,
    set_mosaic,
    worker_init_fn,
)
from finetrack.engine.base_trainer import (  # noqa: F401  (BEST/LAST/NonFiniteLossError re-exported)
    BEST,
    LAST,
    METRICS_FILE,
    BaseTrainer,
    NonFiniteLossError,
    scalar,
    kept_checkpoint,
)
from finetrack.utils.checkpoint import check_finite_model
from finetrack.engine.logger import ScalarWriter
from finetrack.models.detector import YOLOXDetector
from finetrack.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

#: Loss-dict entries of yolox that are losses (``num_fg`` is a statistic).
LOSS_KEYS = ("total_loss", "iou_loss", "l1_loss", "conf_loss", "cls_loss")
BEST_METRICS = ("AP50", "AP")
OPTIMIZERS = ("sgd", "adamw")


ParamList = List[nn.Parameter]


def param_groups(model: nn.Module) -> Tuple[ParamList, ParamList, ParamList]:
    """yolox's three parameter groups: BN weights (no decay), other weights (decay), biases."""
    no_decay, decay, biases = [], [], []
    for name, m in model.named_modules():
        if hasattr(m, "bias") and isinstance(m.bias, nn.Parameter):
            biases.append(m.bias)
        if isinstance(m, nn.BatchNorm2d) or "bn" in name:
            if isinstance(getattr(m, "weight", None), nn.Parameter):
                no_decay.append(m.weight)
        elif hasattr(m, "weight") and isinstance(m.weight, nn.Parameter):
            decay.append(m.weight)
    return no_decay, decay, biases


def build_optimizer(
    model: nn.Module, name: str = "sgd", momentum: float = 0.9, weight_decay: float = 5e-4
) -> torch.optim.Optimizer:
    """yolox's optimizer (``yolox_base.get_optimizer``): nesterov SGD, decay on conv weights only.

    The lr starts at 0: the scheduler sets it every iteration. ``adamw`` uses the same groups
    (betas (momentum, 0.999)).
    """
    no_decay, decay, biases = param_groups(model)
    groups = [
        {"params": no_decay, "weight_decay": 0.0},
        {"params": decay, "weight_decay": weight_decay},
        {"params": biases, "weight_decay": 0.0},
    ]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=0.0, momentum=momentum, nesterov=True)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=0.0, betas=(momentum, 0.999))
    raise ValueError(f"unknown optimizer {name!r}; valid: {list(OPTIMIZERS)}")


def _inner_state(det: YOLOXDetector) -> Dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in det.model.state_dict().items()}


class DetTrainer(BaseTrainer):
    """Train a :class:`YOLOXDetector`'s YOLOX, validate, checkpoint, resume.

    Args:
        detector: the detector; its ``model`` (yolox ``YOLOX``) is trained.
        dataset: yolox ``MosaicDetection`` (see
            :func:`~finetrack.data.det_transforms.build_train_dataset`).
        out_dir: run directory.
        val_records: validation images; None or empty = no validation (best = last epoch).
        epochs: total epochs.
        batch_size: images per iteration over all processes.
        basic_lr_per_img: lr = basic_lr_per_img * batch_size (yolox convention).
        optimizer: ``sgd`` | ``adamw``.
        momentum: SGD momentum (AdamW beta1).
        weight_decay: on conv/linear weights only.
        scheduler: yolox ``LRScheduler`` name (``yoloxwarmcos``).
        warmup_epochs: warm-up length (epochs, may be fractional).
        warmup_lr: lr at the start of warm-up.
        min_lr_ratio: final lr / lr of the cosine.
        no_aug_epochs: final epochs without mosaic/mixup and with the L1 loss.
        ema: keep yolox ``ModelEMA`` weights (validated and saved as ``model``).
        ema_decay: EMA decay (ByteTrack: 0.9998; ramped by yolox over the first ~2000 updates).
        random_size: ``[k_min, k_max]``: input heights 32*k drawn every ``resize_every`` iterations;
            None = fixed input size.
        resize_every: iterations between random sizes.
        device: training device.
        amp: mixed precision (CUDA only).
        num_workers: DataLoader workers.
        seed: seeds the sampler and the size draws (epoch e uses seed + e).
        log_every: iterations between log lines.
        eval_every: epochs between validations (the last epoch is always validated).
        eval_batch_size: images per validation batch.
        max_iters_per_epoch: cap per epoch; None = full epoch.
        best_metric: ``AP50`` | ``AP``: what ``best.pth`` maximises.
        max_train_seconds: stop after the epoch that crosses this budget; None = no budget.
        extra_state: saved in every checkpoint (config, git revision, detector description).
        writer: TensorBoard scalars; None = none.
        is_main: this process validates and writes files.
        world_size: number of DDP processes (1 = no DDP).
        progress: tqdm bar.
    """

    loss_key = "total_loss"
    best_keys = ("AP50", "AP")
    best_metrics = BEST_METRICS

    def __init__(
        self,
        detector: YOLOXDetector,
        dataset: MosaicDetection,
        out_dir: Path,
        val_records: Optional[Sequence[DetRecord]] = None,
        epochs: int = 80,
        batch_size: int = 48,
        basic_lr_per_img: float = 0.001 / 64.0,
        optimizer: str = "sgd",
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        scheduler: str = "yoloxwarmcos",
        warmup_epochs: float = 1.0,
        warmup_lr: float = 0.0,
        min_lr_ratio: float = 0.05,
        no_aug_epochs: int = 10,
        ema: bool = True,
        ema_decay: float = 0.9998,
        random_size: Optional[Sequence[int]] = (18, 32),
        resize_every: int = 10,
        device: torch.device = torch.device("cpu"),
        amp: bool = True,
        num_workers: int = 2,
        seed: int = 0,
        log_every: int = 20,
        eval_every: int = 1,
        eval_batch_size: int = 8,
        max_iters_per_epoch: Optional[int] = None,
        best_metric: str = "AP50",
        max_train_seconds: Optional[float] = None,
        extra_state: Optional[Dict[str, Any]] = None,
        writer: Optional[ScalarWriter] = None,
        is_main: bool = True,
        world_size: int = 1,
        progress: bool = True,
    ) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by {world_size} processes")
        self.det = detector.to(device)
        train_module: nn.Module = self.det.model
        if world_size > 1:
            train_module = nn.parallel.DistributedDataParallel(
                self.det.model, device_ids=[device.index] if device.type == "cuda" else None
            )
        super().__init__(
            train_module, build_optimizer(self.det.model, optimizer, momentum, weight_decay),
            None, out_dir, epochs, device, amp=amp, log_every=log_every, eval_every=eval_every,
            max_iters_per_epoch=max_iters_per_epoch, best_metric=best_metric,
            max_train_seconds=max_train_seconds, extra_state=extra_state, writer=writer,
            is_main=is_main, progress=progress,
        )
        self.dataset = dataset
        self.val_records = list(val_records or [])
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.seed = int(seed)
        self.no_aug_epochs = int(no_aug_epochs)
        self.random_size = list(random_size) if random_size else None
        self.resize_every = int(resize_every)
        self.eval_batch_size = int(eval_batch_size)
        self.world_size = int(world_size)

        self.base_size: Tuple[int, int] = tuple(dataset.input_dim)  # type: ignore[assignment]
        self.base_lr = basic_lr_per_img * self.batch_size
        self.iters_per_epoch = self._iters_per_epoch()
        #: yolox's per-iteration lr schedule (set by :meth:`train_step`; no state to save)
        self.lr_schedule = LRScheduler(
            scheduler,
            self.base_lr,
            self.iters_per_epoch,
            self.epochs,
            warmup_epochs=warmup_epochs,
            warmup_lr_start=warmup_lr,
            no_aug_epochs=self.no_aug_epochs,
            min_lr_ratio=min_lr_ratio,
        )
        self.ema: Optional[ModelEMA] = ModelEMA(self.det, ema_decay) if ema else None
        self.cur_size: Tuple[int, int] = self.base_size
        self._size_rng = random.Random(self.seed)

    # ------------------------------------------------------------------ helpers
    def _iters_per_epoch(self) -> int:
        n = len(self.dataset) // (self.batch_size // self.world_size) // self.world_size
        n = max(1, n)
        if self.max_iters_per_epoch is not None:
            n = min(n, int(self.max_iters_per_epoch))
        return n

    @property
    def eval_model(self) -> YOLOXDetector:
        """The weights that are validated and saved as ``model`` (EMA when on)."""
        return self.ema.ema if self.ema is not None else self.det

    def _loader(self, epoch: int) -> DataLoader:
        per_proc = self.batch_size // self.world_size
        if self.world_size > 1:
            sampler = torch.utils.data.distributed.DistributedSampler(
                self.dataset, shuffle=True, seed=self.seed, drop_last=True
            )
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(self.dataset, generator=make_generator(self.seed + epoch))
        return DataLoader(
            self.dataset,
            batch_size=per_proc,
            sampler=sampler,
            num_workers=self.num_workers,
            worker_init_fn=worker_init_fn,
            generator=make_generator(self.seed * 1000 + epoch),
            drop_last=True,
            pin_memory=self.device.type == "cuda",
        )

    def _next_size(self) -> Tuple[int, int]:
        size = random_input_size(self.base_size, self.random_size, self._size_rng)
        if self.world_size > 1:
            import torch.distributed as dist

            t = torch.tensor(size, dtype=torch.long, device=self.device)
            dist.broadcast(t, 0)
            size = (int(t[0]), int(t[1]))
        return size

    def _set_aug(self, epoch: int) -> None:
        no_aug = epoch >= self.epochs - self.no_aug_epochs
        set_mosaic(self.dataset, not no_aug and self._mosaic_requested)
        self.det.model.head.use_l1 = no_aug
        if no_aug and epoch == self.epochs - self.no_aug_epochs:
            logger.info("epoch %d: no-augmentation phase (mosaic/mixup off, L1 loss on)", epoch + 1)

    # ------------------------------------------------------------------ checkpoints
    def model_state(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {
            "model": _inner_state(self.eval_model),
            "cur_size": list(self.cur_size),
            "size_rng": self._size_rng.getstate(),
        }
        if self.ema is not None:
            state["model_raw"] = _inner_state(self.det)
            state["ema_updates"] = int(self.ema.updates)
        return state

    def state_dict(self, epoch: int) -> Dict[str, Any]:
        return {**super().state_dict(epoch), "start_epoch": epoch}  # ByteTrack's key

    def load_model_state(self, ckpt: Dict[str, Any]) -> None:
        self.det.model.load_state_dict(ckpt.get("model_raw", ckpt["model"]))
        if self.ema is not None:
            self.ema.ema.model.load_state_dict(ckpt["model"])
            self.ema.updates = int(ckpt.get("ema_updates", ckpt["iter"]))
        self.cur_size = tuple(ckpt["cur_size"])  # type: ignore[assignment]
        st = ckpt["size_rng"]
        self._size_rng.setstate((st[0], tuple(st[1]), st[2]))

    def check_finite(self, where: str) -> None:
        """Stop (NonFiniteModelError) on NaN/inf weights, EMA weights or gradients."""
        kept = kept_checkpoint(self.out_dir)
        check_finite_model(self.det.model, where, grads=not self.amp, kept=kept)
        if self.ema is not None:
            check_finite_model(self.ema.ema.model, where + " (EMA weights)", grads=False, kept=kept)

    # ------------------------------------------------------------------ step and evaluation
    def epoch_batches(self, epoch: int) -> Tuple[DataLoader, int]:
        self._set_aug(epoch)
        self.det.train()
        return self._loader(epoch), self.iters_per_epoch

    def train_step(self, batch: Any) -> Dict[str, float]:
        """yolox's loss on one batch, SGD step with yolox's per-iteration lr, EMA update, and
        every ``resize_every`` iterations a new random input size."""
        images, targets = batch[0], batch[1]
        lr = self.lr_schedule.update_lr(self.iter + 1)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        images = images.to(self.device, non_blocking=True).float()
        targets = targets.to(self.device, non_blocking=True).float()
        images, targets = resize_batch(images, targets, self.cur_size)
        with torch.autocast(device_type=self.device.type, enabled=self.amp):
            out = self.model(images, targets)
        values = {k: scalar(out[k]) for k in LOSS_KEYS if k in out}
        values["num_fg"] = scalar(out.get("num_fg", 0.0))
        self.backward_step(out["total_loss"], values)
        if self.ema is not None:
            self.ema.update(self.det)
        if self.random_size and (self.iter + 1) % self.resize_every == 0:
            self.cur_size = self._next_size()
        return values

    def log_suffix(self) -> str:
        return f" size {self.cur_size[0]}x{self.cur_size[1]}"

    def has_selection(self) -> bool:
        return bool(self.val_records)

    def validate(self, records: Optional[Sequence[DetRecord]] = None) -> Optional[Dict[str, float]]:
        records = self.val_records if records is None else records
        if not records:
            return None
        return evaluate_detector(self.eval_model, records, self.device, self.eval_batch_size,
                                 progress=self.progress)

    def evaluate_epoch(self, epoch: int) -> Optional[Dict[str, float]]:
        """AP50 / AP / AP75 (0-100) of the EMA weights on the selection records."""
        metrics = self.validate()
        if metrics is None:
            return None
        logger.info("epoch %d: %s", epoch + 1, format_ap(metrics, "val"))
        self.writer.scalars("val/det", {k: metrics[k] for k in ("AP50", "AP")}, self.iter)
        return {k: metrics[k] for k in ("AP50", "AP", "AP75")}

    def train(self) -> Dict[str, Any]:
        """Run the remaining epochs; returns the best record and the history."""
        self._mosaic_requested = bool(self.dataset.enable_mosaic)
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        logger.info("training %d epochs x %d iterations, batch %d, lr %.2e, %d images, input %s",
                    self.epochs, self.iters_per_epoch, self.batch_size, self.base_lr,
                    len(self.dataset), self.base_size)
        return super().train()


def write_metrics(out_dir: Path, metrics: Dict[str, Any]) -> Path:
    """Write ``metrics.json`` atomically."""
    path = Path(out_dir) / METRICS_FILE
    atomic_write_text(path, json.dumps(metrics, indent=2, sort_keys=False) + "\n")
    return path
