"""ByteTrack-style multi-object tracker with pluggable association (byte, FineTrack, JDE, robust).

Numpy in, numpy out, no model inside. :class:`Tracker` runs ByteTrack's lifecycle
(``yolox/tracker/byte_tracker.py``), the same for every mode:

1. the (tracked + lost) pool, Kalman-predicted (and moved by the camera motion when given), is
   matched with the high detections (score > track_thresh): **the mode's stage**
   (:mod:`finetrack.tracker.association`: ``byte`` IoU + score, ``finetrack`` the paper's fused
   distance, ``jde`` FairMOT's embedding + motion cost, ``robust`` IoU reweighted by calibrated
   appearance);
2. the remaining *tracked* tracks with the low detections (low_thresh < score <= track_thresh) on
   IoU at ``second_match_thresh`` (0.5); ``jde`` has no low stage: the high detections stage 1
   left instead, low detections ignored. Tracked tracks still unmatched become lost;
3. unconfirmed tracks (not predicted, as in ByteTrack) with the remaining high detections on IoU
   (fused with the score unless ``mot20`` or ``jde``) at ``unconfirmed_match_thresh`` (0.7); the
   unmatched ones are removed;
4. remaining high detections with score >= new_track_thresh start tracks;
5. lost tracks older than ``max_time_lost`` are removed; duplicates between tracked and lost
   tracks are resolved (the older one is kept).

Matched tracks update their EMA feature (lambda 0.9, L2-renormalised) whenever embeddings are given.
One frame's state travels through the stages as a :class:`~finetrack.tracker.frame.FramePool`.

ByteTrack quirk kept for parity: a lost track removed at frame t (after more than ``max_time_lost``
frames without a match) is filtered out of the lost list only at frame t + 1, so it can still be
found again (same id) at frame t + 1. The effective buffer is ``max_time_lost + 1`` frames.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import List, Optional, Sequence, Tuple

import numpy as np

from finetrack.structures import xyxy_to_tlwh
from finetrack.tracker import matching
from finetrack.tracker.association import (ASSOCIATIONS, MODES, Association, FineTrackSettings,
                                           JDESettings, RobustSettings)
from finetrack.tracker.frame import FramePool
from finetrack.tracker.kalman import KalmanFilter
from finetrack.tracker.track import Track, TrackState, l2_normalize

logger = logging.getLogger(__name__)

__all__ = ["ByteTrackSettings", "MODES", "TrackOutput", "Tracker"]

#: ByteTrack starts a track only above ``track_thresh + NEW_TRACK_MARGIN``.
NEW_TRACK_MARGIN = 0.1
#: Track buffers are given for this frame rate and scaled by ``frame_rate / REFERENCE_FRAME_RATE``.
REFERENCE_FRAME_RATE = 30.0


@dataclasses.dataclass
class ByteTrackSettings:
    """The shared stages' settings (every mode); :class:`finetrack.config.TrackerConfig` extends it.

    Attributes:
        track_thresh: high/low score split; high detections have score > track_thresh.
        low_thresh: low detections have low_thresh < score <= track_thresh; lower ones are dropped.
        new_track_thresh: minimum score to start a track (None: track_thresh + 0.1).
        match_thresh: stage-1 threshold of ``byte`` and ``robust`` (IoU + score cost, 0.8; 0.9
            reproduces ByteTrack's own MOT17 eval).
        second_match_thresh: IoU-distance threshold of the second stage (0.5).
        unconfirmed_match_thresh: threshold of the unconfirmed stage (0.7).
        track_buffer: frames a lost track is kept, at 30 fps (30); scaled by the frame rate.
        min_box_area: output filter: keep boxes with w * h > min_box_area (None: no filter).
        max_aspect_ratio: output filter: drop boxes with w / h > max_aspect_ratio (None: none).
        ema_alpha: EMA weight of the previous track feature (0.9).
        mot20: do not fuse detection scores into IoU costs (ByteTrack's ``mot20``).
        duplicate_thresh: tracked/lost pairs with IoU distance below this are duplicates (0.15).
        iou_pixel_offset: 0 (continuous boxes, boxmot) or 1 (official ByteTrack's cython_bbox).
    """

    track_thresh: float = 0.6
    low_thresh: float = 0.1
    new_track_thresh: Optional[float] = None  #: None = track_thresh + 0.1
    match_thresh: float = 0.8  #: stage 1 of byte and robust (finetrack/jde: their own section)
    second_match_thresh: float = 0.5
    unconfirmed_match_thresh: float = 0.7
    track_buffer: int = 30
    min_box_area: Optional[float] = 100.0
    max_aspect_ratio: Optional[float] = 1.6
    ema_alpha: float = 0.9
    mot20: bool = False  #: ByteTrack's mot20 switch: no score fusion in IoU costs
    duplicate_thresh: float = 0.15  #: tracked/lost pairs closer than this IoU distance are duplicates
    iou_pixel_offset: float = 0.0  #: 1 reproduces official ByteTrack's cython_bbox (+1 px) IoU


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


_NO_DETS = np.zeros(0, dtype=np.int64)


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
    """ByteTrack's lifecycle with one mode's association (see the module docstring).

    Args:
        mode: ``"byte"``, ``"finetrack"``, ``"jde"``, ``"robust"`` or ``"botsort"``
            (:data:`finetrack.tracker.association.ASSOCIATIONS`).
        frame_rate: sequence frame rate; ``max_time_lost = int(frame_rate / 30 * track_buffer)``.
        settings: the shared stages' :class:`ByteTrackSettings` (a
            :class:`finetrack.config.TrackerConfig` is one); None: defaults, updated by ``**shared``.
        finetrack, jde, robust, botsort: the modes' settings (:class:`FineTrackSettings`,
            :class:`JDESettings`, :class:`RobustSettings`, ``BotSortSettings``; None: defaults);
            only ``mode``'s is read.
        cues: ``robust`` only: the embeddings are several appearance cues side by side, of these
            widths (:class:`~finetrack.tracker.association.robust.RobustAssociation`).
        kalman_filter: optional custom :class:`KalmanFilter` (default: ByteTrack's weights).
            Box conversions to and from its state go through it (``from_xyxy``, ``to_xyxy``).
        **shared: fields of :class:`ByteTrackSettings` (``Tracker(mode="byte", mot20=True)``).

    Attributes:
        association: the mode's :class:`~finetrack.tracker.association.Association`.
    """

    def __init__(
        self,
        mode: str = "byte",
        frame_rate: float = 30.0,
        settings: Optional[ByteTrackSettings] = None,
        *,
        finetrack: Optional[FineTrackSettings] = None,
        jde: Optional[JDESettings] = None,
        robust: Optional[RobustSettings] = None,
        botsort=None,
        cues: Optional[Sequence[int]] = None,
        kalman_filter: Optional[KalmanFilter] = None,
        **shared,
    ) -> None:
        if mode not in ASSOCIATIONS:
            raise ValueError(f"unknown tracker mode {mode!r}; valid modes: {', '.join(MODES)}")
        s = settings if settings is not None else ByteTrackSettings()
        if shared:
            s = ByteTrackSettings(**{**{f.name: getattr(s, f.name)
                                        for f in dataclasses.fields(ByteTrackSettings)},
                                     **shared})
        self.mode = mode
        self.settings = s
        self.frame_rate = float(frame_rate)
        self.new_track_thresh = float(s.track_thresh + NEW_TRACK_MARGIN
                                      if s.new_track_thresh is None else s.new_track_thresh)
        self.max_time_lost = int(self.frame_rate / REFERENCE_FRAME_RATE * s.track_buffer)
        self.kf = kalman_filter if kalman_filter is not None else KalmanFilter()
        settings_of = {"finetrack": finetrack, "jde": jde, "robust": robust, "botsort": botsort}
        self.association: Association = ASSOCIATIONS[mode](self, settings_of.get(mode), cues=cues)
        self.reset()

    @classmethod
    def from_config(cls, cfg, frame_rate: float, cues: Optional[Sequence[int]] = None,
                    mode: Optional[str] = None) -> "Tracker":
        """The tracker of a :class:`finetrack.config.TrackerConfig` (``tracker.*``) for one
        sequence: the config is the shared settings, its ``finetrack`` / ``jde`` / ``robust``
        sections the modes'. ``mode`` overrides ``cfg.mode``."""
        return cls(mode or cfg.mode, frame_rate, cfg, finetrack=cfg.finetrack, jde=cfg.jde,
                   robust=cfg.robust, botsort=cfg.botsort, cues=cues)

    @property
    def embedding_floor(self) -> Optional[float]:
        """Detections scoring at most this are never read by :meth:`update` in this mode (nor
        their embeddings): the ``low_thresh`` of the modes with a low stage (byte, finetrack),
        ``track_thresh`` for jde (which ignores low detections) and botsort (whose low
        detections carry no embedding). None for ``robust``, whose
        embedding centring and occlusion weights read every detection of the frame.
        A Re-ID head may skip the boxes at or below it and pass zero rows for them.
        """
        a, s = self.association, self.settings
        if a.reads_every_box:
            return None
        if not a.low_stage or not a.low_features:
            return s.track_thresh
        return min(s.low_thresh, s.track_thresh)

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all tracks; the next track gets id 1 and the next frame is frame 1."""
        self.frame_id = 0
        self._next_id = 1
        self.tracked_tracks: List[Track] = []
        self.lost_tracks: List[Track] = []
        self._removed_ids: set = set()
        self.association.reset()

    def _new_id(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid

    # ------------------------------------------------------------------ helpers
    def _boxes(self, tracks: Sequence[Track]) -> np.ndarray:
        """(N, 4) current xyxy boxes of ``tracks`` (the filter's :meth:`KalmanFilter.to_xyxy`)."""
        if not tracks:
            return np.zeros((0, 4), dtype=np.float64)
        return self.kf.to_xyxy(np.array([t.mean[:4] for t in tracks]))

    @staticmethod
    def _stack(tracks: Sequence[Track]) -> Tuple[np.ndarray, np.ndarray]:
        """(N, 8) means and (N, 8, 8) covariances of ``tracks``."""
        if not tracks:
            return np.zeros((0, 8)), np.zeros((0, 8, 8))
        return np.array([t.mean for t in tracks]), np.array([t.covariance for t in tracks])

    def _predict(self, tracks: Sequence[Track]) -> Tuple[np.ndarray, np.ndarray]:
        """Batched Kalman prediction; non-tracked tracks get the filter's ``lost_velocity``
        entries set to zero first (ByteTrack's filter: the height velocity).

        Returns:
            The predicted (N, 8) means and (N, 8, 8) covariances; each track's ``mean`` and
            ``covariance`` become views of their rows.
        """
        means, covs = self._stack(tracks)
        if not tracks:
            return means, covs
        lost = [i for i, t in enumerate(tracks) if t.state != TrackState.TRACKED]
        if lost:
            means[np.ix_(lost, self.kf.lost_velocity)] = 0.0
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
        pdist = matching.iou_distance(tracked_boxes, lost_boxes, self.settings.iou_pixel_offset)
        pairs_p, pairs_q = (pdist < self.settings.duplicate_thresh).nonzero()
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
        min_box_area, max_aspect_ratio = self.settings.min_box_area, self.settings.max_aspect_ratio
        if min_box_area is not None or max_aspect_ratio is not None:
            w = boxes[:, 2] - boxes[:, 0]
            h = boxes[:, 3] - boxes[:, 1]
            if min_box_area is not None:
                keep = w * h > min_box_area
            if max_aspect_ratio is not None:
                ok = ~(w / np.maximum(h, 1e-12) > max_aspect_ratio)
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
        assoc, s = self.association, self.settings
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)  # never written to
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(scores) != len(xyxy):
            raise ValueError(f"got {len(xyxy)} boxes but {len(scores)} scores")
        emb = None
        if embeddings is not None:
            emb = np.asarray(embeddings)
            if emb.ndim != 2 or len(emb) != len(xyxy):
                raise ValueError(f"embeddings must be (N, D) with N={len(xyxy)}, got {emb.shape}")
            emb = assoc.prepare_embeddings(l2_normalize(emb))
        elif assoc.needs_embeddings:
            raise ValueError(f"mode {self.mode!r} needs embeddings")

        self.frame_id += 1
        removed_now: List[Track] = []
        high = np.flatnonzero(scores > s.track_thresh)
        low = (np.flatnonzero((scores > s.low_thresh) & (scores <= s.track_thresh))
               if assoc.low_stage else _NO_DETS)
        frame = FramePool(self.frame_id, xyxy, scores, emb, assoc.feature_weights(xyxy, scores),
                          high, self.kf, assoc.on_feature)

        unconfirmed, confirmed = [], []
        for t in self.tracked_tracks:
            (confirmed if t.is_activated else unconfirmed).append(t)

        # Stage 1: (tracked + lost) pool, Kalman-predicted, with high detections: the mode's.
        pool = _joint(confirmed, self.lost_tracks)
        pool_mean, pool_cov = self._predict(pool)
        if warp is not None:
            self.apply_camera_motion(warp)
            pool_mean, pool_cov = self._stack(pool)
        pool_boxes = (self.kf.to_xyxy(pool_mean) if len(pool)
                      else np.zeros((0, 4), dtype=np.float64))
        frame.set_pool(pool, pool_mean, pool_cov, pool_boxes)
        u_track, high_left = assoc.first_stage(frame)

        # Stage 2: remaining tracked tracks with low detections (jde: remaining high ones), IoU.
        lost_now = self._second_stage(frame, u_track, low if assoc.low_stage else high_left)
        if not assoc.low_stage:
            high_left = lost_now[1]
        lost_now = lost_now[0]
        for t in lost_now:
            t.mark_lost()

        # Stage 3: unconfirmed tracks (not predicted, as in ByteTrack) with remaining high dets.
        if unconfirmed and len(high_left):
            u_mean, u_cov = self._stack(unconfirmed)
            dists = matching.iou_distance(self.kf.to_xyxy(u_mean), xyxy[high_left],
                                          s.iou_pixel_offset)
            if assoc.fuse_score_unconfirmed and not s.mot20:
                dists = matching.fuse_score(dists, scores[high_left])
            matches, u_unconf, u_det3 = matching.linear_assignment(dists,
                                                                   s.unconfirmed_match_thresh)
            frame.match(unconfirmed, u_mean, u_cov, high_left, matches)
            high_left = high_left[u_det3]
            unconfirmed = [unconfirmed[i] for i in u_unconf.tolist()]
        for t in unconfirmed:
            t.mark_removed()
        removed_now.extend(unconfirmed)

        # Stage 4: new tracks.
        self._birth(frame, high_left[scores[high_left] >= self.new_track_thresh])

        # Stage 5: lost tracks past the buffer are removed.
        for t in self.lost_tracks:
            if self.frame_id - t.end_frame > self.max_time_lost:
                t.mark_removed()
                removed_now.append(t)
        assoc.forget(removed_now)

        tracked = [t for t in self.tracked_tracks if t.state == TrackState.TRACKED]
        tracked = _joint(tracked, frame.activated)
        tracked = _joint(tracked, frame.refound)
        lost = _sub(self.lost_tracks, {t.track_id for t in tracked})
        lost.extend(lost_now)
        lost = _sub(lost, self._removed_ids)  # this frame's removals are filtered next frame
        self._removed_ids.update(t.track_id for t in removed_now)
        # every lost track is a pool track that no stage updated: its box is still its pool box
        pool_row = {t.track_id: i for i, t in enumerate(pool)}
        lost_boxes = (pool_boxes[[pool_row[t.track_id] for t in lost]] if tracked and lost
                      else None)
        tracked, boxes, self.lost_tracks = self._remove_duplicates(tracked, self._boxes(tracked),
                                                                   lost, lost_boxes)
        self.tracked_tracks = tracked
        return self._output(tracked, boxes)

    def _second_stage(self, frame: FramePool, u_track: np.ndarray,
                      second: np.ndarray) -> Tuple[List[Track], np.ndarray]:
        """Stage 2: the pool rows ``u_track`` that are tracked against detections ``second`` on
        IoU at ``second_match_thresh``.

        Returns:
            (the tracked tracks left unmatched: lost now, the detections of ``second`` left).
        """
        rows = [i for i in u_track.tolist() if frame.tracks[i].state == TrackState.TRACKED]
        r_tracked = [frame.tracks[i] for i in rows]
        if not rows or not len(second):
            return r_tracked, second
        dists = matching.iou_distance(frame.boxes[rows], frame.xyxy[second],
                                      self.settings.iou_pixel_offset)
        matches, u_track2, u_det2 = matching.linear_assignment(dists,
                                                               self.settings.second_match_thresh)
        frame.match(r_tracked, frame.mean[rows], frame.cov[rows], second, matches,
                    features=self.association.low_features or not self.association.low_stage)
        return [r_tracked[i] for i in u_track2.tolist()], second[u_det2]

    def _birth(self, frame: FramePool, dets: np.ndarray) -> None:
        """Stage 4: a new (unconfirmed; confirmed on frame 1) track per detection of ``dets``."""
        if not len(dets):
            return
        means, covs = self.kf.initiate(self.kf.from_xyxy(frame.xyxy[dets]))
        first = self.frame_id == 1
        emb = frame.emb
        for d, m, c in zip(dets.tolist(), means, covs):
            t = Track(self._new_id(), m, c, frame.scores[d], self.frame_id,
                      feature=None if emb is None else emb[d], ema_alpha=self.settings.ema_alpha,
                      det_index=d, activated=first)
            frame.activated.append(t)
            if emb is not None:
                self.association.on_birth(t, d, frame)
