"""Track one sequence: frames -> detection source -> (embedder) -> tracker -> results rows.

The runner owns the frame loop, the half-split renumbering and per-stage timing; it knows nothing
of how boxes or embeddings are made (sources, embedder) nor of association (the tracker).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

from finetrack.data.mot import half_split_frames
from finetrack.structures import xyxy_to_tlwh

logger = logging.getLogger(__name__)


@dataclass
class StageTimer:
    """Accumulated seconds per named stage and the number of frames.

    Stages of :func:`track_sequence`: ``decode`` (reading + decoding the frame image),
    ``detector`` (letterbox, backbone, YOLOX head, NMS; or reading det.txt), ``reid`` (ROIAlign +
    Re-ID head), ``appearance`` (the training-free cues of ``tracker.appearance``: colour
    histogram, ImageNet features), ``cmc`` (camera motion), ``association`` (the tracker update) and ``write``
    (drawing and encoding the video frame; the caller adds the result file's writing).
    """

    seconds: Dict[str, float] = field(default_factory=dict)
    frames: int = 0

    def add(self, stage: str, dt: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + dt

    def merge(self, other: "StageTimer") -> None:
        for k, v in other.seconds.items():
            self.add(k, v)
        self.frames += other.frames

    def summary(self) -> str:
        """One line: ms/frame per stage, total FPS (image reading included)."""
        n = max(self.frames, 1)
        total = sum(self.seconds.values())
        parts = [f"{k} {1000 * v / n:.1f} ms" for k, v in self.seconds.items()]
        fps = self.frames / total if total > 0 else float("inf")
        return f"{self.frames} frames | " + " | ".join(parts) + f" | total {fps:.1f} FPS"


@dataclass
class SequenceResult:
    """Tracker output rows of one sequence (frames renumbered for a half)."""

    name: str
    frames: np.ndarray  #: (N,) 1-based frame numbers as written to the results file
    ids: np.ndarray  #: (N,) int64 track ids
    tlwh: np.ndarray  #: (N, 4) boxes
    scores: np.ndarray  #: (N,)
    timer: StageTimer
    detections: int = 0  #: boxes the detection source gave over all frames (before tracking)
    embedded: int = 0  #: of those, the boxes the Re-ID head embedded (the others: zero rows)
    interrupted: bool = False  #: Ctrl-C stopped the loop; the rows cover the finished frames only

    @property
    def rows(self) -> np.ndarray:
        """(N, 7) ``frame, id, x, y, w, h, score`` (the MOTChallenge columns)."""
        return np.column_stack([self.frames, self.ids, self.tlwh, self.scores]).reshape(-1, 7)


def embed_boxes(embedder, image, xyxy: np.ndarray, scores: np.ndarray,
                floor: Optional[float]) -> np.ndarray:
    """``embedder(image, xyxy)`` on the boxes scoring above ``floor`` (all when None), zero rows
    for the others."""
    from finetrack.models.reid_head import embed_mask, scatter_rows

    keep = embed_mask(scores, floor)
    if keep.all():
        return embedder(image, xyxy)
    return scatter_rows(embedder(image, np.asarray(xyxy)[keep]), keep, int(embedder.dim))


def appearance_rows(appearance, image, xyxy: np.ndarray, scores: np.ndarray,
                    reid: Optional[np.ndarray], floor: Optional[float]) -> np.ndarray:
    """``appearance(image, xyxy, reid)`` on the boxes scoring above ``floor`` (all when None),
    zero rows for the others: (N, D) float32."""
    from finetrack.models.reid_head import embed_mask, scatter_rows

    keep = embed_mask(scores, floor)
    if keep.all():
        return appearance(image, xyxy, reid)
    sub = appearance(image, np.asarray(xyxy)[keep], None if reid is None else reid[keep])
    return scatter_rows(sub, keep, sub.shape[1])


def detect_frame(source, frame: int, image: Optional[np.ndarray], timer: StageTimer):
    """One frame through a detection source, its time added to ``timer``.

    Returns:
        ``(xyxy, scores, embeddings or None)``. A source with ``gives_embeddings`` (one backbone
        pass) has its call split into ``detector`` and ``reid`` by its ``last_timings``; any
        other source's call is all ``detector``.
    """
    t0 = time.perf_counter()
    dets = source(frame, image)
    dt = time.perf_counter() - t0
    if getattr(source, "gives_embeddings", False):
        xyxy, scores, emb = dets
        head = source.last_timings.get("reid", 0.0)
        timer.add("detector", dt - head)
        timer.add("reid", head)
        return xyxy, scores, emb
    xyxy, scores = dets
    timer.add("detector", dt)
    return xyxy, scores, None


def track_sequence(
    seq,
    source,
    tracker,
    embedder: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
    half: str = "all",
    progress: bool = False,
    on_frame: Optional[Callable[[int, np.ndarray, object], None]] = None,
    cmc: Optional[Callable[[int, np.ndarray, Optional[np.ndarray]], np.ndarray]] = None,
    embed_floor: Optional[float] = None,
    appearance: Optional[Callable[[np.ndarray, np.ndarray, Optional[np.ndarray]], np.ndarray]] = None,
) -> SequenceResult:
    """Run ``tracker`` over the frames of a (half of a) sequence.

    Args:
        seq: a :class:`finetrack.data.mot.MOTSequence` or any frame reader of
            :mod:`finetrack.inference.frames` (video file, image folder, webcam).
        source: a detection source (``source(frame, image) -> (xyxy, scores)``, or
            ``(xyxy, scores, embeddings)`` for a source with ``gives_embeddings``), see
            :mod:`finetrack.inference.sources`.
        tracker: a fresh :class:`finetrack.tracker.Tracker` (reset here).
        embedder: ``embedder(image_bgr, xyxy) -> (N, D)``; None = motion only (or the source's
            own embeddings).
        half: ``all``, ``train`` (frames 1..N//2) or ``val`` (N//2+1..N, renumbered from 1 as in
            gt_val_half.txt).
        progress: show a tqdm bar (frames and live FPS).
        on_frame: optional callback ``(written_frame, image_or_None, tracker_output)`` (videos).
        cmc: camera motion ``cmc(frame, xyxy, image_or_None) -> (2, 3)`` warp from the previous
            frame (:class:`finetrack.inference.camera_motion.SequenceCMC`, which reads frames it
            needs itself), passed to ``tracker.update(..., warp=)``; None = static camera.
        embed_floor: ``embedder`` and ``appearance`` run only on the boxes scoring above it, the
            other rows are zeros (``tracker.embedding_floor``: boxes the association never
            reads); None = all.
        appearance: ``appearance(image_bgr, xyxy, reid_or_None) -> (N, D)`` turns the frame's
            Re-ID embeddings into the tracker's (``tracker.appearance`` colour cue,
            :class:`finetrack.inference.color.ColorAppearance`); None = the Re-ID embeddings.

    Returns:
        The results with frames numbered as the matching GT file expects. Ctrl-C (KeyboardInterrupt)
        stops the loop and returns the rows of the frames finished so far, ``interrupted=True``.
    """
    from finetrack.inference.frames import as_reader
    from finetrack.models.reid_head import embed_mask

    reader = as_reader(seq)
    if reader.num_frames is None:
        if half != "all":
            raise ValueError(f"{reader.name}: --half {half} needs a source of known length")
        first, last = 1, None
    else:
        first, last = half_split_frames(reader.num_frames, half)
    offset = first - 1
    tracker.reset()
    timer = StageTimer()
    joint = getattr(source, "gives_embeddings", False)
    need_image = (
        getattr(source, "needs_image", False) or embedder is not None or on_frame is not None
        or appearance is not None
    )
    rows_f: List[np.ndarray] = []
    rows_id: List[np.ndarray] = []
    rows_box: List[np.ndarray] = []
    rows_s: List[np.ndarray] = []
    n_dets = 0
    n_emb = 0
    interrupted = False
    frames = reader.iter_frames(first, last, read=need_image)
    bar = None
    if progress:
        from finetrack.utils.progress import progress_bar

        total = None if last is None else last - first + 1
        bar = progress_bar(total=total, desc=f"{reader.name} [{half}]", unit="frame", leave=False,
                   dynamic_ncols=True)
    try:
        while True:
            t0 = time.perf_counter()
            try:
                frame, image = next(frames)
            except StopIteration:
                break
            if need_image:
                timer.add("decode", time.perf_counter() - t0)
            xyxy, scores, emb = detect_frame(source, frame, image, timer)
            n_dets += len(xyxy)
            if embedder is not None and not joint:
                t0 = time.perf_counter()
                emb = embed_boxes(embedder, image, xyxy, scores, embed_floor)
                timer.add("reid", time.perf_counter() - t0)
            if appearance is not None:
                t0 = time.perf_counter()
                emb = appearance_rows(appearance, image, xyxy, scores, emb, embed_floor)
                timer.add("appearance", time.perf_counter() - t0)
            if emb is not None:
                floor = getattr(source, "min_score", None) if joint else embed_floor
                n_emb += int(embed_mask(scores, floor).sum())
            motion = {}
            if cmc is not None:
                t0 = time.perf_counter()
                motion["warp"] = cmc(frame, xyxy, image)
                timer.add("cmc", time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = tracker.update(xyxy, scores, emb, **motion)
            timer.add("association", time.perf_counter() - t0)
            written = frame - offset
            if len(out.ids):
                rows_f.append(np.full(len(out.ids), written, dtype=np.int64))
                rows_id.append(np.asarray(out.ids, dtype=np.int64))
                rows_box.append(xyxy_to_tlwh(out.xyxy))
                rows_s.append(np.asarray(out.scores, dtype=np.float64))
            if on_frame is not None:
                t0 = time.perf_counter()
                on_frame(written, image, out)
                timer.add("write", time.perf_counter() - t0)
            timer.frames += 1
            if bar is not None:
                bar.update(1)
                if timer.frames % 10 == 0:
                    bar.set_postfix(boxes=len(xyxy), tracks=len(out.ids), refresh=False)
    except KeyboardInterrupt:
        interrupted = True
        # a frame interrupted half-way may have appended rows without finishing: keep whole frames
        done = timer.frames
        keep = [i for i, f in enumerate(rows_f) if int(f[0]) <= done]
        rows_f, rows_id, rows_box, rows_s = (
            [r[i] for i in keep] for r in (rows_f, rows_id, rows_box, rows_s)
        )
        logger.warning("%s: interrupted after %d frame(s)", reader.name, done)
    finally:
        if bar is not None:
            bar.close()
        frames.close()

    def cat(parts, shape, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)

    return SequenceResult(
        name=reader.name,
        frames=cat(rows_f, (0,), np.int64),
        ids=cat(rows_id, (0,), np.int64),
        tlwh=cat(rows_box, (0, 4), np.float64).reshape(-1, 4),
        scores=cat(rows_s, (0,), np.float64),
        timer=timer,
        detections=n_dets,
        embedded=n_emb,
        interrupted=interrupted,
    )
