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

from finetrack.data.mot import MOTSequence, half_split_frames
from finetrack.structures import xyxy_to_tlwh

logger = logging.getLogger(__name__)


@dataclass
class StageTimer:
    """Accumulated seconds per named stage and the number of frames."""

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


def track_sequence(
    seq: MOTSequence,
    source,
    tracker,
    embedder: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
    half: str = "all",
    progress: bool = False,
    on_frame: Optional[Callable[[int, np.ndarray, object], None]] = None,
    cmc: Optional[Callable[[int, np.ndarray, Optional[np.ndarray]], np.ndarray]] = None,
) -> SequenceResult:
    """Run ``tracker`` over the frames of a (half of a) sequence.

    Args:
        seq: the sequence.
        source: a detection source (``source(frame, image) -> (xyxy, scores)``), see
            :mod:`finetrack.inference.sources`.
        tracker: a fresh :class:`finetrack.tracker.Tracker` (reset here).
        embedder: ``embedder(image_bgr, xyxy) -> (N, D)``; None = motion only.
        half: ``all``, ``train`` (frames 1..N//2) or ``val`` (N//2+1..N, renumbered from 1 as in
            gt_val_half.txt).
        progress: show a tqdm bar.
        on_frame: optional callback ``(written_frame, image_or_None, tracker_output)`` (videos).
        cmc: camera motion ``cmc(frame, xyxy, image_or_None) -> (2, 3)`` warp from the previous
            frame (:class:`finetrack.inference.camera_motion.SequenceCMC`, which reads frames it
            needs itself), passed to ``tracker.update(..., warp=)``; None = static camera.

    Returns:
        The results with frames numbered as the matching GT file expects.
    """
    first, last = half_split_frames(len(seq), half)
    offset = first - 1
    tracker.reset()
    timer = StageTimer()
    need_image = getattr(source, "needs_image", False) or embedder is not None or on_frame is not None
    rows_f: List[np.ndarray] = []
    rows_id: List[np.ndarray] = []
    rows_box: List[np.ndarray] = []
    rows_s: List[np.ndarray] = []
    frames = range(first, last + 1)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc=f"{seq.name} [{half}]", unit="frame", leave=False)
    for frame in frames:
        image = None
        if need_image:
            t0 = time.perf_counter()
            image = seq.read_frame(frame)
            timer.add("read", time.perf_counter() - t0)
        t0 = time.perf_counter()
        xyxy, scores = source(frame, image)
        timer.add("detector", time.perf_counter() - t0)
        emb = None
        if embedder is not None:
            t0 = time.perf_counter()
            emb = embedder(image, xyxy)
            timer.add("reid", time.perf_counter() - t0)
        motion = {}
        if cmc is not None:
            t0 = time.perf_counter()
            motion["warp"] = cmc(frame, xyxy, image)
            timer.add("cmc", time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = tracker.update(xyxy, scores, emb, **motion)
        timer.add("association", time.perf_counter() - t0)
        timer.frames += 1
        written = frame - offset
        if len(out.ids):
            rows_f.append(np.full(len(out.ids), written, dtype=np.int64))
            rows_id.append(np.asarray(out.ids, dtype=np.int64))
            rows_box.append(xyxy_to_tlwh(out.xyxy))
            rows_s.append(np.asarray(out.scores, dtype=np.float64))
        if on_frame is not None:
            on_frame(written, image, out)

    def cat(parts, shape, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)

    return SequenceResult(
        name=seq.name,
        frames=cat(rows_f, (0,), np.int64),
        ids=cat(rows_id, (0,), np.int64),
        tlwh=cat(rows_box, (0, 4), np.float64).reshape(-1, 4),
        scores=cat(rows_s, (0,), np.float64),
        timer=timer,
    )
