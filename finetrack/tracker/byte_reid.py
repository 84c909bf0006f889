"""ByteTrack-style multi-object tracker with optional appearance (FineTrack / JDE association).

Numpy in, numpy out, no model inside. Three association modes share ByteTrack's lifecycle
(``yolox/tracker/byte_tracker.py``):

* ``byte``: ByteTrack. Stage 1 matches the (tracked + lost) pool, Kalman-predicted, with the high
  detections (score > track_thresh) on IoU distance fused with the score (``fuse_score``, unless
  ``mot20``), threshold ``match_thresh`` (0.8). Stage 2 matches the remaining *tracked* tracks
  with the low detections (low_thresh < score <= track_thresh) on IoU, threshold 0.5. Stage 3
  matches unconfirmed tracks with the remaining high detections (IoU + fuse_score, 0.7); the
  unmatched unconfirmed tracks are removed. Remaining high detections with
  score >= new_track_thresh start tracks.
* ``finetrack``: as ``byte`` but stage 1 uses FineTrack's fused distance
  ``d = sqrt(d_feat~ * d_iou)`` (paper eq. 9-12) with threshold 0.5; stages 2-3 stay IoU-only.
* ``jde``: FairMOT's association: stage 1 on embedding distance fused with the Mahalanobis
  distance (``0.98 * cos + 0.02 * maha``, gated at chi2inv95(4) = 9.4877), threshold 0.4; stage 2
  on IoU 0.5 between the remaining tracked tracks and the remaining *high* detections (FairMOT has
  no low-score stage, low detections are ignored); stage 3 unconfirmed at IoU 0.7 (no fuse_score).

Matched tracks update their EMA feature (lambda 0.9, L2-renormalised) whenever embeddings are given.

ByteTrack quirk kept for parity: a lost track removed at frame t (after more than ``max_time_lost``
frames without a match) is filtered out of the lost list only at frame t + 1, so it can still be
found again (same id) at frame t + 1. The effective buffer is ``max_time_lost + 1`` frames.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import List, Optional, Sequence, Tuple

import numpy as np

from finetrack.structures import xyah_to_xyxy, xyxy_to_tlwh, xyxy_to_xyah
from finetrack.tracker import matching
from finetrack.tracker.kalman import KalmanFilter
from finetrack.tracker.track import Track, TrackState, l2_normalize

logger = logging.getLogger(__name__)

MODES = ("byte", "finetrack", "jde")
#: ByteTrack starts a track only above ``track_thresh + NEW_TRACK_MARGIN``.
NEW_TRACK_MARGIN = 0.1
#: Track buffers are given for this frame rate and scaled by ``frame_rate / REFERENCE_FRAME_RATE``.
REFERENCE_FRAME_RATE = 30.0


@dataclasses.dataclass(frozen=True)
class TrackOutput:
    """Activated tracks of one frame.

    Attributes:
        ids: (M,) int64 track ids (>= 1).
        xyxy: (M, 4) float64 Kalman-corrected boxes ``(x1, y1, x2, y2)``.
        scores: (M,) float64 score of the detection that last updated each track.
        det_indices: (M,) int64 index of that detection in this frame's input arrays.
    """

    ids: np.ndarray
    xyxy: np.ndarray
    scores: np.ndarray
    det_indices: np.ndarray

    @property
    def tlwh(self) -> np.ndarray:
        """(M, 4) boxes ``(x_left, y_top, w, h)`` (MOTChallenge)."""
        return xyxy_to_tlwh(self.xyxy)

    def __len__(self) -> int:
        return int(len(self.ids))


def _joint(a: Sequence[Track], b: Sequence[Track]) -> List[Track]:
    """``a`` then the tracks of ``b`` whose id is not in ``a`` (ByteTrack ``joint_stracks``)."""
    seen = {t.track_id for t in a}
    out = list(a)
    for t in b:
        if t.track_id not in seen:
            seen.add(t.track_id)
            out.append(t)
    return out


def _sub(a: Sequence[Track], ids: set) -> List[Track]:
    """Tracks of ``a`` whose id is not in ``ids`` (ByteTrack ``sub_stracks``)."""
    return [t for t in a if t.track_id not in ids]


class Tracker:
    """ByteTrack-style tracker; see the module docstring for the three modes.

    Args:
        mode: ``"byte"``, ``"finetrack"`` or ``"jde"``.
        track_thresh: High/low score split; high detections have score > track_thresh.
        low_thresh: Low detections have low_thresh < score <= track_thresh; lower ones are dropped.
        new_track_thresh: Minimum score to start a track (None: track_thresh + 0.1).
        match_thresh: First-stage threshold of ``byte`` (IoU+score cost, 0.8; 0.9 reproduces
            ByteTrack's own MOT17 eval).
        fused_match_thresh: First-stage threshold of ``finetrack`` (fused distance, 0.5).
        jde_match_thresh: First-stage threshold of ``jde`` (embedding+motion cost, 0.4).
        second_match_thresh: IoU-distance threshold of the second stage (0.5).
        unconfirmed_match_thresh: Threshold of the unconfirmed stage (0.7).
        track_buffer: Frames a lost track is kept, at 30 fps (30).
        frame_rate: Sequence frame rate; ``max_time_lost = int(frame_rate / 30 * track_buffer)``.
        min_box_area: Output filter: keep boxes with w * h > min_box_area (None: no filter).
        max_aspect_ratio: Output filter: drop boxes with w / h > max_aspect_ratio (None: no filter).
        ema_alpha: EMA weight of the previous track feature (0.9).
        mot20: If True, do not fuse detection scores into IoU costs (ByteTrack's ``mot20``).
        duplicate_thresh: Tracked/lost pairs with IoU distance below this are duplicates (0.15).
        iou_pixel_offset: 0 (continuous boxes, boxmot) or 1 (official ByteTrack's cython_bbox).
        fuse_motion_lambda: jde: appearance weight in the motion fusion (0.98).
        kalman_filter: Optional custom :class:`KalmanFilter` (default: ByteTrack's weights).
    """

    def __init__(
        self,
        mode: str = "byte",
        track_thresh: float = 0.6,
        low_thresh: float = 0.1,
        new_track_thresh: Optional[float] = None,
        match_thresh: float = 0.8,
        fused_match_thresh: float = 0.5,
        jde_match_thresh: float = 0.4,
        second_match_thresh: float = 0.5,
        unconfirmed_match_thresh: float = 0.7,
        track_buffer: int = 30,
        frame_rate: float = 30.0,
        min_box_area: Optional[float] = 100.0,
        max_aspect_ratio: Optional[float] = 1.6,
        ema_alpha: float = 0.9,
        mot20: bool = False,
        duplicate_thresh: float = 0.15,
        iou_pixel_offset: float = 0.0,
        fuse_motion_lambda: float = matching.FUSE_MOTION_LAMBDA,
        kalman_filter: Optional[KalmanFilter] = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown tracker mode {mode!r}; valid modes: {', '.join(MODES)}")
        self.mode = mode
        self.track_thresh = float(track_thresh)
        self.low_thresh = float(low_thresh)
        self.new_track_thresh = float(
            track_thresh + NEW_TRACK_MARGIN if new_track_thresh is None else new_track_thresh)
        self.match_thresh = float(match_thresh)
        self.fused_match_thresh = float(fused_match_thresh)
        self.jde_match_thresh = float(jde_match_thresh)
        self.first_match_thresh = {"byte": self.match_thresh, "finetrack": self.fused_match_thresh,
                                   "jde": self.jde_match_thresh}[mode]
        self.second_match_thresh = float(second_match_thresh)
        self.unconfirmed_match_thresh = float(unconfirmed_match_thresh)
        self.track_buffer = int(track_buffer)
        self.frame_rate = float(frame_rate)
        self.max_time_lost = int(self.frame_rate / REFERENCE_FRAME_RATE * self.track_buffer)
        self.min_box_area = min_box_area
        self.max_aspect_ratio = max_aspect_ratio
        self.ema_alpha = float(ema_alpha)
        self.mot20 = bool(mot20)
        self.duplicate_thresh = float(duplicate_thresh)
        self.iou_pixel_offset = float(iou_pixel_offset)
        self.fuse_motion_lambda = float(fuse_motion_lambda)
        self.kf = kalman_filter if kalman_filter is not None else KalmanFilter()
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all tracks; the next track gets id 1 and the next frame is frame 1."""
        self.frame_id = 0
        self._next_id = 1
        self.tracked_tracks: List[Track] = []
        self.lost_tracks: List[Track] = []
        self._removed_ids: set = set()

    def _new_id(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _boxes(tracks: Sequence[Track]) -> np.ndarray:
        """(N, 4) current xyxy boxes of ``tracks``."""
        if not tracks:
            return np.zeros((0, 4), dtype=np.float64)
        return xyah_to_xyxy(np.stack([t.mean[:4] for t in tracks]))

    @staticmethod
    def _feats(tracks: Sequence[Track]) -> np.ndarray:
        """(N, D) EMA features of ``tracks``."""
        return np.stack([t.smooth_feat for t in tracks])

    def _predict(self, tracks: Sequence[Track]) -> None:
        """Batched Kalman prediction; non-tracked tracks get zero height velocity first."""
        if not tracks:
            return
        means = np.stack([t.mean for t in tracks])
        covs = np.stack([t.covariance for t in tracks])
        not_tracked = np.array([t.state != TrackState.TRACKED for t in tracks])
        means[not_tracked, 7] = 0.0
        means, covs = self.kf.predict(means, covs)
        for t, m, c in zip(tracks, means, covs):
            t.mean, t.covariance = m, c

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        """Move every live track (tracked, unconfirmed and lost) by a camera motion.

        Args:
            warp: (2, 3) affine mapping previous-frame to current-frame pixels
                (:meth:`KalmanFilter.warp_affine` on the means and covariances).
        """
        tracks = self.tracked_tracks + self.lost_tracks
        if not tracks:
            return
        means, covs = self.kf.warp_affine(np.stack([t.mean for t in tracks]),
                                          np.stack([t.covariance for t in tracks]), warp)
        for t, m, c in zip(tracks, means, covs):
            t.mean, t.covariance = m, c

    def _apply_matches(
        self,
        tracks: Sequence[Track],
        det_ids: np.ndarray,
        matches: np.ndarray,
        xyxy: np.ndarray,
        scores: np.ndarray,
        emb: Optional[np.ndarray],
        activated: List[Track],
        refound: List[Track],
    ) -> None:
        """Batched Kalman update of matched tracks with their detections.

        Args:
            tracks: Track list the match rows index. det_ids: (M',) global detection indices the
            match columns index. matches: (K, 2) [row, col]. xyxy/scores/emb: this frame's input.
        """
        if len(matches) == 0:
            return
        sel = [tracks[i] for i in matches[:, 0]]
        dets = det_ids[matches[:, 1]]
        means, covs = self.kf.update(np.stack([t.mean for t in sel]),
                                     np.stack([t.covariance for t in sel]),
                                     xyxy_to_xyah(xyxy[dets]))
        for t, d, m, c in zip(sel, dets, means, covs):
            was_tracked = t.state == TrackState.TRACKED
            t.apply_update(m, c, scores[d], self.frame_id,
                           feature=None if emb is None else emb[d], det_index=int(d),
                           reactivate=not was_tracked)
            (activated if was_tracked else refound).append(t)

    def _remove_duplicates(
        self, tracked: List[Track], lost: List[Track]
    ) -> Tuple[List[Track], List[Track]]:
        """ByteTrack ``remove_duplicate_stracks``: keep the older of two overlapping tracks."""
        if not tracked or not lost:
            return tracked, lost
        pdist = matching.iou_distance(self._boxes(tracked), self._boxes(lost),
                                      self.iou_pixel_offset)
        dup_a, dup_b = set(), set()
        for p, q in zip(*np.where(pdist < self.duplicate_thresh)):
            age_p = tracked[p].frame_id - tracked[p].start_frame
            age_q = lost[q].frame_id - lost[q].start_frame
            if age_p > age_q:
                dup_b.add(q)
            else:
                dup_a.add(p)
        return ([t for i, t in enumerate(tracked) if i not in dup_a],
                [t for i, t in enumerate(lost) if i not in dup_b])

    def _output(self) -> TrackOutput:
        out = [t for t in self.tracked_tracks if t.is_activated]
        boxes = self._boxes(out)
        keep = np.ones(len(out), dtype=bool)
        if len(out):
            w = boxes[:, 2] - boxes[:, 0]
            h = boxes[:, 3] - boxes[:, 1]
            if self.min_box_area is not None:
                keep &= w * h > self.min_box_area
            if self.max_aspect_ratio is not None:
                keep &= ~(w / np.maximum(h, 1e-12) > self.max_aspect_ratio)
        idx = np.flatnonzero(keep)
        return TrackOutput(
            ids=np.array([out[i].track_id for i in idx], dtype=np.int64),
            xyxy=boxes[idx].reshape(-1, 4),
            scores=np.array([out[i].score for i in idx], dtype=np.float64),
            det_indices=np.array([out[i].det_index for i in idx], dtype=np.int64),
        )

    # ------------------------------------------------------------------ main
    def update(
        self,
        xyxy: np.ndarray,
        scores: np.ndarray,
        embeddings: Optional[np.ndarray] = None,
        warp: Optional[np.ndarray] = None,
    ) -> TrackOutput:
        """Advance one frame.

        Args:
            xyxy: (N, 4) detection boxes ``(x1, y1, x2, y2)`` in original-image pixels.
            scores: (N,) detection scores (obj * cls for YOLOX).
            embeddings: (N, D) appearance features (required by ``finetrack`` and ``jde``; they
                are L2-normalised here on a copy).
            warp: (2, 3) camera motion from the previous frame to this one (affine on pixels,
                :mod:`finetrack.tracker.cmc`), applied to every track after the Kalman
                prediction (:meth:`apply_camera_motion`); None = static camera.

        Returns:
            :class:`TrackOutput` of the activated tracks after the output filters.
        """
        xyxy = np.array(xyxy, dtype=np.float64).reshape(-1, 4)
        scores = np.array(scores, dtype=np.float64).reshape(-1)
        if len(scores) != len(xyxy):
            raise ValueError(f"got {len(xyxy)} boxes but {len(scores)} scores")
        emb = None
        if embeddings is not None:
            emb = np.asarray(embeddings)
            if emb.ndim != 2 or len(emb) != len(xyxy):
                raise ValueError(f"embeddings must be (N, D) with N={len(xyxy)}, got {emb.shape}")
            emb = l2_normalize(emb)
        elif self.mode != "byte":
            raise ValueError(f"mode {self.mode!r} needs embeddings")

        self.frame_id += 1
        activated: List[Track] = []
        refound: List[Track] = []
        lost_now: List[Track] = []
        removed_now: List[Track] = []

        high = np.flatnonzero(scores > self.track_thresh)
        if self.mode == "jde":
            low = np.zeros(0, dtype=np.int64)
        else:
            low = np.flatnonzero((scores > self.low_thresh) & (scores <= self.track_thresh))

        unconfirmed = [t for t in self.tracked_tracks if not t.is_activated]
        confirmed = [t for t in self.tracked_tracks if t.is_activated]

        # Stage 1: (tracked + lost) pool, Kalman-predicted, with high detections.
        pool = _joint(confirmed, self.lost_tracks)
        self._predict(pool)
        if warp is not None:
            self.apply_camera_motion(warp)
        pool_boxes = self._boxes(pool)
        if self.mode == "byte":
            dists = matching.iou_distance(pool_boxes, xyxy[high], self.iou_pixel_offset)
            if not self.mot20:
                dists = matching.fuse_score(dists, scores[high])
        elif self.mode == "finetrack":
            d_iou = matching.iou_distance(pool_boxes, xyxy[high], self.iou_pixel_offset)
            d_feat = (matching.embedding_distance(self._feats(pool), emb[high])
                      if pool and len(high) else np.ones_like(d_iou))
            dists = matching.finetrack_distance(d_feat, d_iou)
        else:  # jde
            if pool and len(high):
                dists = matching.embedding_distance(self._feats(pool), emb[high])
                dists = matching.fuse_motion(
                    self.kf, dists, np.stack([t.mean for t in pool]),
                    np.stack([t.covariance for t in pool]), xyxy_to_xyah(xyxy[high]),
                    lambda_=self.fuse_motion_lambda)
            else:
                dists = np.zeros((len(pool), len(high)))
        matches, u_track, u_det = matching.linear_assignment(dists, self.first_match_thresh)
        self._apply_matches(pool, high, matches, xyxy, scores, emb, activated, refound)
        high_left = high[u_det]

        # Stage 2: remaining tracked tracks with low detections (jde: remaining high ones), IoU.
        r_tracked = [pool[i] for i in u_track if pool[i].state == TrackState.TRACKED]
        second = high_left if self.mode == "jde" else low
        dists = matching.iou_distance(self._boxes(r_tracked), xyxy[second], self.iou_pixel_offset)
        matches, u_track2, u_det2 = matching.linear_assignment(dists, self.second_match_thresh)
        self._apply_matches(r_tracked, second, matches, xyxy, scores, emb, activated, refound)
        if self.mode == "jde":
            high_left = second[u_det2]
        for i in u_track2:
            t = r_tracked[i]
            if t.state != TrackState.LOST:
                t.mark_lost()
                lost_now.append(t)

        # Stage 3: unconfirmed tracks (not predicted, as in ByteTrack) with remaining high dets.
        dists = matching.iou_distance(self._boxes(unconfirmed), xyxy[high_left],
                                      self.iou_pixel_offset)
        if self.mode != "jde" and not self.mot20:
            dists = matching.fuse_score(dists, scores[high_left])
        matches, u_unconf, u_det3 = matching.linear_assignment(dists,
                                                               self.unconfirmed_match_thresh)
        self._apply_matches(unconfirmed, high_left, matches, xyxy, scores, emb, activated,
                            refound)
        for i in u_unconf:
            unconfirmed[i].mark_removed()
            removed_now.append(unconfirmed[i])

        # Stage 4: new tracks.
        new_dets = high_left[u_det3]
        new_dets = new_dets[scores[new_dets] >= self.new_track_thresh]
        if len(new_dets):
            means, covs = self.kf.initiate(xyxy_to_xyah(xyxy[new_dets]))
            for d, m, c in zip(new_dets, means, covs):
                activated.append(Track(
                    self._new_id(), m, c, scores[d], self.frame_id,
                    feature=None if emb is None else emb[d], ema_alpha=self.ema_alpha,
                    det_index=int(d), activated=self.frame_id == 1))

        # Stage 5: lost tracks past the buffer are removed.
        for t in self.lost_tracks:
            if self.frame_id - t.end_frame > self.max_time_lost:
                t.mark_removed()
                removed_now.append(t)

        tracked = [t for t in self.tracked_tracks if t.state == TrackState.TRACKED]
        tracked = _joint(tracked, activated)
        tracked = _joint(tracked, refound)
        lost = _sub(self.lost_tracks, {t.track_id for t in tracked})
        lost.extend(lost_now)
        lost = _sub(lost, self._removed_ids)  # this frame's removals are filtered next frame
        self._removed_ids.update(t.track_id for t in removed_now)
        self.tracked_tracks, self.lost_tracks = self._remove_duplicates(tracked, lost)
        return self._output()
