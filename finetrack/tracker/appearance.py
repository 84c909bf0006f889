"""Appearance that can only help: per-sequence calibration of Re-ID similarities, and the gates of the
``robust`` association mode (:mod:`finetrack.tracker.association.robust`).

A Re-ID model trained on one scene and run on another gives similarities on a scale it was never
calibrated for: the same-person cosine may be 0.9 or 0.5, and strangers may be 0.1 or 0.8 apart. The
``robust`` mode therefore never reads an absolute similarity threshold. It learns, online and without
labels, what "same person" and "different person" look like *in the sequence being tracked*:

* positives: a track and the detection it was matched to on IoU alone when that match is
  unambiguous (IoU above ``POS_IOU``, the detection overlaps no other detection);
* negatives: the same track against the most similar *other* detection of that frame that does not
  overlap its match (two boxes of one frame are two people): the hardest negative, which is the
  competitor an appearance decision has to beat.

From the two running samples it fits an equal-variance Gaussian discriminant, whose log-likelihood
ratio is linear (so monotone) in the similarity::

    llr(s) = (mu_p - mu_n) / var * (s - (mu_p + mu_n) / 2)

and a separation ``d' = (mu_p - mu_n) / sd``. Appearance is used only when ``d'`` is above
:data:`~finetrack.tracker.association.robust.MIN_SEPARATION` (a model that does not separate people on this scene, e.g. random features, is
switched off: the tracker is then exactly ``byte``), and a decision needs ``|llr|`` above a threshold.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
from typing import Deque, Optional

import numpy as np

logger = logging.getLogger(__name__)

_EPS = 1e-12


#: weight of the newest frame in the running mean embedding (:class:`FeatureCentering`)
CENTER_MOMENTUM = 0.02


class FeatureCentering:
    """Per-sequence embedding centring: ``e' = L2(e - mu)`` with ``mu`` the running mean embedding.

    On a scene it was not trained on, a Re-ID model's BN-neck statistics no longer fit: every
    embedding shares a large common component, all cosine similarities crowd near 1 and their
    differences (the identity information) are a few thousandths. Removing the scene's mean
    embedding (estimated online from the detections seen so far: a running average over the
    first ``1 / momentum`` frames, then an exponential one) restores the spread without labels.

    Args:
        momentum: weight of a new frame's mean once the warm-up is over.
    """

    def __init__(self, momentum: float = CENTER_MOMENTUM) -> None:
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.reset()

    def reset(self) -> None:
        self.mean: Optional[np.ndarray] = None
        self.frames = 0

    def __call__(self, emb: np.ndarray) -> np.ndarray:
        """Update the mean with this frame's (N, D) embeddings and return them centred, L2-normalised."""
        emb = np.asarray(emb, dtype=np.float64)
        if len(emb) == 0:
            return emb
        frame_mean = emb.mean(axis=0)
        self.frames += 1
        w = max(1.0 / self.frames, self.momentum)
        self.mean = frame_mean if self.mean is None else (1.0 - w) * self.mean + w * frame_mean
        out = emb - self.mean
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), _EPS)


@dataclasses.dataclass
class CalibrationState:
    """Summary of the current calibration (for logs and tests)."""

    n_pos: int
    n_neg: int
    mu_pos: float
    mu_neg: float
    sd: float
    separation: float
    ready: bool


def _dprime_se(n_pos: int, n_neg: int, sep: float) -> float:
    """Large-sample standard error of ``d'`` (Hedges & Olkin)."""
    n = n_pos + n_neg
    return float(np.sqrt(n / (n_pos * n_neg) + sep ** 2 / (2.0 * n)))


class SimilarityCalibrator:
    """Running same/different-identity similarity statistics of one sequence.

    Args:
        window: Number of most recent samples kept per class.
        min_samples: Samples needed in each class before any decision is made.
        min_separation: Minimum ``d' = (mu_pos - mu_neg) / sd`` for appearance to be used at all.
        min_sd: Floor of the pooled standard deviation (avoids over-confidence on few samples).
        confidence_z: :attr:`ready` needs ``d' - confidence_z * se(d')`` above ``min_separation``
            (``se`` the large-sample standard error of ``d'``, Hedges & Olkin): a lower confidence
            bound, so that a separation seen on few samples does not switch appearance on.
    """

    def __init__(self, window: int = 400, min_samples: int = 30, min_separation: float = 1.0,
                 min_sd: float = 0.02, confidence_z: float = 0.0) -> None:
        if window < 1 or min_samples < 1:
            raise ValueError("window and min_samples must be positive")
        self.confidence_z = float(confidence_z)
        self.window = int(window)
        self.min_samples = int(min_samples)
        self.min_separation = float(min_separation)
        self.min_sd = float(min_sd)
        self.reset()

    def reset(self) -> None:
        self._pos: Deque[float] = collections.deque(maxlen=self.window)
        self._neg: Deque[float] = collections.deque(maxlen=self.window)
        self._state: Optional[CalibrationState] = None

    def add(self, positives: np.ndarray, negatives: np.ndarray) -> None:
        """Add same-identity (positives) and different-identity (negatives) similarities."""
        self._pos.extend(float(v) for v in np.asarray(positives, dtype=np.float64).ravel())
        self._neg.extend(float(v) for v in np.asarray(negatives, dtype=np.float64).ravel())
        self._state = None

    @property
    def state(self) -> CalibrationState:
        if self._state is None:
            n_p, n_n = len(self._pos), len(self._neg)
            if n_p < 2 or n_n < 2:
                self._state = CalibrationState(n_p, n_n, float("nan"), float("nan"), float("nan"),
                                               0.0, False)
            else:
                p = np.fromiter(self._pos, dtype=np.float64)
                n = np.fromiter(self._neg, dtype=np.float64)
                var = ((n_p - 1) * p.var(ddof=1) + (n_n - 1) * n.var(ddof=1)) / (n_p + n_n - 2)
                sd = max(float(np.sqrt(var)), self.min_sd)
                sep = (float(p.mean()) - float(n.mean())) / sd
                ready = bool(n_p >= self.min_samples and n_n >= self.min_samples
                             and sep - self.confidence_z * _dprime_se(n_p, n_n, sep) >= self.min_separation)
                self._state = CalibrationState(n_p, n_n, float(p.mean()), float(n.mean()), sd, sep, ready)
        return self._state

    def lower_bound(self, z: Optional[float] = None) -> float:
        """``d' - z * se(d')`` (``z`` default: ``confidence_z``); ``-inf`` with under 2 samples a class."""
        st = self.state
        if st.n_pos < 2 or st.n_neg < 2:
            return float("-inf")
        z = self.confidence_z if z is None else float(z)
        return float(st.separation - z * _dprime_se(st.n_pos, st.n_neg, st.separation))

    @property
    def ready(self) -> bool:
        """True when appearance may be used (enough samples and a large enough separation)."""
        return self.state.ready

    def llr(self, sims: np.ndarray) -> np.ndarray:
        """Log-likelihood ratio same/different of similarities (zeros while not :attr:`ready`).

        Args:
            sims: (...) cosine similarities.

        Returns:
            (...) float64 ``llr``; positive means "same person" is more likely.
        """
        sims = np.asarray(sims, dtype=np.float64)
        st = self.state
        if not st.ready:
            return np.zeros_like(sims)
        return (st.mu_pos - st.mu_neg) / (st.sd ** 2) * (sims - 0.5 * (st.mu_pos + st.mu_neg))


def max_overlap(xyxy: np.ndarray, iou: Optional[np.ndarray] = None) -> np.ndarray:
    """Largest IoU of every box with any *other* box of the same set.

    Args:
        xyxy: (N, 4) boxes.
        iou: optional precomputed (N, N) IoU matrix of ``xyxy`` with itself.

    Returns:
        (N,) float64 in [0, 1] (0 for a single box).
    """
    from finetrack.structures import box_iou_xyxy

    n = len(xyxy)
    if n < 2:
        return np.zeros(n, dtype=np.float64)
    m = box_iou_xyxy(xyxy, xyxy) if iou is None else np.array(iou, dtype=np.float64)
    np.fill_diagonal(m, 0.0)
    return m.max(axis=1)


def motion_gate(
    track_xyxy: np.ndarray,
    det_xyxy: np.ndarray,
    frames_since_seen: np.ndarray,
    frame_rate: float,
    radius: float = 0.5,
    speed: float = 1.0,
    max_scale_change: float = 1.5,
) -> np.ndarray:
    """Where a track may plausibly have gone: a frame-rate-normalised distance and scale gate.

    A detection passes when its centre lies within ``h * (radius + speed * dt)`` of the track's
    predicted centre (``h`` the predicted box height, ``dt`` the seconds since the track was last
    matched) and the heights differ by at most a factor ``max_scale_change``. People walk at about
    one body height per second; the gate is the same in seconds whatever the frame rate.

    Args:
        track_xyxy: (N, 4) predicted track boxes.
        det_xyxy: (M, 4) detection boxes.
        frames_since_seen: (N,) frames since each track's last match (>= 1).
        frame_rate: frames per second of the sequence.

    Returns:
        (N, M) bool.
    """
    t = np.asarray(track_xyxy, dtype=np.float64).reshape(-1, 4)
    d = np.asarray(det_xyxy, dtype=np.float64).reshape(-1, 4)
    if len(t) == 0 or len(d) == 0:
        return np.zeros((len(t), len(d)), dtype=bool)
    tc = 0.5 * (t[:, :2] + t[:, 2:])
    dc = 0.5 * (d[:, :2] + d[:, 2:])
    th = np.maximum(t[:, 3] - t[:, 1], 1.0)
    dh = np.maximum(d[:, 3] - d[:, 1], 1.0)
    dt = np.asarray(frames_since_seen, dtype=np.float64).reshape(-1) / max(float(frame_rate), _EPS)
    reach = th * (radius + speed * dt)
    dist = np.linalg.norm(tc[:, None, :] - dc[None, :, :], axis=2)
    ratio = np.maximum(th[:, None] / dh[None, :], dh[None, :] / th[:, None])
    return (dist <= reach[:, None]) & (ratio <= max_scale_change)


def dynamic_ema_alpha(alpha: float, score: np.ndarray, score_floor: float) -> np.ndarray:
    """Deep OC-SORT's dynamic appearance EMA: trust a detection's feature by its score.

    ``alpha_t = alpha + (1 - alpha) * (1 - (s - floor) / (1 - floor))``: a detection at score 1
    updates with the base ``alpha``; one at the floor does not update the feature at all.

    Args:
        alpha: base EMA weight of the previous feature (0.9).
        score: (M,) detection scores.
        score_floor: score at which the update vanishes (the high-detection threshold).

    Returns:
        (M,) EMA weights in [alpha, 1].
    """
    s = np.asarray(score, dtype=np.float64)
    trust = np.clip((s - score_floor) / max(1.0 - score_floor, _EPS), 0.0, 1.0)
    return alpha + (1.0 - alpha) * (1.0 - trust)
