"""Schema of the crop-network Re-ID configs (``configs/pets09_crop_osnet.yaml``): the Re-ID
config (:class:`finetrack.config.Config`: data, sampler, loss, schedule, selection, protocol)
with its ``model`` section replaced by the crop network's, so ``model.*`` keys of the FineTrack
head (``neck``, ``detector``...) are errors here and the crop network's are checked::

    cfg = freeze(load_config(CropReIDConfig, "configs/pets09_crop_osnet.yaml", ["train.epochs=2"]))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal

from finetrack.config import Config
from finetrack.configlib import POSITIVE, RANGES, ConfigError, guarded_setattr


@dataclass
class CropModelConfig:
    """:class:`finetrack.crop_reid.model.CropReIDNet`: a separate network on box crops."""

    arch: Literal["osnet_x0_25", "resnet18"] = "osnet_x0_25"  #: osnet_x0_25 (torchreid) | resnet18 (torchvision)
    crop_size: List[int] = field(default_factory=lambda: [256, 128])  #: crop (H, W)

    def __post_init__(self) -> None:
        if len(self.crop_size) != 2:
            raise ConfigError(f"model.crop_size={self.crop_size!r}: need [H, W]")


@dataclass
class CropReIDConfig(Config):
    """Top-level config of ``tools/train_crop_reid.py`` (every section but ``model`` is
    :class:`finetrack.config.Config`'s)."""

    name: str = "crop_reid"
    model: CropModelConfig = field(default_factory=CropModelConfig)  # type: ignore[assignment]


for _cls in (CropModelConfig, CropReIDConfig):
    _cls.__setattr__ = guarded_setattr  # type: ignore[assignment]

RANGES.update({CropModelConfig: {"crop_size": POSITIVE}})
