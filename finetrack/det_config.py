"""Schema of the detector-training configs (``configs/det_*.yaml``).

Loaded with the project's config machinery (defaults -> YAML -> ``key=value`` -> freeze)::

    cfg = freeze(load_config(DetConfig, "configs/det_pets09.yaml", ["seed=1", "out_dir=/tmp/d"]))

Defaults are ByteTrack's MOT recipe (``exps/example/mot/yolox_x_ablation.py`` on top of
``yolox/exp/yolox_base.py``): SGD (momentum 0.9, nesterov, weight decay 5e-4 on conv weights),
lr = 0.001 / 64 per image, 1 warm-up epoch, "yoloxwarmcos" schedule with min_lr_ratio 0.05, the last
10 epochs without mosaic/mixup (and with the L1 loss on), EMA weights (decay 0.9998), random
input resize every 10 iterations, 80 epochs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional, get_args

from finetrack.config import DetectorName, RunConfig, SelectedRunConfig
from finetrack.configlib import NON_NEGATIVE, POSITIVE, RANGES, UNIT, guarded_setattr

#: Source formats understood by :mod:`finetrack.data.det_dataset`.
SourceFormat = Literal["mot", "crowdhuman"]
SOURCE_FORMATS = get_args(SourceFormat)


@dataclass
class DetSourceConfig:
    """One source of training or validation images.

    ``format=mot``: MOTChallenge layout ``<root>/<split>/<SEQ>/{img1,gt/gt.txt,seqinfo.ini}``
    (MOT15, MOT16/17/20, DanceTrack, synthetic). ``format=crowdhuman``: ``<root>/<ann_file>``
    (odgt) with images in ``<root>/<image_dir>/<ID>.jpg``; full-body boxes (``fbox``), ``ignore`` and ``mask``
    boxes are ignore regions.
    """

    root: str = "datasets/MOT17"
    format: SourceFormat = "mot"  #: mot | crowdhuman
    split: str = "train"  #: folder under root (mot)
    seqs: Optional[List[str]] = None  #: None = every sequence of the split (mot)
    half: Literal["all", "train", "val"] = "train"  #: all | train (frames 1..N//2) | val (N//2+1..N)  (mot)
    mot17_detector: Optional[str] = "FRCNN"  #: the MOT17 copy to use (mot)
    frame_step: int = 1  #: keep every n-th frame (quick CPU runs / per-epoch validation)
    max_images: Optional[int] = None  #: cap on images from this source (after frame_step)
    ann_file: str = "annotation_train.odgt"  #: crowdhuman
    image_dir: str = "Images"  #: crowdhuman


@dataclass
class DetDataConfig:
    """Training sources, validation source and the GT rows that count as people."""

    train: List[DetSourceConfig] = field(default_factory=lambda: [DetSourceConfig()])
    val: Optional[DetSourceConfig] = field(default_factory=lambda: DetSourceConfig(half="val"))
    classes: List[int] = field(default_factory=lambda: [1])  #: MOT classes that are positives
    min_visibility: float = 0.25  #: ByteTrack's convert_mot17_to_coco threshold
    min_box_size: float = 2.0  #: boxes thinner than this (pixels) are dropped
    num_workers: int = 2


@dataclass
class DetModelConfig:
    """The one-class YOLOX of :class:`finetrack.models.detector.YOLOXDetector`."""

    detector: DetectorName = "yolox_x"  #: yolox_nano|yolox_tiny|yolox_s|yolox_m|yolox_l|yolox_x
    input_size: List[int] = field(default_factory=lambda: [800, 1440])  #: (H, W), multiples of 32
    num_classes: int = 1
    init_ckpt: Optional[str] = None  #: start from these weights (e.g. a COCO YOLOX); None = random
    conf_thresh: float = 0.001  #: evaluation score threshold (ByteTrack eval: 0.001)
    nms_thresh: float = 0.7


@dataclass
class DetAugConfig:
    """yolox's TrainTransform + MosaicDetection settings and ByteTrack's random resize."""

    mosaic: bool = True
    mosaic_prob: float = 1.0
    mixup: bool = True
    mixup_prob: float = 1.0
    degrees: float = 10.0
    translate: float = 0.1
    mosaic_scale: List[float] = field(default_factory=lambda: [0.1, 2.0])
    mixup_scale: List[float] = field(default_factory=lambda: [0.5, 1.5])
    shear: float = 2.0
    hsv_prob: float = 1.0
    flip_prob: float = 0.5
    max_labels: int = 500  #: padded target rows per image (MOT is crowded)
    random_size: Optional[List[int]] = field(default_factory=lambda: [18, 32])  #: heights / 32
    resize_every: int = 10  #: iterations between random input sizes
    no_aug_epochs: int = 10  #: final epochs without mosaic/mixup, L1 loss on


@dataclass
class DetTrainConfig(SelectedRunConfig):
    """Optimisation schedule (yolox_base + ByteTrack ablation)."""

    epochs: int = 80
    batch_size: int = 48
    optimizer: str = "sgd"  #: sgd (yolox's param groups) | adamw (same groups)
    basic_lr_per_img: float = 0.001 / 64.0  #: lr = basic_lr_per_img * batch_size
    warmup_epochs: float = 1.0
    warmup_lr: float = 0.0
    min_lr_ratio: float = 0.05
    scheduler: str = "yoloxwarmcos"  #: any name of yolox.utils.LRScheduler
    momentum: float = 0.9
    weight_decay: float = 5e-4
    ema: bool = True
    ema_decay: float = 0.9998
    amp: bool = True  #: CUDA only
    device: str = "auto"  #: auto | cpu | cuda
    log_every: int = 20
    eval_every: int = 1
    max_iters_per_epoch: Optional[int] = None
    best_metric: Literal["AP50", "AP"] = "AP50"  #: AP50 | AP: what best.pth maximises on the selection slice (ByteTrack keeps the best AP50)


@dataclass
class DetEvalConfig:
    """Validation (AP@0.5, AP@[.5:.95] with pycocotools)."""

    batch_size: int = 8
    frame_step: int = 1  #: per-epoch validation on every n-th val frame (final eval uses all)


@dataclass
class DetConfig(RunConfig):
    """Top-level config of tools/train_det.py and tools/eval_det.py."""

    name: str = "det"
    data: DetDataConfig = field(default_factory=DetDataConfig)
    model: DetModelConfig = field(default_factory=DetModelConfig)
    aug: DetAugConfig = field(default_factory=DetAugConfig)
    train: DetTrainConfig = field(default_factory=DetTrainConfig)
    eval: DetEvalConfig = field(default_factory=DetEvalConfig)


for _cls in (
    DetSourceConfig,
    DetDataConfig,
    DetModelConfig,
    DetAugConfig,
    DetTrainConfig,
    DetEvalConfig,
    DetConfig,
):
    _cls.__setattr__ = guarded_setattr  # type: ignore[assignment]

RANGES.update({
    DetSourceConfig: {"frame_step": POSITIVE, "max_images": POSITIVE},
    DetDataConfig: {"min_visibility": UNIT, "min_box_size": NON_NEGATIVE,
                    "num_workers": NON_NEGATIVE},
    DetModelConfig: {"input_size": POSITIVE, "num_classes": POSITIVE, "conf_thresh": UNIT,
                     "nms_thresh": UNIT},
    DetAugConfig: {"mosaic_prob": UNIT, "mixup_prob": UNIT, "degrees": NON_NEGATIVE,
                   "translate": UNIT, "mosaic_scale": POSITIVE, "mixup_scale": POSITIVE,
                   "shear": NON_NEGATIVE, "hsv_prob": UNIT, "flip_prob": UNIT,
                   "max_labels": POSITIVE, "random_size": POSITIVE, "resize_every": POSITIVE,
                   "no_aug_epochs": NON_NEGATIVE},
    DetTrainConfig: {"epochs": POSITIVE, "batch_size": POSITIVE, "basic_lr_per_img": POSITIVE,
                     "warmup_epochs": NON_NEGATIVE, "warmup_lr": NON_NEGATIVE,
                     "min_lr_ratio": UNIT, "momentum": UNIT, "weight_decay": NON_NEGATIVE,
                     "ema_decay": UNIT, "log_every": POSITIVE, "eval_every": POSITIVE,
                     "max_iters_per_epoch": POSITIVE, "max_train_seconds": POSITIVE},
    DetEvalConfig: {"batch_size": POSITIVE, "frame_step": POSITIVE},
})
