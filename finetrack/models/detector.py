"""YOLOX detector wrapper: the ONLY module of the project that imports ``yolox``.

The network is built from yolox's own classes (``YOLOPAFPN``, ``YOLOXHead``, ``YOLOX``) exactly
as ByteTrack's experiment files do (``yolox/exp/yolox_base.py`` ``get_model``; the MOT exps only
change ``depth``, ``width``, ``num_classes=1`` and the input size), so ByteTrack's released
checkpoints load unchanged. On top of it this module provides:

- ByteTrack's preprocessing (top-left letterbox keeping the aspect ratio, pad value 114, BGR->RGB,
  /255, ImageNet mean/std), see :func:`preprocess_image`;
- yolox's ``postprocess`` semantics (score = obj * cls, class-aware NMS) with the boxes mapped
  back to ORIGINAL-image xyxy, see :func:`postprocess_detections`;
- the backbone's multi-scale maps (CSPDarknet ``dark2``/``dark3``/``dark4`` by default) from the
  same forward pass that produces the detections, for the Re-ID head;
- checkpoint loading/saving in ByteTrack's ``{"model": state_dict}`` format.
"""
from __future__ import annotations

import logging
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torchvision
from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead

from finetrack.utils.letterbox import (  # noqa: F401  (re-exported: the detector's input)
    IMAGENET_MEAN,
    IMAGENET_STD,
    LETTERBOX_PAD_VALUE,
    preprocess_image,
)
from finetrack.utils.checkpoint import check_finite_state, load_checkpoint, write_checkpoint
from finetrack.utils.cli import CheckpointMismatchError  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: ``{variant: (depth, width)}`` of the YOLOX family (ByteTrack's / YOLOX's exps).
YOLOX_VARIANTS: Dict[str, Tuple[float, float]] = {
    "nano": (0.33, 0.25),
    "tiny": (0.33, 0.375),
    "s": (0.33, 0.50),
    "m": (0.67, 0.75),
    "l": (1.0, 1.0),
    "x": (1.33, 1.25),
}
#: Variant used when neither ``variant`` nor ``depth``/``width`` is given (ByteTrack's YOLOX-s).
DEFAULT_VARIANT: str = "s"
#: Variants built with depthwise convolutions (YOLOX's ``yolox_nano.py``).
DEPTHWISE_VARIANTS: Tuple[str, ...] = ("nano",)

#: Stride of every CSPDarknet output (``model.backbone.backbone(x)`` dict keys).
BACKBONE_LEVEL_STRIDES: Dict[str, int] = {
    "stem": 2,
    "dark2": 4,
    "dark3": 8,
    "dark4": 16,
    "dark5": 32,
}
#: Channels of every CSPDarknet output, as multiples of ``int(width * 64)``.
BACKBONE_LEVEL_CHANNEL_MULT: Dict[str, int] = {
    "stem": 1,
    "dark2": 2,
    "dark3": 4,
    "dark4": 8,
    "dark5": 16,
}
#: yolox's ``YOLOPAFPN`` always consumes these three levels.
_PAFPN_LEVELS: Tuple[str, ...] = ("dark3", "dark4", "dark5")
#: yolox's reference channels of the PAFPN inputs (scaled by width), as in ``yolox_base.py``.
_PAFPN_IN_CHANNELS: List[int] = [256, 512, 1024]

#: YOLOX's BatchNorm settings (``yolox_base.py`` ``init_yolo``) and head prior probability.
_YOLOX_BN_EPS: float = 1e-3
_YOLOX_BN_MOMENTUM: float = 0.03
_YOLOX_PRIOR_PROB: float = 1e-2


def canonical_variant(name: str) -> str:
    """``yolox_nano`` (the configs' ``model.detector`` spelling) or ``nano`` -> ``nano``."""
    return name[len("yolox_"):] if name.startswith("yolox_") else name


def resolve_variant(variant: str) -> Tuple[float, float, bool]:
    """Look a YOLOX variant up.

    Args:
        variant: one of :data:`YOLOX_VARIANTS` (``nano``, ``tiny``, ``s``, ``m``, ``l``, ``x``),
            with or without the configs' ``yolox_`` prefix.

    Returns:
        ``(depth, width, depthwise)``.

    Raises:
        KeyError: unknown name; the message lists the valid ones.
    """
    variant = canonical_variant(variant)
    if variant not in YOLOX_VARIANTS:
        raise KeyError(
            f"unknown YOLOX variant {variant!r}; valid variants: {sorted(YOLOX_VARIANTS)}"
        )
    depth, width = YOLOX_VARIANTS[variant]
    return depth, width, variant in DEPTHWISE_VARIANTS


def postprocess_detections(
    raw_outputs: torch.Tensor,
    ratios: Sequence[float],
    image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    conf_thresh: float = 0.1,
    nms_thresh: float = 0.7,
    clip_boxes: bool = True,
    max_det: Optional[int] = None,
    classes: Optional[Sequence[int]] = None,
) -> List[Tuple[np.ndarray, np.ndarray]]:
    """yolox ``postprocess`` semantics, then map boxes back to the original images.

    Per image: score = obj * max_class_prob; keep ``score >= conf_thresh``; class-aware NMS
    (``torchvision.ops.batched_nms``) at IoU ``nms_thresh`` on that score; divide the boxes by the
    letterbox ratio (the letterbox is top-left, so there is no offset); clip to the image.

    Args:
        raw_outputs: (B, A, 5 + num_classes) decoded YOLOX head output in network-input pixels:
            [cx, cy, w, h, obj, cls_1..cls_C], probabilities already sigmoided. Not modified.
        ratios: B letterbox ratios from :func:`preprocess_image`.
        image_sizes: B original (h, w); boxes are clipped to ``[0, w] x [0, h]``. When None,
            boxes are only clamped to be non-negative.
        conf_thresh: minimum obj * cls score (inclusive, as yolox).
        nms_thresh: NMS IoU threshold.
        clip_boxes: clip the boxes (ByteTrack itself does not clip).
        max_det: keep at most this many boxes per image (the highest scores after NMS); None =
            all. A badly trained or random detector at 800x1440 passes thousands of boxes, and
            the Re-ID head on all of them needs tens of GiB.
        classes: keep only the boxes whose best class is one of these (0-based, e.g. ``(0,)``:
            COCO's person; None = all), before NMS: another class's box never suppresses one.

    Returns:
        B tuples ``(boxes_xyxy (N, 4) float32 in original pixels, scores (N,) float32)``, sorted by
        decreasing score.
    """
    if raw_outputs.ndim != 3 or raw_outputs.shape[-1] < 6:
        raise ValueError(f"raw_outputs must be (B, A, 5 + C), got {tuple(raw_outputs.shape)}")
    if len(ratios) != raw_outputs.shape[0]:
        raise ValueError(f"{len(ratios)} ratios for a batch of {raw_outputs.shape[0]}")
    if image_sizes is not None and len(image_sizes) != raw_outputs.shape[0]:
        raise ValueError(f"{len(image_sizes)} image sizes for a batch of {raw_outputs.shape[0]}")
    results: List[Tuple[np.ndarray, np.ndarray]] = []
    pred_all = raw_outputs.detach().float()
    for i, pred in enumerate(pred_all):
        cxcy, wh = pred[:, :2], pred[:, 2:4]
        boxes = torch.cat([cxcy - wh / 2.0, cxcy + wh / 2.0], dim=1)
        class_conf, class_pred = pred[:, 5:].max(dim=1)
        scores = pred[:, 4] * class_conf
        keep = scores >= conf_thresh
        if classes is not None:
            keep &= torch.isin(class_pred, torch.as_tensor(list(classes), device=class_pred.device))
        boxes, scores, class_pred = boxes[keep], scores[keep], class_pred[keep]
        if boxes.shape[0]:
            order = torchvision.ops.batched_nms(boxes, scores, class_pred, nms_thresh)
            if max_det is not None:  # batched_nms returns decreasing scores
                order = order[: int(max_det)]
            boxes, scores = boxes[order], scores[order]
        boxes = boxes / float(ratios[i])
        if clip_boxes and image_sizes is not None:
            max_h, max_w = float(image_sizes[i][0]), float(image_sizes[i][1])
            boxes = torch.stack(
                [
                    boxes[:, 0].clamp(0.0, max_w),
                    boxes[:, 1].clamp(0.0, max_h),
                    boxes[:, 2].clamp(0.0, max_w),
                    boxes[:, 3].clamp(0.0, max_h),
                ],
                dim=1,
            )
        elif clip_boxes:
            boxes = boxes.clamp(min=0.0)
        results.append(
            (
                boxes.cpu().numpy().astype(np.float32).reshape(-1, 4),
                scores.cpu().numpy().astype(np.float32).reshape(-1),
            )
        )
    return results


def checkpoint_detector_spec(obj: Mapping) -> Dict[str, Any]:
    """The detector description a ``tools/train_det.py`` checkpoint records, if any.

    Args:
        obj: a loaded checkpoint (see :func:`~finetrack.utils.checkpoint.load_checkpoint`).

    Returns:
        ``{"detector": "yolox_tiny", "input_size": (H, W)}`` with the keys the checkpoint holds
        (ByteTrack's own checkpoints hold none: ``{}``).
    """
    spec: Dict[str, Any] = {}
    if isinstance(obj, Mapping):
        if isinstance(obj.get("detector"), str):
            spec["detector"] = obj["detector"]
        size = obj.get("input_size")
        if isinstance(size, (list, tuple)) and len(size) == 2:
            spec["input_size"] = (int(size[0]), int(size[1]))
    return spec


#: Key of the marker a Re-ID checkpoint records about the detector inside it (see
#: :func:`detector_head_trained`): ``{"head_trained": bool, "checkpoint": path or None, "frozen": bool}``.
DETECTOR_STATE_KEY = "detector_state"


def detector_head_trained(obj: Mapping) -> Optional[bool]:
    """Whether the YOLOX detection head inside a checkpoint was ever trained.

    A Re-ID checkpoint trained from a random backbone (``model.det_ckpt: null``) holds a YOLOX
    head at its initial values: it finds nothing. In order, the answer comes from

    1. the marker :data:`DETECTOR_STATE_KEY` that ``train_reid`` writes (``head_trained``);
    2. the resolved config such a checkpoint stores: ``config.model.det_ckpt`` None = never trained;
    3. the weights: every objectness bias still at YOLOX's prior ``-log((1 - p) / p)``, p = 0.01
       (the Re-ID losses never reach the head, so an untrained head keeps exactly these values).

    Args:
        obj: a loaded checkpoint (see :func:`~finetrack.utils.checkpoint.load_checkpoint`).

    Returns:
        True / False, or None when the checkpoint holds no objectness biases to judge by.
    """
    if not isinstance(obj, Mapping):
        return None
    marker = obj.get(DETECTOR_STATE_KEY)
    if isinstance(marker, Mapping) and "head_trained" in marker:
        return bool(marker["head_trained"])
    cfg = obj.get("config")
    if isinstance(cfg, Mapping) and isinstance(cfg.get("model"), Mapping):
        if "det_ckpt" in cfg["model"] and "model_args" in obj:
            return cfg["model"]["det_ckpt"] is not None
    try:
        state = extract_state_dict(obj)
    except TypeError:
        return None
    biases = [v for k, v in state.items() if ".head.obj_preds." in f".{k}" and k.endswith("bias")]
    if not biases:
        return None
    prior = -math.log((1 - _YOLOX_PRIOR_PROB) / _YOLOX_PRIOR_PROB)
    untouched = all(bool(torch.all((b.float() - prior).abs() < 1e-6)) for b in biases)
    return not untouched


def extract_state_dict(obj: Mapping) -> Dict[str, torch.Tensor]:
    """The tensor state dict inside a loaded checkpoint object.

    Accepts ByteTrack's ``{"model": state_dict, "optimizer": ..., "start_epoch": ...}``, our own
    ``{"model": state_dict, "model_args": ..., ...}`` and plain state dicts.
    """
    if not isinstance(obj, Mapping):
        raise TypeError(f"checkpoint is a {type(obj).__name__}, not a dict")
    if "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    elif "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def match_state_dict(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    prefixes: Sequence[str] = (
        "",
        "module.",
        "model.",
        "detector.model.",
        "module.detector.model.",
    ),
) -> Dict[str, torch.Tensor]:
    """Strip the key prefix that best fits ``expected`` and check keys and shapes.

    The prefix is chosen among ``prefixes`` by the number of keys it makes match; with a non-empty
    prefix, keys outside it are ignored (e.g. the Re-ID head's weights in a full FineTrack
    checkpoint) and logged at debug level.

    Args:
        state: loaded tensors.
        expected: the target module's ``state_dict()``.
        prefixes: candidate key prefixes.

    Returns:
        The state dict with the prefix removed, keys exactly ``expected``'s.

    Raises:
        CheckpointMismatchError: lists the missing keys, unexpected keys and shape mismatches.
    """
    best_prefix, best_hits = "", -1
    for prefix in prefixes:
        hits = sum(1 for k in state if k.startswith(prefix) and k[len(prefix) :] in expected)
        if hits > best_hits:
            best_prefix, best_hits = prefix, hits
    stripped = {k[len(best_prefix) :]: v for k, v in state.items() if k.startswith(best_prefix)}
    ignored = [k for k in state if not k.startswith(best_prefix)]
    if ignored:
        logger.debug("ignoring %d keys outside prefix %r", len(ignored), best_prefix)
    missing = sorted(set(expected) - set(stripped))
    unexpected = sorted(set(stripped) - set(expected))
    shape_mismatch = sorted(
        f"{k}: checkpoint {tuple(stripped[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(stripped) & set(expected)
        if tuple(stripped[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or shape_mismatch:
        raise CheckpointMismatchError(
            "checkpoint does not match the model"
            + (f" (key prefix {best_prefix!r} stripped)" if best_prefix else "")
            + f"\n  missing keys ({len(missing)}): {missing}"
            + f"\n  unexpected keys ({len(unexpected)}): {unexpected}"
            + f"\n  shape mismatches ({len(shape_mismatch)}): {shape_mismatch}"
        )
    return stripped


class YOLOXDetector(nn.Module):
    """YOLOX (yolox's own modules) + ByteTrack pre/post-processing + backbone feature maps.

    Args:
        variant: a name of :data:`YOLOX_VARIANTS`; sets ``depth``, ``width`` and ``depthwise``.
            Give either ``variant`` or ``depth`` and ``width``; with neither,
            :data:`DEFAULT_VARIANT` (``"s"``) is used.
        depth: CSPDarknet depth multiplier.
        width: channel width multiplier.
        depthwise: depthwise convolutions (YOLOX-nano); default False unless the variant says so.
        num_classes: detector classes (1 = pedestrian, ByteTrack's MOT models).
        input_size: network input (H, W); ByteTrack's YOLOX-s/m/l MOT models use (608, 1088),
            YOLOX-x (800, 1440).
        conf_thresh: minimum obj * cls score kept by :meth:`detect`. ByteTrack's exps use 0.001,
            but its tracker discards every score <= 0.1 and greedy NMS never lets a lower box remove
            a higher one, so 0.1 yields the same tracks with fewer boxes to embed.
        nms_thresh: NMS IoU threshold (ByteTrack: 0.7).
        max_det: most boxes kept per frame (highest scores); a warning names the frame count
            where more passed (a detector that is not trained for this data).
        feature_levels: CSPDarknet outputs returned as Re-ID features, finest first; any of
            :data:`BACKBONE_LEVEL_STRIDES`.
        act: activation of the YOLOX blocks.
        clip_boxes: clip detections to the original image.
    """

    def __init__(
        self,
        variant: Optional[str] = None,
        depth: Optional[float] = None,
        width: Optional[float] = None,
        depthwise: Optional[bool] = None,
        num_classes: int = 1,
        input_size: Tuple[int, int] = (608, 1088),
        conf_thresh: float = 0.1,
        nms_thresh: float = 0.7,
        max_det: int = 1000,
        feature_levels: Sequence[str] = ("dark2", "dark3", "dark4"),
        act: str = "silu",
        clip_boxes: bool = True,
        classes: Optional[Sequence[int]] = None,
    ) -> None:
        super().__init__()
        if variant is None and depth is None and width is None:
            variant = DEFAULT_VARIANT
        if variant is not None:
            variant = canonical_variant(variant)
            if depth is not None or width is not None:
                raise ValueError("give either variant or depth/width, not both")
            depth, width, variant_dw = resolve_variant(variant)
            depthwise = variant_dw if depthwise is None else depthwise
        elif depth is None or width is None:
            raise ValueError("depth and width must be given together")
        depthwise = bool(depthwise)
        unknown = [lvl for lvl in feature_levels if lvl not in BACKBONE_LEVEL_STRIDES]
        if unknown or not feature_levels:
            raise ValueError(
                f"unknown feature levels {unknown}; valid: {list(BACKBONE_LEVEL_STRIDES)}"
            )
        strides = [BACKBONE_LEVEL_STRIDES[lvl] for lvl in feature_levels]
        if strides != sorted(strides) or len(set(strides)) != len(strides):
            raise ValueError(f"feature_levels must go from fine to coarse, got {feature_levels}")

        self.variant = variant
        self.depth = float(depth)
        self.width = float(width)
        self.depthwise = depthwise
        self.num_classes = int(num_classes)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.conf_thresh = float(conf_thresh)
        self.nms_thresh = float(nms_thresh)
        if int(max_det) < 1:
            raise ValueError(f"max_det must be >= 1, got {max_det}")
        self.max_det = int(max_det)
        self.capped_frames = 0  #: frames where more than max_det boxes passed (warned once)
        self.feature_levels = tuple(feature_levels)
        self.clip_boxes = bool(clip_boxes)
        self.classes = None if classes is None else tuple(int(c) for c in classes)  #: kept classes

        backbone = YOLOPAFPN(
            self.depth, self.width, in_channels=_PAFPN_IN_CHANNELS, depthwise=depthwise, act=act
        )
        head = YOLOXHead(
            self.num_classes,
            self.width,
            in_channels=_PAFPN_IN_CHANNELS,
            depthwise=depthwise,
            act=act,
        )
        # CSPDarknet filters its output dict by out_features: make it also return our levels.
        backbone.backbone.out_features = tuple(
            dict.fromkeys(tuple(_PAFPN_LEVELS) + self.feature_levels)
        )
        self.model = YOLOX(backbone, head)
        for m in self.model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps = _YOLOX_BN_EPS
                m.momentum = _YOLOX_BN_MOMENTUM
        self.model.head.initialize_biases(_YOLOX_PRIOR_PROB)

    # ------------------------------------------------------------------ properties
    @property
    def feature_strides(self) -> Tuple[int, ...]:
        """Stride of every returned feature map, finest first, e.g. (4, 8, 16)."""
        return tuple(BACKBONE_LEVEL_STRIDES[lvl] for lvl in self.feature_levels)

    @property
    def feature_channels(self) -> Tuple[int, ...]:
        """Channels of every returned feature map, e.g. (64, 128, 256) for YOLOX-s."""
        base = int(self.width * 64)
        return tuple(base * BACKBONE_LEVEL_CHANNEL_MULT[lvl] for lvl in self.feature_levels)

    # ------------------------------------------------------------------ processing
    def preprocess(self, img_bgr: np.ndarray) -> Tuple[torch.Tensor, float]:
        """Letterbox one BGR image (see :func:`preprocess_image`).

        Args:
            img_bgr: (h, w, 3) uint8 BGR image.

        Returns:
            ``(Tensor (3, H, W) float32, ratio)``.
        """
        chw, ratio = preprocess_image(img_bgr, self.input_size)
        return torch.from_numpy(chw), ratio

    def features(self, images: torch.Tensor) -> List[torch.Tensor]:
        """Backbone maps only (no PAFPN, no head): what Re-ID training needs.

        Args:
            images: (B, 3, H, W) preprocessed images.

        Returns:
            One (B, C_s, H / s, W / s) map per level of ``feature_levels``.
        """
        out = self.model.backbone.backbone(images)
        return [out[lvl] for lvl in self.feature_levels]

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Full YOLOX inference plus the backbone maps, in one pass.

        Args:
            images: (B, 3, H, W) preprocessed images (H, W multiples of 32).

        Returns:
            ``(raw_outputs, feats)``: raw_outputs (B, A, 5 + num_classes) decoded head output
            ([cx, cy, w, h] network-input pixels, obj, class probabilities); feats one
            (B, C_s, H / s, W / s) map per level of ``feature_levels``.
        """
        if self.model.head.training:
            raise RuntimeError(
                "YOLOXDetector.forward runs inference only: call .eval() first (training the "
                "detector is ByteTrack's job); use .features() for backbone maps in train mode"
            )
        captured: Dict[str, torch.Tensor] = {}

        def _grab(_module: nn.Module, _inputs, output: Dict[str, torch.Tensor]) -> None:
            captured.update(output)

        handle = self.model.backbone.backbone.register_forward_hook(_grab)
        try:
            fpn_outs = self.model.backbone(images)
        finally:
            handle.remove()
        raw_outputs = self.model.head(fpn_outs)
        return raw_outputs, [captured[lvl] for lvl in self.feature_levels]

    def postprocess(
        self,
        raw_outputs: torch.Tensor,
        ratios: Sequence[float],
        image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    ) -> List[Tuple[np.ndarray, np.ndarray]]:
        """:func:`postprocess_detections` with this detector's thresholds and ``max_det`` cap."""
        out = postprocess_detections(
            raw_outputs,
            ratios,
            image_sizes,
            conf_thresh=self.conf_thresh,
            nms_thresh=self.nms_thresh,
            clip_boxes=self.clip_boxes,
            max_det=self.max_det + 1,
            classes=self.classes,
        )
        capped = []
        for boxes, scores in out:
            if len(scores) > self.max_det:
                self.capped_frames += 1
                if self.capped_frames == 1:
                    logger.warning(
                        "the detector passed more than max_det=%d boxes on a frame (conf_thresh %g); "
                        "keeping the %d highest. Is it trained for this data? (warned once)",
                        self.max_det, self.conf_thresh, self.max_det,
                    )
                boxes, scores = boxes[: self.max_det], scores[: self.max_det]
            capped.append((boxes, scores))
        return capped

    @torch.no_grad()
    def detect(
        self,
        images: torch.Tensor,
        ratios: Sequence[float],
        image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    ) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Detect people in preprocessed images.

        Args:
            images: (B, 3, H, W) preprocessed images.
            ratios: B letterbox ratios.
            image_sizes: B original (h, w) used to clip; see :func:`postprocess_detections`.

        Returns:
            B tuples ``(boxes_xyxy (N, 4) float32 original pixels, scores (N,) float32)``.
        """
        raw_outputs, _ = self(images)
        return self.postprocess(raw_outputs, ratios, image_sizes)

    # ------------------------------------------------------------------ checkpoints
    def load_checkpoint(
        self,
        path: PathLike,
        map_location: Union[str, torch.device] = "cpu",
        obj: Optional[Mapping] = None,
    ) -> None:
        """Load YOLOX weights: ByteTrack ``{"model": sd}`` (.pth/.pth.tar), plain or ours.

        Args:
            path: the checkpoint file (named in messages).
            map_location: as for ``torch.load``.
            obj: the file's content when the caller has already loaded it.

        Raises:
            CheckpointMismatchError: a checkpoint that records another variant, or one whose
                keys do not fit (lists the missing / unexpected / wrongly shaped keys).
        """
        if obj is None:
            obj = load_checkpoint(path, map_location)
        recorded = checkpoint_detector_spec(obj).get("detector")
        if recorded is not None and self.variant is not None and recorded != f"yolox_{self.variant}":
            raise CheckpointMismatchError(
                f"{path} holds a {recorded} detector but the model is yolox_{self.variant}: "
                f"set model.detector={recorded}"
            )
        state = match_state_dict(extract_state_dict(obj), self.model.state_dict())
        check_finite_state(state, path)
        self.model.load_state_dict(state, strict=True)
        logger.info("loaded YOLOX weights from %s (%d tensors)", path, len(state))

    def save_checkpoint(self, path: PathLike) -> None:
        """Write ``{"model": state_dict}`` (ByteTrack's format) atomically."""
        save_checkpoint(path, self)


def save_checkpoint(path: PathLike, model: Union[YOLOXDetector, nn.Module]) -> None:
    """Save a YOLOX model in ByteTrack's ``{"model": state_dict}`` format, atomically.

    Args:
        path: destination file (.pth or .pth.tar).
        model: a :class:`YOLOXDetector` (its inner yolox ``YOLOX`` is saved, so the keys are
            ByteTrack's) or a bare yolox ``YOLOX``.
    """
    inner = model.model if isinstance(model, YOLOXDetector) else model
    state = {k: v.detach().cpu() for k, v in inner.state_dict().items()}
    write_checkpoint(path, {"model": state})


def build_detector(variant: str = DEFAULT_VARIANT, **kwargs) -> YOLOXDetector:
    """Build a :class:`YOLOXDetector` by variant name (fails listing the valid names).

    Args:
        variant: one of :data:`YOLOX_VARIANTS` (``yolox_`` prefix allowed: the config spelling).
        **kwargs: any other :class:`YOLOXDetector` keyword.
    """
    resolve_variant(variant)
    return YOLOXDetector(variant=canonical_variant(variant), **kwargs)
