"""HOTA / CLEAR / Identity from TrackEval's own metric classes (PyPI ``trackeval``).

We do not copy TrackEval's code: :func:`eval_trackeval` hands the preprocessed sequence
(:class:`~finetrack.eval.preprocess.PreparedSequence`) to ``trackeval.metrics.HOTA/CLEAR/Identity``
``eval_sequence(data)``, and :func:`combine_trackeval` calls their ``combine_sequences`` exactly as
``trackeval.Evaluator`` does for its COMBINED_SEQ row.
"""

from __future__ import annotations

import logging
from typing import Dict, Mapping

import numpy as np

from finetrack.eval.preprocess import PreparedSequence

logger = logging.getLogger(__name__)

EVALUATOR = "trackeval"
#: TrackEval's default CLEAR / Identity match threshold (IoU >= 0.5).
MATCH_THRESHOLD = 0.5
METRIC_CLASSES = ("HOTA", "CLEAR", "Identity")
#: Summary metrics this backend produces (percentages 0-100 unless listed in COUNT_METRICS).
SUMMARY_METRICS = (
    "HOTA",
    "DetA",
    "AssA",
    "LocA",
    "MOTA",
    "MOTP",
    "IDF1",
    "IDP",
    "IDR",
    "IDs",
    "FP",
    "FN",
    "Frag",
    "MT",
    "ML",
)


def _metrics(threshold: float = MATCH_THRESHOLD) -> Dict[str, object]:
    """Fresh TrackEval metric objects (quiet: no config print)."""
    from trackeval import metrics as tm  # local: keeps `import finetrack.eval` light

    cfg = {"THRESHOLD": threshold, "PRINT_CONFIG": False}
    return {"HOTA": tm.HOTA(), "CLEAR": tm.CLEAR(dict(cfg)), "Identity": tm.Identity(dict(cfg))}


def eval_trackeval(seq: PreparedSequence, threshold: float = MATCH_THRESHOLD) -> Dict[str, dict]:
    """Run TrackEval's metric classes on one preprocessed sequence.

    Args:
        seq: output of :func:`finetrack.eval.preprocess.prepare_sequence`.
        threshold: CLEAR/Identity IoU threshold.

    Returns:
        {"HOTA": res, "CLEAR": res, "Identity": res}: TrackEval's raw result dicts (HOTA fields are
        (19,) arrays over the alpha thresholds 0.05..0.95).
    """
    data = seq.to_trackeval()
    return {name: m.eval_sequence(data) for name, m in _metrics(threshold).items()}


def combine_trackeval(
    per_seq: Mapping[str, Dict[str, dict]], threshold: float = MATCH_THRESHOLD
) -> Dict[str, dict]:
    """TrackEval's ``combine_sequences`` over {sequence: eval_trackeval(...)} (its COMBINED_SEQ)."""
    out = {}
    for name, m in _metrics(threshold).items():
        out[name] = m.combine_sequences({s: r[name] for s, r in per_seq.items()})
    return out


def summarize_trackeval(raw: Dict[str, dict]) -> Dict[str, float]:
    """Flatten TrackEval results into our summary names (percent 0-100, counts as int).

    HOTA, DetA, AssA and LocA are the means over the 19 alpha thresholds, as TrackEval reports them.
    MOTP is TrackEval's: the mean IoU of CLEAR matches, in percent.
    """
    h, c, i = raw["HOTA"], raw["CLEAR"], raw["Identity"]

    def pct(x) -> float:
        return float(100.0 * np.mean(x))

    return {
        "HOTA": pct(h["HOTA"]),
        "DetA": pct(h["DetA"]),
        "AssA": pct(h["AssA"]),
        "LocA": pct(h["LocA"]),
        "MOTA": pct(c["MOTA"]),
        "MOTP": pct(c["MOTP"]),
        "IDF1": pct(i["IDF1"]),
        "IDP": pct(i["IDP"]),
        "IDR": pct(i["IDR"]),
        "IDs": int(c["IDSW"]),
        "FP": int(c["CLR_FP"]),
        "FN": int(c["CLR_FN"]),
        "Frag": int(c["Frag"]),
        "MT": int(c["MT"]),
        "ML": int(c["ML"]),
    }
