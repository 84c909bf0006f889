"""Builders: names -> modules, failing with the list of valid names.

``build_model`` records its own arguments as ``model_args`` (plain dicts, tuples, numbers and
strings: safe for a ``weights_only`` load) so :func:`model_from_checkpoint` can rebuild a model
from a checkpoint alone.
"""
from __future__ import annotations

import copy
import logging
import os
from typing import Any, Dict, Mapping, Optional, Type, Union

import torch
import torch.nn as nn

from finetrack.utils.checkpoint import check_finite_state, load_checkpoint
from finetrack.models.detector import (
    DEFAULT_VARIANT,
    YOLOX_VARIANTS,
    YOLOXDetector,
    build_detector,
    canonical_variant,
    match_state_dict,
)
from finetrack.models.fafpn import NECKS
from finetrack.models.imagenet_backbone import BACKBONES
from finetrack.models.reid_head import POOLINGS, FineTrackModel, ReIDHead

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: Re-ID head classes by name (one today; the dict is the extension point).
REID_HEADS: Dict[str, Type[nn.Module]] = {"finetrack": ReIDHead}

__all__ = [
    "BACKBONES",
    "NECKS",
    "POOLINGS",
    "REID_HEADS",
    "YOLOX_VARIANTS",
    "build_detector",
    "build_model",
    "build_reid_head",
    "model_from_checkpoint",
]


def _check_name(kind: str, name: str, valid) -> None:
    if name not in valid:
        raise KeyError(f"unknown {kind} {name!r}; valid {kind}s: {sorted(valid)}")


def build_reid_head(name: str = "finetrack", **kwargs: Any) -> nn.Module:
    """Build a Re-ID head.

    Args:
        name: a key of :data:`REID_HEADS`.
        **kwargs: the head's keywords (:class:`ReIDHead`: ``in_channels``, ``strides``,
            ``neck`` in :data:`NECKS`, ``pooling`` in :data:`POOLINGS`, ...).

    Raises:
        KeyError: unknown head, neck or pooling name (the message lists the valid ones).
    """
    _check_name("Re-ID head", name, REID_HEADS)
    _check_name("neck", kwargs.get("neck", "fafpn"), NECKS)
    _check_name("pooling", kwargs.get("pooling", "mpmg"), POOLINGS)
    return REID_HEADS[name](**kwargs)


def _plain(value: Any) -> Any:
    """Lists -> tuples recursively, so stored args compare equal after a round trip."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def build_model(
    detector: Optional[Mapping[str, Any]] = None,
    reid_head: Optional[Mapping[str, Any]] = None,
    freeze_detector: bool = True,
    detector_checkpoint: Optional[PathLike] = None,
    pretrained_backbone: bool = True,
) -> FineTrackModel:
    """Build detector + Re-ID head.

    Args:
        detector: :class:`YOLOXDetector` keywords (``variant`` defaults to ``"s"``); or, with a
            ``backbone`` key naming one of :data:`BACKBONES` (``mobilenetv2_imagenet``), that
            backbone's keywords (e.g. ``input_size``): a backbone without a detection head.
        reid_head: :func:`build_reid_head` keywords; ``in_channels`` and ``strides`` default to the
            detector's ``feature_channels`` / ``feature_strides``.
        freeze_detector: train the head only, detector in eval mode (SPEC default).
        detector_checkpoint: ByteTrack/YOLOX weights to load into the detector (not recorded in
            ``model_args``: a FineTrack checkpoint holds the detector weights itself).
        pretrained_backbone: a :data:`BACKBONES` backbone loads its pretrained weights (False:
            a checkpoint's weights come next; not recorded in ``model_args``).

    Raises:
        KeyError: unknown backbone, variant, neck or pooling. ValueError: a detector checkpoint
            for a backbone without a detector, or head channels / strides that do not fit.

    Returns:
        The model, with ``model_args`` set so that ``build_model(**model.model_args)`` rebuilds it.
    """
    det_kwargs = dict(detector or {})
    if "backbone" in det_kwargs:
        det = _build_backbone(det_kwargs, detector_checkpoint, pretrained_backbone)
    else:
        det = _build_yolox(det_kwargs, detector_checkpoint)

    head_kwargs = dict(reid_head or {})
    head_kwargs.setdefault("in_channels", det.feature_channels)
    head_kwargs.setdefault("strides", det.feature_strides)
    if tuple(head_kwargs["in_channels"]) != det.feature_channels:
        raise ValueError(
            f"reid_head in_channels {tuple(head_kwargs['in_channels'])} != detector feature "
            f"channels {det.feature_channels}"
        )
    if tuple(head_kwargs["strides"]) != det.feature_strides:
        raise ValueError(
            f"reid_head strides {tuple(head_kwargs['strides'])} != detector feature strides "
            f"{det.feature_strides}"
        )
    head = build_reid_head(**head_kwargs)
    model_args = _plain(
        {
            "detector": copy.deepcopy(det_kwargs),
            "reid_head": copy.deepcopy(head_kwargs),
            "freeze_detector": bool(freeze_detector),
        }
    )
    return FineTrackModel(det, head, freeze_detector=freeze_detector, model_args=model_args)


def _build_yolox(det_kwargs: Dict[str, Any], detector_checkpoint: Optional[PathLike]) -> YOLOXDetector:
    """The YOLOX detector of ``det_kwargs`` (its ``variant`` canonicalised in place: recorded as
    ``"nano"``), with ``detector_checkpoint``'s weights when given."""
    if "depth" not in det_kwargs and "width" not in det_kwargs:
        det_kwargs.setdefault("variant", DEFAULT_VARIANT)
    if "variant" in det_kwargs:
        det_kwargs["variant"] = canonical_variant(det_kwargs["variant"])
        _check_name("YOLOX variant", det_kwargs["variant"], YOLOX_VARIANTS)
        det = build_detector(**det_kwargs)
    else:
        det = YOLOXDetector(**det_kwargs)
    if detector_checkpoint is not None:
        det.load_checkpoint(detector_checkpoint)
    return det


def _build_backbone(kwargs: Mapping[str, Any], detector_checkpoint: Optional[PathLike],
                    pretrained: bool) -> nn.Module:
    """A :data:`BACKBONES` backbone from ``{"backbone": name, **its keywords}``."""
    rest = dict(kwargs)
    name = rest.pop("backbone")
    _check_name("backbone", name, BACKBONES)
    if detector_checkpoint is not None:
        raise ValueError(f"backbone {name} has no detector: a detector checkpoint "
                         f"({detector_checkpoint}) does not apply (model.det_ckpt=null)")
    return BACKBONES[name](pretrained=pretrained, **rest)


def _is_detector_checkpoint(obj: Mapping) -> bool:
    """Whether a loaded checkpoint holds YOLOX detector weights alone (``tools/train_det.py``
    records ``detector``; ByteTrack's ``.pth.tar`` holds a ``model`` of ``backbone.*`` and
    ``head.*`` tensors)."""
    from finetrack.models.detector import checkpoint_detector_spec

    if checkpoint_detector_spec(obj).get("detector"):
        return True
    state = obj.get("model")
    if not isinstance(state, Mapping):
        return False
    keys = [k[len("module."):] if k.startswith("module.") else k for k in state]
    return any(k.startswith("backbone.") for k in keys) and any(
        k.startswith("head.cls_preds") for k in keys)


def model_from_checkpoint(
    path: PathLike,
    map_location: Union[str, torch.device] = "cpu",
    obj: Optional[Mapping] = None,
) -> FineTrackModel:
    """Rebuild a :class:`FineTrackModel` from a checkpoint alone (its ``model_args``) and load
    its weights.

    Args:
        path: the checkpoint file (named in messages).
        map_location: as for :func:`~finetrack.utils.checkpoint.load_checkpoint`.
        obj: the file's content when the caller has already loaded it.

    Raises:
        KeyError: the checkpoint has no ``model_args``.
        CheckpointMismatchError: the weights do not fit.
    """
    if obj is None:
        obj = load_checkpoint(path, map_location)
    if obj.get("kind") == "fairmot":
        raise KeyError(f"{path} is a FairMOT checkpoint (tools/train_fairmot.py), not a FineTrack "
                       "Re-ID checkpoint: track with it as --det fairmot --det-ckpt (no "
                       "--reid-ckpt)")
    if "model_args" not in obj:
        if _is_detector_checkpoint(obj):
            raise KeyError(f"{path} is a YOLOX detector checkpoint (tools/train_det.py or "
                           "ByteTrack weights), not a Re-ID checkpoint: give it as --det-ckpt; "
                           "--reid-ckpt takes a tools/train_reid.py best.pth")
        raise KeyError(f"{path} has no 'model_args'; cannot rebuild the model (not a "
                       "tools/train_reid.py checkpoint)")
    if "crop" in obj["model_args"]:
        raise KeyError(f"{path} holds a crop Re-ID network (tools/train_crop_reid.py), not a "
                       "FineTrack model: its metrics.json has its Rank-1/mAP, and tools/track.py "
                       "--reid-ckpt takes it")
    model = build_model(**obj["model_args"], pretrained_backbone=False)  # weights: the checkpoint's
    state = match_state_dict(obj["model"], model.state_dict(), prefixes=("", "module."))
    check_finite_state(state, path)
    model.load_state_dict(state, strict=True)
    logger.info("rebuilt FineTrackModel from %s", path)
    return model
