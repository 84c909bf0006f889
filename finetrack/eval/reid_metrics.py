"""Re-ID metrics with ground-truth boxes: CMC Rank-k and mAP (SPEC section 4).

Protocol (the paper does not state one; this is the project's, documented in the README):
per validation sequence, the queries are the GT boxes on every ``query_every``-th frame of the
evaluated range (frames ``first, first + query_every, ...``); the gallery is every GT box of the
same sequence on the other (non-query) frames. For each query, gallery entries within
``exclude_frames`` frames of the query's frame are excluded (protocol v2, the default upstream:
one second of video; ``exclude_frames=0`` = v1, only same-frame entries excluded, where the
near-duplicate neighbours of the query inflate Rank-1). A query whose identity has no valid
gallery entry is skipped (not counted). Rank-1 and mAP are averaged over all valid queries of all
sequences. ``query_keep`` restricts the queries (e.g. open-set: identities never trained on)
without changing the gallery.

Distances are Euclidean between the given embeddings (for L2-normalised embeddings this ranks like
cosine). Ties are broken by gallery order (stable sort), which makes hand-derived values exact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReIDResult:
    """Averages over valid queries; ``rank1``/``mAP`` are fractions in [0, 1].

    Attributes:
        rank1: fraction of queries whose nearest gallery item has the same identity.
        mAP: mean average precision.
        num_queries: queries with at least one positive (those that were scored).
        num_gallery: gallery items (summed over sequences).
        num_skipped: queries without any positive in their gallery.
        cmc: (max_rank,) CMC curve (cmc[0] = rank1).
        gallery_per_query: mean number of gallery items a scored query is ranked against
            (after the +-T exclusion).
        open_set: the same evaluation restricted to queries whose identity was never trained on
            (None = not computed).
        mask_corr: mean pairwise Pearson correlation of the K MPMG part masks over the evaluated
            crops (:func:`mask_correlation`); None without part masks (GAP / centre pooling, K < 2).
        mask_abs_corr: the same with |r|: 1 = the K masks are one pattern or its inverse, 0 =
            unrelated masks (Fig. 5 wants them apart).
        mask_border: mean share of a part mask's mass in the crop's outer columns
            (:func:`mask_border_share`): low correlation with a high share means the parts
            split up the box's background edges, not the body.
    """

    rank1: float
    mAP: float
    num_queries: int
    num_gallery: int
    num_skipped: int
    cmc: np.ndarray
    gallery_per_query: float = 0.0
    open_set: Optional["ReIDResult"] = None
    mask_corr: Optional[float] = None
    mask_abs_corr: Optional[float] = None
    mask_border: Optional[float] = None

    def as_percent(self) -> Dict[str, Any]:
        """{"rank1", "mAP"} in percent (0-100) plus the counts (and ``open_set``), JSON-ready."""
        out: Dict[str, Any] = {
            "rank1": 100.0 * self.rank1,
            "mAP": 100.0 * self.mAP,
            "num_queries": int(self.num_queries),
            "num_gallery": int(self.num_gallery),
            "num_skipped": int(self.num_skipped),
            "gallery_per_query": round(float(self.gallery_per_query), 2),
        }
        if self.open_set is not None:
            out["open_set"] = self.open_set.as_percent()
        if self.mask_corr is not None:
            out["mask_corr"] = round(float(self.mask_corr), 4)
        if self.mask_abs_corr is not None:
            out["mask_abs_corr"] = round(float(self.mask_abs_corr), 4)
        if self.mask_border is not None:
            out["mask_border"] = round(float(self.mask_border), 4)
        return out


def mask_correlation(part_masks: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Per crop, the mean Pearson correlation over the K(K-1)/2 pairs of its part masks.

    Args:
        part_masks: (N, K, h, w) masks (any real values), K >= 2.
        absolute: average |r| instead of r. A mask and its inverse (r = -1) cover the same
            boundary, so they are no more diverse than two copies; the signed mean of such a set
            can be near 0 and look diverse, the absolute one cannot.

    Returns:
        (N,) float64 in [-1, 1]; a pair where one mask is constant has no correlation and is
        left out of its crop's mean (NaN when every pair of a crop is such a pair).
    """
    m = np.asarray(part_masks, dtype=np.float64)
    if m.ndim != 4 or m.shape[1] < 2:
        raise ValueError(f"part_masks must be (N, K >= 2, h, w), got {m.shape}")
    x = m.reshape(m.shape[0], m.shape[1], -1)
    x = x - x.mean(axis=2, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=2))  # (N, K)
    ok = norm > 1e-12
    z = np.where(ok[..., None], x / np.where(ok, norm, 1.0)[..., None], 0.0)
    corr = np.einsum("nkp,njp->nkj", z, z)  # (N, K, K)
    iu = np.triu_indices(m.shape[1], k=1)
    pairs = corr[:, iu[0], iu[1]]  # (N, P)
    if absolute:
        pairs = np.abs(pairs)
    valid = ok[:, iu[0]] & ok[:, iu[1]]
    count = valid.sum(axis=1)
    total = np.where(valid, pairs, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def border_columns(width: int) -> int:
    """Columns counted as border on EACH side of a w-column mask: ``max(1, w // 8)``."""
    return max(1, int(width) // 8)


def mask_border_share(part_masks: np.ndarray) -> np.ndarray:
    """Per crop, the mean over its K part masks of the share of the mask's mass that lies in the
    crop's outer columns (:func:`border_columns` on each side).

    A GT box of a pedestrian holds background at its left and right edges, so a part mask that
    sits on the body has a small share; a mask spread evenly has ``2 b / w`` (0.25 at w = 8);
    a mask on the box edges approaches 1.

    Args:
        part_masks: (N, K, h, w) non-negative masks, K >= 1, w >= 3.

    Returns:
        (N,) float64 in [0, 1]; masks with no mass are left out of their crop's mean (NaN when
        all of a crop's are).
    """
    m = np.asarray(part_masks, dtype=np.float64)
    if m.ndim != 4 or m.shape[1] < 1 or m.shape[3] < 3:
        raise ValueError(f"part_masks must be (N, K >= 1, h, w >= 3), got {m.shape}")
    b = border_columns(m.shape[3])
    total = m.sum(axis=(2, 3))  # (N, K)
    edge = m[..., :b].sum(axis=(2, 3)) + m[..., -b:].sum(axis=(2, 3))
    ok = total > 1e-12
    share = np.where(ok, edge / np.where(ok, total, 1.0), 0.0)
    count = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, share.sum(axis=1) / np.maximum(count, 1), np.nan)


def pairwise_sq_euclidean(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(Q, D), (G, D) -> (Q, G) float64 squared Euclidean distances (clipped at 0)."""
    q = np.asarray(q, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    d = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * q @ g.T
    return np.maximum(d, 0.0)


def rank_and_ap(
    dist: np.ndarray,
    q_ids: np.ndarray,
    g_ids: np.ndarray,
    valid: Optional[np.ndarray] = None,
    max_rank: int = 10,
) -> Dict[str, np.ndarray]:
    """Per-query CMC and AP from a distance matrix.

    Args:
        dist: (Q, G) distances, smaller = more similar.
        q_ids: (Q,) identity of each query. g_ids: (G,) identity of each gallery item.
        valid: (Q, G) bool, False = gallery item excluded for that query; None = all valid.
        max_rank: length of the returned CMC rows.

    Returns:
        {"cmc": (Q', max_rank) float64 0/1 rows, "ap": (Q',) float64,
         "scored": (Q,) bool (True = query had a positive and is counted)}; Q' = scored.sum().
    """
    dist = np.asarray(dist, dtype=np.float64)
    q_ids = np.asarray(q_ids).reshape(-1)
    g_ids = np.asarray(g_ids).reshape(-1)
    nq, ng = dist.shape
    if valid is None:
        valid = np.ones((nq, ng), dtype=bool)
    cmc_rows, aps = [], []
    scored = np.zeros(nq, dtype=bool)
    for i in range(nq):
        keep = np.flatnonzero(valid[i])
        order = keep[np.argsort(dist[i, keep], kind="stable")]
        matches = (g_ids[order] == q_ids[i]).astype(np.float64)
        n_pos = matches.sum()
        if n_pos == 0:
            continue
        scored[i] = True
        hits = np.cumsum(matches)
        cmc = np.zeros(max_rank)
        first = int(np.argmax(matches))
        if first < max_rank:
            cmc[first:] = 1.0
        cmc_rows.append(cmc)
        ranks = np.arange(1, len(matches) + 1, dtype=np.float64)
        aps.append(float((hits / ranks * matches).sum() / n_pos))
    return {
        "cmc": np.asarray(cmc_rows, dtype=np.float64).reshape(-1, max_rank),
        "ap": np.asarray(aps, dtype=np.float64),
        "scored": scored,
    }


def query_mask(frames: np.ndarray, first_frame: int, query_every: int = 10) -> np.ndarray:
    """(N,) bool: True for boxes on query frames ``first_frame + k * query_every``."""
    if query_every < 1:
        raise ValueError(f"query_every must be >= 1, got {query_every}")
    frames = np.asarray(frames, dtype=np.int64)
    return (frames - int(first_frame)) % int(query_every) == 0


def evaluate_reid(
    embeddings: np.ndarray,
    seq_ids: np.ndarray,
    frames: np.ndarray,
    track_ids: np.ndarray,
    first_frames: Optional[Dict[int, int]] = None,
    query_every: int = 10,
    max_rank: int = 10,
    exclude_frames: Union[int, Dict[int, int]] = 0,
    query_keep: Optional[np.ndarray] = None,
) -> ReIDResult:
    """Rank-1 / mAP with the SPEC section 4 protocol.

    Args:
        embeddings: (N, D) one embedding per GT box (L2-normalised for the tracker's metric).
        seq_ids: (N,) int sequence index of each box (queries only match their own sequence).
        frames: (N,) int 1-based frame of each box.
        track_ids: (N,) int identity (track id within its sequence).
        first_frames: {seq index: first frame of the evaluated range}; None = the smallest frame
            present for that sequence.
        query_every: queries are boxes on every n-th frame counted from the first frame.
        max_rank: CMC length.
        exclude_frames: T; gallery entries with ``|frame - query frame| <= T`` are excluded
            (0 = same frame only, protocol v1); an int for every sequence or {seq index: T}
            (sequences missing from the dict use 0).
        query_keep: (N,) bool, False = this box is never a query (it stays out of the gallery
            when it lies on a query frame); None = every box on a query frame is a query.

    Returns:
        ReIDResult (fractions); rank1 = mAP = 0 when no query could be scored.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    seq_ids = np.asarray(seq_ids, dtype=np.int64).reshape(-1)
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    track_ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
    if not (len(emb) == len(seq_ids) == len(frames) == len(track_ids)):
        raise ValueError("embeddings, seq_ids, frames and track_ids must have the same length")
    keep = np.ones(len(frames), bool) if query_keep is None else np.asarray(query_keep, bool)
    if keep.shape != frames.shape:
        raise ValueError(f"query_keep must have shape {frames.shape}, got {keep.shape}")
    cmcs, aps = [], []
    n_gallery = n_skipped = 0
    n_valid = 0.0
    for s in np.unique(seq_ids):
        m = seq_ids == s
        f = frames[m]
        first = int(f.min()) if first_frames is None or s not in first_frames else first_frames[s]
        if isinstance(exclude_frames, dict):
            window = int(exclude_frames.get(int(s), 0))
        else:
            window = int(exclude_frames)
        if window < 0:
            raise ValueError(f"exclude_frames must be >= 0, got {window}")
        on_q = query_mask(f, first, query_every)
        if not on_q.any() or on_q.all():
            continue
        is_q = on_q & keep[m]
        is_g = ~on_q
        n_gallery += int(is_g.sum())
        if not is_q.any():
            continue
        e, t = emb[m], track_ids[m]
        dist = pairwise_sq_euclidean(e[is_q], e[is_g])
        # v1: same-frame entries excluded; v2: everything within +-window frames
        valid = np.abs(f[is_q][:, None] - f[is_g][None, :]) > window
        out = rank_and_ap(dist, t[is_q], t[is_g], valid, max_rank)
        cmcs.append(out["cmc"])
        aps.append(out["ap"])
        n_valid += float(valid[out["scored"]].sum())
        n_skipped += int((~out["scored"]).sum())
    cmc_all = np.concatenate(cmcs) if cmcs else np.zeros((0, max_rank))
    ap_all = np.concatenate(aps) if aps else np.zeros(0)
    nq = len(ap_all)
    if nq == 0:
        logger.warning("Re-ID evaluation: no query has a positive in its gallery")
    cmc = cmc_all.mean(0) if nq else np.zeros(max_rank)
    return ReIDResult(
        rank1=float(cmc[0]) if nq else 0.0,
        mAP=float(ap_all.mean()) if nq else 0.0,
        num_queries=nq,
        num_gallery=n_gallery,
        num_skipped=n_skipped,
        cmc=cmc,
        gallery_per_query=n_valid / nq if nq else 0.0,
    )


def summary_line(result: ReIDResult) -> str:
    """One log line: ``Rank-1 92.30  mAP 61.80  (#queries 120, #gallery 1100, skipped 0)``."""
    p = result.as_percent()
    line = (
        f"Rank-1 {p['rank1']:.2f}  mAP {p['mAP']:.2f}  "
        f"(#queries {p['num_queries']}, #gallery {p['num_gallery']}, skipped {p['num_skipped']})"
    )
    if result.open_set is not None:
        o = result.open_set.as_percent()
        line += f"; open-set Rank-1 {o['rank1']:.2f}  mAP {o['mAP']:.2f} (#queries {o['num_queries']})"
    if result.mask_corr is not None:
        line += f"; part-mask correlation {result.mask_corr:.3f} (|r| {result.mask_abs_corr:.3f})"
    if result.mask_border is not None:
        line += f", border share {result.mask_border:.3f}"
    return line
