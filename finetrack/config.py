"""Configuration: dataclass defaults -> YAML (at most one ``_base_`` level) -> ``key=value`` overrides.

Unknown keys and wrong types are errors (the message names the key and, for YAML, the file). The
resolved config is frozen (:func:`freeze` returns an immutable copy) and saved next to each run's
output with :func:`save_config`, together with the git revision.

Only ``tools/`` and the engine see a config; library classes take plain keyword arguments.

Example::

    cfg = load_config(Config, "configs/synthetic_reid.yaml", ["model.neck=fpn", "train.epochs=2"])
"""
from __future__ import annotations

import dataclasses
import subprocess
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Type, TypeVar, Union

import yaml

from finetrack.utils.io import atomic_write_text

T = TypeVar("T")


#: the YOLOX variants of finetrack.models.detector, as config values
DetectorName = Literal["yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x"]


class ConfigError(ValueError):
    """Unknown key, wrong type or malformed override."""


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
class RobustConfig:
    """``tracker.mode=robust``: appearance that can only help (finetrack/tracker/appearance.py)."""

    agree_llr: float = 3.0  #: log-likelihood ratio for "same person" (recovery of non-overlapping pairs)
    bonus_weight: float = 0.1  #: first stage: overlapping pairs' cost - bonus_weight * clip(llr)
    bonus_ref_fps: float = 7.0  #: >0: bonus x min(1, bonus_ref_fps / frame rate) (IoU says more at high fps)
    add_llr: float = 4.0  #: >0: a pair IoU alone rejects (cost > match_thresh) gets the bonus only with llr > add_llr (appearance sure on its own); 0: off
    bonus_clean_only: bool = True  #: the bonus only for detections overlapping no other detection
    unlock_llr: float = 0.0  #: byte's first-stage pairs are kept unless llr < -unlock_llr (then the bonus decides)
    restore_dropped: bool = True  #: a byte pair left with both partners unmatched is restored (unless vetoed)
    bonus_clip: float = 4.0  #: llr clip of that bonus (max cost change bonus_weight * bonus_clip)
    bonus_margin: float = 0.0  #: >0: each pair's bonus x min(1, mean(row, column llr margin over the runner-up) / bonus_margin) (Deep OC-SORT); 0: off
    veto_llr: float = 4.0  #: llr below -veto_llr contradicts an IoU match (vetoed only for a swap)
    margin_llr: float = 1.0  #: a recovery beats its row/column competitors by this llr
    occlusion_iou: float = 0.3  #: detections overlapping another above this are occluded
    pos_iou: float = 0.6  #: IoU of an unambiguous match used as a calibration positive
    min_separation: float = 0.0  #: calibration d' (vs the hardest other detection) below which appearance is off (= byte)
    min_samples: int = 30  #: calibration samples per class before appearance is used
    window: int = 400  #: calibration samples kept per class
    min_track_feats: int = 2  #: clean features a track needs before appearance speaks for it
    gate_radius: float = 0.5  #: motion gate radius, box heights
    gate_speed: float = 1.0  #: motion gate growth, box heights per second since the last match
    max_scale_change: float = 1.5  #: motion gate on the height ratio
    dynamic_ema: bool = True  #: EMA step scaled by the detection score (Deep OC-SORT)
    recovery: bool = True  #: appearance recovery stage (off: appearance only vetoes swaps)
    identity_lag_s: float = 1.0  #: lag (s) of the identity calibration behind the reliability gate (0: no gate)
    min_identity_separation: float = 1.2  #: d' at that lag below which appearance is off (= byte)
    identity_z: float = 2.0  #: that gate tests d' - identity_z * se(d') (a lower confidence bound)
    identity_ref_fps: float = 30.0  #: >0: that gate's d' x min(1, frame rate / identity_ref_fps) (IoU weaker at low fps; 0: fixed)
    identity_llr: bool = True  #: decisions read the identity calibration's llr (feature of identity_lag_s ago vs now), not the next-frame one
    #: tracker.appearance=auto (Re-ID and colour cues): select (the decisions read the cue whose
    #: identity calibration separates people best on this sequence, label-free) | sum (llrs added)
    cue_rule: Literal["select", "sum"] = "select"
    center: bool = True  #: subtract the sequence's running mean embedding (unseen-scene BN shift)
    center_momentum: float = 0.02  #: weight of a new frame in that running mean


@dataclass
class TrackerConfig:
    """Association (SPEC section 5)."""

    mode: Literal["byte", "finetrack", "jde", "robust"] = "finetrack"  #: byte | finetrack | jde | robust
    track_thresh: float = 0.6
    low_thresh: float = 0.1
    new_track_thresh: Optional[float] = None  #: None = track_thresh + 0.1
    match_thresh: float = 0.8  #: first stage (byte); finetrack uses fused_match_thresh
    fused_match_thresh: float = 0.5
    finetrack_iou_stage: bool = False  #: finetrack: ByteTrack's IoU stage for the high dets the fused stage leaves (not in the paper)
    jde_match_thresh: float = 0.4
    second_match_thresh: float = 0.5
    unconfirmed_match_thresh: float = 0.7
    track_buffer: int = 30
    min_box_area: float = 100.0
    max_aspect_ratio: float = 1.6
    ema_alpha: float = 0.9
    mot20: bool = False  #: ByteTrack's mot20 switch: no score fusion in IoU costs
    duplicate_thresh: float = 0.15  #: tracked/lost pairs closer than this IoU distance are duplicates
    iou_pixel_offset: float = 0.0  #: 1 reproduces official ByteTrack's cython_bbox (+1 px) IoU
    #: post-processing: none | linear (ByteTrack's dti) | gsi (StrongSORT: linear, then Gaussian
    #: smoothing); true/false (older configs) mean linear/none
    interpolate: Union[bool, Literal["none", "linear", "gsi"]] = "none"
    interp_max_gap: int = 20  #: fill gaps with frame difference < this (StrongSORT's interval)
    interp_min_track_len: int = 25  #: only tracks with more rows than this are interpolated
    robust: RobustConfig = field(default_factory=RobustConfig)  #: settings of mode=robust
    gsi_tau: float = 10.0  #: GSI smoothing: RBF length scale tau * log(tau^3 / track length)
    cmc: Literal["none", "sof", "ecc", "orb"] = "none"  #: camera motion compensation method
    cmc_downscale: float = 2.0  #: CMC estimates on frames resized by 1 / cmc_downscale
    #: false: the Re-ID head embeds only the boxes this mode's association reads (score above
    #: Tracker.embedding_floor; the other rows are zeros: same results, fewer ROIs); true: every box
    embed_all_boxes: bool = False
    #: what the embeddings are (finetrack/inference/color.py): reid (the Re-ID head's) | color
    #: (an HSV histogram of the upper and lower body; no Re-ID checkpoint needed) | reid+color
    #: (one cosine, colour share color_weight) | auto (robust: both, as two cues calibrated on the
    #: sequence itself; tracker.robust.cue_rule says which the decisions read) | null (the mode's
    #: own: auto for robust, reid for finetrack and jde)
    appearance: Optional[Literal["reid", "color", "reid+color", "auto"]] = None
    color_weight: float = 0.5  #: reid+color: the colour share w of the cosine, (1 - w) cos_reid + w cos_color

    def __post_init__(self) -> None:
        if isinstance(self.interpolate, bool):
            self.interpolate = "linear" if self.interpolate else "none"
        if self.cmc_downscale < 1:
            raise ConfigError(f"tracker.cmc_downscale: must be >= 1, got {self.cmc_downscale}")
        if self.gsi_tau <= 0:
            raise ConfigError(f"tracker.gsi_tau: must be > 0, got {self.gsi_tau}")


@dataclass
class Config:
    """Top-level config of every tool."""

    name: str = "finetrack"  #: run name: outputs/<name>/ unless out_dir is set
    out_dir: Optional[str] = None
    seed: int = 0
    resume: bool = False  #: same as train.resume: continue from <run dir>/last.pth
    overwrite: bool = False  #: replace a run folder that already holds a run (else refused)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    reid_eval: ReIDEvalConfig = field(default_factory=ReIDEvalConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else Path("outputs") / self.name


# --------------------------------------------------------------------------------------------
# value ranges (checked when a config is built; NaN is never a valid number)
# --------------------------------------------------------------------------------------------
#: ``[0, 1]`` (thresholds, probabilities, EMA factors)
UNIT = "unit"
#: ``> 0`` (rates, sizes, counts that must not be zero)
POSITIVE = "positive"
#: ``>= 0`` (buffers, decays, offsets)
NON_NEGATIVE = "non_negative"

#: dataclass -> {field: UNIT | POSITIVE | NON_NEGATIVE}; lists are checked item by item, None
#: (where the field allows it) is always accepted. Other modules register their schemas here.
RANGES: Dict[type, Dict[str, str]] = {
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
                    "match_thresh": UNIT, "fused_match_thresh": UNIT, "jde_match_thresh": UNIT,
                    "second_match_thresh": UNIT, "unconfirmed_match_thresh": UNIT,
                    "track_buffer": NON_NEGATIVE, "min_box_area": NON_NEGATIVE,
                    "max_aspect_ratio": POSITIVE, "ema_alpha": UNIT, "duplicate_thresh": UNIT,
                    "iou_pixel_offset": NON_NEGATIVE, "interp_max_gap": POSITIVE,
                    "interp_min_track_len": NON_NEGATIVE, "color_weight": UNIT},
    RobustConfig: {"agree_llr": NON_NEGATIVE, "veto_llr": NON_NEGATIVE, "margin_llr": NON_NEGATIVE,
                   "bonus_weight": NON_NEGATIVE, "bonus_clip": NON_NEGATIVE,
                   "bonus_ref_fps": NON_NEGATIVE, "bonus_margin": NON_NEGATIVE, "occlusion_iou": UNIT, "pos_iou": UNIT,
                   "min_samples": POSITIVE, "window": POSITIVE, "min_track_feats": NON_NEGATIVE,
                   "gate_radius": NON_NEGATIVE, "gate_speed": NON_NEGATIVE,
                   "max_scale_change": POSITIVE, "center_momentum": UNIT,
                   "identity_lag_s": NON_NEGATIVE, "identity_z": NON_NEGATIVE,
                   "identity_ref_fps": NON_NEGATIVE},
    AugmentConfig: {"flip": UNIT, "color": UNIT, "erase": UNIT, "box_jitter": NON_NEGATIVE},
}


def _check_range(value: Any, kind: str, key: str) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_range(v, kind, f"{key}[{i}]")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    ok = {UNIT: 0 <= value <= 1, POSITIVE: value > 0, NON_NEGATIVE: value >= 0}[kind]
    if not ok:
        want = {UNIT: "in [0, 1]", POSITIVE: "> 0", NON_NEGATIVE: ">= 0"}[kind]
        raise ConfigError(f"{key}: {value!r} is out of range (must be {want})")


# --------------------------------------------------------------------------------------------
# machinery
# --------------------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return f"one of {list(typing.get_args(tp))}"
    if origin is Union:
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert int->float; raise ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if isinstance(value, str) and value in args:
            return value
        raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
    if origin is Union:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _coerce(value, options[0], key)
        for a in options:
            try:
                return _coerce(value, a, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: {value!r} is not {_type_name(tp)}")
    if origin in (list, List, tuple, Tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        out: Optional[float] = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads '1e-3' as a string
            try:
                out = float(value)
            except ValueError:
                pass
        if out is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if out != out:  # NaN passes every comparison: never a valid setting
            raise ConfigError(f"{key}: {value!r} is not a number (NaN)")
        return out
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for section '{key}', got {value!r}")
        return _build(tp, value, prefix=key + ".")
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")


def _build(cls: Type[T], data: Dict[str, Any], prefix: str = "") -> T:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {[prefix + k for k in unknown]}; valid keys here: {sorted(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    ranges = RANGES.get(cls, {})
    for k, v in kwargs.items():
        if k in ranges:
            _check_range(v, ranges[k], prefix + k)
    # nested sections not mentioned keep their defaults
    return cls(**kwargs)


#: keys a resumed run may change: they do not alter what was trained so far (more epochs extend it)
RESUME_MAY_CHANGE = (
    "resume", "overwrite", "out_dir", "name", "train.resume", "train.epochs", "train.progress",
    "train.log_every", "train.device", "data.num_workers",
)


def config_changes(
    stored: Dict[str, Any], current: Dict[str, Any], ignore: Sequence[str] = (), prefix: str = ""
) -> List[str]:
    """``"key: old -> new"`` for every leaf that differs between two nested config dicts.

    Args:
        stored, current: :func:`to_dict` outputs (e.g. a checkpoint's config and this run's).
        ignore: dotted keys (``train.epochs``) left out of the comparison.
    """
    out: List[str] = []
    for k in sorted(set(stored) | set(current)):
        key = prefix + k
        if key in ignore:
            continue
        a, b = stored.get(k, "<absent>"), current.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, ignore, key + ".")
        elif a != b:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def check_resume_config(stored: Optional[Dict[str, Any]], current: Dict[str, Any], path: Any) -> None:
    """Refuse to resume a run under another config (a silently mixed run is worse than none).

    Raises:
        ConfigError: lists the changed keys; :data:`RESUME_MAY_CHANGE` may differ.
    """
    if stored is None:
        return
    changes = config_changes(stored, current, RESUME_MAY_CHANGE)
    if changes:
        raise ConfigError(
            f"cannot resume {path}: it was made with another config ({'; '.join(changes)}); "
            "use resume=false or another out_dir"
        )


def to_dict(cfg: Any) -> Dict[str, Any]:
    """Plain nested dict of a config dataclass (lists, not tuples)."""
    return dataclasses.asdict(cfg)


def _deep_merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: Dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} written twice (lines {seen[key]} and {line}): "
                    "the first would be silently dropped", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None)
        if mark is not None and problem:
            raise ConfigError(f"{path}:{mark.line + 1}: invalid YAML: {problem}") from e
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(e).split())}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def load_yaml_layers(path: Union[str, Path]) -> Dict[str, Any]:
    """Read a YAML config, resolving at most one ``_base_`` level (relative to the file)."""
    path = Path(path)
    data = _read_yaml(path)
    base = data.pop("_base_", None)
    if base is None:
        return data
    base_path = (path.parent / base).resolve()
    base_data = _read_yaml(base_path)
    if "_base_" in base_data:
        raise ConfigError(f"{base_path}: only one _base_ level is allowed (it is the base of {path})")
    return _deep_merge(base_data, data)


def parse_override(text: str) -> Tuple[List[str], Any]:
    """``a.b=value`` -> (["a", "b"], YAML-parsed value). ``[x,y]`` lists and ``null`` work."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: cannot parse value: {e}") from e
    return key.split("."), value


def apply_overrides(data: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    out = _deep_merge({}, data)
    for ov in overrides:
        keys, value = parse_override(ov)
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {ov!r}: {k} is not a section")
        node[keys[-1]] = value
    return out


def load_config(
    cls: Type[T] = Config, path: Optional[Union[str, Path]] = None, overrides: Sequence[str] = ()
) -> T:
    """defaults -> YAML (+ one ``_base_``) -> ``key=value`` overrides -> validated dataclass.

    Raises:
        ConfigError: unknown key, wrong type, bad YAML, bad override (message names the key).
    """
    data: Dict[str, Any] = {}
    if path is not None:
        try:
            data = load_yaml_layers(path)
            _build(cls, data)  # report YAML errors with the file name
        except ConfigError as e:
            if str(path) in str(e):
                raise
            raise ConfigError(f"{path}: {e}") from None
    data = apply_overrides(data, overrides)
    try:
        return _build(cls, data)
    except ConfigError as e:
        raise ConfigError(f"override: {e}") from None


class FrozenConfigError(AttributeError):
    pass


def freeze(cfg: T) -> T:
    """Return ``cfg`` with every (nested) dataclass instance made read-only."""

    def _freeze(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                _freeze(getattr(obj, f.name))
            object.__setattr__(obj, "__frozen__", True)
        return obj

    return _freeze(cfg)


def _guarded_setattr(self, name, value):  # installed on every config dataclass below
    if getattr(self, "__frozen__", False):
        raise FrozenConfigError(f"config is frozen: cannot set {type(self).__name__}.{name}")
    object.__setattr__(self, name, value)


for _cls in (DataConfig, ModelConfig, LossConfig, TrainConfig, ReIDEvalConfig, TrackerConfig, Config):
    _cls.__setattr__ = _guarded_setattr  # type: ignore[assignment]


def git_revision(repo_dir: Optional[Union[str, Path]] = None) -> str:
    """Current git SHA (with ``-dirty`` when the tree has changes), or ``unknown``."""
    cwd = str(repo_dir or Path(__file__).resolve().parents[1])
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return (sha or "unknown") + ("-dirty" if sha and dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_config(cfg: Any, out_dir: Union[str, Path], filename: str = "config.yaml") -> Path:
    """Write the resolved config (+ git revision as a comment) atomically; returns the path."""
    out = Path(out_dir) / filename
    text = f"# resolved config; git revision: {git_revision()}\n" + yaml.safe_dump(
        to_dict(cfg), sort_keys=False
    )
    atomic_write_text(out, text)
    return out
