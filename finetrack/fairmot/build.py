"""Turn a :class:`~finetrack.fairmot.config.FairMOTConfig` into records, dataset, model, loss,
trainer; train; evaluate the heads' detection AP (what ``tools/train_fairmot.py`` calls).

Splits (SPEC section 4 rule: selection never reads the reported split): training uses the head of
every sequence's ``data.train_half`` (all of it with ``train.select_on=final_epoch``); the last
``train.select_frac`` of it selects ``best.pth`` by AP50; ``data.val_half`` is read once, after
training, for the AP written to metrics.json.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

from finetrack.fairmot.dataset import FairMOTDataset, fairmot_records
from finetrack.data.det_dataset import DetRecord, mot_records
from finetrack.data.identities import GTFilter, IdentityTable
from finetrack.utils.checkpoint import BEST, LAST, load_checkpoint
from finetrack.engine.context import RunContext, resolve_data_root, run_context
from finetrack.eval.coco_ap import evaluate_detector, format_ap
from finetrack.fairmot.config import FairMOTConfig
from finetrack.fairmot.trainer import FairMOTTrainer
from finetrack.fairmot.loss import FairMOTLoss
from finetrack.fairmot.model import FairMOT, num_parameters
from finetrack.utils.io import atomic_write_text

logger = logging.getLogger(__name__)
METRICS_FILE = "metrics.json"


def _split_dir(cfg: FairMOTConfig) -> Path:
    return resolve_data_root(cfg.data.root) / cfg.data.split


def _tail(cfg: FairMOTConfig) -> float:
    return cfg.train.select_frac if cfg.train.select_on == "train_tail" else 0.0


def train_records(cfg: FairMOTConfig):
    """``(records, identities)`` of the training frames (the head when selecting on the tail)."""
    d = cfg.data
    portion = "head" if _tail(cfg) else "whole"
    return fairmot_records(_split_dir(cfg), d.seqs, d.train_half, GTFilter.of(cfg.data),
                           d.mot17_detector, d.frame_step, portion, _tail(cfg))


def selection_records(cfg: FairMOTConfig) -> List[DetRecord]:
    """The selection slice (tail of every training sequence's half); [] for final_epoch."""
    if not _tail(cfg):
        return []
    d = cfg.data
    return mot_records(_split_dir(cfg), d.seqs, d.train_half, GTFilter.of(cfg.data), d.mot17_detector,
                       cfg.eval.frame_step, portion="tail", tail_frac=_tail(cfg))


def val_records(cfg: FairMOTConfig) -> List[DetRecord]:
    """Every frame of ``data.val_half`` (the reported split); [] when it is null."""
    d = cfg.data
    if d.val_half is None:
        return []
    return mot_records(_split_dir(cfg), d.seqs, d.val_half, GTFilter.of(cfg.data), d.mot17_detector)


def build_model(cfg: FairMOTConfig) -> FairMOT:
    m = cfg.model
    model = FairMOT(backbone=m.backbone, head_conv=m.head_conv, emb_dim=m.emb_dim,
                    neck_channels=m.neck_channels, deformable=m.deformable,
                    input_size=tuple(m.input_size), conf_thresh=m.conf_thresh,
                    max_objs=m.max_objs)
    if m.init_ckpt:
        state = load_checkpoint(resolve_data_root(m.init_ckpt))["model"]
        missing, unexpected = model.load_state_dict(state, strict=False)
        logger.info("initialised from %s (%d missing, %d unexpected keys)", m.init_ckpt,
                    len(missing), len(unexpected))
    return model


def build_dataset(cfg: FairMOTConfig, records) -> FairMOTDataset:
    a = cfg.aug
    return FairMOTDataset(records, tuple(cfg.model.input_size), augment=a.enabled,
                          degrees=a.degrees, translate=a.translate, scale=tuple(a.scale),
                          shear=a.shear, hsv=a.hsv, flip=a.flip, max_objs=cfg.data.max_objs,
                          seed=cfg.seed)


def ap_of(model: FairMOT, records: List[DetRecord], device: torch.device, conf_thresh: float,
          batch_size: int = 4, progress: bool = False) -> Dict[str, float]:
    """AP50 / AP of the heads on ``records`` (the project's pycocotools AP), with the centre
    threshold lowered to ``conf_thresh`` for the evaluation (restored afterwards)."""
    old = model.conf_thresh
    model.conf_thresh = float(conf_thresh)
    try:
        return evaluate_detector(model, records, device, batch_size, progress=progress)
    finally:
        model.conf_thresh = old


def train_from_config(cfg: FairMOTConfig) -> Dict[str, Any]:
    """Train as configured; returns the metrics written to ``<run_dir>/metrics.json``."""
    with run_context(cfg) as run:
        return _train(cfg, run)


def _train(cfg: FairMOTConfig, run: RunContext) -> Dict[str, Any]:
    device = run.device
    records, identities = train_records(cfg)
    dataset = build_dataset(cfg, records)
    model = build_model(cfg)
    logger.info("FairMOT %s: %.2f M parameters, input %s, %d training identities",
                cfg.model.backbone, num_parameters(model), tuple(cfg.model.input_size),
                len(identities))
    lc = cfg.loss
    criterion = FairMOTLoss(len(identities), cfg.model.emb_dim, lc.hm_weight, lc.wh_weight,
                            lc.off_weight, lc.id_weight, lc.uncertainty)
    select = selection_records(cfg)
    evaluate = None
    if select:
        def evaluate(m):  # noqa: E306 - the selection slice, never data.val_half
            return ap_of(m, select, device, cfg.eval.conf_thresh, cfg.eval.batch_size)
    t = cfg.train
    trainer = FairMOTTrainer(
        model, criterion, dataset, run.out_dir, epochs=t.epochs, batch_size=t.batch_size,
        lr=t.lr, optimizer=t.optimizer, lr_steps=t.lr_steps, lr_gamma=t.lr_gamma,
        weight_decay=t.weight_decay, num_workers=cfg.data.num_workers, seed=cfg.seed,
        evaluate=evaluate, device=device, best_metric=t.best_metric, amp=t.amp,
        log_every=t.log_every, eval_every=t.eval_every, max_iters_per_epoch=t.max_iters_per_epoch,
        max_train_seconds=t.max_train_seconds,
        extra_state={**run.checkpoint_info(), "identities": identities.to_json()},
        writer=run.writer, is_main=run.is_main, progress=t.progress,
    )
    if run.resume_from is not None:
        trainer.resume(run.resume_from, config=run.config)
    run.log_resume(run.resume_from is not None)
    result = trainer.train()
    best = result["best"]
    run_dir = run.out_dir
    metrics: Dict[str, Any] = {
        "finished": True,
        "selected_on": t.selected_on,
        "epoch": best["epoch"],
        "selection": {"on": t.selected_on, "metric": t.best_metric, "epoch": best["epoch"],
                      "AP50": best.get("AP50"), "AP": best.get("AP"), "images": len(select)},
        "AP50": None, "AP": None,
        "eval": "none (train.final_full_eval=false or data.val_half=null)",
        "train_seconds": round(result["train_seconds"], 1),
        "epochs_done": result["epochs_done"],
        "identities": len(identities),
        "train_images": len(dataset),
    }
    val = val_records(cfg) if t.final_full_eval else []
    if val:
        full = evaluate_checkpoint(run_dir / BEST, val, device, cfg.eval.conf_thresh,
                                   cfg.eval.batch_size)
        metrics.update({"AP50": full["AP50"], "AP": full["AP"], "AP75": full["AP75"],
                        "eval": f"data.val_half={cfg.data.val_half}, every frame, "
                                f"selected checkpoint ({t.selected_on})",
                        "eval_images": full["num_images"]})
        final = full
        if best["epoch"] != result["epochs_done"]:
            final = evaluate_checkpoint(run_dir / LAST, val, device, cfg.eval.conf_thresh,
                                        cfg.eval.batch_size)
        metrics["final"] = {"epoch": result["epochs_done"],
                            **{k: final[k] for k in ("AP50", "AP", "AP75")}}
    metrics["history"] = result["history"]
    atomic_write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    return metrics


def evaluate_checkpoint(ckpt: Path, records: List[DetRecord], device: torch.device,
                        conf_thresh: float = 0.01, batch_size: int = 4,
                        progress: bool = False) -> Dict[str, float]:
    """AP of a FairMOT checkpoint's heads on ``records``."""
    model = FairMOT.from_checkpoint(ckpt).to(device).eval()
    metrics = ap_of(model, records, device, conf_thresh, batch_size, progress)
    logger.info("%s", format_ap(metrics, str(ckpt)))
    return metrics


def identities_of(ckpt_obj: Dict[str, Any]) -> Optional[IdentityTable]:
    ids = ckpt_obj.get("identities")
    return IdentityTable.from_json(ids) if ids is not None else None
