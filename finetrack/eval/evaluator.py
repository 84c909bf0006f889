"""Score a folder of tracker results (``<SEQ>.txt``) against a MOTChallenge GT root.

One sequence = one task: read GT and results, preprocess (:mod:`finetrack.eval.preprocess`), run the
selected evaluators. Tasks run in a process pool when ``workers > 1``; COMBINED rows come from each
evaluator's own combine step (TrackEval ``combine_sequences``, motmetrics ``compute_overall``).

Every input problem raises before any score is produced: a missing results file
(``FileNotFoundError`` naming it), a malformed line or an id used twice in a frame
(:class:`~finetrack.data.mot.MOTFormatError` naming file:line).
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from finetrack.data.mot import Annotations, check_frame_range, half_split_frames, list_sequences, MOTFormatError, MOTSequence
from finetrack.data.results import read_results, Results
from finetrack.eval import mot_metrics, trackeval_metrics
from finetrack.eval.preprocess import distractor_classes_for, prepare_sequence

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
EVALUATORS = (trackeval_metrics.EVALUATOR, mot_metrics.EVALUATOR)
SPLITS = ("full", "val_half")
#: Display / file order of the summary metrics; COUNT_METRICS are ints, the rest percent 0-100.
METRIC_ORDER = trackeval_metrics.SUMMARY_METRICS  # the fullest backend's list
COUNT_METRICS = ("IDs", "FP", "FN", "Frag", "MT", "ML")
COMBINED = "COMBINED"


def parse_evaluators(name: str) -> Tuple[str, ...]:
    """``trackeval`` | ``motmetrics`` | ``both`` -> tuple of backend names."""
    if name == "both":
        return EVALUATORS
    if name in EVALUATORS:
        return (name,)
    raise ValueError(f"unknown evaluator {name!r}; valid: {', '.join(EVALUATORS + ('both',))}")


def load_sequence_gt(seq_dir: PathLike, split: str = "full") -> Tuple[Annotations, int]:
    """GT of one sequence and its length for a split, built in memory (never written to disk).

    ``val_half`` keeps frames N//2+1..N of gt/gt.txt renumbered from 1 (SPEC section 6: the rows
    ``write_half_split`` writes to gt_val_half.txt).

    Returns:
        (annotations, number of frames T of the split).
    """
    seq = MOTSequence(seq_dir, require_images=False)
    if not seq.has_gt:
        raise FileNotFoundError(f"missing ground truth file: {seq.gt_path}")
    gt = seq.gt()  # rows beyond seqLength are an error naming gt.txt and the line
    n = seq.info.seq_length
    if split == "full":
        return gt, n
    if split != "val_half":
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    first, last = half_split_frames(n, "val")
    val = gt.in_frames(first, last)
    val.frames = val.frames - (first - 1)  # subset() copied the arrays: no caller data edited
    return val, last - first + 1


#: tools/track.py ``--half`` that makes results for each split
SPLIT_HALF = {"full": "all", "val_half": "val"}


def check_results_fit_split(
    res: Results, gt: Annotations, num_frames: int, split: str, name: str
) -> None:
    """Refuse results whose frame range does not fit the split (scores would be meaningless).

    * a row beyond the split's frames (full-sequence results against ``val_half``);
    * ``full`` results that stop within the length of the val half while the GT goes on
      (``--half val`` results, renumbered from 1, against the full sequence).

    Raises:
        MOTFormatError: names the results file (and the line of the first offending row).
    """
    if not len(res):
        return
    check_frame_range(res.frames, res.line_no, res.path, num_frames,
                      f"the {num_frames} frames of {name} in split {split}: made for another "
                      f"split? (tools/track.py --half {SPLIT_HALF.get(split, split)} matches it)")
    if split == "full" and num_frames >= 4:
        val_len = num_frames - num_frames // 2
        last_res, last_gt = int(res.frames.max()), int(gt.frames.max()) if len(gt) else 0
        if last_res <= val_len < last_gt:
            raise MOTFormatError(
                f"{res.path}: results end at frame {last_res} of {num_frames} while the ground "
                f"truth goes on to frame {last_gt}: these look like --half val results "
                "(renumbered from 1); score them with --split val_half"
            )


def check_results_summary(results_dir: Path, split: str) -> None:
    """A results folder written by tools/track.py records its ``--half``; it must fit ``split``.

    Raises:
        ValueError: names track_summary.json, its half and the split that would fit.
    """
    path = Path(results_dir) / "track_summary.json"
    if not path.is_file():
        return
    try:
        half = json.loads(path.read_text(encoding="utf-8")).get("half")
    except (OSError, ValueError, AttributeError):
        return
    want = SPLIT_HALF[split]
    if half is not None and half != want:
        fits = [k for k, v in SPLIT_HALF.items() if v == half]
        hint = f"use --split {fits[0]}" if fits else "no split scores a train half"
        raise ValueError(f"{path}: these results were tracked with --half {half}, which does not "
                         f"fit --split {split} ({hint})")


@dataclass(frozen=True)
class SeqTask:
    """Everything a worker needs for one sequence (picklable)."""

    name: str
    seq_dir: Path
    results_path: Path
    split: str
    evaluators: Tuple[str, ...]


@dataclass
class SeqOutcome:
    """Raw per-sequence results of each evaluator, plus preprocessing counts."""

    name: str
    raw: Dict[str, dict]
    stats: Dict[str, int]


def evaluate_task(task: SeqTask) -> SeqOutcome:
    """Read, preprocess and score one sequence (top-level so a process pool can run it)."""
    gt, num_frames = load_sequence_gt(task.seq_dir, task.split)
    res = read_results(task.results_path)
    check_results_fit_split(res, gt, num_frames, task.split, task.name)
    prep = prepare_sequence(
        gt, res, num_frames, name=task.name, distractor_classes=distractor_classes_for(task.name)
    )
    raw: Dict[str, dict] = {}
    if trackeval_metrics.EVALUATOR in task.evaluators:
        raw[trackeval_metrics.EVALUATOR] = trackeval_metrics.eval_trackeval(prep)
    if mot_metrics.EVALUATOR in task.evaluators:
        raw[mot_metrics.EVALUATOR] = mot_metrics.eval_motmetrics(prep)
    stats = {
        "frames": num_frames,
        "gt_dets": prep.num_gt_dets,
        "gt_ids": prep.num_gt_ids,
        "tracker_dets": prep.num_tracker_dets,
        "tracker_ids": prep.num_tracker_ids,
        "distractor_removed": prep.num_distractor_removed,
        "gt_ignored": prep.num_gt_ignored,
    }
    return SeqOutcome(task.name, raw, stats)


@dataclass
class EvalReport:
    """Scores of one results folder.

    Attributes:
        evaluators: backends that ran, e.g. ("trackeval", "motmetrics").
        sequences: sequence names in evaluation order.
        per_sequence: {evaluator: {seq: {metric: value}}} (percent 0-100, counts int).
        combined: {evaluator: {metric: value}}.
        stats: {seq: preprocessing counts (gt_dets, tracker_dets, distractor_removed, ...)}.
        raw: {evaluator: {seq or COMBINED: backend-native results}}.
    """

    evaluators: Tuple[str, ...]
    sequences: List[str]
    per_sequence: Dict[str, Dict[str, Dict[str, float]]] = field(default_factory=dict)
    combined: Dict[str, Dict[str, float]] = field(default_factory=dict)
    stats: Dict[str, Dict[str, int]] = field(default_factory=dict)
    raw: Dict[str, Dict[str, dict]] = field(default_factory=dict)


def build_tasks(
    gt_root: PathLike,
    results_dir: PathLike,
    seqs: Optional[Sequence[str]] = None,
    split: str = "full",
    evaluators: Sequence[str] = ("trackeval",),
) -> List[SeqTask]:
    """One task per sequence; fails if the GT root or any results file is missing.

    Args:
        gt_root: folder holding the sequence directories (e.g. ``datasets/MOT17/train``).
        results_dir: folder holding ``<SEQ>.txt`` per sequence.
        seqs: sequence names; None = all of gt_root (MOT17: the FRCNN copies, SPEC section 6).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results folder not found: {results_dir}")
    check_results_summary(results_dir, split)
    seq_dirs = list_sequences(gt_root, seqs)
    if not seq_dirs:
        raise FileNotFoundError(f"no sequences (folders with seqinfo.ini) in {gt_root}")
    tasks = []
    for d in seq_dirs:
        path = results_dir / f"{d.name}.txt"
        if not path.is_file():
            raise FileNotFoundError(
                f"missing results file: {path} (sequence {d.name} of {gt_root})"
            )
        tasks.append(SeqTask(d.name, d, path, split, tuple(evaluators)))
    return tasks


def evaluate(
    gt_root: PathLike,
    results_dir: PathLike,
    seqs: Optional[Sequence[str]] = None,
    split: str = "full",
    evaluators: Sequence[str] = ("trackeval",),
    workers: int = 1,
) -> EvalReport:
    """Score every sequence and combine.

    Args:
        gt_root: folder of sequence directories.
        results_dir: folder of ``<SEQ>.txt`` results.
        seqs: sequence names (None = all in gt_root).
        split: ``full`` or ``val_half``.
        evaluators: any of :data:`EVALUATORS`.
        workers: processes for the per-sequence evaluation (1 = in this process).

    Returns:
        The :class:`EvalReport`.
    """
    evaluators = tuple(evaluators)
    for e in evaluators:
        parse_evaluators(e)
    tasks = build_tasks(gt_root, results_dir, seqs, split, evaluators)
    workers = max(1, min(int(workers), len(tasks)))
    if workers == 1:
        outcomes = [evaluate_task(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(evaluate_task, tasks))
    return combine_outcomes(outcomes, evaluators)


def combine_outcomes(outcomes: Sequence[SeqOutcome], evaluators: Sequence[str]) -> EvalReport:
    """Summaries per sequence and COMBINED for each evaluator."""
    report = EvalReport(tuple(evaluators), [o.name for o in outcomes])
    report.stats = {o.name: o.stats for o in outcomes}
    backends = {
        trackeval_metrics.EVALUATOR: (
            trackeval_metrics.combine_trackeval,
            trackeval_metrics.summarize_trackeval,
        ),
        mot_metrics.EVALUATOR: (mot_metrics.combine_motmetrics, mot_metrics.summarize_motmetrics),
    }
    for ev in evaluators:
        combine, summarize = backends[ev]
        per_raw = {o.name: o.raw[ev] for o in outcomes}
        comb_raw = combine(per_raw)
        report.raw[ev] = {**per_raw, COMBINED: comb_raw}
        report.per_sequence[ev] = {s: summarize(r) for s, r in per_raw.items()}
        report.combined[ev] = summarize(comb_raw)
    return report
