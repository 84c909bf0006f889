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

* ``robust``: appearance that can only help (:mod:`finetrack.tracker.appearance`). Stage 1 is
  ``byte``'s IoU assignment, solved again after overlapping pairs' costs drop by a bounded bonus
  proportional to the calibrated appearance log-likelihood ratio; ``byte``'s own pairs stay
  locked unless appearance disfavours them, or contradicts them confidently while the track or
  the detection has a confident alternative (a swap). Stage 1b ("recovery") matches the tracks
  and high detections left, whose boxes do not overlap, on appearance alone inside a
  frame-rate-normalised motion gate, when confidently the same person and ahead of every
  competitor: the matches IoU cannot make (after occlusion, at low frame rates). Confidence comes
  from similarity statistics learned on the sequence itself (no labels, no absolute threshold),
  on embeddings centred on the sequence's running mean; while they do not separate people (too
  few samples, or a model that does not work on this scene) the mode is exactly ``byte``. Whether
  they separate people is judged a second later (the identity gate: a track's feature of
  ``identity_lag_s`` ago against its current detection and the most similar other one), not from
  one frame to the next, where at 30 fps any feature looks reliable. With ``restore_dropped`` a
  ``byte`` pair that appearance only dislikes is given back rather than dropped. Feature updates
  skip occluded and low-score boxes and scale the EMA step by the score.

Matched tracks update their EMA feature (lambda 0.9, L2-renormalised) whenever embeddings are given.

Everything that differs between the modes is decided once, in :data:`MODE_TABLE` and the
:class:`ModePolicy` the tracker builds from it; ``update`` runs the stages the policy names.

ByteTrack quirk kept for parity: a lost track removed at frame t (after more than ``max_time_lost``
frames without a match) is filtered out of the lost list only at frame t + 1, so it can still be
found again (same id) at frame t + 1. The effective buffer is ``max_time_lost + 1`` frames.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
from typing import Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from finetrack.structures import xyah_to_xyxy, xyxy_to_tlwh, xyxy_to_xyah
from finetrack.structures import box_iou_xyxy
from finetrack.tracker import matching
from finetrack.tracker.appearance import (AGREE_LLR, BONUS_CLIP, BONUS_REF_FPS, BONUS_WEIGHT,
                                          GATE_RADIUS, GATE_SPEED, MARGIN_LLR, MAX_SCALE_CHANGE,
                                          MIN_SEPARATION, POS_IOU, WINDOW, FeatureCentering,
                                          RobustParams, SimilarityCalibrator, dynamic_ema_alpha,
                                          max_overlap, motion_gate)
from finetrack.tracker.kalman import KalmanFilter
from finetrack.tracker.track import Track, TrackState, l2_normalize

logger = logging.getLogger(__name__)

MODES = ("byte", "finetrack", "jde", "robust")  # the keys of MODE_TABLE
#: ByteTrack starts a track only above ``track_thresh + NEW_TRACK_MARGIN``.
NEW_TRACK_MARGIN = 0.1
#: Track buffers are given for this frame rate and scaled by ``frame_rate / REFERENCE_FRAME_RATE``.
REFERENCE_FRAME_RATE = 30.0


@dataclasses.dataclass(frozen=True)
class ModePolicy:
    """What one association mode does at each stage (built once per tracker, :func:`mode_policy`).

    Attributes:
        mode: the mode's name.
        first_stage: stage-1 cost: ``"iou"`` (IoU distance, fused with the score unless mot20),
            ``"fused"`` (FineTrack's sqrt(d_feat~ * d_iou)), ``"motion"`` (embedding + Mahalanobis,
            FairMOT) or ``"robust"`` (IoU reweighted by calibrated appearance, then recovery).
        first_thresh: stage-1 threshold.
        needs_embeddings: ``update`` refuses a frame without embeddings.
        center_embeddings: embeddings are centred on the sequence's running mean (robust).
        low_stage: stage 2 matches the remaining tracked tracks with the *low* detections; False
            (jde): with the high detections stage 1 left, and low detections are ignored.
        fuse_score_iou: IoU costs of the IoU first stages (byte, robust) are fused with the
            detection score.
        fuse_score_unconfirmed: the unconfirmed stage's IoU cost is fused with the score.
        feature_alpha: per-detection EMA weights skip occluded and low-score boxes (robust).
    """

    mode: str
    first_stage: str
    first_thresh: float
    needs_embeddings: bool
    center_embeddings: bool
    low_stage: bool
    fuse_score_iou: bool
    fuse_score_unconfirmed: bool
    feature_alpha: bool


#: mode -> (stage-1 cost, Tracker attribute holding its threshold, stage 2 on low detections,
#: score fused into the unconfirmed stage's IoU)
MODE_TABLE = {
    "byte": ("iou", "match_thresh", True, True),
    "finetrack": ("fused", "fused_match_thresh", True, True),
    "jde": ("motion", "jde_match_thresh", False, False),
    "robust": ("robust", "match_thresh", True, True),
}


def mode_policy(mode: str, thresholds: dict, mot20: bool, center: bool) -> ModePolicy:
    """The :class:`ModePolicy` of ``mode``.

    Args:
        mode: one of :data:`MODES`. thresholds: the Tracker attributes named in
            :data:`MODE_TABLE` (``match_thresh``, ``fused_match_thresh``, ``jde_match_thresh``).
        mot20: no score fusion anywhere (ByteTrack's ``mot20``).
        center: robust's embedding centring.
    """
    if mode not in MODE_TABLE:
        raise ValueError(f"unknown tracker mode {mode!r}; valid modes: {', '.join(MODES)}")
    first, thresh_key, low_stage, fuse_unconfirmed = MODE_TABLE[mode]
    return ModePolicy(
        mode=mode, first_stage=first, first_thresh=float(thresholds[thresh_key]),
        needs_embeddings=mode != "byte", center_embeddings=mode == "robust" and bool(center),
        low_stage=low_stage, fuse_score_iou=not mot20,
        fuse_score_unconfirmed=fuse_unconfirmed and not mot20,
        feature_alpha=mode == "robust")


_NO_DETS = np.zeros(0, dtype=np.int64)


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


def _second_best(values: np.ndarray, axis: int) -> np.ndarray:
    """For each entry, the largest *other* value along ``axis`` (``-inf`` when there is none).

    Args:
        values: (N, M) array.
        axis: 1 compares within rows, 0 within columns.

    Returns:
        (N, M) array.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.shape[axis] < 2:
        return np.full(v.shape, -np.inf)
    order = np.sort(v, axis=axis)
    top = np.take(order, [-1], axis=axis)
    second = np.take(order, [-2], axis=axis)
    return np.where(v >= top, second, top)


def _sub(a: Sequence[Track], ids: set) -> List[Track]:
    """Tracks of ``a`` whose id is not in ``ids`` (ByteTrack ``sub_stracks``)."""
    return [t for t in a if t.track_id not in ids]


class Tracker:
    """ByteTrack-style tracker; see the module docstring for the four modes.

    Args:
        mode: ``"byte"``, ``"finetrack"``, ``"jde"`` or ``"robust"`` (:data:`MODE_TABLE`).
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
        robust: Settings of the ``robust`` mode (default :class:`RobustParams`).
        cues: ``robust`` only: the embeddings are several appearance cues side by side, of these
            widths (one may be -1: the rest), e.g. ``(-1, 144)`` for Re-ID features followed by
            the colour histogram (``tracker.appearance=auto``). Each cue is L2-normalised and
            calibrated on its own; the decisions read the one that separates people best. None:
            the embeddings are one cue.
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
        robust: Optional[RobustParams] = None,
        cues: Optional[Sequence[int]] = None,
    ) -> None:
        self.mode = mode
        self.track_thresh = float(track_thresh)
        self.low_thresh = float(low_thresh)
        self.new_track_thresh = float(
            track_thresh + NEW_TRACK_MARGIN if new_track_thresh is None else new_track_thresh)
        self.match_thresh = float(match_thresh)
        self.fused_match_thresh = float(fused_match_thresh)
        self.jde_match_thresh = float(jde_match_thresh)
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
        self.robust = robust if robust is not None else RobustParams()
        self.policy = mode_policy(
            mode, {"match_thresh": self.match_thresh, "fused_match_thresh": self.fused_match_thresh,
                   "jde_match_thresh": self.jde_match_thresh},
            self.mot20, self.robust.center)
        self.first_match_thresh = self.policy.first_thresh
        self._first_stage = {"iou": self._iou_first_stage, "fused": self._fused_first_stage,
                             "motion": self._motion_first_stage,
                             "robust": self._robust_first_stage}[self.policy.first_stage]
        self.cues = None if cues is None else tuple(int(c) for c in cues)
        if self.cues is not None and (len(self.cues) < 1 or self.cues.count(-1) > 1
                                      or any(c == 0 or c < -1 for c in self.cues)):
            raise ValueError(f"cues must be positive widths (one may be -1), got {cues}")
        n_cues = 1 if self.cues is None else len(self.cues)
        #: next-frame calibration per cue (a track's EMA feature against its next detection)
        self.calibrators = [SimilarityCalibrator(WINDOW, self.robust.min_samples, MIN_SEPARATION)
                            for _ in range(n_cues)]
        #: identity calibration per cue at a lag of identity_lag_s (the reliability gate)
        self.identity_calibrators = [SimilarityCalibrator(
            WINDOW, self.robust.min_samples,
            self.robust.identity_threshold(self.frame_rate), confidence_z=self.robust.identity_z)
            for _ in range(n_cues)]
        #: several cues are in use: only robust reads them (the other modes see one vector)
        self._multi_cue = self.cues is not None and mode == "robust"
        #: the cue the decisions read (:meth:`_select_cue`; 0 with one cue)
        self.active_cue = 0
        self._cue_slices: Optional[List[slice]] = None
        self._lag_frames = max(1, int(round(self.robust.identity_lag_s * self.frame_rate)))
        self._history_on = self.policy.feature_alpha and self.robust.identity_lag_s > 0
        self.centering = FeatureCentering()
        #: per-frame counters of the robust mode (vetoes, recoveries, skipped EMA updates)
        self.robust_stats = {"vetoes": 0, "changed": 0, "added": 0, "recoveries": 0,
                             "ema_skipped": 0, "restored": 0}
        self.reset()

    @property
    def calibrator(self):
        """The next-frame :class:`SimilarityCalibrator` of the active cue."""
        return self.calibrators[self.active_cue]

    @property
    def identity_calibrator(self):
        """The identity :class:`SimilarityCalibrator` of the active cue."""
        return self.identity_calibrators[self.active_cue]

    @property
    def embedding_floor(self) -> Optional[float]:
        """Detections scoring at most this are never read by :meth:`update` in this mode (nor
        their embeddings): the ``low_thresh`` of the modes with a low stage (byte, finetrack),
        ``track_thresh`` for jde (which ignores low detections). None for ``robust``, whose
        embedding centring and occlusion weights read every detection of the frame.
        A Re-ID head may skip the boxes at or below it and pass zero rows for them.
        """
        if self.policy.center_embeddings or self.policy.feature_alpha:
            return None
        if not self.policy.low_stage:
            return self.track_thresh
        return min(self.low_thresh, self.track_thresh)

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all tracks; the next track gets id 1 and the next frame is frame 1."""
        self.frame_id = 0
        self._next_id = 1
        self.tracked_tracks: List[Track] = []
        self.lost_tracks: List[Track] = []
        self._removed_ids: set = set()
        #: robust: track id -> (frame, clean detection feature) of the last identity_lag_s
        self._history: Dict[int, Deque[Tuple[int, np.ndarray]]] = {}
        if hasattr(self, "calibrators"):
            for cal in self.calibrators + self.identity_calibrators:
                cal.reset()
            self.active_cue = 0
            self.centering.reset()
            self.robust_stats = {k: 0 for k in self.robust_stats}

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
        return xyah_to_xyxy(np.array([t.mean[:4] for t in tracks]))

    @staticmethod
    def _stack(tracks: Sequence[Track]) -> Tuple[np.ndarray, np.ndarray]:
        """(N, 8) means and (N, 8, 8) covariances of ``tracks``."""
        if not tracks:
            return np.zeros((0, 8)), np.zeros((0, 8, 8))
        return np.array([t.mean for t in tracks]), np.array([t.covariance for t in tracks])

    @staticmethod
    def _feats(tracks: Sequence[Track]) -> np.ndarray:
        """(N, D) EMA features of ``tracks``."""
        return np.stack([t.smooth_feat for t in tracks])

    def _predict(self, tracks: Sequence[Track]) -> Tuple[np.ndarray, np.ndarray]:
        """Batched Kalman prediction; non-tracked tracks get zero height velocity first.

        Returns:
            The predicted (N, 8) means and (N, 8, 8) covariances; each track's ``mean`` and
            ``covariance`` become views of their rows.
        """
        means, covs = self._stack(tracks)
        if not tracks:
            return means, covs
        for i, t in enumerate(tracks):
            if t.state != TrackState.TRACKED:
                means[i, 7] = 0.0
        means, covs = self.kf.predict(means, covs)
        for t, m, c in zip(tracks, means, covs):
            t.mean, t.covariance = m, c
        return means, covs

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        """Move every live track (tracked, unconfirmed and lost) by a camera motion.

        Args:
            warp: (2, 3) affine mapping previous-frame to current-frame pixels
                (:meth:`KalmanFilter.warp_affine` on the means and covariances).
        """
        tracks = self.tracked_tracks + self.lost_tracks
        if not tracks:
            return
        means, covs = self.kf.warp_affine(*self._stack(tracks), warp)
        for t, m, c in zip(tracks, means, covs):
            t.mean, t.covariance = m, c

    def _apply_matches(
        self,
        tracks: Sequence[Track],
        means: np.ndarray,
        covs: np.ndarray,
        det_ids: np.ndarray,
        matches: np.ndarray,
        xyxy: np.ndarray,
        scores: np.ndarray,
        emb: Optional[np.ndarray],
        activated: List[Track],
        refound: List[Track],
        feat_alpha: Optional[np.ndarray] = None,
    ) -> None:
        """Batched Kalman update of matched tracks with their detections.

        Args:
            tracks: Track list the match rows index; means (N, 8) / covs (N, 8, 8): their states
            (:meth:`_stack`). det_ids: (M',) global detection indices the match columns index.
            matches: (K, 2) [row, col]. xyxy/scores/emb: this frame's input.
            feat_alpha: optional (N,) EMA weight per detection of the frame (1 = keep the track's
                feature: the detection's feature is not used).
        """
        if len(matches) == 0:
            return
        rows = matches[:, 0]
        dets = det_ids[matches[:, 1]]
        new_means, new_covs = self.kf.update(means[rows], covs[rows], xyxy_to_xyah(xyxy[dets]))
        frame_id = self.frame_id
        for i, d, m, c in zip(rows.tolist(), dets.tolist(), new_means, new_covs):
            t = tracks[i]
            was_tracked = t.state == TrackState.TRACKED
            feat, alpha = (None if emb is None else emb[d]), None
            if feat is not None and feat_alpha is not None:
                alpha = float(feat_alpha[d])
                if alpha >= 1.0:
                    feat, alpha = None, None
                    self.robust_stats["ema_skipped"] += 1
            t.apply_update(m, c, scores[d], frame_id, feature=feat, det_index=d,
                           reactivate=not was_tracked, feature_alpha=alpha)
            if feat is not None and self._multi_cue:
                # each cue's EMA as if it were alone (a cue whose features wander, and so whose
                # average shrinks, must not slow down the other one's EMA)
                t.smooth_feat = self._cue_normalize(t.smooth_feat[None])[0]
            if alpha is not None and self._history_on:
                self._remember(t.track_id, feat)
            (activated if was_tracked else refound).append(t)

    def _remove_duplicates(
        self, tracked: List[Track], tracked_boxes: np.ndarray, lost: List[Track],
        lost_boxes: np.ndarray,
    ) -> Tuple[List[Track], np.ndarray, List[Track]]:
        """ByteTrack ``remove_duplicate_stracks``: keep the older of two overlapping tracks.

        Args:
            tracked: tracked tracks, tracked_boxes: their (N, 4) xyxy boxes; lost: lost tracks,
            lost_boxes: theirs.

        Returns:
            The tracked tracks kept, their boxes, the lost tracks kept.
        """
        if not tracked or not lost:
            return tracked, tracked_boxes, lost
        pdist = matching.iou_distance(tracked_boxes, lost_boxes, self.iou_pixel_offset)
        pairs_p, pairs_q = (pdist < self.duplicate_thresh).nonzero()
        if len(pairs_p) == 0:
            return tracked, tracked_boxes, lost
        dup_a, dup_b = set(), set()
        for p, q in zip(pairs_p.tolist(), pairs_q.tolist()):
            age_p = tracked[p].frame_id - tracked[p].start_frame
            age_q = lost[q].frame_id - lost[q].start_frame
            if age_p > age_q:
                dup_b.add(q)
            else:
                dup_a.add(p)
        keep = [i for i in range(len(tracked)) if i not in dup_a]
        return ([tracked[i] for i in keep], tracked_boxes[keep],
                [t for i, t in enumerate(lost) if i not in dup_b])

    def _output(self, tracks: List[Track], boxes: np.ndarray) -> TrackOutput:
        """The activated ``tracks`` (xyxy ``boxes`` (N, 4) given) that pass the output filters."""
        act = [i for i, t in enumerate(tracks) if t.is_activated]
        if len(act) == 0:
            return TrackOutput(ids=np.zeros(0, dtype=np.int64), xyxy=np.zeros((0, 4)),
                               scores=np.zeros(0), det_indices=np.zeros(0, dtype=np.int64))
        out = [tracks[i] for i in act]
        boxes = boxes[act]
        keep = None
        if self.min_box_area is not None or self.max_aspect_ratio is not None:
            w = boxes[:, 2] - boxes[:, 0]
            h = boxes[:, 3] - boxes[:, 1]
            if self.min_box_area is not None:
                keep = w * h > self.min_box_area
            if self.max_aspect_ratio is not None:
                ok = ~(w / np.maximum(h, 1e-12) > self.max_aspect_ratio)
                keep = ok if keep is None else keep & ok
        if keep is None or keep.all():
            idx, sel = slice(None), out
        else:
            idx = keep.nonzero()[0]
            sel = [out[i] for i in idx.tolist()]
        return TrackOutput(
            ids=np.array([t.track_id for t in sel], dtype=np.int64),
            xyxy=boxes[idx].reshape(-1, 4),
            scores=np.array([t.score for t in sel], dtype=np.float64),
            det_indices=np.array([t.det_index for t in sel], dtype=np.int64),
        )

    # ------------------------------------------------------------------ robust mode
    def _robust_feature_alpha(self, xyxy: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """(N,) EMA weight per detection: 1 (no update) for occluded or low-score boxes.

        A box overlapping another detection of the frame (IoU > ``occlusion_iou``) shows part of
        somebody else; a low-score box is often a partial view. Their features are not folded into
        a track's appearance. The others update with ``ema_alpha``, or Deep OC-SORT's score-scaled
        weight with ``dynamic_ema``.
        """
        p = self.robust
        alpha = np.full(len(scores), 1.0)
        if len(scores) == 0:
            return alpha
        clean = (max_overlap(xyxy) <= p.occlusion_iou) & (scores > self.track_thresh)
        if p.dynamic_ema:
            alpha[clean] = dynamic_ema_alpha(self.ema_alpha, scores[clean], self.track_thresh)
        else:
            alpha[clean] = self.ema_alpha
        return alpha

    def _robust_first_stage(
        self,
        pool: List[Track],
        pool_mean: np.ndarray,
        pool_cov: np.ndarray,
        pool_boxes: np.ndarray,
        high: np.ndarray,
        xyxy: np.ndarray,
        scores: np.ndarray,
        emb: np.ndarray,
        activated: List[Track],
        refound: List[Track],
        feat_alpha: np.ndarray,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """``byte``'s first stage reweighted by calibrated appearance (locks, vetoes), then recovery.

        Returns:
            (unmatched pool rows, unmatched high detection indices).
        """
        p = self.robust
        d_iou = matching.iou_distance(pool_boxes, xyxy[high], self.iou_pixel_offset)
        dists = d_iou if self.mot20 else matching.fuse_score(d_iou, scores[high])
        n, m = len(pool), len(high)
        if n == 0 or m == 0:
            matches, u_track, u_det = matching.linear_assignment(dists, self.match_thresh)
            self._apply_matches(pool, pool_mean, pool_cov, high, matches, xyxy, scores, emb,
                                activated, refound, feat_alpha)
            return u_track, high[u_det]
        cue_sims = self._cue_sims(self._feats(pool), emb[high])
        llr = self._appearance_llr(cue_sims)
        sims = cue_sims[self.active_cue]
        det_iou = box_iou_xyxy(xyxy[high], xyxy[high])
        clean_det = max_overlap(xyxy[high], det_iou) <= p.occlusion_iou
        mature = np.array([t.n_feats >= p.min_track_feats for t in pool])
        since = np.array([max(self.frame_id - t.frame_id, 1) for t in pool], dtype=np.float64)
        gate = motion_gate(pool_boxes, xyxy[high], since, self.frame_rate, GATE_RADIUS,
                           GATE_SPEED, MAX_SCALE_CHANGE)
        usable = mature[:, None] & clean_det[None, :]
        agree = usable & gate & (llr > AGREE_LLR)
        byte_matches, _, _ = matching.linear_assignment(dists, self.match_thresh)
        if self.appearance_on:
            # 1. appearance reweights the overlapping pairs by its calibrated evidence (bounded)
            overlap = (d_iou < 1.0) & usable
            weight = BONUS_WEIGHT * min(1.0, BONUS_REF_FPS / max(self.frame_rate, 1e-6))
            bonus = weight * np.clip(llr, -BONUS_CLIP, BONUS_CLIP)
            fused = np.where(overlap, dists - bonus, dists)
            if p.add_llr > 0:
                # a pair IoU alone rejects is admitted only on confident appearance evidence
                fused = np.where((dists > self.match_thresh) & ~(usable & (llr > p.add_llr)),
                                 np.maximum(fused, dists), fused)
            # 2. byte's pairs are kept (locked) unless appearance contradicts them confidently
            #    while the track or the detection has a confident alternative: a swap
            contra = usable & (llr < -p.veto_llr)
            row_alt = agree.sum(axis=1, keepdims=True) - agree > 0
            col_alt = agree.sum(axis=0, keepdims=True) - agree > 0
            veto = contra & (row_alt | col_alt)
            r, c = byte_matches[:, 0], byte_matches[:, 1]
            vetoed = veto[r, c]
            if vetoed.any():
                self.robust_stats["vetoes"] += int(vetoed.sum())
            # the others stay locked unless appearance disfavours them (llr < 0): then the
            # bonus-weighted costs decide between them and their IoU competitors
            locked = ~vetoed & (llr[r, c] >= 0.0)
            fused[r[locked], c[locked]] = -1.0
            fused[r[vetoed], c[vetoed]] = np.inf
            matches, u_track, u_det = matching.linear_assignment(fused, self.match_thresh)
            if p.restore_dropped and len(u_track) and len(u_det):
                # a byte pair whose track and detection were both left unmatched is restored:
                # appearance may give a pair's partners to others, not drop it (a new id)
                free_t, free_d = set(u_track.tolist()), set(u_det.tolist())
                back = np.array([(a, b) for a, b in zip(r.tolist(), c.tolist())
                                 if a in free_t and b in free_d and not veto[a, b]],
                                dtype=matches.dtype).reshape(-1, 2)
                if len(back):
                    self.robust_stats["restored"] += len(back)
                    matches = np.concatenate([matches.reshape(-1, 2), back])
                    u_track = u_track[~np.isin(u_track, back[:, 0])]
                    u_det = u_det[~np.isin(u_det, back[:, 1])]
            kept = {(int(a), int(b)) for a, b in matches}
            self.robust_stats["added"] += sum(1 for a, b in matches
                                              if dists[a, b] > self.match_thresh)
            self.robust_stats["changed"] += sum(1 for a, b in byte_matches
                                                if (int(a), int(b)) not in kept)
        else:
            matches, u_track, u_det = matching.linear_assignment(dists, self.match_thresh)
        self._robust_calibrate(byte_matches, d_iou, cue_sims, det_iou, clean_det, pool, emb[high])
        self._apply_matches(pool, pool_mean, pool_cov, high, matches, xyxy, scores, emb, activated,
                            refound, feat_alpha)

        # Stage 1b: recovery on appearance inside the motion gate.
        if p.recovery and self.appearance_on and len(u_track) and len(u_det):
            sub = llr[np.ix_(u_track, u_det)]
            ok = agree[np.ix_(u_track, u_det)] & (d_iou[np.ix_(u_track, u_det)] >= 1.0)
            cand = np.where(ok, sub, -np.inf)
            if ok.any():
                best_other_row = _second_best(cand, axis=1)
                best_other_col = _second_best(cand, axis=0)
                with np.errstate(invalid="ignore"):  # -inf - -inf on pairs that are not candidates
                    unique = ok & (cand - best_other_row >= MARGIN_LLR) & (cand - best_other_col >= MARGIN_LLR)
                cost = np.where(unique, 1.0 - sims[np.ix_(u_track, u_det)], np.inf)
                rec, u_r, u_c = matching.linear_assignment(cost, 2.5)
                if len(rec):
                    self.robust_stats["recoveries"] += int(len(rec))
                    rec_global = np.stack([u_track[rec[:, 0]], u_det[rec[:, 1]]], axis=1)
                    self._apply_matches(pool, pool_mean, pool_cov, high, rec_global, xyxy, scores,
                                        emb, activated, refound, feat_alpha)
                    u_track, u_det = u_track[u_r], u_det[u_c]
        return u_track, high[u_det]

    def _cue_on(self, k: int) -> bool:
        """Cue ``k``'s calibrations are both ready and separating."""
        return self.calibrators[k].ready and (not self._history_on
                                              or self.identity_calibrators[k].ready)

    @property
    def appearance_on(self) -> bool:
        """robust: appearance may act (some cue's calibrations ready and separating; else ``byte``)."""
        return any(self._cue_on(k) for k in range(len(self.calibrators)))

    def _slices(self, dim: int) -> List[slice]:
        """The cues' column slices of (.., dim) embeddings (:attr:`cues`)."""
        if self._cue_slices is None or self._cue_slices[-1].stop != dim:
            if self.cues is None:
                self._cue_slices = [slice(0, dim)]
            else:
                fixed = sum(c for c in self.cues if c > 0)
                widths = [dim - fixed if c == -1 else c for c in self.cues]
                if min(widths) < 1 or sum(widths) != dim:
                    raise ValueError(f"embeddings of width {dim} do not split into cues {self.cues}")
                ends = np.cumsum(widths).tolist()
                self._cue_slices = [slice(e - w, e) for e, w in zip(ends, widths)]
        return self._cue_slices

    def _cue_normalize(self, emb: np.ndarray) -> np.ndarray:
        """(N, D) embeddings with each cue L2-normalised and scaled by 1/sqrt(#cues) (norm 1)."""
        slices = self._slices(emb.shape[1])
        out = np.empty_like(emb, dtype=np.float64)
        for s in slices:
            out[:, s] = l2_normalize(emb[:, s]) / np.sqrt(len(slices))
        return out

    def _cue_sims(self, a: np.ndarray, b: np.ndarray) -> List[np.ndarray]:
        """Per cue, the (N, M) cosine similarities of (N, D) ``a`` and (M, D) ``b``."""
        if self.cues is None:
            return [np.clip(1.0 - matching.embedding_distance(a, b), -1.0, 1.0)]
        return [np.clip(l2_normalize(a[:, s]) @ l2_normalize(b[:, s]).T, -1.0, 1.0)
                for s in self._slices(a.shape[1])]

    def _appearance_llr(self, cue_sims: List[np.ndarray]) -> np.ndarray:
        """The (N, M) llr the decisions read, from each cue's (N, M) similarities.

        Identity decisions read a cue's identity calibration (its track features of
        identity_lag_s ago against their detections now) when it is ready: the next-frame
        calibration mostly measures how little a crop changes in one frame and is over-confident
        about identity. With several cues the active one is read (:meth:`_select_cue`).
        """
        k = self.active_cue
        use_identity = self._history_on and self.identity_calibrators[k].ready
        return (self.identity_calibrators[k] if use_identity else self.calibrators[k]).llr(cue_sims[k])

    def _select_cue(self) -> None:
        """Make the cue whose calibration separates identities best (the
        largest lower confidence bound of ``d'``; the identity calibration's when the identity gate
        is on) the active one, among the cues that pass their gates (unchanged when none does)."""
        if len(self.calibrators) < 2:
            return
        cals = self.identity_calibrators if self._history_on else self.calibrators
        on = [k for k in range(len(cals)) if self._cue_on(k)]
        if on:
            self.active_cue = max(on, key=lambda k: cals[k].lower_bound())

    def _remember(self, track_id: int, feature: np.ndarray) -> None:
        """Keep a clean detection feature of a track for the identity calibration."""
        f = np.asarray(feature, dtype=np.float64).reshape(-1)
        self._history.setdefault(track_id, collections.deque()).append(
            (self.frame_id, f / max(float(np.linalg.norm(f)), 1e-12)))

    def _lagged_feature(self, track_id: int) -> Optional[np.ndarray]:
        """The track's newest remembered feature at least ``identity_lag_s`` old (None: none).

        Older entries are dropped: a later frame never needs one older than this.
        """
        hist = self._history.get(track_id)
        if not hist:
            return None
        cutoff = self.frame_id - self._lag_frames
        while len(hist) > 1 and hist[1][0] <= cutoff:
            hist.popleft()
        return hist[0][1] if hist[0][0] <= cutoff else None

    def _robust_calibrate(self, matches: np.ndarray, d_iou: np.ndarray, cue_sims: List[np.ndarray],
                          det_iou: np.ndarray, clean_det: np.ndarray, pool: Sequence[Track],
                          emb_high: np.ndarray) -> None:
        """Feed the calibrators from this frame's unambiguous IoU matches (no labels needed).

        Positive: track vs its match when IoU > ``POS_IOU`` and the detection is clean. Negative:
        the same track vs the most similar other detection that does not overlap the match.
        The identity calibrator does the same with the track's feature of ``identity_lag_s`` ago
        (:meth:`_lagged_feature`) in place of its EMA feature. Each cue feeds its own pair of
        calibrators; the active cue is chosen again afterwards (:meth:`_select_cue`).

        Args:
            matches: (K, 2) byte's first-stage pairs [pool row, high column]. d_iou: (N, M) IoU
                distance of pool x high; cue_sims: per cue, their (N, M) EMA-feature cosines. det_iou: (M, M) IoU of the high
                detections. clean_det: (M,) bool. pool: the N tracks. emb_high: (M, D) features.
        """
        if len(matches) == 0:
            return
        rows, cols = matches[:, 0], matches[:, 1]
        good = (1.0 - d_iou[rows, cols] > POS_IOU) & clean_det[cols]
        if not good.any():
            return
        rows, cols = rows[good], cols[good]
        others = det_iou[cols] <= 0.0  # (K, M): detections not overlapping the match at all
        others[np.arange(len(cols)), cols] = False
        for cal, sims in zip(self.calibrators, cue_sims):
            neg_sims = np.where(others, sims[rows], -np.inf).max(axis=1)
            cal.add(sims[rows, cols], neg_sims[np.isfinite(neg_sims)])
        if not self._history_on:
            self._select_cue()
            return
        keep, old = [], []
        for k, r in enumerate(rows.tolist()):
            f = self._lagged_feature(pool[r].track_id)
            if f is not None and others[k].any():
                keep.append(k)
                old.append(f)
        if keep:
            keep = np.array(keep)
            # (K', M) per cue: each lagged feature against every detection
            for cal, s_old in zip(self.identity_calibrators, self._cue_sims(np.stack(old), emb_high)):
                cal.add(s_old[np.arange(len(keep)), cols[keep]],
                        np.where(others[keep], s_old, -np.inf).max(axis=1))
        self._select_cue()

    # ------------------------------------------------------------------ stage 1 per mode
    def _iou_first_stage(self, pool, pool_mean, pool_cov, pool_boxes, high, xyxy, scores, emb,
                         activated, refound, feat_alpha):
        """``byte``: IoU distance (fused with the score unless mot20) at ``match_thresh``.

        All ``*_first_stage`` methods take the Kalman-predicted pool (tracks, (N, 8) means,
        (N, 8, 8) covariances, (N, 4) xyxy boxes), the (K,) high detection indices and the frame's
        input, apply their matches and return (unmatched pool rows, unmatched high detections).
        """
        if not pool or not len(high):
            return np.arange(len(pool)), high
        dists = matching.iou_distance(pool_boxes, xyxy[high], self.iou_pixel_offset)
        if self.policy.fuse_score_iou:
            dists = matching.fuse_score(dists, scores[high])
        matches, u_track, u_det = matching.linear_assignment(dists, self.policy.first_thresh)
        self._apply_matches(pool, pool_mean, pool_cov, high, matches, xyxy, scores, emb, activated,
                            refound)
        return u_track, high[u_det]

    def _fused_first_stage(self, pool, pool_mean, pool_cov, pool_boxes, high, xyxy, scores, emb,
                           activated, refound, feat_alpha):
        """``finetrack``: sqrt(d_feat~ * d_iou) at ``fused_match_thresh``."""
        d_iou = matching.iou_distance(pool_boxes, xyxy[high], self.iou_pixel_offset)
        d_feat = (matching.embedding_distance(self._feats(pool), emb[high])
                  if pool and len(high) else np.ones_like(d_iou))
        dists = matching.finetrack_distance(d_feat, d_iou)
        matches, u_track, u_det = matching.linear_assignment(dists, self.policy.first_thresh)
        self._apply_matches(pool, pool_mean, pool_cov, high, matches, xyxy, scores, emb, activated,
                            refound)
        return u_track, high[u_det]

    def _motion_first_stage(self, pool, pool_mean, pool_cov, pool_boxes, high, xyxy, scores, emb,
                            activated, refound, feat_alpha):
        """``jde``: embedding distance fused with the gated Mahalanobis distance (FairMOT)."""
        if pool and len(high):
            dists = matching.embedding_distance(self._feats(pool), emb[high])
            dists = matching.fuse_motion(self.kf, dists, pool_mean, pool_cov,
                                         xyxy_to_xyah(xyxy[high]), lambda_=self.fuse_motion_lambda)
        else:
            dists = np.zeros((len(pool), len(high)))
        matches, u_track, u_det = matching.linear_assignment(dists, self.policy.first_thresh)
        self._apply_matches(pool, pool_mean, pool_cov, high, matches, xyxy, scores, emb, activated,
                            refound)
        return u_track, high[u_det]

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
            embeddings: (N, D) appearance features (required by every mode but ``byte``; they
                are L2-normalised here on a copy).
            warp: (2, 3) camera motion from the previous frame to this one (affine on pixels,
                :mod:`finetrack.tracker.cmc`), applied to every track after the Kalman
                prediction (:meth:`apply_camera_motion`); None = static camera.

        Returns:
            :class:`TrackOutput` of the activated tracks after the output filters.
        """
        policy = self.policy
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)  # never written to
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(scores) != len(xyxy):
            raise ValueError(f"got {len(xyxy)} boxes but {len(scores)} scores")
        emb = None
        if embeddings is not None:
            emb = np.asarray(embeddings)
            if emb.ndim != 2 or len(emb) != len(xyxy):
                raise ValueError(f"embeddings must be (N, D) with N={len(xyxy)}, got {emb.shape}")
            emb = l2_normalize(emb)
            if policy.center_embeddings:
                emb = self.centering(emb)
            if self._multi_cue:
                emb = self._cue_normalize(emb)
        elif policy.needs_embeddings:
            raise ValueError(f"mode {self.mode!r} needs embeddings")

        self.frame_id += 1
        activated: List[Track] = []
        refound: List[Track] = []
        removed_now: List[Track] = []

        high = np.flatnonzero(scores > self.track_thresh)
        low = (np.flatnonzero((scores > self.low_thresh) & (scores <= self.track_thresh))
               if policy.low_stage else _NO_DETS)

        unconfirmed, confirmed = [], []
        for t in self.tracked_tracks:
            (confirmed if t.is_activated else unconfirmed).append(t)

        # Stage 1: (tracked + lost) pool, Kalman-predicted, with high detections.
        pool = _joint(confirmed, self.lost_tracks)
        pool_mean, pool_cov = self._predict(pool)
        if warp is not None:
            self.apply_camera_motion(warp)
            pool_mean, pool_cov = self._stack(pool)
        pool_boxes = (xyah_to_xyxy(pool_mean[:, :4]) if len(pool)
                      else np.zeros((0, 4), dtype=np.float64))
        pool_row = {t.track_id: i for i, t in enumerate(pool)}
        feat_alpha = self._robust_feature_alpha(xyxy, scores) if policy.feature_alpha else None
        u_track, high_left = self._first_stage(pool, pool_mean, pool_cov, pool_boxes, high, xyxy,
                                               scores, emb, activated, refound, feat_alpha)

        # Stage 2: remaining tracked tracks with low detections (jde: remaining high ones), IoU.
        rows = [i for i in u_track.tolist() if pool[i].state == TrackState.TRACKED]
        r_tracked = [pool[i] for i in rows]
        second = low if policy.low_stage else high_left
        if rows and len(second):
            dists = matching.iou_distance(pool_boxes[rows], xyxy[second], self.iou_pixel_offset)
            matches, u_track2, u_det2 = matching.linear_assignment(dists, self.second_match_thresh)
            self._apply_matches(r_tracked, pool_mean[rows], pool_cov[rows], second, matches, xyxy,
                                scores, emb, activated, refound, feat_alpha)
            if not policy.low_stage:
                high_left = second[u_det2]
            lost_now = [r_tracked[i] for i in u_track2.tolist()]  # all TRACKED (rows above)
        else:
            lost_now = r_tracked
        for t in lost_now:
            t.mark_lost()

        # Stage 3: unconfirmed tracks (not predicted, as in ByteTrack) with remaining high dets.
        if unconfirmed and len(high_left):
            u_mean, u_cov = self._stack(unconfirmed)
            dists = matching.iou_distance(xyah_to_xyxy(u_mean[:, :4]), xyxy[high_left],
                                          self.iou_pixel_offset)
            if policy.fuse_score_unconfirmed:
                dists = matching.fuse_score(dists, scores[high_left])
            matches, u_unconf, u_det3 = matching.linear_assignment(dists,
                                                                   self.unconfirmed_match_thresh)
            self._apply_matches(unconfirmed, u_mean, u_cov, high_left, matches, xyxy, scores, emb,
                                activated, refound, feat_alpha)
            high_left = high_left[u_det3]
            unconfirmed = [unconfirmed[i] for i in u_unconf.tolist()]
        for t in unconfirmed:
            t.mark_removed()
        removed_now.extend(unconfirmed)

        # Stage 4: new tracks.
        new_dets = high_left
        new_dets = new_dets[scores[new_dets] >= self.new_track_thresh]
        if len(new_dets):
            means, covs = self.kf.initiate(xyxy_to_xyah(xyxy[new_dets]))
            first = self.frame_id == 1
            for d, m, c in zip(new_dets.tolist(), means, covs):
                activated.append(Track(
                    self._new_id(), m, c, scores[d], self.frame_id,
                    feature=None if emb is None else emb[d], ema_alpha=self.ema_alpha,
                    det_index=d, activated=first))
                if self._history_on and emb is not None and feat_alpha[d] < 1.0:
                    self._remember(activated[-1].track_id, emb[d])

        # Stage 5: lost tracks past the buffer are removed.
        for t in self.lost_tracks:
            if self.frame_id - t.end_frame > self.max_time_lost:
                t.mark_removed()
                removed_now.append(t)
        for t in removed_now:
            self._history.pop(t.track_id, None)

        tracked = [t for t in self.tracked_tracks if t.state == TrackState.TRACKED]
        tracked = _joint(tracked, activated)
        tracked = _joint(tracked, refound)
        lost = _sub(self.lost_tracks, {t.track_id for t in tracked})
        lost.extend(lost_now)
        lost = _sub(lost, self._removed_ids)  # this frame's removals are filtered next frame
        self._removed_ids.update(t.track_id for t in removed_now)
        # every lost track is a pool track that no stage updated: its box is still its pool box
        lost_boxes = (pool_boxes[[pool_row[t.track_id] for t in lost]] if tracked and lost
                      else None)
        tracked, boxes, self.lost_tracks = self._remove_duplicates(tracked, self._boxes(tracked),
                                                                   lost, lost_boxes)
        self.tracked_tracks = tracked
        return self._output(tracked, boxes)
