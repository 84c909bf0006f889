"""A synthetic crowd of detections (boxes, scores, embeddings; no images) for tracker tests,
parity checks and benchmarks, and MOTChallenge det.txt reading/writing for them.

Was ``finetrack/synthetic/crowd.py``; the image-level generator is :mod:`finetrack.synthetic.generate`."""
from __future__ import annotations

import dataclasses
import logging
from typing import List, Optional, Tuple

import numpy as np

from finetrack.utils.io import atomic_write_text

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FrameDets:
    """Detections of one frame.

    Attributes:
        xyxy: (N, 4) float64 boxes. scores: (N,) float64. gt_ids: (N,) int64 true identity
        (-1 for false positives). emb: (N, D) float32 L2-normalised embeddings.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    gt_ids: np.ndarray
    emb: np.ndarray


def synthetic_crowd(
    n_frames: int = 200,
    n_targets: int = 80,
    image_size: Tuple[int, int] = (1920, 1080),
    emb_dim: int = 256 + 6 * 128,
    height_range: Tuple[float, float] = (60.0, 240.0),
    aspect: float = 0.41,
    speed: float = 6.0,
    box_jitter: float = 2.0,
    p_low: float = 0.15,
    p_miss: float = 0.05,
    n_false: int = 3,
    emb_noise: float = 0.3,
    seed: int = 0,
) -> List[FrameDets]:
    """A crowd of constant-velocity walkers bouncing off the image borders.

    Scores are mostly high (0.65-1.0); a fraction ``p_low`` of detections gets a low score
    (0.15-0.6, "occluded"), ``p_miss`` are dropped, and ``n_false`` low-score false positives are
    added per frame. Embeddings are a per-identity unit vector plus Gaussian noise.

    Args:
        n_frames: Number of frames. n_targets: Number of identities (all visible throughout).
        image_size: (width, height). emb_dim: Embedding size (FineTrack: 256 + 6 * 128).
        height_range: Box height range in pixels. aspect: Box w / h.
        speed: Max speed in pixels per frame. box_jitter: Detection noise std in pixels.
        p_low: Probability of a low score. p_miss: Probability of a missed detection.
        n_false: False positives per frame. emb_noise: Embedding noise std (per unit vector).
        seed: Random seed.

    Returns:
        ``n_frames`` :class:`FrameDets`, frame k at index k-1.
    """
    rng = np.random.default_rng(seed)
    w_img, h_img = image_size
    h = rng.uniform(*height_range, size=n_targets)
    w = aspect * h
    pos = np.stack([rng.uniform(0, w_img - w), rng.uniform(0, h_img - h)], axis=1)
    vel = rng.uniform(-speed, speed, size=(n_targets, 2))
    base = rng.normal(size=(n_targets, emb_dim))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    frames = []
    for _ in range(n_frames):
        pos = pos + vel
        for k, lim in ((0, w_img - w), (1, h_img - h)):
            bounce = (pos[:, k] < 0) | (pos[:, k] > lim)
            vel[bounce, k] *= -1
            pos[:, k] = np.clip(pos[:, k], 0, lim)
        keep = rng.random(n_targets) >= p_miss
        ids = np.flatnonzero(keep)
        xy = pos[ids] + rng.normal(0, box_jitter, size=(len(ids), 2))
        boxes = np.concatenate([xy, xy + np.stack([w[ids], h[ids]], axis=1)], axis=1)
        scores = rng.uniform(0.65, 1.0, size=len(ids))
        low = rng.random(len(ids)) < p_low
        scores[low] = rng.uniform(0.15, 0.6, size=int(low.sum()))
        emb = base[ids] + rng.normal(0, emb_noise / np.sqrt(emb_dim), size=(len(ids), emb_dim))
        if n_false:
            fh = rng.uniform(*height_range, size=n_false)
            fxy = np.stack([rng.uniform(0, w_img - aspect * fh), rng.uniform(0, h_img - fh)], 1)
            fbox = np.concatenate([fxy, fxy + np.stack([aspect * fh, fh], 1)], axis=1)
            boxes = np.concatenate([boxes, fbox])
            scores = np.concatenate([scores, rng.uniform(0.1, 0.5, size=n_false)])
            ids = np.concatenate([ids, -np.ones(n_false, dtype=np.int64)])
            emb = np.concatenate([emb, rng.normal(size=(n_false, emb_dim))])
        emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        frames.append(FrameDets(boxes.astype(np.float64), scores.astype(np.float64),
                                ids.astype(np.int64), emb.astype(np.float32)))
    return frames


def load_mot_det(path, min_score: Optional[float] = None) -> List[np.ndarray]:
    """Read a MOTChallenge ``det.txt`` (frame,id,x,y,w,h,score,...) into per-frame arrays.

    Args:
        path: det.txt path. min_score: Drop rows with a lower score (None: keep all).

    Returns:
        List indexed by frame-1 (up to the last frame present) of (N, 5) float64 arrays
        ``[x1, y1, x2, y2, score]`` (empty (0, 5) for frames without detections).
    """
    d = np.loadtxt(path, delimiter=",", ndmin=2)
    if min_score is not None:
        d = d[d[:, 6] >= min_score]
    n = int(d[:, 0].max()) if len(d) else 0
    out = []
    for f in range(1, n + 1):
        r = d[d[:, 0] == f]
        a = np.empty((len(r), 5), dtype=np.float64)
        a[:, :2] = r[:, 2:4]
        a[:, 2:4] = r[:, 2:4] + r[:, 4:6]
        a[:, 4] = r[:, 6]
        out.append(a)
    return out


def write_mot_det(path, frames: List[FrameDets]) -> None:
    """Write synthetic frames as a MOTChallenge det.txt (frame,-1,x,y,w,h,score,-1,-1,-1)."""
    lines = []
    for f, fd in enumerate(frames, start=1):
        for b, s in zip(fd.xyxy, fd.scores):
            lines.append(f"{f},-1,{b[0]:.3f},{b[1]:.3f},{b[2] - b[0]:.3f},{b[3] - b[1]:.3f},"
                         f"{s:.6f},-1,-1,-1")
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
