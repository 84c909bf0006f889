"""Detections and embeddings of a sequence computed once, tracked many times.

Association studies (modes, thresholds, the cross-scene table) change only the tracker; the
detector and the Re-ID head are the expensive part. :func:`compute_frames` runs the source and the
embedder over a (half of a) sequence and returns per-frame arrays; :func:`save_frames` /
:func:`load_frames` store them as one ``.npz``; :func:`replay_sequence` replays them through
:func:`finetrack.inference.track_loop.track_sequence`, the loop ``finetrack track`` runs
(:class:`CachedReader` + :class:`CachedSource`: a cache is a detection/embedding source like any
other), so every study number comes from the user's path.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from finetrack.data.mot import MOTSequence, half_split_frames

logger = logging.getLogger(__name__)


@dataclass
class CachedFrames:
    """Per-frame detections (and embeddings) of a sequence half.

    Attributes:
        frames: (F,) 1-based frame numbers as written to results (renumbered for ``val``).
        xyxy: list of F arrays (N_f, 4).
        scores: list of F arrays (N_f,).
        emb: list of F arrays (N_f, D), or None (no embedder).
        meta: free-form provenance (sequence, half, checkpoint, source).
    """

    frames: np.ndarray
    xyxy: List[np.ndarray]
    scores: List[np.ndarray]
    emb: Optional[List[np.ndarray]]
    meta: dict


def compute_frames(seq: MOTSequence, source, embedder=None, half: str = "all",
                   progress: bool = False, meta: Optional[dict] = None) -> CachedFrames:
    """Run ``source`` (and ``embedder``) over the frames of a sequence half."""
    first, last = half_split_frames(len(seq), half)
    need_image = getattr(source, "needs_image", False) or embedder is not None
    frames = range(first, last + 1)
    if progress:
        from finetrack.utils.progress import progress_bar

        frames = progress_bar(frames, desc=f"{seq.name} [{half}] cache", unit="frame", leave=False)
    out_f, out_b, out_s, out_e = [], [], [], []
    for frame in frames:
        image = seq.read_frame(frame) if need_image else None
        xyxy, scores = source(frame, image)
        out_f.append(frame - first + 1)
        out_b.append(np.asarray(xyxy, np.float64).reshape(-1, 4))
        out_s.append(np.asarray(scores, np.float64).reshape(-1))
        if embedder is not None:
            out_e.append(np.asarray(embedder(image, out_b[-1]), np.float32))
    info = {"sequence": seq.name, "half": half, "frame_rate": seq.info.frame_rate, **(meta or {})}
    return CachedFrames(np.asarray(out_f, np.int64), out_b, out_s,
                        out_e if embedder is not None else None, info)


def save_frames(cache: CachedFrames, path) -> Path:
    """Write ``cache`` to ``path`` (.npz), atomically."""
    import io

    from finetrack.utils.io import atomic_write_bytes

    counts = np.array([len(s) for s in cache.scores], np.int64)
    arrays = {
        "frames": cache.frames,
        "counts": counts,
        "xyxy": np.concatenate(cache.xyxy) if len(counts) else np.zeros((0, 4)),
        "scores": np.concatenate(cache.scores) if len(counts) else np.zeros(0),
        "meta": np.array(json.dumps(cache.meta)),
    }
    if cache.emb is not None:
        arrays["emb"] = np.concatenate(cache.emb) if len(counts) else np.zeros((0, 1), np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    p = Path(path)
    atomic_write_bytes(p, buf.getvalue())
    return p


def load_frames(path) -> CachedFrames:
    """Read a cache written by :func:`save_frames`."""
    with np.load(path, allow_pickle=False) as z:
        counts = z["counts"]
        splits = np.cumsum(counts)[:-1]
        xyxy = np.split(z["xyxy"], splits)
        scores = np.split(z["scores"], splits)
        emb = np.split(z["emb"], splits) if "emb" in z.files else None
        return CachedFrames(z["frames"].copy(), xyxy, scores, emb, json.loads(str(z["meta"])))


def shuffle_embeddings(cache: CachedFrames, seed: int = 0) -> CachedFrames:
    """A control: each frame's embeddings permuted among its detections (boxes untouched).

    The features keep their distribution (norms, similarity statistics, the scene's BN shift) but
    no longer say who is who: a tracker that gains from them over ``byte`` gains from how the
    cost is built (thresholds, gating), not from appearance.

    Returns:
        a new :class:`CachedFrames`; frames with fewer than two detections are unchanged.
    """
    if cache.emb is None:
        raise ValueError("shuffle_embeddings: the cache has no embeddings")
    rng = np.random.default_rng(seed)
    emb = [e[rng.permutation(len(e))] if len(e) > 1 else e.copy() for e in cache.emb]
    return CachedFrames(cache.frames, cache.xyxy, cache.scores, emb,
                        {**cache.meta, "control": f"shuffled embeddings (seed {seed})"})


def every_kth(cache: CachedFrames, k: int) -> CachedFrames:
    """Frames 1, 1 + k, 1 + 2k, ... of a whole-sequence cache, renumbered from 1, at rate / k."""
    keep = [i for i, f in enumerate(cache.frames.tolist()) if (f - 1) % k == 0]
    return CachedFrames(np.arange(1, len(keep) + 1), [cache.xyxy[i] for i in keep],
                        [cache.scores[i] for i in keep],
                        None if cache.emb is None else [cache.emb[i] for i in keep],
                        {**cache.meta, "frame_rate": cache.meta["frame_rate"] / k, "every": k})


def fuse_color(cache: CachedFrames, color: CachedFrames, weight: float) -> CachedFrames:
    """``cache``'s Re-ID embeddings fused with ``color``'s colour features of the same boxes
    (:func:`finetrack.inference.color.fuse_embeddings`, colour weight ``weight``): what
    ``tracker.appearance=auto`` gives the tracker (at weight 1/2), from two caches.

    Raises:
        ValueError: the caches hold other frames or other boxes.
    """
    from finetrack.inference.color import fuse_embeddings

    if cache.emb is None or color.emb is None:
        raise ValueError("fuse_color: both caches need embeddings")
    if not np.array_equal(cache.frames, color.frames):
        raise ValueError(f"fuse_color: {cache.meta.get('sequence')} caches hold other frames")
    emb = []
    for a, b, ea, eb in zip(cache.xyxy, color.xyxy, cache.emb, color.emb):
        if a.shape != b.shape or not np.allclose(a, b):
            raise ValueError(f"fuse_color: {cache.meta.get('sequence')} caches hold other boxes")
        emb.append(fuse_embeddings(ea, eb, weight) if len(ea) else
                   np.zeros((0, ea.shape[1] + eb.shape[1]), np.float32))
    return CachedFrames(cache.frames, cache.xyxy, cache.scores, emb,
                        {**cache.meta, "color_weight": float(weight)})


def is_color_cache(cache: CachedFrames) -> bool:
    """True when the cache's embeddings are the colour histogram (scripts/cross_scene.py's
    ``color`` rows), not a Re-ID model's."""
    return cache.meta.get("checkpoint") == "color histogram"


def replay_appearance(cache: CachedFrames, appearance: str, color: Optional[CachedFrames] = None):
    """The frames a tracker whose ``tracker.appearance`` is ``appearance`` reads, from a cache
    of Re-ID embeddings and (when the appearance needs it) the colour cache of the same boxes.

    A colour cache is colour whatever is asked (it holds nothing else).

    Returns:
        (frames, the appearance they hold: ``reid``, ``color`` or ``auto``).

    Raises:
        ValueError: the appearance needs colour features and ``color`` is None.
    """
    if is_color_cache(cache):
        return cache, "color"
    if appearance == "reid":
        return cache, "reid"
    if color is None:
        raise ValueError(f"tracker.appearance={appearance} on {cache.meta.get('sequence')}: the "
                         "colour features of the same boxes are needed (scripts/cross_scene.py "
                         "--models color caches them)")
    if appearance == "color":
        return color, "color"
    from finetrack.inference.color import AUTO_COLOR_WEIGHT

    return fuse_color(cache, color, AUTO_COLOR_WEIGHT), appearance


class CachedReader:
    """A frame reader (:mod:`finetrack.inference.frames`) over a cache: its frames, no images.

    With :class:`CachedSource` it lets :func:`finetrack.inference.track_loop.track_sequence` (the
    loop ``finetrack track`` runs) replay a cache.
    """

    kind = "cache"

    def __init__(self, cache: CachedFrames, name: Optional[str] = None):
        frames = np.asarray(cache.frames)
        if len(frames) and not np.array_equal(frames, np.arange(1, len(frames) + 1)):
            raise ValueError(f"{cache.meta.get('sequence')}: the cache's frames are not 1..N")
        self.cache = cache
        self.name = name or str(cache.meta.get("sequence", "cache"))
        self.frame_rate = float(cache.meta["frame_rate"])
        self.num_frames: Optional[int] = len(frames)

    def iter_frames(self, first: int = 1, last: Optional[int] = None, read: bool = True):
        last = self.num_frames if last is None else last
        for f in range(first, last + 1):
            yield f, None


class CachedSource:
    """A detection source that gives a cache's boxes, scores and embeddings (``gives_embeddings``:
    the loop passes them to the tracker as a joint model's). ``embeddings=False``: boxes only."""

    name = "cache"
    needs_image = False
    min_score = None

    def __init__(self, cache: CachedFrames, embeddings: bool = True):
        if embeddings and cache.emb is None:
            raise ValueError(f"{cache.meta.get('sequence')}: the cache holds no embeddings")
        self.cache = cache
        self.gives_embeddings = bool(embeddings)
        self.last_timings = {"reid": 0.0}

    def __call__(self, frame: int, image=None):
        i = frame - 1
        if self.gives_embeddings:
            return self.cache.xyxy[i], self.cache.scores[i], self.cache.emb[i]
        return self.cache.xyxy[i], self.cache.scores[i]


def replay_sequence(cache: CachedFrames, tracker, use_embeddings: bool = True) -> np.ndarray:
    """Replay a cache through :func:`finetrack.inference.track_loop.track_sequence`.

    Returns:
        (R, 7) rows ``frame, id, x, y, w, h, score`` (frames as in the cache).
    """
    from finetrack.inference.track_loop import track_sequence

    return track_sequence(CachedReader(cache), CachedSource(cache, use_embeddings), tracker).rows
