"""Turn a :class:`~finetrack.det_config.DetConfig` into records, datasets, detector, trainer.

The only detector-training module that reads a config (used by ``tools/train_det.py``
and ``tools/eval_det.py``); the library classes get plain keyword arguments.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

from finetrack.configlib import ConfigError
from finetrack.data.identities import GTFilter
from finetrack.eval.coco_ap import evaluate_detector, format_ap
from finetrack.det_config import SOURCE_FORMATS, DetConfig, DetSourceConfig
from finetrack.data.det_dataset import DetRecord, crowdhuman_records, mot_records
from finetrack.engine.det_trainer import BEST, LAST, DetTrainer, write_metrics
from finetrack.data.det_transforms import build_train_dataset
from finetrack.engine.context import RunContext, resolve_data_root, resolve_device, run_context
from finetrack.models.detector import YOLOXDetector, build_detector

logger = logging.getLogger(__name__)


def source_records(
    src: DetSourceConfig, cfg: DetConfig, frame_step: Optional[int] = None,
    portion: str = "whole", tail_frac: float = 0.0, max_images: Optional[int] = -1,
) -> List[DetRecord]:
    """Records of one configured source (``frame_step`` / ``max_images`` override the source's
    own; ``portion``/``tail_frac``: head or tail of every sequence's half, mot only)."""
    step = src.frame_step if frame_step is None else frame_step
    cap = src.max_images if max_images == -1 else max_images
    root = resolve_data_root(src.root)
    if src.format == "mot":
        return mot_records(root / src.split, src.seqs, src.half, GTFilter.of(cfg.data), src.mot17_detector,
                           step, cap, portion=portion, tail_frac=tail_frac)
    if src.format == "crowdhuman":
        return crowdhuman_records(root, src.ann_file, src.image_dir, cfg.data.min_box_size, step,
                                  src.max_images)
    raise ValueError(f"unknown source format {src.format!r}; valid: {list(SOURCE_FORMATS)}")


def _select_on_tail(cfg: DetConfig) -> bool:
    if cfg.train.select_on != "train_tail":
        return False
    if not any(src.format == "mot" for src in cfg.data.train):
        raise ConfigError(
            "train.select_on=train_tail needs a mot training source to carve the selection slice "
            "from; use train.select_on=final_epoch"
        )
    return True


def train_records(cfg: DetConfig) -> List[DetRecord]:
    """Training records; with ``train.select_on=train_tail`` the last ``train.select_frac`` of
    every mot source's sequences is left out (it is the selection slice)."""
    tail = _select_on_tail(cfg)
    out: List[DetRecord] = []
    for src in cfg.data.train:
        if tail and src.format == "mot":
            out.extend(source_records(src, cfg, portion="head", tail_frac=cfg.train.select_frac))
        else:
            out.extend(source_records(src, cfg))
    return out


def selection_records(cfg: DetConfig) -> List[DetRecord]:
    """The selection slice: the tail of every mot training source (every ``eval.frame_step``-th
    frame); empty with ``train.select_on=final_epoch``. Never ``data.val``."""
    if not _select_on_tail(cfg):
        return []
    out: List[DetRecord] = []
    for src in cfg.data.train:
        if src.format == "mot":
            out.extend(source_records(src, cfg, frame_step=cfg.eval.frame_step, portion="tail",
                                      tail_frac=cfg.train.select_frac, max_images=None))
    return out


def val_records(cfg: DetConfig, full: bool = False) -> List[DetRecord]:
    """Validation records; ``full`` ignores ``eval.frame_step`` (every frame of the val split)."""
    if cfg.data.val is None:
        return []
    step = cfg.data.val.frame_step if full else cfg.data.val.frame_step * cfg.eval.frame_step
    return source_records(cfg.data.val, cfg, frame_step=step)


def build_det(cfg: DetConfig) -> YOLOXDetector:
    """The detector of ``cfg.model`` (random init, or ``model.init_ckpt``)."""
    m = cfg.model
    det = build_detector(m.detector, num_classes=m.num_classes,
                         input_size=tuple(m.input_size), conf_thresh=m.conf_thresh,
                         nms_thresh=m.nms_thresh)
    if m.init_ckpt:
        det.load_checkpoint(str(resolve_data_root(m.init_ckpt)))
    return det


def detector_description(cfg: DetConfig) -> Dict[str, Any]:
    """What tools/track.py needs to rebuild the detector (also in checkpoints and metrics.json)."""
    m = cfg.model
    h, w = m.input_size
    return {
        "detector": m.detector,
        "input_size": list(m.input_size),
        "num_classes": m.num_classes,
        "track_overrides": f"model.detector={m.detector} model.input_size=[{h},{w}]",
    }


def train_from_config(cfg: DetConfig) -> Dict[str, Any]:
    """Train as configured; returns the metrics written to ``<run_dir>/metrics.json``."""
    with run_context(cfg) as run:
        return _train(cfg, run)


def _train(cfg: DetConfig, run: RunContext) -> Dict[str, Any]:
    records = train_records(cfg)
    a = cfg.aug
    dataset = build_train_dataset(
        records, tuple(cfg.model.input_size), mosaic=a.mosaic, mosaic_prob=a.mosaic_prob,
        mixup=a.mixup, mixup_prob=a.mixup_prob, degrees=a.degrees, translate=a.translate,
        mosaic_scale=a.mosaic_scale, mixup_scale=a.mixup_scale, shear=a.shear,
        hsv_prob=a.hsv_prob, flip_prob=a.flip_prob, max_labels=a.max_labels,
    )
    # best.pth is chosen on the selection slice; data.val is read after training only
    val = selection_records(cfg) if run.is_main else []
    t = cfg.train
    desc = detector_description(cfg)
    run_dir = run.out_dir
    trainer = DetTrainer(
        build_det(cfg), dataset, run_dir, val_records=val, epochs=t.epochs,
        batch_size=t.batch_size, basic_lr_per_img=t.basic_lr_per_img, optimizer=t.optimizer,
        momentum=t.momentum, weight_decay=t.weight_decay, scheduler=t.scheduler,
        warmup_epochs=t.warmup_epochs, warmup_lr=t.warmup_lr, min_lr_ratio=t.min_lr_ratio,
        no_aug_epochs=a.no_aug_epochs, ema=t.ema, ema_decay=t.ema_decay,
        random_size=a.random_size, resize_every=a.resize_every, device=run.device, amp=t.amp,
        num_workers=cfg.data.num_workers, seed=cfg.seed, log_every=t.log_every,
        eval_every=t.eval_every, eval_batch_size=cfg.eval.batch_size,
        max_iters_per_epoch=t.max_iters_per_epoch, best_metric=t.best_metric,
        max_train_seconds=t.max_train_seconds,
        extra_state={**run.checkpoint_info(), **desc},
        writer=run.writer, is_main=run.is_main, world_size=run.world_size, progress=t.progress,
    )
    if run.resume_from is not None:
        trainer.resume(run.resume_from, config=run.config)
    run.log_resume(run.resume_from is not None)
    result = trainer.train()
    if not run.is_main:
        return {}
    best = result["best"]
    metrics: Dict[str, Any] = {
        "selected_on": t.selected_on,
        "AP50": None,
        "AP": None,
        "epoch": best["epoch"],
        "selection": {"on": t.selected_on, "metric": t.best_metric, "epoch": best["epoch"],
                      "AP50": best.get("AP50"), "AP": best.get("AP"),
                      "images": len(val)},
        "train_seconds": round(result["train_seconds"], 1),
        "eval": "none (train.final_full_eval=false or no data.val)",
        **desc,
    }
    if t.final_full_eval and cfg.data.val is not None and (run_dir / BEST).is_file():
        # the evaluation split, read once: the selected checkpoint (top-level AP50/AP, what
        # tools/track.py gets as best.pth) and the final epoch
        full = evaluate_checkpoint(cfg, run_dir / BEST, device=run.device)
        metrics.update({"AP50": full["AP50"], "AP": full["AP"], "AP75": full["AP75"],
                        "eval": f"full val split, selected checkpoint ({t.selected_on})",
                        "eval_images": full["num_images"]})
        final = full
        if best["epoch"] != result["epochs_done"]:
            final = evaluate_checkpoint(cfg, run_dir / LAST, device=run.device)
        metrics["final"] = {"label": "final epoch", "epoch": result["epochs_done"],
                            **{k: final[k] for k in ("AP50", "AP", "AP75")}}
    metrics["epochs_done"] = result["epochs_done"]
    metrics["history"] = result["history"]
    write_metrics(run_dir, metrics)
    logger.info("metrics: AP50 %s AP %s (epoch %s), %s s", metrics["AP50"], metrics["AP"],
                metrics["epoch"], metrics["train_seconds"])
    return metrics


def evaluate_public(cfg: DetConfig) -> Dict[str, float]:
    """AP of the validation sequences' own det/det.txt (the reference the MOT data ships)."""
    from finetrack.eval.coco_ap import coco_ap, public_detections

    records = val_records(cfg, full=True)
    if not records:
        raise ValueError("the config has no validation split (data.val is null)")
    metrics = coco_ap(*public_detections(records))
    logger.info("%s", format_ap(metrics, "det/det.txt"))
    return metrics


def evaluate_checkpoint(cfg: DetConfig, ckpt: Path, device: Optional[torch.device] = None,
                        progress: bool = False) -> Dict[str, float]:
    """AP of a detector checkpoint on every frame of the configured validation split."""
    device = device or resolve_device(cfg.train.device)
    det = build_detector(cfg.model.detector, num_classes=cfg.model.num_classes,
                         input_size=tuple(cfg.model.input_size), conf_thresh=cfg.model.conf_thresh,
                         nms_thresh=cfg.model.nms_thresh)
    det.load_checkpoint(str(ckpt))
    records = val_records(cfg, full=True)
    if not records:
        raise ValueError("the config has no validation split (data.val is null)")
    metrics = evaluate_detector(det.to(device).eval(), records, device, cfg.eval.batch_size,
                                progress=progress)
    logger.info("%s", format_ap(metrics, str(ckpt)))
    return metrics
