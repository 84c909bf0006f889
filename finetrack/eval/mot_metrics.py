"""CLEAR / Identity metrics from py-motmetrics, on the same preprocessed data as TrackEval.

motmetrics 1.4.0's ``distances.iou_matrix`` calls ``np.asfarray`` (removed in numpy 2), so the
distance matrix is built here: ``1 - IoU`` with the IoU of
:func:`finetrack.eval.preprocess.box_iou_tlwh`, NaN (do-not-pair) where ``1 - IoU > 0.5``, which
is what ``iou_matrix(objs, hyps, max_iou=0.5)`` returns. Accumulation (``MOTAccumulator.update``),
per-sequence metrics (``MetricsHost.compute``) and the overall row (``MetricsHost.compute_overall``,
as ``compute_many(generate_overall=True)`` does) are motmetrics' own.
"""

from __future__ import annotations

import logging
import warnings
from typing import Dict, List, Mapping

import numpy as np

from finetrack.eval.preprocess import PreparedSequence

logger = logging.getLogger(__name__)

EVALUATOR = "motmetrics"
#: Largest 1 - IoU distance that may be paired (motmetrics' ``max_iou``; IoU >= 0.5).
MAX_IOU_DISTANCE = 0.5
#: motmetrics metrics computed per sequence (all have an overall ``*_m`` merge in motmetrics).
MM_METRICS = (
    "num_frames",
    "num_objects",
    "num_predictions",
    "num_matches",
    "num_detections",
    "num_switches",
    "num_false_positives",
    "num_misses",
    "num_fragmentations",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
    "num_unique_objects",
    "motp",
    "mota",
    "idtp",
    "idfp",
    "idfn",
    "idp",
    "idr",
    "idf1",
    "precision",
    "recall",
)
SUMMARY_METRICS = ("MOTA", "MOTP", "IDF1", "IDP", "IDR", "IDs", "FP", "FN", "Frag", "MT", "ML")


def iou_distances(
    gt_tlwh: np.ndarray,
    tr_tlwh: np.ndarray,
    similarity: np.ndarray = None,
    max_distance: float = MAX_IOU_DISTANCE,
) -> np.ndarray:
    """motmetrics-style distance matrix without ``np.asfarray``.

    Args:
        gt_tlwh: (G, 4) GT boxes [x, y, w, h]; tr_tlwh: (K, 4) tracker boxes.
        similarity: optional precomputed (G, K) IoU (then the boxes are not used).
        max_distance: pairs with 1 - IoU above this are NaN (do not pair).

    Returns:
        (G, K) float64 distances 1 - IoU, NaN where not pairable.
    """
    if similarity is None:
        from finetrack.eval.preprocess import box_iou_tlwh

        similarity = box_iou_tlwh(gt_tlwh, tr_tlwh)
    dist = 1.0 - np.asarray(similarity, dtype=np.float64)
    return np.where(dist > max_distance, np.nan, dist)


def accumulate(seq: PreparedSequence, max_distance: float = MAX_IOU_DISTANCE):
    """Feed one preprocessed sequence into a ``motmetrics.MOTAccumulator`` (frame ids 1..T)."""
    import motmetrics as mm  # local: keeps `import finetrack.eval` light

    acc = mm.MOTAccumulator(auto_id=False)
    for t in range(seq.num_timesteps):
        acc.update(
            seq.gt_ids[t],
            seq.tracker_ids[t],
            iou_distances(None, None, seq.similarity_scores[t], max_distance),
            frameid=t + 1,
        )
    return acc


def _scalars(d: Mapping) -> Dict[str, float]:
    return {
        k: v.item() if isinstance(v, np.generic) else v
        for k, v in d.items()
        if isinstance(v, (int, float, np.integer, np.floating))
    }


def eval_motmetrics(
    seq: PreparedSequence, max_distance: float = MAX_IOU_DISTANCE
) -> Dict[str, float]:
    """motmetrics' per-sequence metrics (its own names and units, e.g. ``motp`` = mean 1 - IoU).

    Returns:
        {name: value} for every name in :data:`MM_METRICS` plus their scalar dependencies.
    """
    import motmetrics as mm

    acc = accumulate(seq, max_distance)
    mh = mm.metrics.create()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)  # pandas chatter inside motmetrics
        res = mh.compute(acc, metrics=list(MM_METRICS), return_cached=True, return_dataframe=False)
    return _scalars(res)


def combine_motmetrics(per_seq: Mapping[str, Dict[str, float]]) -> Dict[str, float]:
    """motmetrics' OVERALL row (``MetricsHost.compute_overall``) from per-sequence results."""
    import motmetrics as mm

    mh = mm.metrics.create()
    partials: List[Dict[str, float]] = list(per_seq.values())
    if not partials:
        raise ValueError("combine_motmetrics: no sequences")
    res = mh.compute_overall(
        partials, metrics=list(MM_METRICS), return_cached=True, return_dataframe=False
    )
    return _scalars(res)


def summarize_motmetrics(raw: Mapping[str, float]) -> Dict[str, float]:
    """Our summary names from motmetrics' (percent 0-100, counts as int).

    MOTP is converted to TrackEval's convention (mean IoU of matches, percent): 100 * (1 - motp).
    """
    motp = float(raw["motp"])
    return {
        "MOTA": 100.0 * float(raw["mota"]),
        "MOTP": 100.0 * (1.0 - motp) if raw["num_detections"] else 0.0,
        "IDF1": 100.0 * float(raw["idf1"]),
        "IDP": 100.0 * float(raw["idp"]),
        "IDR": 100.0 * float(raw["idr"]),
        "IDs": int(raw["num_switches"]),
        "FP": int(raw["num_false_positives"]),
        "FN": int(raw["num_misses"]),
        "Frag": int(raw["num_fragmentations"]),
        "MT": int(raw["mostly_tracked"]),
        "ML": int(raw["mostly_lost"]),
    }
