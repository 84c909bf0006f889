"""Turn the tracking config into objects: the tracker, the detection source, the detector."""
from __future__ import annotations

import logging
from typing import Optional

from finetrack.config import Config, TrackerConfig
from finetrack.data.identities import GTFilter
from finetrack.data.mot import MOTSequence
from finetrack.inference.sources import SOURCES, GTDetections, PublicDetections, YOLOXDetections

logger = logging.getLogger(__name__)


#: the appearance of the botsort and adaptive modes when tracker.appearance is null: training-free
#: (no checkpoint). The nested study has no row where a learned cue helps on a left-out scene, so
#: a --reid-ckpt does not join it (tracker.appearance=reid+color+imagenet asks for it)
FREE_APPEARANCE = "color+imagenet"


def resolve_appearance(cfg: TrackerConfig, mode: Optional[str] = None) -> str:
    """What the embeddings of ``mode`` (default ``cfg.mode``) are: ``cfg.appearance``, or when it
    is null the mode's own: ``auto`` (Re-ID and colour, two cues) for ``robust``,
    :data:`FREE_APPEARANCE` for ``botsort`` and ``adaptive``, ``reid`` else (``finetrack``: the
    paper's rule on the Re-ID features)."""
    if cfg.appearance is not None:
        return cfg.appearance
    mode = mode or cfg.mode
    if mode == "robust":
        return "auto"
    return FREE_APPEARANCE if mode in ("botsort", "adaptive") else "reid"


def build_tracker(cfg: TrackerConfig, frame_rate: float, mode: Optional[str] = None):
    """The :class:`finetrack.tracker.Tracker` of ``cfg`` (``tracker.*``) for one sequence
    (:meth:`~finetrack.tracker.Tracker.from_config`); ``mode`` overrides ``cfg.mode``.

    ``appearance`` ``auto`` (:func:`resolve_appearance`) makes the embeddings two cues, the Re-ID
    features then the colour histogram (:data:`finetrack.inference.color.COLOR_DIM` columns).
    """
    from finetrack.inference.color import COLOR_DIM
    from finetrack.tracker import Tracker

    mode = mode or cfg.mode
    cues = (-1, COLOR_DIM) if resolve_appearance(cfg, mode) == "auto" else None
    return Tracker.from_config(cfg, frame_rate, cues=cues, mode=mode)


def build_source(
    kind: str,
    seq: MOTSequence,
    cfg: Config,
    detector=None,
    device: str = "cpu",
    min_score: Optional[float] = None,
):
    """A detection source for one sequence (``public``, ``gt`` or ``yolox``)."""
    if kind == "public":
        return PublicDetections(seq, min_score=min_score)
    if kind == "gt":
        return GTDetections(seq, GTFilter.of(cfg.data))
    if kind == "yolox":
        if detector is None:
            raise ValueError("--det yolox needs a detector (--det-ckpt, or a --reid-ckpt whose detector is trained)")
        return YOLOXDetections(detector, device)
    raise ValueError(f"unknown detection source {kind!r}; valid: {list(SOURCES)}")


def build_detector_from_config(cfg: Config, ckpt: str, device: str = "cpu"):
    """A YOLOX detector with ByteTrack-format weights from ``ckpt``.

    The variant and input size are ``cfg.model``'s, unless the checkpoint records its own (a
    ``tools/train_det.py`` checkpoint does): weights fix the variant, and a detector tracks best
    at the size it was trained at. ByteTrack's checkpoints record neither.
    """
    from finetrack.models.detector import (
        build_detector,
        checkpoint_detector_spec,
        detector_head_trained,
    )
    from finetrack.utils.checkpoint import load_checkpoint

    m = cfg.model
    obj = load_checkpoint(ckpt)
    state = obj.get("model") if isinstance(obj, dict) else None
    if isinstance(state, dict):
        from finetrack.utils.checkpoint import check_finite_state

        check_finite_state(state, ckpt)  # NaN weights first: the most basic fault of a file
    if detector_head_trained(obj) is False:
        raise ValueError(
            f"{ckpt}: its YOLOX detection head was never trained (no detection weights: a Re-ID "
            "run with model.det_ckpt=null), so it finds no box; use a tools/train_det.py best.pth "
            "or ByteTrack's weights"
        )
    spec = checkpoint_detector_spec(obj)
    name = spec.get("detector", m.detector)
    size = tuple(spec.get("input_size", tuple(m.input_size)))
    if spec and (name != m.detector or size != tuple(m.input_size)):
        logger.info(
            "%s records detector %s at input %s: using them (config: %s at %s)",
            ckpt, name, size, m.detector, tuple(m.input_size),
        )
    det = build_detector(
        name,
        input_size=size,
        conf_thresh=m.conf_thresh,
        nms_thresh=m.nms_thresh,
        max_det=m.max_det,
        feature_levels=tuple(m.feature_levels),
    )
    det.load_checkpoint(ckpt, obj=obj)
    logger.info("detector YOLOX-%s from %s, input %s", det.variant, ckpt, size)
    return det.to(device).eval()
