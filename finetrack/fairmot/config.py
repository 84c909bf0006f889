"""Schema of the FairMOT configs (``configs/fairmot_*.yaml``), loaded with the project's config
machinery (defaults -> YAML -> ``key=value`` -> freeze; unknown keys / out-of-range values are
errors)::

    cfg = freeze(load_config(FairMOTConfig, "configs/fairmot_pets09.yaml", ["train.epochs=2"]))

Defaults are FairMOT's (``src/lib/opts.py``): DLA-34-sized heads (head_conv 256), 128-d
embeddings, input 608 x 1088, Adam lr 1e-4, 30 epochs with the lr x 0.1 at epoch 20, batch 12,
loss weights hm 1 / wh 0.1 / off 1 / id 1 with the uncertainty weighting, conf 0.4, K = 500.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional

from finetrack.config import RunConfig, SelectedRunConfig
from finetrack.configlib import NON_NEGATIVE, POSITIVE, RANGES, UNIT, ConfigError, guarded_setattr

BackboneName = Literal["yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x",
                       "dla34"]


@dataclass
class FairMOTDataConfig:
    """MOTChallenge sequences to train on (``train_half``) and to report on (``val_half``)."""

    root: str = "datasets/MOT17"  #: dataset root holding <split>/<SEQ>/
    split: str = "train"  #: folder under root
    seqs: Optional[List[str]] = None  #: None = every sequence of the split
    mot17_detector: Optional[str] = "FRCNN"  #: the MOT17 copy to use
    train_half: Literal["all", "train", "val"] = "train"  #: all | train (1..N//2) | val
    val_half: Optional[Literal["all", "train", "val"]] = "val"  #: reported split; None = none
    frame_step: int = 1  #: keep every n-th training frame
    classes: List[int] = field(default_factory=lambda: [1])
    min_visibility: float = 0.1
    drop_zero_flag: bool = True
    min_box_size: float = 1.0
    max_objs: int = 500  #: padded object rows per image (FairMOT's K)
    num_workers: int = 2


@dataclass
class FairMOTAugConfig:
    """FairMOT's ``JointDataset`` augmentation (finetrack/fairmot/dataset.py)."""

    enabled: bool = True
    degrees: float = 5.0
    translate: float = 0.1
    scale: List[float] = field(default_factory=lambda: [0.5, 1.2])
    shear: float = 2.0
    hsv: float = 0.5  #: S/V x (1 +- hsv)
    flip: float = 0.5

    def __post_init__(self) -> None:
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ConfigError(f"aug.scale={self.scale!r}: need [low, high] with 0 < low <= high")


@dataclass
class FairMOTModelConfig:
    """:class:`finetrack.fairmot.model.FairMOT`."""

    backbone: BackboneName = "dla34"  #: yolox_<variant> (CSPDarknet + up-sampling neck) | dla34
    deformable: bool = True  #: dla34: DCNv2 in the up-sampling path
    neck_channels: int = 64  #: yolox backbones: channels of the stride-4 map
    head_conv: int = 256
    emb_dim: int = 128
    input_size: List[int] = field(default_factory=lambda: [608, 1088])  #: (H, W), multiples of 32
    conf_thresh: float = 0.4  #: tracking: centre score kept (FairMOT's conf_thres)
    max_objs: int = 500  #: top-K centres per image
    init_ckpt: Optional[str] = None  #: start from a FairMOT checkpoint's network weights

    def __post_init__(self) -> None:
        if len(self.input_size) != 2 or any(int(s) % 32 for s in self.input_size):
            raise ConfigError(f"model.input_size={self.input_size!r}: need [H, W], multiples of 32")


@dataclass
class FairMOTLossConfig:
    """L = 0.5 (exp(-s_det) L_det + exp(-s_id) L_id + s_det + s_id), L_det = hm + 0.1 wh + off."""

    hm_weight: float = 1.0
    wh_weight: float = 0.1
    off_weight: float = 1.0
    id_weight: float = 1.0
    uncertainty: bool = True  #: learned s_det / s_id; false = L_det + id_weight * L_id


@dataclass
class FairMOTTrainConfig(SelectedRunConfig):
    """Optimisation (FairMOT: Adam 1e-4, 30 epochs, x0.1 at 20, batch 12)."""

    epochs: int = 30
    batch_size: int = 12
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-4
    lr_steps: List[int] = field(default_factory=lambda: [20])  #: epochs after which lr x lr_gamma
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    amp: bool = True  #: CUDA only
    device: str = "auto"  #: auto | cpu | cuda
    log_every: int = 20
    eval_every: int = 1  #: epochs between selection evaluations
    max_iters_per_epoch: Optional[int] = None
    best_metric: Literal["AP50", "AP"] = "AP50"  #: what best.pth maximises on the selection slice


@dataclass
class FairMOTEvalConfig:
    """Detection AP of the heads (pycocotools, finetrack/eval/coco_ap.py)."""

    conf_thresh: float = 0.01  #: centre score kept for AP (tracking uses model.conf_thresh)
    batch_size: int = 4
    frame_step: int = 1  #: selection slice: every n-th frame


@dataclass
class FairMOTConfig(RunConfig):
    """Top-level config of tools/train_fairmot.py."""

    name: str = "fairmot"
    data: FairMOTDataConfig = field(default_factory=FairMOTDataConfig)
    aug: FairMOTAugConfig = field(default_factory=FairMOTAugConfig)
    model: FairMOTModelConfig = field(default_factory=FairMOTModelConfig)
    loss: FairMOTLossConfig = field(default_factory=FairMOTLossConfig)
    train: FairMOTTrainConfig = field(default_factory=FairMOTTrainConfig)
    eval: FairMOTEvalConfig = field(default_factory=FairMOTEvalConfig)


for _cls in (FairMOTDataConfig, FairMOTAugConfig, FairMOTModelConfig, FairMOTLossConfig,
             FairMOTTrainConfig, FairMOTEvalConfig, FairMOTConfig):
    _cls.__setattr__ = guarded_setattr  # type: ignore[assignment]

RANGES.update({
    FairMOTDataConfig: {"frame_step": POSITIVE, "min_visibility": UNIT,
                        "min_box_size": NON_NEGATIVE, "max_objs": POSITIVE,
                        "num_workers": NON_NEGATIVE},
    FairMOTAugConfig: {"degrees": NON_NEGATIVE, "translate": UNIT, "scale": POSITIVE,
                       "shear": NON_NEGATIVE, "hsv": UNIT, "flip": UNIT},
    FairMOTModelConfig: {"neck_channels": POSITIVE, "head_conv": POSITIVE, "emb_dim": POSITIVE,
                         "input_size": POSITIVE, "conf_thresh": UNIT, "max_objs": POSITIVE},
    FairMOTLossConfig: {"hm_weight": NON_NEGATIVE, "wh_weight": NON_NEGATIVE,
                        "off_weight": NON_NEGATIVE, "id_weight": NON_NEGATIVE},
    FairMOTTrainConfig: {"epochs": POSITIVE, "batch_size": POSITIVE, "lr": POSITIVE,
                         "lr_steps": NON_NEGATIVE, "lr_gamma": POSITIVE,
                         "weight_decay": NON_NEGATIVE,
                         "log_every": POSITIVE, "eval_every": POSITIVE,
                         "max_iters_per_epoch": POSITIVE, "max_train_seconds": POSITIVE},
    FairMOTEvalConfig: {"conf_thresh": UNIT, "batch_size": POSITIVE, "frame_step": POSITIVE},
})
