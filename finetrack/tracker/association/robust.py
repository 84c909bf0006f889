"""``robust``: appearance that can only help (calibration: :mod:`finetrack.tracker.appearance`).

Stage 1 is ``byte``'s IoU assignment, solved again after overlapping pairs' costs drop by a bounded
bonus proportional to the calibrated appearance log-likelihood ratio; ``byte``'s own pairs stay
locked unless appearance disfavours them (llr < 0), or contradicts them confidently while the
track or the detection has a confident alternative (a swap: vetoed). Stage 1b ("recovery")
matches the tracks and high detections left, whose boxes do not overlap, on appearance alone
inside a frame-rate-normalised motion gate, when confidently the same person and ahead of every
competitor: the matches IoU cannot make (after occlusion, at low frame rates).

Confidence comes from similarity statistics learned on the sequence itself (no labels, no
absolute threshold), on embeddings centred on the sequence's running mean; while they do not
separate people (too few samples, or a model that does not work on this scene) the mode is
exactly ``byte``. Whether they separate people is judged a second later (the identity gate: a
track's feature of ``identity_lag_s`` ago against its current detection and the most similar
other one), not from one frame to the next, where at 30 fps any feature looks reliable; the
decisions read that calibration's llr once it is ready. With several cues (``Tracker(cues=...)``,
``tracker.appearance=auto``) each is calibrated on its own and the decisions read the one that
separates this sequence's people best. With ``restore_dropped`` a ``byte`` pair that appearance
only dislikes is given back rather than dropped. Feature updates skip occluded and low-score
boxes and scale the EMA step by the score.

The settings the cross-scene evidence kept are :class:`RobustSettings`; the rest are constants
(their values when they were settings).
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from finetrack.structures import box_iou_xyxy
from finetrack.tracker import matching
from finetrack.tracker.appearance import (FeatureCentering, SimilarityCalibrator,
                                          dynamic_ema_alpha, max_overlap, motion_gate)
from finetrack.tracker.association.base import Association
from finetrack.tracker.frame import FramePool
from finetrack.tracker.track import Track, l2_normalize

#: llr above which appearance says "same person" on its own: a recovery of a pair whose boxes do
#: not overlap, or the alternative that justifies a veto
AGREE_LLR = 3.0
#: first stage: an overlapping pair's cost drops by ``BONUS_WEIGHT * clip(llr, +-BONUS_CLIP)``,
#: scaled by ``min(1, BONUS_REF_FPS / frame_rate)`` (the higher the frame rate, the less boxes
#: move between frames and the more IoU alone says); only clean detections get it
BONUS_WEIGHT = 0.1
BONUS_CLIP = 4.0
BONUS_REF_FPS = 7.0
#: a recovery needs its llr to beat every competitor in its row and column by this
MARGIN_LLR = 1.0
#: IoU above which an unambiguous IoU match is a calibration positive
POS_IOU = 0.6
#: calibration samples kept per class
WINDOW = 400
#: the next-frame calibration's d' below which appearance is off (the tracker is ``byte``)
MIN_SEPARATION = 0.0
#: motion gate: radius in box heights at zero elapsed time, growth in box heights per second since
#: the last match, bound on the height ratio
GATE_RADIUS = 0.5
GATE_SPEED = 1.0
MAX_SCALE_CHANGE = 1.5
#: the recovery's assignment threshold on 1 - cosine (every candidate passes)
RECOVERY_THRESH = 2.5


@dataclasses.dataclass(frozen=True)
class RobustSettings:
    """Settings of ``tracker.mode=robust`` (config section ``tracker.robust``).

    Attributes:
        add_llr: when > 0, a pair that ``byte``'s cost rejects (``cost > match_thresh``: too little
            IoU) gets the appearance bonus only when appearance is confident it is the same person,
            ``llr > add_llr``: weak appearance evidence may break IoU's ties and reorder ``byte``'s
            pairs, not add pairs on its own. 0: every overlapping pair gets the bonus.
        restore_dropped: a pair of ``byte`` whose track and detection both end up unmatched after
            the reweighted assignment is restored (unless vetoed): appearance may hand a pair's
            partners to others, never drop it and so start a new identity.
        veto_llr: llr below ``-veto_llr`` contradicts an IoU match; it is vetoed only when the track
            or the detection has a confident (:data:`AGREE_LLR`) alternative inside the motion gate.
        occlusion_iou: a detection overlapping another one above this IoU is occluded: its feature
            neither updates the track's EMA nor takes part in an appearance decision.
        min_samples: calibration samples needed in each class before appearance is used.
        min_track_feats: clean features a track needs before appearance speaks for it.
        dynamic_ema: scale the EMA step by the detection score (Deep OC-SORT).
        recovery: run the appearance recovery stage (off: only vetoes use appearance).
        identity_lag_s: the reliability gate's lag in seconds (0: no such gate). Besides the
            next-frame calibration (a track's EMA feature against the next frame's detections,
            which at 30 fps mostly measures how little a crop changes in 33 ms), a second
            calibration compares the track's clean detection feature of at least this long ago
            with its current match (positive) and with the most similar other detection
            (negative): how well the features tell people apart over time. Appearance is used
            only while its separation ``d'`` is at least ``min_identity_separation``, and the
            decisions read its llr once it is ready.
        min_identity_separation: see ``identity_lag_s``.
        identity_z: the identity gate tests a lower confidence bound, ``d' - identity_z * se``
            (:class:`SimilarityCalibrator`).
        identity_ref_fps: when > 0, the identity gate's threshold is
            ``min_identity_separation * min(1, frame_rate / identity_ref_fps)``: at a low frame rate
            boxes move far between frames and IoU's own evidence is weak, so weaker appearance
            evidence still adds to it (0: the threshold does not depend on the frame rate).
        center: subtract the sequence's running mean embedding before matching (see
            :class:`FeatureCentering`).
    """

    add_llr: float = 4.0
    restore_dropped: bool = True
    veto_llr: float = 4.0
    occlusion_iou: float = 0.3
    min_samples: int = 30
    min_track_feats: int = 2
    dynamic_ema: bool = True
    recovery: bool = True
    identity_lag_s: float = 1.0
    min_identity_separation: float = 1.2
    identity_z: float = 2.0
    identity_ref_fps: float = 30.0
    center: bool = True

    def identity_threshold(self, frame_rate: float) -> float:
        """The identity gate's d' threshold at ``frame_rate`` (see ``identity_ref_fps``)."""
        if self.identity_ref_fps <= 0:
            return self.min_identity_separation
        return self.min_identity_separation * min(1.0, frame_rate / self.identity_ref_fps)


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


class RobustAssociation(Association):
    """``byte`` reweighted by calibrated appearance (locks, vetoes), then recovery.

    Args:
        tracker: the owning tracker. settings: :class:`RobustSettings`.
        cues: the embeddings are several appearance cues side by side, of these widths (one may
            be -1: the rest), e.g. ``(-1, 144)`` for Re-ID features followed by the colour
            histogram (``tracker.appearance=auto``). Each cue is L2-normalised and calibrated on
            its own; the decisions read the one that separates people best. None: one cue.

    Attributes:
        calibrators / identity_calibrators: per cue, the next-frame and the identity
            :class:`SimilarityCalibrator`. active_cue: the cue the decisions read.
        stats: counters (vetoes, changed, added, recoveries, ema_skipped, restored).
    """

    name = "robust"
    reads_every_box = True

    def __init__(self, tracker, settings: Optional[RobustSettings] = None,
                 cues: Optional[Sequence[int]] = None) -> None:
        p = settings if settings is not None else RobustSettings()
        super().__init__(tracker, p)
        self.cues = None if cues is None else tuple(int(c) for c in cues)
        if self.cues is not None and (len(self.cues) < 1 or self.cues.count(-1) > 1
                                      or any(c == 0 or c < -1 for c in self.cues)):
            raise ValueError(f"cues must be positive widths (one may be -1), got {cues}")
        n_cues = 1 if self.cues is None else len(self.cues)
        fps = tracker.frame_rate
        #: next-frame calibration per cue (a track's EMA feature against its next detection)
        self.calibrators = [SimilarityCalibrator(WINDOW, p.min_samples, MIN_SEPARATION)
                            for _ in range(n_cues)]
        #: identity calibration per cue at a lag of identity_lag_s (the reliability gate)
        self.identity_calibrators = [SimilarityCalibrator(
            WINDOW, p.min_samples, p.identity_threshold(fps), confidence_z=p.identity_z)
            for _ in range(n_cues)]
        self._multi_cue = self.cues is not None
        self._cue_slices: Optional[List[slice]] = None
        self._lag_frames = max(1, int(round(p.identity_lag_s * fps)))
        self._history_on = p.identity_lag_s > 0
        self.centering = FeatureCentering()
        self.stats = {"vetoes": 0, "changed": 0, "added": 0, "recoveries": 0,
                      "ema_skipped": 0, "restored": 0}
        self.reset()

    def reset(self) -> None:
        #: track id -> (frame, clean detection feature) of the last identity_lag_s
        self._history: Dict[int, Deque[Tuple[int, np.ndarray]]] = {}
        for cal in self.calibrators + self.identity_calibrators:
            cal.reset()
        self.active_cue = 0
        self.centering.reset()
        self.stats = {k: 0 for k in self.stats}

    @property
    def calibrator(self) -> SimilarityCalibrator:
        """The next-frame calibrator of the active cue."""
        return self.calibrators[self.active_cue]

    @property
    def identity_calibrator(self) -> SimilarityCalibrator:
        """The identity calibrator of the active cue."""
        return self.identity_calibrators[self.active_cue]

    # ------------------------------------------------------------------ hooks
    def prepare_embeddings(self, emb: np.ndarray) -> np.ndarray:
        if self.settings.center:
            emb = self.centering(emb)
        if self._multi_cue:
            emb = self._cue_normalize(emb)
        return emb

    def feature_weights(self, xyxy: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """(N,) EMA weight per detection: 1 (no update) for occluded or low-score boxes.

        A box overlapping another detection of the frame (IoU > ``occlusion_iou``) shows part of
        somebody else; a low-score box is often a partial view. Their features are not folded
        into a track's appearance. The others update with ``ema_alpha``, or Deep OC-SORT's
        score-scaled weight with ``dynamic_ema``.
        """
        p, s = self.settings, self.tracker.settings
        alpha = np.full(len(scores), 1.0)
        if len(scores) == 0:
            return alpha
        clean = (max_overlap(xyxy) <= p.occlusion_iou) & (scores > s.track_thresh)
        if p.dynamic_ema:
            alpha[clean] = dynamic_ema_alpha(s.ema_alpha, scores[clean], s.track_thresh)
        else:
            alpha[clean] = s.ema_alpha
        return alpha

    def on_feature(self, track: Track, feature: Optional[np.ndarray],
                   alpha: Optional[float]) -> None:
        if feature is None:
            self.stats["ema_skipped"] += 1
            return
        if self._multi_cue:
            # each cue's EMA as if it were alone (a cue whose features wander, and so whose
            # average shrinks, must not slow down the other one's EMA)
            track.smooth_feat = self._cue_normalize(track.smooth_feat[None])[0]
        if self._history_on:
            self._remember(track.track_id, feature)

    def on_birth(self, track: Track, det: int, frame: FramePool) -> None:
        if self._history_on and frame.feat_alpha[det] < 1.0:
            self._remember(track.track_id, frame.emb[det])

    def forget(self, tracks: Sequence[Track]) -> None:
        for t in tracks:
            self._history.pop(t.track_id, None)

    # ------------------------------------------------------------------ stage 1
    def first_stage(self, frame: FramePool) -> Tuple[np.ndarray, np.ndarray]:
        p, s = self.settings, self.tracker.settings
        pool, high, xyxy, emb = frame.tracks, frame.high, frame.xyxy, frame.emb
        match_thresh, frame_rate = s.match_thresh, self.tracker.frame_rate
        d_iou = matching.iou_distance(frame.boxes, xyxy[high], s.iou_pixel_offset)
        dists = d_iou if s.mot20 else matching.fuse_score(d_iou, frame.scores[high])
        n, m = len(pool), len(high)
        if n == 0 or m == 0:
            return self.solve(frame, dists, match_thresh)
        cue_sims = self._cue_sims(self.features(pool), emb[high])
        llr = self._appearance_llr(cue_sims)
        sims = cue_sims[self.active_cue]
        det_iou = box_iou_xyxy(xyxy[high], xyxy[high])
        clean_det = max_overlap(xyxy[high], det_iou) <= p.occlusion_iou
        mature = np.array([t.n_feats >= p.min_track_feats for t in pool])
        since = np.array([max(frame.frame_id - t.frame_id, 1) for t in pool], dtype=np.float64)
        gate = motion_gate(frame.boxes, xyxy[high], since, frame_rate, GATE_RADIUS, GATE_SPEED,
                           MAX_SCALE_CHANGE)
        usable = mature[:, None] & clean_det[None, :]
        agree = usable & gate & (llr > AGREE_LLR)
        byte_matches, _, _ = matching.linear_assignment(dists, match_thresh)
        if self.appearance_on:
            matches, u_track, u_det = self._reweighted(dists, d_iou, llr, usable, agree,
                                                       byte_matches)
        else:
            matches, u_track, u_det = matching.linear_assignment(dists, match_thresh)
        self._calibrate(byte_matches, d_iou, cue_sims, det_iou, clean_det, pool, emb[high])
        frame.match_pool(matches)
        if p.recovery and self.appearance_on and len(u_track) and len(u_det):
            u_track, u_det = self._recover(frame, llr, sims, agree, d_iou, u_track, u_det)
        return u_track, high[u_det]

    def _reweighted(self, dists, d_iou, llr, usable, agree, byte_matches):
        """byte's assignment with appearance's bounded bonus, locks and vetoes.

        Args:
            dists: (N, K) byte's cost. d_iou: (N, K) IoU distance. llr: (N, K) the decisions'
                llr. usable: (N, K) mature track x clean detection. agree: (N, K) usable, in the
                motion gate and llr > AGREE_LLR. byte_matches: (B, 2) byte's own pairs.

        Returns:
            (matches, unmatched pool rows, unmatched high columns) as linear_assignment's.
        """
        p, match_thresh = self.settings, self.tracker.settings.match_thresh
        # 1. appearance reweights the overlapping pairs by its calibrated evidence (bounded)
        overlap = (d_iou < 1.0) & usable
        weight = BONUS_WEIGHT * min(1.0, BONUS_REF_FPS / max(self.tracker.frame_rate, 1e-6))
        bonus = weight * np.clip(llr, -BONUS_CLIP, BONUS_CLIP)
        fused = np.where(overlap, dists - bonus, dists)
        if p.add_llr > 0:
            # a pair IoU alone rejects is admitted only on confident appearance evidence
            fused = np.where((dists > match_thresh) & ~(usable & (llr > p.add_llr)),
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
            self.stats["vetoes"] += int(vetoed.sum())
        # the others stay locked unless appearance disfavours them (llr < 0): then the
        # bonus-weighted costs decide between them and their IoU competitors
        locked = ~vetoed & (llr[r, c] >= 0.0)
        fused[r[locked], c[locked]] = -1.0
        fused[r[vetoed], c[vetoed]] = np.inf
        matches, u_track, u_det = matching.linear_assignment(fused, match_thresh)
        if p.restore_dropped and len(u_track) and len(u_det):
            # a byte pair whose track and detection were both left unmatched is restored:
            # appearance may give a pair's partners to others, not drop it (a new id)
            free_t, free_d = set(u_track.tolist()), set(u_det.tolist())
            back = np.array([(a, b) for a, b in zip(r.tolist(), c.tolist())
                             if a in free_t and b in free_d and not veto[a, b]],
                            dtype=matches.dtype).reshape(-1, 2)
            if len(back):
                self.stats["restored"] += len(back)
                matches = np.concatenate([matches.reshape(-1, 2), back])
                u_track = u_track[~np.isin(u_track, back[:, 0])]
                u_det = u_det[~np.isin(u_det, back[:, 1])]
        kept = {(int(a), int(b)) for a, b in matches}
        self.stats["added"] += sum(1 for a, b in matches if dists[a, b] > match_thresh)
        self.stats["changed"] += sum(1 for a, b in byte_matches if (int(a), int(b)) not in kept)
        return matches, u_track, u_det

    def _recover(self, frame, llr, sims, agree, d_iou, u_track, u_det):
        """Stage 1b: the unmatched pool rows ``u_track`` and high columns ``u_det`` whose boxes
        do not overlap, matched on appearance alone inside the motion gate when confidently the
        same person and ahead of every competitor by :data:`MARGIN_LLR`. Returns what is left."""
        sub = llr[np.ix_(u_track, u_det)]
        ok = agree[np.ix_(u_track, u_det)] & (d_iou[np.ix_(u_track, u_det)] >= 1.0)
        if not ok.any():
            return u_track, u_det
        cand = np.where(ok, sub, -np.inf)
        best_other_row = _second_best(cand, axis=1)
        best_other_col = _second_best(cand, axis=0)
        with np.errstate(invalid="ignore"):  # -inf - -inf on pairs that are not candidates
            unique = (ok & (cand - best_other_row >= MARGIN_LLR)
                      & (cand - best_other_col >= MARGIN_LLR))
        cost = np.where(unique, 1.0 - sims[np.ix_(u_track, u_det)], np.inf)
        rec, u_r, u_c = matching.linear_assignment(cost, RECOVERY_THRESH)
        if len(rec):
            self.stats["recoveries"] += int(len(rec))
            frame.match_pool(np.stack([u_track[rec[:, 0]], u_det[rec[:, 1]]], axis=1))
            u_track, u_det = u_track[u_r], u_det[u_c]
        return u_track, u_det

    # ------------------------------------------------------------------ cues
    def _cue_on(self, k: int) -> bool:
        """Cue ``k``'s calibrations are both ready and separating."""
        return self.calibrators[k].ready and (not self._history_on
                                              or self.identity_calibrators[k].ready)

    @property
    def appearance_on(self) -> bool:
        """Appearance may act (some cue's calibrations ready and separating; else ``byte``)."""
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

        Identity decisions read the active cue's identity calibration (its track features of
        identity_lag_s ago against their detections now) when it is ready: the next-frame
        calibration mostly measures how little a crop changes in one frame and is over-confident
        about identity.
        """
        k = self.active_cue
        use_identity = self._history_on and self.identity_calibrators[k].ready
        return (self.identity_calibrators[k] if use_identity else self.calibrators[k]).llr(cue_sims[k])

    def _select_cue(self) -> None:
        """Make the cue whose calibration separates identities best (the largest lower confidence
        bound of ``d'``; the identity calibration's when the identity gate is on) the active one,
        among the cues that pass their gates (unchanged when none does)."""
        if len(self.calibrators) < 2:
            return
        cals = self.identity_calibrators if self._history_on else self.calibrators
        on = [k for k in range(len(cals)) if self._cue_on(k)]
        if on:
            self.active_cue = max(on, key=lambda k: cals[k].lower_bound())

    # ------------------------------------------------------------------ calibration
    def _remember(self, track_id: int, feature: np.ndarray) -> None:
        """Keep a clean detection feature of a track for the identity calibration."""
        f = np.asarray(feature, dtype=np.float64).reshape(-1)
        self._history.setdefault(track_id, collections.deque()).append(
            (self.tracker.frame_id, f / max(float(np.linalg.norm(f)), 1e-12)))

    def _lagged_feature(self, track_id: int) -> Optional[np.ndarray]:
        """The track's newest remembered feature at least ``identity_lag_s`` old (None: none).

        Older entries are dropped: a later frame never needs one older than this.
        """
        hist = self._history.get(track_id)
        if not hist:
            return None
        cutoff = self.tracker.frame_id - self._lag_frames
        while len(hist) > 1 and hist[1][0] <= cutoff:
            hist.popleft()
        return hist[0][1] if hist[0][0] <= cutoff else None

    def _calibrate(self, matches: np.ndarray, d_iou: np.ndarray, cue_sims: List[np.ndarray],
                   det_iou: np.ndarray, clean_det: np.ndarray, pool: Sequence[Track],
                   emb_high: np.ndarray) -> None:
        """Feed the calibrators from this frame's unambiguous IoU matches (no labels needed).

        Positive: track vs its match when IoU > :data:`POS_IOU` and the detection is clean.
        Negative: the same track vs the most similar other detection that does not overlap the
        match. The identity calibrator does the same with the track's feature of
        ``identity_lag_s`` ago (:meth:`_lagged_feature`) in place of its EMA feature. Each cue
        feeds its own pair of calibrators; the active cue is chosen again afterwards.

        Args:
            matches: (K, 2) byte's first-stage pairs [pool row, high column]. d_iou: (N, M) IoU
                distance of pool x high; cue_sims: per cue, their (N, M) EMA-feature cosines.
                det_iou: (M, M) IoU of the high detections. clean_det: (M,) bool. pool: the N
                tracks. emb_high: (M, D) features.
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
            for cal, s_old in zip(self.identity_calibrators,
                                  self._cue_sims(np.stack(old), emb_high)):
                cal.add(s_old[np.arange(len(keep)), cols[keep]],
                        np.where(others[keep], s_old, -np.inf).max(axis=1))
        self._select_cue()
