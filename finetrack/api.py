"""The Python API at the package top (``finetrack.Tracker``, ``finetrack.load_detector``,
``finetrack.track_video``), imported lazily by ``finetrack/__init__.py``.

    import cv2, finetrack

    detector = finetrack.load_detector("yolox-s")          # COCO person, downloaded once
    tracker = finetrack.Tracker(frame_rate=30)             # ByteTrack association
    cap = cv2.VideoCapture("clip.mp4")
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        boxes, scores = detector(frame)                    # (N, 4) xyxy pixels, (N,)
        out = tracker.update(boxes, scores)                # out.ids, out.xyxy, out.scores
        for tid, (x1, y1, x2, y2) in zip(out.ids, out.xyxy):
            cv2.rectangle(frame, (int(x1), int(y1)), (int(x2), int(y2)), (0, 255, 0), 2)

``finetrack.track_video("clip.mp4", detector="yolox-s")`` does the whole loop and returns the
tracks; it writes nothing unless ``out=`` is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from finetrack.tracker import Tracker  # noqa: F401  (the API's tracker: update(boxes, scores[, embeddings]))

__all__ = ["Detector", "Tracker", "load_detector", "track_video"]


class Detector:
    """A YOLOX detector called on one BGR frame.

    Args:
        net: a :class:`finetrack.models.detector.YOLOXDetector` (eval mode).
        device: torch device string.

    Call: ``detector(frame_bgr)`` with a (H, W, 3) uint8 BGR image -> ``(boxes (N, 4) float32
    xyxy in the frame's pixels, scores (N,) float32)``, sorted by decreasing score.
    """

    def __init__(self, net, device: str = "cpu"):
        self.net = net.to(device).eval()
        self.device = device

    @property
    def input_size(self) -> Tuple[int, int]:
        """Network input (H, W)."""
        return tuple(self.net.input_size)

    @property
    def classes(self) -> Optional[Tuple[int, ...]]:
        """Class indices kept (None: all)."""
        return self.net.classes

    @property
    def conf(self) -> float:
        return float(self.net.conf_thresh)

    def __call__(self, frame_bgr: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        import torch

        img = np.asarray(frame_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"a detector takes a (H, W, 3) uint8 BGR frame, got {img.shape} "
                             f"{img.dtype}")
        tensor, ratio = self.net.preprocess(img)
        with torch.inference_mode():
            boxes, scores = self.net.detect(tensor[None].to(self.device), [ratio],
                                            [img.shape[:2]])[0]
        return boxes.astype(np.float32).reshape(-1, 4), scores.astype(np.float32).reshape(-1)


def _config(config):
    from finetrack.config import Config
    from finetrack.configlib import load_config

    if config is None:
        return Config()
    if isinstance(config, (str, Path)):
        return load_config(Config, config)
    return config


def load_detector(
    name_or_path: str,
    conf: Optional[float] = None,
    classes: Optional[Sequence[int]] = None,
    device: str = "cpu",
    config=None,
    progress: bool = True,
) -> Detector:
    """A detector by name or path, ready to call on frames.

    Args:
        name_or_path: ``yolox-nano`` ... ``yolox-x`` (YOLOX COCO weights, downloaded once into the
            torch hub cache), ``bytetrack_x_mot17`` ... (ByteTrack's, from that cache), or a path
            to YOLOX weights (ByteTrack / ``finetrack train-det`` format).
        conf: score threshold (default: ``model.conf_thresh`` of the config, 0.01).
        classes: class indices kept (default: a COCO model keeps 0 = person; others all).
        device: ``cpu`` or ``cuda``.
        config: a :class:`finetrack.config.Config` or a YAML path (``model`` section: variant and
            input size of a path without them, ``weights_url``); None = the defaults.
        progress: show the download bar.
    """
    from finetrack.inference.build import build_detector_from_config

    cfg = _config(config)
    net = build_detector_from_config(cfg, str(name_or_path), device, classes=classes, conf=conf,
                                     progress=progress)
    return Detector(net, device)


def track_video(
    source: Union[str, Path, int],
    detector: Union[str, Detector, None] = "yolox-s",
    det_file: Optional[Union[str, Path]] = None,
    mode: Optional[str] = None,
    conf: Optional[float] = None,
    classes: Optional[Sequence[int]] = None,
    vid_stride: int = 1,
    max_frames: Optional[int] = None,
    fps: Optional[float] = None,
    out: Optional[Union[str, Path]] = None,
    video: bool = False,
    save_crops: bool = False,
    fmt: str = "txt",
    device: str = "cpu",
    config=None,
    progress: bool = False,
):
    """Track a video (any source ``finetrack track --source`` takes) and return the tracks.

    Args:
        source: video file, image folder, glob, webcam index or MOT sequence folder.
        detector: a name / path for :func:`load_detector`, or a :class:`Detector` (reused).
        det_file: MOTChallenge detection rows (1-based frames) instead of a detector.
        mode: association; None = the config's (``botsort`` on the training-free colour + ImageNet
            cues, as ``finetrack track`` without ``--mode``); ``byte`` is motion only. A mode whose
            appearance reads a Re-ID model (``finetrack``, ``jde``) needs ``finetrack track
            --reid-ckpt``.
        conf, classes: detector score threshold and classes (a detection file: ``conf`` drops
            the rows below it).
        vid_stride, max_frames: every n-th frame, at most this many (source frame numbers kept).
        fps: frame rate of a source that records none (image folders).
        out: a folder to write ``<name>.txt`` (``fmt``: txt | json | csv) into; None = write
            nothing.
        video: also write ``<out>/<name>.mp4`` (H.264; needs ``out``).
        save_crops: also write ``<out>/crops/<name>/<id>/<frame>.jpg`` (needs ``out``).
        config: a :class:`finetrack.config.Config` or YAML path (``tracker`` thresholds).
        progress: show a progress bar.

    Returns:
        :class:`finetrack.inference.track_loop.SequenceResult`: ``frames``, ``ids`` (R,),
        ``tlwh`` (R, 4), ``scores`` (R,) (one row per tracked box, source frame numbers), the
        per-stage ``timer`` and ``rows`` ((R, 7) frame, id, x, y, w, h, score).
    """
    from finetrack.inference.build import build_tracker, embed_floor
    from finetrack.inference.frames import open_source
    from finetrack.inference.options import (CropSaver, SourceOptions, StridedFrames,
                                             chain_callbacks, write_tracks)
    from finetrack.inference.sources import FileDetections, YOLOXDetections
    from finetrack.inference.track_loop import track_sequence

    opts = SourceOptions(conf=conf, classes=None if classes is None else tuple(classes),
                         vid_stride=vid_stride, max_frames=max_frames,
                         det_file=None if det_file is None else str(det_file),
                         save_crops=save_crops, fmt=fmt)
    if (video or save_crops) and out is None:
        raise ValueError("video=True / save_crops=True write files: give out=FOLDER")
    cfg = _config(config)
    mode = mode or cfg.tracker.mode
    appearance = None
    if mode != "byte":
        from finetrack.inference.appearance import build_appearance, needs_reid
        from finetrack.inference.build import resolve_appearance

        cue = resolve_appearance(cfg.tracker, mode)
        if needs_reid(cue) or cue == "auto":
            raise ValueError(f"mode {mode!r} with tracker.appearance={cue} reads a Re-ID model: "
                             "track_video runs training-free cues only (the default mode, or "
                             "mode='byte'); use `finetrack track --reid-ckpt ...`")
        appearance = build_appearance(cue, device)
    reader = open_source(str(source), fps)
    if opts.subsamples:
        reader = StridedFrames(reader, opts.vid_stride, opts.max_frames)
    if det_file is not None:
        n_src = getattr(reader, "reader", reader).num_frames
        src = FileDetections(det_file, conf, None if reader.kind == "webcam" else n_src)
    else:
        if detector is None:
            raise ValueError("give a detector (name, path or Detector) or det_file")
        det = detector if isinstance(detector, Detector) else load_detector(
            detector, conf=conf, classes=classes, device=device, config=cfg, progress=progress)
        src = YOLOXDetections(det.net, det.device)
    tracker = build_tracker(cfg.tracker, reader.frame_rate, mode)
    writer = crops = None
    out_dir = None if out is None else Path(out)
    if out_dir is not None and video:
        from finetrack.inference.video import VideoWriter

        writer = VideoWriter(out_dir / f"{reader.name}.mp4", reader.frame_rate)
    if out_dir is not None and save_crops:
        crops = CropSaver(out_dir / "crops" / reader.name)
    try:
        floor = embed_floor(cfg.tracker, tracker)
        res = track_sequence(reader, src, tracker, progress=progress,
                             on_frame=chain_callbacks(writer, crops), appearance=appearance,
                             embed_floor=floor)
        if out_dir is not None:
            write_tracks(out_dir / reader.name, res.rows, opts.fmt)
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    return res
