"""What ``tracker.appearance`` makes of a frame's boxes: the tracker's embeddings.

Values (``TrackerConfig.appearance``):

- ``reid``: the Re-ID head's features (the paper's);
- training-free (no checkpoint): ``color`` (HSV histogram, :mod:`finetrack.inference.color`),
  ``imagenet`` (ImageNet MobileNetV2 features, :mod:`finetrack.inference.imagenet`) and
  ``color+imagenet`` (each L2-normalised, concatenated: the cosine of two such vectors is the
  mean of the two cues' cosines);
- ``reid+imagenet``, ``reid+color+imagenet``: the Re-ID features beside the training-free
  cues, every part L2-normalised and the parts concatenated (equal weight, as
  ``color+imagenet``);
- ``auto``: robust's two cues (:class:`finetrack.inference.color.ColorAppearance`).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from finetrack.inference.color import ColorAppearance, ColorHistogramEmbedder
from finetrack.tracker.track import l2_normalize

#: the cues that need no training, in the order their parts are concatenated
FREE_CUES = ("color", "imagenet")
#: every value of ``tracker.appearance`` but null
APPEARANCES = ("reid", "color", "imagenet", "color+imagenet", "reid+imagenet",
               "reid+color+imagenet", "auto")


def appearance_parts(appearance: str) -> Tuple[bool, Tuple[str, ...]]:
    """``(reads the Re-ID features, training-free cues)`` of an appearance value.

    ``auto`` reads the Re-ID features and the colour histogram.
    """
    if appearance not in APPEARANCES:
        raise ValueError(f"unknown tracker.appearance {appearance!r}; valid: {', '.join(APPEARANCES)}")
    if appearance == "auto":
        return True, ("color",)
    parts = appearance.split("+")
    return "reid" in parts, tuple(c for c in FREE_CUES if c in parts)


def needs_reid(appearance: str) -> bool:
    """Whether ``appearance`` reads a Re-ID model's features (a checkpoint is needed)."""
    return appearance_parts(appearance)[0]


def concat_cues(features: Sequence[np.ndarray]) -> np.ndarray:
    """Each (N, D_k) part L2-normalised, concatenated and the whole L2-normalised again.

    With unit parts the result is ``[f_1, ..., f_K] / sqrt(K)``: the cosine of two results is the
    mean of the parts' cosines. Returns (N, sum D_k) float32.
    """
    parts = [np.asarray(f, dtype=np.float32) for f in features]
    parts = [l2_normalize(f if f.ndim == 2 else f.reshape(len(f), -1)) for f in parts]
    return l2_normalize(np.concatenate(parts, axis=1)).astype(np.float32)


class FreeCueAppearance:
    """``appearance(image_bgr, xyxy, reid_or_None) -> (N, D)`` for the values with ``imagenet``
    (the ``color`` ones keep :class:`ColorAppearance`, same call).

    Args:
        appearance: an :data:`APPEARANCES` value holding ``imagenet``.
        device: where the MobileNetV2 runs.
        runtime: ``torch`` or ``onnx`` (the MobileNetV2 in onnxruntime, CPU).
        embedders: {cue: embedder} to use instead of building them (tests, caches).
    """

    def __init__(self, appearance: str, device: str = "cpu",
                 embedders: Optional[Dict[str, object]] = None, runtime: str = "torch"):
        self.appearance = appearance
        self.uses_reid, self.cues = appearance_parts(appearance)
        if not self.cues:
            raise ValueError(f"tracker.appearance={appearance} holds no training-free cue")
        self.embedders = dict(embedders or {})
        for cue in self.cues:
            if cue not in self.embedders:
                self.embedders[cue] = _build_cue(cue, device, runtime)

    def free_features(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """(N, D) the training-free part (:func:`concat_cues` of the cues)."""
        return concat_cues([self.embedders[c](image_bgr, xyxy) for c in self.cues])

    def __call__(self, image_bgr: np.ndarray, xyxy: np.ndarray, reid: Optional[np.ndarray]) -> np.ndarray:
        parts = [self.embedders[c](image_bgr, xyxy) for c in self.cues]
        if not self.uses_reid:
            return concat_cues(parts)
        if reid is None:
            raise ValueError(f"tracker.appearance={self.appearance}: this frame has no Re-ID embeddings")
        return concat_cues([reid] + parts)


def _build_cue(cue: str, device: str, runtime: str = "torch"):
    if cue == "color":
        return ColorHistogramEmbedder()
    from finetrack.inference.imagenet import ImageNetEmbedder

    return ImageNetEmbedder(device=device, runtime=runtime)


def build_appearance(appearance: str, device: str = "cpu", runtime: str = "torch"):
    """The ``appearance`` callable of :func:`finetrack.inference.track_loop.track_sequence` for a
    value other than ``reid`` (None for ``reid``: the Re-ID features as they are); ``runtime``
    ``onnx`` runs the ImageNet network in onnxruntime."""
    if appearance == "reid":
        return None
    if "imagenet" in appearance_parts(appearance)[1]:
        return FreeCueAppearance(appearance, device, runtime=runtime)
    return ColorAppearance(appearance)
