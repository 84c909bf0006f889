"""Turn the tracking config into objects: the tracker, the detection source, the detector."""
from __future__ import annotations

import logging
from typing import Optional, Sequence

from finetrack.config import Config, TrackerConfig
from finetrack.data.identities import GTFilter
from finetrack.data.mot import MOTSequence
from finetrack.inference.sources import SOURCES, GTDetections, PublicDetections, YOLOXDetections

logger = logging.getLogger(__name__)


#: the appearance of the botsort mode when tracker.appearance is null: training-free
#: (no checkpoint). The nested study has no row where a learned cue helps on a left-out scene, so
#: a --reid-ckpt does not join it (tracker.appearance=reid+color+imagenet asks for it)
FREE_APPEARANCE = "color+imagenet"


def resolve_appearance(cfg: TrackerConfig, mode: Optional[str] = None) -> str:
    """What the embeddings of ``mode`` (default ``cfg.mode``) are: ``cfg.appearance``, or when it
    is null the mode's own: ``auto`` (Re-ID and colour, two cues) for ``robust``,
    :data:`FREE_APPEARANCE` for ``botsort``, ``reid`` else (``finetrack``: the
    paper's rule on the Re-ID features)."""
    if cfg.appearance is not None:
        return cfg.appearance
    mode = mode or cfg.mode
    if mode == "robust":
        return "auto"
    return FREE_APPEARANCE if mode == "botsort" else "reid"


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


def embed_floor(cfg: TrackerConfig, tracker) -> Optional[float]:
    """The score at or below which the Re-ID head and the appearance cues skip a box (zero rows):
    ``tracker.embedding_floor``, or None (every box) with ``tracker.embed_all_boxes``."""
    return None if cfg.embed_all_boxes else tracker.embedding_floor


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


def set_classes(det, classes: Optional[Sequence[int]]) -> None:
    """Make a YOLOX detector keep only these class indices (None: all).

    Raises:
        ValueError: an index outside ``0..num_classes-1`` (the message says how many it has).
    """
    if classes is not None:
        classes = tuple(int(c) for c in classes)
        if not classes or not all(0 <= c < det.num_classes for c in classes):
            raise ValueError(f"--classes {list(classes)}: outside 0..{det.num_classes - 1} (this "
                             f"detector has {det.num_classes} class(es); COCO: 0 = person)")
    det.classes = classes


def build_detector_from_config(cfg: Config, ckpt: str, device: str = "cpu",
                               classes: Optional[Sequence[int]] = None, conf: Optional[float] = None,
                               progress: bool = True):
    """A YOLOX detector with weights from ``ckpt``: a path, or a name of
    :func:`finetrack.models.zoo.zoo` (``yolox-s``: COCO weights, downloaded into the torch hub
    cache; ``bytetrack_x_mot17``: ByteTrack's, taken from that cache).

    For a path, the variant and input size are ``cfg.model``'s, unless the checkpoint records its
    own (a ``tools/train_det.py`` checkpoint does): weights fix the variant, and a detector tracks
    best at the size it was trained at. ByteTrack's checkpoints record neither. A named model has
    its own variant, class count and input size (COCO: 416 for nano/tiny, 640 else).

    Args:
        classes: class indices to keep (None: a COCO model keeps person only, others all).
        conf: detector score threshold (None: ``cfg.model.conf_thresh``).
        progress: show the download bar.

    Raises:
        CheckpointMismatchError: the file is not the architecture its name says (one line).
        FileNotFoundError / OSError: a ByteTrack model not in the cache, a failed download.
    """
    from finetrack.models import zoo
    from finetrack.models.detector import (
        CheckpointMismatchError,
        build_detector,
        checkpoint_detector_spec,
        detector_head_trained,
        extract_state_dict,
    )
    from finetrack.utils.checkpoint import load_checkpoint

    m = cfg.model
    conf = m.conf_thresh if conf is None else float(conf)
    entry = zoo.lookup(ckpt)
    label = ckpt
    if entry is not None:
        ckpt = str(zoo.fetch(entry, m.weights_url, progress=progress))
    try:
        obj = load_checkpoint(ckpt)
    except ValueError as e:  # CheckpointError: truncated / corrupt, one line naming the file
        if entry is None:
            raise
        raise type(e)(f"--det-ckpt {label}: {e} (delete it to fetch it again)") from e
    state = obj.get("model") if isinstance(obj, dict) else None
    if isinstance(state, dict):
        from finetrack.utils.checkpoint import check_finite_state

        check_finite_state(state, ckpt)  # NaN weights first: the most basic fault of a file
    if entry is not None:
        det = build_detector(
            entry.variant, num_classes=entry.num_classes, input_size=entry.input_size,
            conf_thresh=conf, nms_thresh=m.nms_thresh, max_det=m.max_det,
            feature_levels=tuple(m.feature_levels),
        )
        set_classes(det, entry.default_classes if classes is None else classes)
        try:
            det.load_checkpoint(ckpt, obj=obj)
        except (CheckpointMismatchError, TypeError) as e:
            try:
                found = extract_state_dict(obj)
            except TypeError:
                found = {}
            raise CheckpointMismatchError(zoo.architecture_error(label, ckpt, entry, found)) from e
        logger.info("detector %s: YOLOX-%s, %d class(es)%s, input %s, from %s", entry.name,
                    entry.variant, entry.num_classes,
                    f" (keeping {list(det.classes)})" if det.classes is not None else "",
                    entry.input_size, ckpt)
        return det.to(device).eval()
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
        conf_thresh=conf,
        nms_thresh=m.nms_thresh,
        max_det=m.max_det,
        feature_levels=tuple(m.feature_levels),
    )
    det.load_checkpoint(ckpt, obj=obj)
    if classes is not None:
        set_classes(det, classes)
    logger.info("detector YOLOX-%s from %s, input %s", det.variant, ckpt, size)
    return det.to(device).eval()
