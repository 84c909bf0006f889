"""Text tables, JSON/CSV files and the ablation table/plot of :class:`EvalReport` s.

JSON layout (the contract later checks rely on)::

    {"evaluator": "trackeval" | "motmetrics" | "both",
     "COMBINED": {"HOTA": .., "DetA": .., "AssA": .., "MOTA": .., "IDF1": .., "IDs": .., "FP": ..,
                  "FN": .., ...},
     "per_sequence": {SEQ: {...}},
     "sources": {metric: evaluator that produced COMBINED/per_sequence[metric]},
     "by_evaluator": {evaluator: {"COMBINED": {...}, "per_sequence": {...}}},
     "stats": {SEQ: {"gt_dets": .., "tracker_dets": .., "distractor_removed": .., ...}}}

Percentages are 0-100 floats, counts ints; a metric an evaluator cannot produce (HOTA from
motmetrics) is ``null``. With both evaluators the top level holds TrackEval's numbers and
``by_evaluator`` holds each evaluator's full set.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from typing import Dict, List, Mapping, Optional, Sequence, Union

from finetrack.eval.evaluator import COMBINED, COUNT_METRICS, METRIC_ORDER, EvalReport
from finetrack.utils.io import atomic_open, atomic_write_text

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
#: Columns of the paper's Table 6 (tracking ablation on MOT17 val half), in its order.
TABLE6_METRICS = ("MOTA", "IDF1", "IDs", "HOTA", "AssA")
#: Metrics where lower is better (for the arrows in the ablation table).
LOWER_IS_BETTER = ("IDs", "FP", "FN", "Frag", "ML")


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.2f}"


def _clean(v):
    """JSON-safe value: NaN -> None, numpy scalars -> python."""
    if v is None:
        return None
    if isinstance(v, int):
        return int(v)
    v = float(v)
    return None if math.isnan(v) else v


def primary_evaluator(report: EvalReport) -> str:
    """The evaluator whose numbers fill the top level (TrackEval when it ran)."""
    return "trackeval" if "trackeval" in report.evaluators else report.evaluators[0]


def _complete(metrics: Mapping[str, float]) -> Dict[str, Optional[float]]:
    return {m: _clean(metrics.get(m)) for m in METRIC_ORDER}


def report_to_dict(report: EvalReport) -> dict:
    """The JSON document described in the module docstring."""
    prim = primary_evaluator(report)
    by_ev = {
        ev: {
            "COMBINED": _complete(report.combined[ev]),
            "per_sequence": {s: _complete(report.per_sequence[ev][s]) for s in report.sequences},
        }
        for ev in report.evaluators
    }
    sources = {m: (prim if m in report.combined[prim] else None) for m in METRIC_ORDER}
    return {
        "evaluator": "both" if len(report.evaluators) > 1 else prim,
        "COMBINED": by_ev[prim]["COMBINED"],
        "per_sequence": by_ev[prim]["per_sequence"],
        "sources": sources,
        "by_evaluator": by_ev,
        "stats": report.stats,
    }


def format_table(report: EvalReport) -> str:
    """Per-sequence + COMBINED table; one row per (sequence, evaluator), evaluators adjacent."""
    names = list(report.sequences) + [COMBINED]
    w0 = max(len(n) for n in names + ["Sequence"])
    w1 = max(len(e) for e in list(report.evaluators) + ["Evaluator"])
    widths = [max(len(m), 7) for m in METRIC_ORDER]
    head = f"{'Sequence':<{w0}}  {'Evaluator':<{w1}}  " + " ".join(
        f"{m:>{w}}" for m, w in zip(METRIC_ORDER, widths)
    )
    lines = [head, "-" * len(head)]
    for name in names:
        if name == COMBINED:
            lines.append("-" * len(head))
        for ev in report.evaluators:
            vals = report.combined[ev] if name == COMBINED else report.per_sequence[ev][name]
            lines.append(
                f"{name:<{w0}}  {ev:<{w1}}  "
                + " ".join(f"{_fmt(vals.get(m)):>{w}}" for m, w in zip(METRIC_ORDER, widths))
            )
    if len(report.evaluators) > 1:
        lines.append(agreement_line(report))
    lines.append(
        "(percent 0-100 except the counts "
        + ", ".join(COUNT_METRICS)
        + "; MOTP = mean IoU of matches; '-' = not produced by that evaluator)"
    )
    return "\n".join(lines)


def agreement(report: EvalReport, a: str = "trackeval", b: str = "motmetrics") -> Dict[str, float]:
    """Largest |a - b| over sequences and COMBINED, per metric both evaluators produce."""
    out: Dict[str, float] = {}
    rows = [(report.per_sequence[a][s], report.per_sequence[b][s]) for s in report.sequences]
    rows.append((report.combined[a], report.combined[b]))
    for m in METRIC_ORDER:
        diffs = [abs(float(x[m]) - float(y[m])) for x, y in rows if m in x and m in y]
        if diffs:
            out[m] = max(diffs)
    return out


def agreement_line(report: EvalReport) -> str:
    diff = agreement(report)
    return "max |trackeval - motmetrics|: " + ", ".join(f"{m} {_fmt(v)}" for m, v in diff.items())


def write_json(report: EvalReport, path: PathLike) -> None:
    """Write :func:`report_to_dict` atomically."""
    atomic_write_text(path, json.dumps(report_to_dict(report), indent=2) + "\n")


def csv_rows(report: EvalReport, method: Optional[str] = None) -> List[List]:
    """Rows [method?, evaluator, sequence, metrics...] for every sequence and COMBINED."""
    rows = []
    for ev in report.evaluators:
        for s in list(report.sequences) + [COMBINED]:
            vals = report.combined[ev] if s == COMBINED else report.per_sequence[ev][s]
            row = [ev, s] + [
                "" if _clean(vals.get(m)) is None else _clean(vals.get(m)) for m in METRIC_ORDER
            ]
            rows.append(([method] if method is not None else []) + row)
    return rows


def write_csv(reports: Union[EvalReport, Mapping[str, EvalReport]], path: PathLike) -> None:
    """CSV with one row per (evaluator, sequence); a mapping adds a leading ``method`` column."""
    buf = io.StringIO()
    w = csv.writer(buf)
    if isinstance(reports, EvalReport):
        w.writerow(["evaluator", "sequence"] + list(METRIC_ORDER))
        w.writerows(csv_rows(reports))
    else:
        w.writerow(["method", "evaluator", "sequence"] + list(METRIC_ORDER))
        for name, rep in reports.items():
            w.writerows(csv_rows(rep, name))
    atomic_write_text(path, buf.getvalue())


def compare_values(
    reports: Mapping[str, EvalReport], metrics: Sequence[str] = TABLE6_METRICS
) -> Dict[str, Dict[str, Optional[float]]]:
    """{method: {metric: COMBINED value}}; each metric from TrackEval when it ran."""
    out = {}
    for name, rep in reports.items():
        comb = rep.combined[primary_evaluator(rep)]
        out[name] = {m: _clean(comb.get(m)) for m in metrics}
    return out


def compare_markdown(
    reports: Mapping[str, EvalReport], metrics: Sequence[str] = TABLE6_METRICS
) -> str:
    """The paper's Table 6 layout: one row per method, COMBINED MOTA / IDF1 / IDs / HOTA / AssA."""
    vals = compare_values(reports, metrics)
    evs = sorted({primary_evaluator(r) for r in reports.values()})
    head = (
        "| Method | "
        + " | ".join(f"{m}{'↓' if m in LOWER_IS_BETTER else '↑'}" for m in metrics)
        + " |"
    )
    lines = [head, "|" + "---|" * (len(metrics) + 1)]
    for name, v in vals.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(v[m]) for m in metrics) + " |")
    lines.append("")
    lines.append(f"(COMBINED over all sequences; evaluator: {', '.join(evs)})")
    return "\n".join(lines)


def plot_compare(
    reports: Mapping[str, EvalReport],
    path: PathLike,
    metrics: Sequence[str] = TABLE6_METRICS,
    title: str = "",
) -> None:
    """Bar chart of :func:`compare_values`: percentages grouped by metric, counts in a 2nd panel.

    Written atomically as PNG (matplotlib, Agg backend).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vals = compare_values(reports, metrics)
    methods = list(vals)
    pct = [m for m in metrics if m not in COUNT_METRICS]
    cnt = [m for m in metrics if m in COUNT_METRICS]
    fig, axes = plt.subplots(
        1,
        2 if cnt else 1,
        figsize=(10, 4),
        gridspec_kw={"width_ratios": [3, 1]} if cnt else None,
        squeeze=False,
    )
    ax = axes[0, 0]
    width = 0.8 / max(1, len(methods))
    for j, meth in enumerate(methods):
        xs = [i + (j - (len(methods) - 1) / 2) * width for i in range(len(pct))]
        ys = [vals[meth][m] if vals[meth][m] is not None else 0.0 for m in pct]
        bars = ax.bar(xs, ys, width, label=meth)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(pct)), pct)
    ax.set_ylabel("percent")
    ax.legend(fontsize=8)
    if cnt:
        ax2 = axes[0, 1]
        for j, meth in enumerate(methods):
            xs = [i + (j - (len(methods) - 1) / 2) * width for i in range(len(cnt))]
            bars = ax2.bar(xs, [vals[meth][m] or 0 for m in cnt], width, label=meth)
            ax2.bar_label(bars, fmt="%d", fontsize=7)
        ax2.set_xticks(range(len(cnt)), cnt)
        ax2.set_ylabel("count")
    fig.suptitle(title or "Tracking ablation (COMBINED)")
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
