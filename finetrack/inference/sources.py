"""Detection sources: where the boxes of a frame come from (public det.txt, GT oracle, YOLOX,
FairMOT).

Every source is called per 1-based frame and returns ``(xyxy (N, 4) float64 original-image pixels,
scores (N,) float64)``; a source with ``gives_embeddings = True`` (:class:`JointDetections`, one
backbone pass for boxes and Re-ID features; :class:`FairMOTDetections`, one FairMOT forward)
returns ``(xyxy, scores, embeddings (N, D) float32)``.
Sources never see the tracker.
"""
from __future__ import annotations

import logging
from typing import Dict, Optional, Protocol, Tuple

import numpy as np

from finetrack.data.identities import GTFilter
from finetrack.data.mot import MOTSequence

logger = logging.getLogger(__name__)

FrameDets = Tuple[np.ndarray, np.ndarray]
SOURCES = ("public", "gt", "yolox", "fairmot")


class DetectionSource(Protocol):
    name: str
    needs_image: bool

    def __call__(self, frame: int, image: Optional[np.ndarray]) -> FrameDets: ...


class PublicDetections:
    """Boxes from the sequence's det/det.txt (scores as given).

    Args:
        seq: the sequence. min_score: drop boxes scoring below this (default: keep all).
    """

    name = "public"
    needs_image = False

    def __init__(self, seq: MOTSequence, min_score: Optional[float] = None):
        self._det = seq.det()
        self._min_score = min_score

    def __call__(self, frame: int, image: Optional[np.ndarray] = None) -> FrameDets:
        xyxy, scores = self._det.for_frame(frame)
        if self._min_score is not None:
            keep = scores >= self._min_score
            xyxy, scores = xyxy[keep], scores[keep]
        return xyxy, scores


class FileDetections(PublicDetections):
    """Boxes from a MOTChallenge detection file given for any source (``--det-file dets.txt``).

    Rows are ``frame,id,x,y,w,h,score[,...]`` with 1-based frames numbered like the source's
    (:func:`finetrack.data.mot.read_det`: a malformed line is an error naming the file and line).

    Args:
        path: the file. min_score: drop boxes scoring below this (default: keep all).
        num_frames: the source's frame count, when known: a row beyond it is an error.

    Called like :class:`PublicDetections` (the same per-frame lookup and score filter).
    """

    name = "file"

    def __init__(self, path, min_score: Optional[float] = None, num_frames: Optional[int] = None):
        from finetrack.data.mot import check_frame_range, read_det

        self._det = read_det(path)
        if num_frames is not None:
            check_frame_range(self._det.frames, self._det.line_no, path, num_frames,
                              f"the source's {num_frames} frames")
        self._min_score = min_score


class GTDetections:
    """Oracle boxes from gt.txt (filtered like training GT) with score 1, for Re-ID studies."""

    name = "gt"
    needs_image = False

    def __init__(self, seq: MOTSequence, gt_filter: GTFilter = GTFilter()):
        self._gt = gt_filter.apply(seq.gt())

    def __call__(self, frame: int, image: Optional[np.ndarray] = None) -> FrameDets:
        ann = self._gt.for_frame(frame)
        return ann.xyxy(), np.ones(len(ann), dtype=np.float64)


class YOLOXDetections:
    """Boxes from a :class:`finetrack.models.detector.YOLOXDetector` (score = obj * cls, NMS).

    Args:
        detector: the detector (eval mode is set here).
        device: torch device string.
    """

    name = "yolox"
    needs_image = True

    def __init__(self, detector, device: str = "cpu"):
        import torch

        self._torch = torch
        self.detector = detector.to(device).eval()
        self.device = device

    def __call__(self, frame: int, image: Optional[np.ndarray]) -> FrameDets:
        if image is None:
            raise ValueError("the YOLOX source needs the frame image")
        tensor, ratio = self.detector.preprocess(image)
        with self._torch.inference_mode():
            out = self.detector.detect(
                tensor[None].to(self.device), [ratio], [image.shape[:2]]
            )
        xyxy, scores = out[0]
        return np.asarray(xyxy, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)


class JointDetections:
    """Boxes AND their Re-ID embeddings from one backbone pass of a FineTrack model (paper Fig. 2).

    The model's YOLOX detector runs once on the frame; its backbone maps feed both the YOLOX head
    (boxes) and the Re-ID head (ROIAlign on the returned boxes), see
    :meth:`finetrack.models.reid_head.FineTrackModel.detect_and_embed`.

    Args:
        model: a :class:`finetrack.models.reid_head.FineTrackModel` whose detector head is trained
            (eval mode and its head's inference form are set here).
        device: torch device string.
        min_score: embed only the boxes scoring above it (the others get zero rows); None = all.
    """

    name = "yolox"
    needs_image = True
    gives_embeddings = True

    def __init__(self, model, device: str = "cpu", min_score: Optional[float] = None):
        self.model = model.to(device).eval()
        self.model.head.fuse()  # BN folded, batched MPMG (same outputs, faster)
        self.device = device
        #: boxes scoring at most this get a zero embedding instead of a Re-ID head pass (None:
        #: every box is embedded); the tracker's ``embedding_floor``
        self.min_score = min_score
        #: seconds of the last call: ``{"detector": .., "reid": ..}``
        self.last_timings: Dict[str, float] = {}

    @property
    def dim(self) -> int:
        return int(self.model.head.embedding_dim)

    def __call__(self, frame: int, image: Optional[np.ndarray]):
        if image is None:
            raise ValueError("the joint YOLOX + Re-ID source needs the frame image")
        tensor, ratio = self.model.detector.preprocess(image)
        timings: Dict[str, float] = {}
        xyxy, scores, emb = self.model.detect_and_embed(
            tensor[None].to(self.device), [ratio], [image.shape[:2]], timings=timings,
            min_score=self.min_score,
        )[0]
        self.last_timings = timings
        return (
            np.asarray(xyxy, np.float64).reshape(-1, 4),
            np.asarray(scores, np.float64).reshape(-1),
            np.asarray(emb, np.float32).reshape(len(xyxy), self.dim),
        )


class FairMOTDetections:
    """Boxes AND centre-point embeddings from ONE forward of a FairMOT network.

    :meth:`finetrack.fairmot.model.FairMOT.detect_and_embed`: heatmap 3x3 max-pool NMS, top-K
    centres above the model's ``conf_thresh`` (FairMOT: 0.4), ltrb boxes mapped back to the
    original image, the 128-d identity embedding read at each centre (L2-normalised).

    Args:
        model: a :class:`finetrack.fairmot.model.FairMOT` (eval mode is set here).
        device: torch device string.
    """

    name = "fairmot"
    needs_image = True
    gives_embeddings = True

    def __init__(self, model, device: str = "cpu"):
        import torch

        self._torch = torch
        self.model = model.to(device).eval()
        self.device = device
        #: seconds of the last call: the whole network is one pass, counted as ``detector``
        self.last_timings: Dict[str, float] = {}

    @property
    def dim(self) -> int:
        return int(self.model.emb_dim)

    def __call__(self, frame: int, image: Optional[np.ndarray]):
        if image is None:
            raise ValueError("the FairMOT source needs the frame image")
        tensor, ratio = self.model.preprocess(image)
        xyxy, scores, emb = self.model.detect_and_embed(
            tensor[None].to(self.device), [ratio], [image.shape[:2]]
        )[0]
        return (
            np.asarray(xyxy, np.float64).reshape(-1, 4),
            np.asarray(scores, np.float64).reshape(-1),
            np.asarray(emb, np.float32).reshape(len(xyxy), self.dim),
        )
