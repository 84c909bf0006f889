"""ONNX export of the detector and the Re-ID head, and their onnxruntime forms for tracking.

Two graphs (``finetrack export``, :func:`export_onnx`):

- ``detector.onnx``: ``images`` (1, 3, H, W) float32, letterboxed and normalised as
  :func:`finetrack.models.detector.preprocess_image` does -> ``raw`` (1, A, 5 + classes) (YOLOX's
  decoded head output: cx, cy, w, h in input pixels, objectness, class probabilities) and one
  backbone map per Re-ID level, ``feat0`` (1, C_0, H / s_0, W / s_0), ``feat1``, ... (finest first).
  NMS stays outside the graph (:func:`finetrack.models.detector.postprocess_detections`).
- ``reid_head.onnx``: the backbone maps ``feat0..`` + ``boxes`` (N, 4) xyxy in network-input
  pixels -> ``embedding`` (N, D), L2-normalised. ROIAlign is ONNX's ``RoiAlign`` (half-pixel
  coordinates, torchvision's ``aligned=True``); the head is exported in its inference form
  (:meth:`finetrack.models.reid_head.ReIDHead.fuse`: BN folded, the K MPMG branches batched).
  N is dynamic; N = 0 is answered without running the graph.

``export.json`` beside them records what a runtime needs (input size, strides, embedding width,
thresholds, opset, the checkpoint). :class:`OnnxDetector` and :class:`OnnxJointModel` run the
graphs with onnxruntime behind the interfaces of :class:`~finetrack.models.detector.YOLOXDetector`
(``preprocess`` / ``detect``) and of ``FineTrackModel.detect_and_embed``, so the detection
sources of :mod:`finetrack.inference.sources` use them unchanged (``finetrack track --runtime
onnx``).
"""
from __future__ import annotations

import io
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from finetrack.utils.io import atomic_write_bytes, atomic_write_text

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
#: ONNX opset of the exports (RoiAlign with coordinate_transformation_mode needs >= 16).
OPSET: int = 17
DETECTOR_FILE = "detector.onnx"
HEAD_FILE = "reid_head.onnx"
META_FILE = "export.json"
RUNTIMES = ("torch", "onnx")


class _DetectorGraph(nn.Module):
    """images -> (raw, feat0, feat1, ...): :meth:`YOLOXDetector.forward` with flat outputs."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        raw, feats = self.detector(images)
        return (raw, *feats)


class _HeadGraph(nn.Module):
    """(feat0, ..., boxes) -> embedding for ONE frame: :meth:`ReIDHead.forward`'s ``embedding``."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        *feats, boxes = inputs
        return self.head(list(feats), [boxes])["embedding"]


def export_bytes(module: nn.Module, args: Tuple[torch.Tensor, ...], input_names: List[str],
                  output_names: List[str], dynamic_axes: Dict[str, Dict[int, str]],
                  opset: int) -> bytes:
    """``torch.onnx.export`` (TorchScript exporter) of an eval-mode module into bytes."""
    module.eval()  # the exporter restores the mode it found: eval, so a fused head stays fused
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about the empty-batch branch
        torch.onnx.export(module, args, buf, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False,
                          do_constant_folding=True)
    return buf.getvalue()


def _example_boxes(input_hw: Tuple[int, int], n: int = 3) -> torch.Tensor:
    """n pedestrian-shaped xyxy boxes inside the input (only shape the trace; N is dynamic)."""
    h, w = input_hw
    rows = [[0.1 * w + 0.2 * i * w, 0.1 * h, 0.2 * w + 0.2 * i * w, 0.6 * h] for i in range(n)]
    return torch.tensor(rows, dtype=torch.float32)


def detector_onnx_bytes(detector: nn.Module, opset: int = OPSET) -> bytes:
    """The ``detector.onnx`` graph of a :class:`YOLOXDetector` (eval mode is set)."""
    detector.eval()
    h, w = detector.input_size
    names = [f"feat{i}" for i in range(len(detector.feature_levels))]
    return export_bytes(_DetectorGraph(detector), (torch.zeros(1, 3, h, w),), ["images"],
                         ["raw", *names], {}, opset)


def head_onnx_bytes(head: nn.Module, detector: nn.Module, opset: int = OPSET) -> bytes:
    """The ``reid_head.onnx`` graph of a :class:`ReIDHead` on ``detector``'s maps (fuses it)."""
    head.eval().fuse(channels_last=False)  # NCHW: ONNX convs are NCHW anyway
    h, w = detector.input_size
    feats = [torch.zeros(1, c, h // s, w // s)
             for c, s in zip(detector.feature_channels, detector.feature_strides)]
    names = [f"feat{i}" for i in range(len(feats))]
    return export_bytes(_HeadGraph(head), (*feats, _example_boxes((h, w))), [*names, "boxes"],
                         ["embedding"], {"boxes": {0: "boxes"}, "embedding": {0: "boxes"}}, opset)


def detector_meta(detector: nn.Module) -> Dict[str, Any]:
    """What a runtime needs to pre/post-process around ``detector.onnx``."""
    return {
        "variant": detector.variant,
        "input_size": list(detector.input_size),
        "feature_levels": list(detector.feature_levels),
        "feature_strides": list(detector.feature_strides),
        "feature_channels": list(detector.feature_channels),
        "conf_thresh": detector.conf_thresh,
        "nms_thresh": detector.nms_thresh,
        "num_classes": detector.num_classes,
    }


def export_onnx(
    model: nn.Module, out_dir: PathLike, opset: int = OPSET, checkpoint: Optional[str] = None
) -> List[Path]:
    """Write ``detector.onnx`` (+ ``reid_head.onnx`` for a FineTrack model) and ``export.json``.

    Args:
        model: a :class:`~finetrack.models.reid_head.FineTrackModel` (both graphs) or a
            :class:`~finetrack.models.detector.YOLOXDetector` (the detector only).
        out_dir: created if needed; every file is written atomically.
        opset: ONNX opset.
        checkpoint: recorded in ``export.json``.

    Returns:
        The written paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    detector = getattr(model, "detector", model)
    head = getattr(model, "head", None)
    files = []
    t0 = time.perf_counter()
    atomic_write_bytes(out / DETECTOR_FILE, detector_onnx_bytes(detector, opset))
    files.append(out / DETECTOR_FILE)
    meta: Dict[str, Any] = {"opset": opset, "checkpoint": checkpoint, "detector": DETECTOR_FILE,
                            **detector_meta(detector)}
    if head is not None:
        atomic_write_bytes(out / HEAD_FILE, head_onnx_bytes(head, detector, opset))
        files.append(out / HEAD_FILE)
        meta.update(reid_head=HEAD_FILE, embedding_dim=int(head.embedding_dim))
    atomic_write_text(out / META_FILE, json.dumps(meta, indent=2) + "\n")
    files.append(out / META_FILE)
    logger.info("exported %s to %s in %.1f s", ", ".join(p.name for p in files[:-1]), out,
                time.perf_counter() - t0)
    return files


# --------------------------------------------------------------------------------------------
# onnxruntime
# --------------------------------------------------------------------------------------------
def ort_session(graph: Union[bytes, PathLike], threads: Optional[int] = None):
    """A CPU onnxruntime session of an ONNX file or of its bytes (threads: torch's count).

    Its threads do not spin-wait after a run (``session.intra_op.allow_spinning`` 0): a frame
    runs several networks in turn (detector, ImageNet cue), and a pool that spins after its run
    takes the cores the next one needs.
    """
    try:
        import onnxruntime as ort
    except ImportError as e:  # pragma: no cover - a pinned requirement
        raise ValueError("--runtime onnx needs onnxruntime (pip install -r requirements.txt)") from e
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads or torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    src = graph if isinstance(graph, bytes) else str(graph)
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxDetector:
    """``detector.onnx`` in onnxruntime behind :class:`YOLOXDetector`'s inference interface.

    Pre-processing (letterbox) and post-processing (score = obj x cls, NMS, back to original
    pixels) are the torch detector's own functions, so only the network differs.

    Args:
        detector: the :class:`YOLOXDetector` the graph was exported from (its settings and
            pre/post-processing are used; its weights are not run).
        graph: the ONNX file or bytes (default: export ``detector`` now, in memory).
    """

    def __init__(self, detector: nn.Module, graph: Union[bytes, PathLike, None] = None) -> None:
        self.torch_detector = detector.eval()
        self.session = ort_session(detector_onnx_bytes(detector) if graph is None else graph)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    # the YOLOXDetector attributes the sources and the runner read
    def __getattr__(self, name: str) -> Any:
        if name in ("input_size", "variant", "feature_levels", "feature_strides",
                    "feature_channels", "conf_thresh", "nms_thresh", "preprocess", "postprocess"):
            return getattr(self.__dict__["torch_detector"], name)
        raise AttributeError(name)

    def to(self, _device) -> "OnnxDetector":
        return self

    def eval(self) -> "OnnxDetector":
        return self

    def run(self, images: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """``(raw, feats)`` like :meth:`YOLOXDetector.forward`, as CPU torch tensors."""
        outs = self.session.run(self.output_names, {self.input_name: images.cpu().numpy()})
        tensors = [torch.from_numpy(o) for o in outs]
        return tensors[0], tensors[1:]

    def __call__(self, images: torch.Tensor):
        return self.run(images)

    def detect(self, images: torch.Tensor, ratios: Sequence[float],
               image_sizes: Optional[Sequence[Tuple[int, int]]] = None):
        """:meth:`YOLOXDetector.detect` through onnxruntime."""
        raw, _ = self.run(images)
        return self.torch_detector.postprocess(raw, ratios, image_sizes)


class OnnxHead:
    """``reid_head.onnx`` in onnxruntime: backbone maps + boxes -> (N, D) embeddings.

    Args:
        head: the :class:`ReIDHead` the graph was exported from (for ``embedding_dim``).
        detector: its detector (the map shapes of an in-memory export).
        graph: the ONNX file or bytes (default: export ``head`` now, in memory).
    """

    def __init__(self, head: nn.Module, detector: nn.Module,
                 graph: Union[bytes, PathLike, None] = None) -> None:
        self.embedding_dim = int(head.embedding_dim)
        self.session = ort_session(head_onnx_bytes(head, detector) if graph is None else graph)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, feats: Sequence[torch.Tensor], boxes: torch.Tensor) -> np.ndarray:
        """(N, D) float32 embeddings of ``boxes`` (N, 4) xyxy in input pixels of ONE frame."""
        boxes = np.ascontiguousarray(np.asarray(boxes, np.float32).reshape(-1, 4))
        if len(boxes) == 0:
            return np.zeros((0, self.embedding_dim), np.float32)
        feed = {name: np.ascontiguousarray(f.numpy() if torch.is_tensor(f) else f)
                for name, f in zip(self.input_names[:-1], feats)}
        feed[self.input_names[-1]] = boxes
        return self.session.run(None, feed)[0]


class OnnxJointModel:
    """A FineTrack model (detector + Re-ID head) run by onnxruntime, one backbone pass per frame.

    Stands in for :class:`~finetrack.models.reid_head.FineTrackModel` in
    :class:`~finetrack.inference.sources.JointDetections` (``detector.preprocess``,
    ``head.embedding_dim``, :meth:`detect_and_embed`).

    Args:
        model: the torch FineTrackModel (exported now, in memory, unless ``export_dir`` holds
            the graphs written by :func:`export_onnx`).
        export_dir: a ``finetrack export`` folder to load instead.
    """

    def __init__(self, model: nn.Module, export_dir: Optional[PathLike] = None) -> None:
        model = model.cpu().eval()
        t0 = time.perf_counter()
        det_graph = head_graph = None
        if export_dir is not None:
            det_graph, head_graph = Path(export_dir) / DETECTOR_FILE, Path(export_dir) / HEAD_FILE
        self.detector = OnnxDetector(model.detector, det_graph)
        self.onnx_head = OnnxHead(model.head, model.detector, head_graph)
        self.head = model.head  # embedding_dim, and fuse() is harmless
        logger.info("onnxruntime %s: detector + Re-ID head graphs ready in %.1f s",
                    _ort_version(), time.perf_counter() - t0)

    def to(self, _device) -> "OnnxJointModel":
        return self

    def eval(self) -> "OnnxJointModel":
        return self

    def detect_and_embed(
        self,
        images: torch.Tensor,
        ratios: Sequence[float],
        image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
        timings: Optional[Dict[str, float]] = None,
        min_score: Optional[float] = None,
    ) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Same contract as ``FineTrackModel.detect_and_embed`` (one frame per call)."""
        from finetrack.models.reid_head import embed_mask, scatter_rows

        if images.shape[0] != 1:
            raise ValueError(f"the ONNX graphs take one frame, got a batch of {images.shape[0]}")
        t0 = time.perf_counter()
        raw, feats = self.detector.run(images)
        (xyxy, scores), = self.detector.postprocess(raw, ratios, image_sizes)
        t1 = time.perf_counter()
        keep = embed_mask(scores, min_score)
        emb = self.onnx_head(feats, xyxy[keep] * np.float32(ratios[0]))
        emb = scatter_rows(emb, keep, int(self.head.embedding_dim))
        if timings is not None:
            timings["detector"] = t1 - t0
            timings["reid"] = time.perf_counter() - t1
        return [(xyxy, scores, emb)]


def _ort_version() -> str:
    import onnxruntime as ort

    return ort.__version__


def synthetic_frame(height: int = 576, width: int = 768, seed: int = 0) -> np.ndarray:
    """A (height, width, 3) uint8 BGR test frame: smooth background + a few person-sized blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([80 + 60 * np.sin(xx / 37.0), 100 + 50 * np.cos(yy / 23.0),
                    120 + 40 * np.sin((xx + yy) / 51.0)], axis=-1)
    for _ in range(6):
        h = int(rng.integers(height // 6, height // 2))
        w = max(4, int(h * rng.uniform(0.35, 0.5)))
        y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        img[y:y + h, x:x + w] = rng.integers(0, 256, 3)
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


#: Raw boxes wider or taller than this many input sizes are left out of :func:`box_parity`.
PLAUSIBLE_BOX_SCALE: float = 4.0


def box_parity(o_raw: torch.Tensor, raw: torch.Tensor, input_size: Sequence[int]) -> float:
    """Largest box difference over ``max(1, max |box|)``, among the boxes a frame can hold.

    YOLOX decodes w, h as ``exp(logit) * stride``, so a random or half-trained detector emits
    boxes of 1e8 pixels (logits near 19) where float32 rounding of the logit (1e-4, tens of
    ulps) becomes a relative error of 1e-4 of the box itself. Such boxes never survive
    post-processing against a frame; only raw boxes with w and h at most
    :data:`PLAUSIBLE_BOX_SCALE` times the larger input side are compared (0.0 when none is).

    Args:
        o_raw, raw: (B, A, 5 + C) raw outputs (cx, cy, w, h in input pixels first) of the two
            runtimes.
        input_size: (H, W) of the network input.
    """
    limit = PLAUSIBLE_BOX_SCALE * float(max(input_size))
    o_raw = torch.as_tensor(o_raw)
    keep = (raw[..., 2:4].abs().amax(dim=-1) <= limit) & (o_raw[..., 2:4].abs().amax(dim=-1) <= limit)
    if not bool(keep.any()):
        return 0.0
    a, b = o_raw[..., :4][keep], raw[..., :4][keep]
    return float((a - b).abs().max()) / max(1.0, float(b.abs().max()))


def parity(model: nn.Module, export_dir: PathLike, image: Optional[np.ndarray] = None
           ) -> Dict[str, Any]:
    """Run the exported graphs and the torch model on one frame; the largest differences.

    Args:
        model: what was exported (FineTrackModel or YOLOXDetector; eval mode).
        export_dir: the :func:`export_onnx` folder.
        image: BGR frame (default :func:`synthetic_frame`).

    Returns:
        ``max_rel_feats`` (backbone maps: the largest difference over ``max(1, max |map|)``,
        since deep maps reach tens), ``max_rel_boxes`` (:func:`box_parity`),
        ``max_abs_scores`` (objectness and class probabilities), ``max_abs_embedding`` and
        ``boxes`` (how many boxes were embedded: the torch detections plus fixed boxes, so
        that a frame without detections still checks the head).
    """
    export_dir = Path(export_dir)
    image = synthetic_frame() if image is None else image
    model = model.cpu().eval()
    detector = getattr(model, "detector", model)
    tensor, ratio = detector.preprocess(image)
    images = tensor[None]
    with torch.inference_mode():
        raw, feats = detector(images)
    onnx_det = OnnxDetector(detector, export_dir / DETECTOR_FILE)
    o_raw, o_feats = onnx_det.run(images)
    report: Dict[str, Any] = {
        "max_rel_feats": max(float((a - b).abs().max()) / max(1.0, float(b.abs().max()))
                             for a, b in zip(o_feats, feats)),
        "max_rel_boxes": box_parity(o_raw, raw, detector.input_size),
        "max_abs_scores": float((o_raw[..., 4:] - raw[..., 4:]).abs().max()),
    }
    head = getattr(model, "head", None)
    if head is not None and (export_dir / HEAD_FILE).is_file():
        (xyxy, _), = detector.postprocess(raw, [ratio], [image.shape[:2]])
        boxes = torch.cat([torch.from_numpy(np.asarray(xyxy, np.float32) * np.float32(ratio)),
                           _example_boxes(detector.input_size, 4)])
        with torch.inference_mode():
            ref = head(feats, [boxes])["embedding"]
        emb = OnnxHead(head, detector, export_dir / HEAD_FILE)(feats, boxes.numpy())
        report["max_abs_embedding"] = float(np.abs(emb - ref.numpy()).max())
        report["boxes"] = int(len(boxes))
    return report
