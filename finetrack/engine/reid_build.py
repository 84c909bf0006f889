"""Config -> datasets, model, loss, optimizer, trainer. The only engine module that reads a Config.

``train_from_config(cfg)`` is what ``tools/train_reid.py`` calls; ``evaluate_checkpoint`` is what
``tools/eval_reid.py`` (and ``tools/eval.py --reid``) call.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from finetrack.config import Config
from finetrack.configlib import ConfigError
from finetrack.data.identities import GTFilter, IdentityTable
from finetrack.data.mot import list_sequences
from finetrack.data.reid_dataset import ReIDFrameDataset, collate_frames
from finetrack.data.samplers import build_batch_sampler
from finetrack.utils.checkpoint import load_checkpoint
from finetrack.engine.context import resolve_data_root, resolve_device, run_context
from finetrack.engine.evaluator import evaluate_gt_reid
from finetrack.engine.trainer import ReIDTrainer
from finetrack.eval.reid_metrics import ReIDResult, evaluate_reid, summary_line

logger = logging.getLogger(__name__)

#: ``data.split`` -> (half of the training sequences, half of the validation sequences)
SPLIT_HALVES: Dict[str, Tuple[str, str]] = {"half": ("train", "val"), "full": ("all", "all")}


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def model_kwargs(cfg: Config, num_classes: int) -> Dict[str, Any]:
    """:func:`finetrack.models.build.build_model` keywords from ``cfg.model``."""
    m = cfg.model
    if getattr(m, "backbone", "yolox") != "yolox":  # a backbone without detection head
        detector: Dict[str, Any] = {"backbone": m.backbone, "input_size": tuple(m.input_size)}
    else:
        detector = {
            "variant": m.detector,
            "input_size": tuple(m.input_size),
            "conf_thresh": m.conf_thresh,
            "nms_thresh": m.nms_thresh,
            "max_det": m.max_det,
            "feature_levels": tuple(m.feature_levels),
        }
    return {
        "detector": detector,
        "reid_head": {
            "roi_sizes": tuple(tuple(s) for s in m.roi_sizes),
            "neck": m.neck,
            "pooling": m.pooling,
            "channels": m.channels,
            "num_parts": m.num_parts,
            "global_dim": m.global_dim,
            "part_dim": m.part_dim,
            "num_classes": int(num_classes),
            "per_part_fc": m.per_part_fc,
        },
        "freeze_detector": m.freeze_detector,
        "detector_checkpoint": m.det_ckpt,
    }


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def frame_input_size(cfg: Config) -> Tuple[int, int]:
    """The network input (H, W) the frame datasets letterbox to: ``model.input_size``. A crop
    network's config (:class:`finetrack.crop_reid.config.CropReIDConfig`) has none: its crops come
    from the original frames, so the frame datasets' letterboxed images are never read."""
    size = getattr(cfg.model, "input_size", None) or (608, 1088)
    return int(size[0]), int(size[1])


def _seq_dirs(cfg: Config, split_dir: str, names: Optional[List[str]]) -> List[Path]:
    root = resolve_data_root(cfg.data.root)
    return list_sequences(root / split_dir, names, mot17_detector=cfg.data.mot17_detector)


def build_reid_datasets(
    cfg: Config, identities: Optional[IdentityTable] = None, need_train: bool = True
) -> Tuple[Optional[ReIDFrameDataset], ReIDFrameDataset]:
    """(train dataset or None, validation dataset) of ``cfg.data`` (SPEC sections 3, 4, 6).

    With ``reid_eval.select_on=train_tail`` the training dataset is the head of the training
    half: its last ``reid_eval.select_frac`` frames per sequence are the selection slice
    (:func:`build_selection_dataset`) and are not trained on. ``reid_eval.open_set_frac`` of
    the identities are held out of training (open-set queries).
    """
    d = cfg.data
    if d.split not in SPLIT_HALVES:
        raise ValueError(f"data.split must be one of {sorted(SPLIT_HALVES)}, got {d.split!r}")
    train_half, val_half = SPLIT_HALVES[d.split]
    gt_filter = GTFilter.of(d)
    size = frame_input_size(cfg)
    train_dirs = _seq_dirs(cfg, d.train_split, d.train_seqs)
    val_names = d.val_seqs if d.val_seqs is not None else d.train_seqs
    val_dirs = _seq_dirs(cfg, d.val_split, val_names)
    if d.split == "full" and {p.resolve() for p in train_dirs} & {p.resolve() for p in val_dirs}:
        logger.warning(
            "data.split=full with the same sequences for training and validation: "
            "validation frames were seen in training"
        )
    train = None
    if need_train:
        from finetrack.data.reid_augment import AugmentParams

        e = cfg.reid_eval
        train = ReIDFrameDataset(
            train_dirs,
            train_half,
            gt_filter,
            identities,
            input_size=size,
            portion="head" if e.select_on == "train_tail" else "whole",
            tail_frac=e.select_frac if e.select_on == "train_tail" else 0.0,
            holdout_frac=e.open_set_frac,
            augment=AugmentParams(**dataclasses.asdict(d.augment)),
        )
    val = ReIDFrameDataset(
        val_dirs,
        val_half,
        gt_filter,
        identities=IdentityTable([]),
        input_size=size,
        max_frames=cfg.reid_eval.max_frames,
    )
    return train, val


def build_selection_dataset(cfg: Config) -> Optional[ReIDFrameDataset]:
    """The model-selection slice: the last ``reid_eval.select_frac`` frames of every training
    sequence's training half (None with ``reid_eval.select_on=final_epoch``).

    Identities held out by ``reid_eval.open_set_frac`` are dropped here too (they stay unseen).
    """
    d, e = cfg.data, cfg.reid_eval
    if e.select_on == "final_epoch":
        return None
    train_half, _ = SPLIT_HALVES[d.split]
    gt_filter = GTFilter.of(d)
    return ReIDFrameDataset(
        _seq_dirs(cfg, d.train_split, d.train_seqs),
        train_half,
        gt_filter,
        identities=IdentityTable([]),
        input_size=frame_input_size(cfg),
        max_frames=e.max_frames,
        portion="tail",
        tail_frac=e.select_frac,
        holdout_frac=e.open_set_frac,
    )


def build_training_datasets(
    cfg: Config,
) -> Tuple[ReIDFrameDataset, ReIDFrameDataset, Optional[ReIDFrameDataset]]:
    """(training split, evaluation split, selection slice or None) of a training run; a training
    split without any GT box left is a ValueError."""
    train_set, val_set = build_reid_datasets(cfg)
    if len(train_set) == 0 or train_set.num_identities == 0:
        raise ValueError("the training split has no GT box left after filtering")
    return train_set, val_set, build_selection_dataset(cfg)


def exclude_frames(dataset: ReIDFrameDataset, seconds: float) -> Dict[int, int]:
    """{sequence index: T}: the +-T frame window of protocol v2 (``seconds`` x frame rate)."""
    return {i: int(round(seconds * fps)) for i, fps in dataset.frame_rates.items()}


def protocol_counts(
    dataset: ReIDFrameDataset, query_every: int, window: Dict[int, int]
) -> ReIDResult:
    """The protocol run on GT alone (constant embeddings): how many queries can be scored."""
    seqs, frames, tids = [], [], []
    for i in range(len(dataset)):
        s, f = dataset.frame_ref(i)
        t = dataset.targets(i)["track_ids"]
        seqs += [s] * len(t)
        frames += [f] * len(t)
        tids += list(t)
    return evaluate_reid(
        np.zeros((len(tids), 1)),
        np.asarray(seqs, np.int64),
        np.asarray(frames, np.int64),
        np.asarray(tids, np.int64),
        first_frames=dataset.first_frames,
        query_every=query_every,
        exclude_frames=window,
    )


def seen_identities(dataset: ReIDFrameDataset, identities: IdentityTable) -> List[Tuple[int, int]]:
    """(sequence index in ``dataset``, track id) of the identities the model was trained on."""
    index = {name: i for i, name in enumerate(dataset.seq_names)}
    return [(index[s], t) for s, t in identities.keys if s in index]


def build_val_loader(cfg: Config, val: ReIDFrameDataset) -> DataLoader:
    return DataLoader(
        val,
        batch_size=cfg.train.batch_size,
        shuffle=False,
        collate_fn=collate_frames,
        num_workers=cfg.data.num_workers,
    )


def make_evaluate_fn(
    cfg: Config,
    val: ReIDFrameDataset,
    device: torch.device,
    identities: Optional[IdentityTable] = None,
):
    """``model -> ReIDResult`` on a dataset (SPEC section 4: protocol v2 unless
    ``reid_eval.exclude_seconds=0``).

    Args:
        identities: the training identities; given, the result carries the open-set variant
            (queries whose identity is not among them).
    """
    loader = build_val_loader(cfg, val)
    window = exclude_frames(val, cfg.reid_eval.exclude_seconds)
    seen = None if identities is None else seen_identities(val, identities)

    def _evaluate(model: torch.nn.Module) -> ReIDResult:
        return evaluate_gt_reid(
            model,
            loader,
            device,
            first_frames=val.first_frames,
            query_every=cfg.reid_eval.query_every,
            amp=cfg.train.amp,
            exclude_frames=window,
            seen_identities=seen,
            progress=cfg.train.progress,
        )

    return _evaluate


def protocol_info(cfg: Config, val: ReIDFrameDataset) -> Dict[str, Any]:
    """metrics.json entries naming the evaluated split and the Re-ID protocol."""
    e = cfg.reid_eval
    _, val_half = SPLIT_HALVES[cfg.data.split]
    return {
        "evaluated_on": f"{val_half}_half" if val_half != "all" else "all_frames",
        "protocol": {
            "version": e.protocol,
            "exclude_seconds": e.exclude_seconds,
            "exclude_frames": {
                val.seq_names[i]: t for i, t in exclude_frames(val, e.exclude_seconds).items()
            },
            "query_every": e.query_every,
            "open_set_frac": e.open_set_frac,
            "closed_set": "best/final rank1, mAP: all queries (identities shared with training)",
            "open_set": "best/final open_set: queries whose identity was never trained on",
        },
    }


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def init_from_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Start from a FineTrack checkpoint's weights: every tensor whose name and shape match.

    The identity classifiers (one per training identity) differ in shape between data sets and
    are left at their fresh initialisation; everything else must be present, else an error.
    """
    state = load_checkpoint(path).get("model")
    if state is None:
        raise KeyError(f"{path} holds no 'model' weights: not a FineTrack checkpoint")
    own = model.state_dict()
    take = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in take and "classifier" not in k]
    if missing:
        raise ValueError(f"{path} does not fit this model (model.* differs): {len(missing)} tensors "
                         f"missing or of another shape, e.g. {missing[:3]}")
    model.load_state_dict(take, strict=False)
    logger.info("initialised from %s: %d tensors (classifiers fresh)", path, len(take))


def train_from_config(cfg: Config, on_epoch_end=None) -> Dict[str, Any]:
    """Train the Re-ID head (and the backbone when the detector is not frozen) from a config.

    Writes into ``cfg.run_dir``: config.yaml, train.log, TensorBoard events (tb/), last.pth,
    best.pth and metrics.json. Resumes from ``last.pth`` when ``train.resume`` or ``resume``.

    Returns:
        The metrics.json content (main rank; ``{}`` on other ranks).
    """
    with run_context(cfg) as run:
        return _train(cfg, run, on_epoch_end)


def _train(cfg: Config, run, on_epoch_end) -> Dict[str, Any]:
    from finetrack.models.build import build_model
    from finetrack.models.detector import DETECTOR_STATE_KEY

    device, is_main, world_size = run.device, run.is_main, run.world_size
    train_set, val_set, select_set = build_training_datasets(cfg)
    if select_set is not None:
        window = exclude_frames(select_set, cfg.reid_eval.exclude_seconds)
        counts = protocol_counts(select_set, cfg.reid_eval.query_every, window)
        if counts.num_queries == 0:
            raise ConfigError(
                f"reid_eval.select_frac={cfg.reid_eval.select_frac}: the selection slice "
                f"({len(select_set)} frames) has no query with a positive in its gallery "
                f"(query_every={cfg.reid_eval.query_every}, +-{window} frames excluded); "
                "raise reid_eval.select_frac or use reid_eval.select_on=final_epoch"
            )
        logger.info(
            "selection slice (%s): %d frames, %d boxes, %d scorable queries; evaluation "
            "split read only after the last epoch",
            cfg.reid_eval.selected_on,
            len(select_set),
            select_set.num_boxes,
            counts.num_queries,
        )
    if train_set.heldout_identities:
        logger.info(
            "open set: %d identities held out of training (reid_eval.open_set_frac=%g)",
            len(train_set.heldout_identities),
            cfg.reid_eval.open_set_frac,
        )
    kwargs = model_kwargs(cfg, train_set.num_identities)
    model = build_model(**kwargs)
    if cfg.model.init_ckpt is not None:
        init_from_checkpoint(model, cfg.model.init_ckpt)
    if cfg.model.backbone != "yolox":
        logger.info("backbone %s (pretrained, %s); no detection head",
                    cfg.model.backbone, "frozen" if cfg.model.freeze_detector else "fine-tuned")
    elif cfg.model.det_ckpt is None:
        if cfg.model.freeze_detector:
            logger.warning(
                "no detector checkpoint (model.det_ckpt) and model.freeze_detector="
                "true: the Re-ID head trains on a FROZEN RANDOM backbone"
            )
        else:
            logger.info(
                "no detector checkpoint: training the backbone (%s, random init) "
                "together with the Re-ID head",
                cfg.model.detector,
            )
    elif not cfg.model.freeze_detector:
        logger.info("fine-tuning the detector backbone together with the Re-ID head")
    else:
        logger.info("detector frozen (%s from %s)", cfg.model.detector, cfg.model.det_ckpt)
    model.to(device)
    train_model: torch.nn.Module = model
    if world_size > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )
    params = [p for p in model.parameters() if p.requires_grad]
    n_params = sum(p.numel() for p in params)
    logger.info(
        "model: %s backbone, neck %s, pooling %s, %d identities, %.2fM trainable "
        "parameters, device %s, world size %d",
        cfg.model.detector if cfg.model.backbone == "yolox" else cfg.model.backbone,
        cfg.model.neck,
        cfg.model.pooling,
        train_set.num_identities,
        n_params / 1e6,
        device,
        world_size,
    )
    sampler = build_batch_sampler(
        cfg.data.sampler,
        train_set.seq_lengths,
        batch_size=cfg.train.batch_size,
        group_size=cfg.data.group_size,
        seed=cfg.seed,
        rank=run.rank,
        world_size=world_size,
    )
    loader = DataLoader(
        train_set,
        batch_sampler=sampler,
        collate_fn=collate_frames,
        num_workers=cfg.data.num_workers,
        pin_memory=device.type == "cuda",
    )
    return fit_reid(
        ReIDTrainer,
        cfg,
        run,
        train_model,
        params,
        loader,
        sampler,
        train_set,
        val_set,
        evaluate=(
            make_evaluate_fn(cfg, select_set, device)
            if is_main and select_set is not None
            else None
        ),
        report=make_evaluate_fn(cfg, val_set, device, train_set.identities) if is_main else None,
        extra_state={
            # whether the YOLOX head in this checkpoint can detect (tracking refuses it else)
            DETECTOR_STATE_KEY: {
                "head_trained": cfg.model.det_ckpt is not None,
                "checkpoint": cfg.model.det_ckpt,
                "frozen": bool(cfg.model.freeze_detector),
            },
        },
        on_epoch_end=on_epoch_end,
        is_main=is_main,
        unit="boxes",
    )


def fit_reid(
    trainer_cls,
    cfg: Config,
    run,
    model: torch.nn.Module,
    params: List[torch.nn.Parameter],
    loader: DataLoader,
    sampler,
    train_set: ReIDFrameDataset,
    val_set: ReIDFrameDataset,
    *,
    evaluate,
    report,
    extra_state: Dict[str, Any],
    on_epoch_end=None,
    is_main: bool = True,
    unit: str = "boxes",
) -> Dict[str, Any]:
    """The training run shared by the FineTrack head and the crop network: Adam + MultiStepLR
    on ``params``, the FineTrack loss, a ``trainer_cls`` (:class:`ReIDTrainer` or a subclass)
    over ``loader``/``sampler``, resume from ``run.resume_from``, ``trainer.train()``.

    ``evaluate``/``report``: the selection and evaluation fns; ``extra_state``: what the
    checkpoint keeps besides ``run.checkpoint_info()`` and the training identities; ``unit``:
    what the log calls one box ("boxes", "crops")."""
    from finetrack.losses import FineTrackLoss

    optimizer = torch.optim.Adam(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[cfg.train.lr_step_epoch], gamma=cfg.train.lr_gamma
    )
    criterion = FineTrackLoss(cfg.loss.alpha, cfg.loss.beta, cfg.loss.gamma,
                              mask_div=cfg.loss.mask_div, mask_overlap=cfg.loss.mask_overlap)
    trainer = trainer_cls(
        model,
        criterion,
        optimizer,
        scheduler,
        loader,
        sampler,
        run.out_dir,
        epochs=cfg.train.epochs,
        device=run.device,
        evaluate=evaluate,
        report=report,
        selected_on=cfg.reid_eval.selected_on,
        report_info=protocol_info(cfg, val_set),
        amp=cfg.train.amp,
        log_every=cfg.train.log_every,
        eval_every=cfg.train.eval_every,
        max_iters_per_epoch=cfg.train.max_iters_per_epoch,
        best_metric=cfg.train.best_metric,
        extra_state={
            **run.checkpoint_info(),
            "identities": train_set.identities.to_json(),
            **extra_state,
        },
        writer=run.writer,
        is_main=is_main,
        on_epoch_end=on_epoch_end,
        progress=cfg.train.progress,
        val_name=Path(cfg.data.root).name or "reid",
    )
    if run.resume_from is not None:
        trainer.resume(run.resume_from, config=run.config)
    run.log_resume(run.resume_from is not None)
    logger.info(
        "training %d epoch(s) from epoch %d: %d frames / %d {0}, %d batches per "
        "epoch (sampler %s); evaluation split %d frames / %d {0} (read after the last epoch)"
        .format(unit),
        cfg.train.epochs,
        trainer.start_epoch + 1,
        len(train_set),
        train_set.num_boxes,
        len(sampler),
        cfg.data.sampler,
        len(val_set),
        val_set.num_boxes,
    )
    t0 = time.perf_counter()
    metrics = trainer.train()
    if is_main:
        logger.info(
            "finished in %.1fs: %s",
            time.perf_counter() - t0,
            {k: metrics.get(k) for k in ("best", "final", "train_seconds")},
        )
    return metrics


# --------------------------------------------------------------------------------------------
# evaluation of a checkpoint
# --------------------------------------------------------------------------------------------
def evaluate_checkpoint(
    cfg: Config, ckpt_path: Path, obj: Optional[Dict[str, Any]] = None
) -> ReIDResult:
    """Rank-1/mAP of a checkpoint on ``cfg``'s validation split (GT boxes, SPEC section 4).

    The model is rebuilt from the checkpoint alone (``model_args``); ``cfg`` gives the data,
    the input size and the protocol. The checkpoint's training identities give the open-set
    variant (``result.open_set``). ``obj``: the file's content when the caller has read it
    (the file is read once).
    """
    from finetrack.models.build import model_from_checkpoint

    device = resolve_device(cfg.train.device)
    ckpt = load_checkpoint(ckpt_path) if obj is None else obj
    if "model_args" not in ckpt:
        raise KeyError(f"{ckpt_path} has no model_args: not a FineTrack Re-ID checkpoint")
    _, val = build_reid_datasets(cfg, need_train=False)  # bad data fails before the model loads
    model = model_from_checkpoint(ckpt_path, obj=ckpt).to(device)
    ckpt_size = tuple(ckpt["model_args"].get("detector", {}).get("input_size", ()))
    if ckpt_size and tuple(cfg.model.input_size) != ckpt_size:
        logger.warning(
            "config input_size %s differs from the checkpoint's %s: using the config's",
            tuple(cfg.model.input_size),
            ckpt_size,
        )
    identities = IdentityTable.from_json(ckpt["identities"]) if "identities" in ckpt else None
    result = make_evaluate_fn(cfg, val, device, identities)(model)
    logger.info("%s on %s: %s", ckpt_path, [s.name for s in val.sequences], summary_line(result))
    return result
