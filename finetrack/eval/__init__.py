"""Tracking evaluation: MOTChallenge preprocessing, TrackEval (HOTA/CLEAR/Identity), motmetrics.

``evaluate(gt_root, results_dir, ...)`` returns an :class:`EvalReport`; :mod:`finetrack.eval.report`
turns it into tables, JSON and CSV. ``tools/eval.py`` is the command line.
(``reid_metrics`` — Rank-1/mAP — lives here too but is independent of this module.)
"""

from finetrack.eval.evaluator import (
    COMBINED,
    EVALUATORS,
    METRIC_ORDER,
    EvalReport,
    evaluate,
    load_sequence_gt,
    parse_evaluators,
)
from finetrack.eval.preprocess import PreparedSequence, box_iou_tlwh, prepare_sequence

__all__ = [
    "COMBINED",
    "EVALUATORS",
    "METRIC_ORDER",
    "EvalReport",
    "evaluate",
    "load_sequence_gt",
    "parse_evaluators",
    "PreparedSequence",
    "box_iou_tlwh",
    "prepare_sequence",
]
