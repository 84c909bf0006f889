"""A separate crop-based Re-ID network (DeepSORT / BoT-SORT / boxmot's design): box crops in,
one embedding per crop out, no shared backbone with the detector.

Architectures (``arch``), both random-init here like FineTrack's backbone:

* ``osnet_x0_25``: torchreid's OSNet-x0.25 (Zhou et al. 2019), 512-d feature after its fc layer.
  torchreid is installed by make env (requirements-nodeps.txt, ``--no-deps``): only its
  ``torchreid/reid/models/osnet.py`` is loaded (by path; it imports torch alone), so torchreid's
  other dependencies are not needed.
* ``resnet18``: torchvision's ResNet-18 with its fc removed (512-d global-average feature).

Outputs follow :class:`finetrack.models.reid_head.ReIDHead`'s keys so that
:class:`finetrack.losses.FineTrackLoss` applies (no parts: K = 0): ``f_global`` (the feature the
triplet loss sees), ``logits_global``, ``f_part`` / ``logits_part`` of K = 0 and ``embedding``
(L2-normalised ``f_global``, what tracking uses).
"""
from __future__ import annotations

import copy
import importlib.util
import logging
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

logger = logging.getLogger(__name__)

#: ``model_args`` key that marks a crop-network checkpoint
CROP_ARGS_KEY = "crop"
CROP_ARCHS: Tuple[str, ...] = ("osnet_x0_25", "resnet18")


def load_torchreid_osnet() -> Optional[Callable[..., nn.Module]]:
    """torchreid's ``osnet_x0_25`` builder, or None when torchreid is not importable.

    torchreid's package ``__init__`` imports its data and engine modules (gdown, tensorboard,
    ...); only ``torchreid/reid/models/osnet.py`` is needed, so that file is loaded by path.
    """
    spec = importlib.util.find_spec("torchreid")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "reid" / "models" / "osnet.py"
    if not path.is_file():
        return None
    mspec = importlib.util.spec_from_file_location("torchreid_osnet", path)
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module.osnet_x0_25


class _OSNetFeatures(nn.Module):
    """OSNet without its classifier: crops -> (N, 512) (featuremaps -> GAP -> fc)."""

    def __init__(self) -> None:
        super().__init__()
        build = load_torchreid_osnet()
        if build is None:  # ValueError: the tools print it as one line (bad input, exit 2)
            raise ValueError(
                "model.arch=osnet_x0_25 needs torchreid's osnet.py (pip install --no-deps "
                "torchreid==0.2.5, or torchreid's source folder on PYTHONPATH); "
                "model.arch=resnet18 needs torchvision only"
            )
        net = build(num_classes=1, pretrained=False, loss="softmax")
        net.classifier = nn.Identity()
        self.net = net
        self.dim = int(net.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.net.global_avgpool(self.net.featuremaps(x)).flatten(1)
        return self.net.fc(v) if self.net.fc is not None else v


class _ResNet18Features(nn.Module):
    """torchvision ResNet-18 without its fc: crops -> (N, 512)."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        net.fc = nn.Identity()
        self.net = net
        self.dim = 512

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


_BACKBONES = {"osnet_x0_25": _OSNetFeatures, "resnet18": _ResNet18Features}


class CropReIDNet(nn.Module):
    """Crop Re-ID network: (N, 3, H, W) normalised RGB crops -> head-style output dict.

    Args:
        arch: one of :data:`CROP_ARCHS`.
        num_classes: training identities (the classifier); 0 = no classifier (inference).
        crop_size: the input (H, W) the network is trained and run at.
        model_args: what :func:`build_crop_model` was called with (checkpoints).
    """

    def __init__(
        self,
        arch: str = "osnet_x0_25",
        num_classes: int = 0,
        crop_size: Sequence[int] = (256, 128),
        model_args: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__()
        if arch not in _BACKBONES:
            raise KeyError(f"unknown crop Re-ID arch {arch!r}; valid: {sorted(_BACKBONES)}")
        self.arch = arch
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.backbone = _BACKBONES[arch]()
        self.embedding_dim = self.backbone.dim
        self.num_classes = int(num_classes)
        self.classifier = nn.Linear(self.embedding_dim, num_classes) if num_classes > 0 else None
        self.model_args = model_args

    def forward(self, crops: torch.Tensor) -> Dict[str, torch.Tensor]:
        f = self.backbone(crops)
        n = f.shape[0]
        out = {
            "f_global": f,
            "embedding": F.normalize(f, dim=1),
            "f_part": f.new_zeros((n, 0, 1)),
        }
        if self.classifier is not None:
            out["logits_global"] = self.classifier(f)
            out["logits_part"] = f.new_zeros((n, 0, self.num_classes))
        return out

    @torch.inference_mode()
    def extract(self, crops: torch.Tensor) -> "torch.Tensor":
        """(N, D) float32 L2-normalised embeddings (eval mode)."""
        if crops.shape[0] == 0:
            return crops.new_zeros((0, self.embedding_dim))
        return self.forward(crops)["embedding"].float()

    def checkpoint_state(self) -> Dict[str, Any]:
        """``{"model": state_dict, "model_args": {"crop": ...}}``."""
        if self.model_args is None:
            raise ValueError("model_args unknown: build the model with build_crop_model()")
        return {
            "model": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "model_args": self.model_args,
        }


def build_crop_model(
    arch: str = "osnet_x0_25", num_classes: int = 0, crop_size: Sequence[int] = (256, 128)
) -> CropReIDNet:
    """A :class:`CropReIDNet` that records its arguments as ``model_args`` (``{"crop": ...}``)."""
    args = {"arch": str(arch), "num_classes": int(num_classes),
            "crop_size": (int(crop_size[0]), int(crop_size[1]))}
    return CropReIDNet(**args, model_args={CROP_ARGS_KEY: copy.deepcopy(args)})


def is_crop_checkpoint(obj: Mapping[str, Any]) -> bool:
    """Whether a loaded checkpoint holds a :class:`CropReIDNet`."""
    args = obj.get("model_args") if isinstance(obj, Mapping) else None
    return isinstance(args, Mapping) and CROP_ARGS_KEY in args


def crop_model_from_state(obj: Mapping[str, Any], path: Any = "") -> CropReIDNet:
    """Rebuild a :class:`CropReIDNet` from a loaded checkpoint and load its weights."""
    from finetrack.utils.checkpoint import check_finite_state

    model = build_crop_model(**obj["model_args"][CROP_ARGS_KEY])
    state = {k[len("module."):] if k.startswith("module.") else k: v
             for k, v in obj["model"].items()}
    check_finite_state(state, path)
    model.load_state_dict(state, strict=True)
    logger.info("rebuilt crop Re-ID network (%s) from %s", model.arch, path)
    return model
