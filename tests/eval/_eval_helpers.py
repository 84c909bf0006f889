"""Helpers for the evaluation tests: tiny MOT folders, TrackEval's own pipeline, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import numpy as np

from finetrack.data.mot import Annotations
from finetrack.data.results import Results
from finetrack.eval.trackeval_metrics import summarize_trackeval

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
TOOL = REPO / "tools" / "eval.py"
MM_DATA = Path(__import__("motmetrics").__file__).parent / "data"
TUD_SEQS = ("TUD-Campus", "TUD-Stadtmitte")


def make_gt(rows: Sequence[Sequence[float]], fmt: str = "mot17") -> Annotations:
    """Annotations from rows ``frame,id,x,y,w,h,flag,class,vis`` (mot17) or ``frame,id,x,y,w,h``."""
    a = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    n = len(a)
    return Annotations(
        frames=a[:, 0].astype(np.int64),
        ids=a[:, 1].astype(np.int64),
        tlwh=a[:, 2:6].copy(),
        flags=a[:, 6].astype(np.int64) if a.shape[1] > 6 else np.ones(n, np.int64),
        classes=a[:, 7].astype(np.int64) if a.shape[1] > 7 else np.ones(n, np.int64),
        visibility=np.ones(n),
        line_no=np.arange(1, n + 1),
        format=fmt,
        path=Path("gt.txt"),
    )


def make_results(rows: Sequence[Sequence[float]]) -> Results:
    """Results from rows ``frame,id,x,y,w,h``."""
    a = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    return Results(
        a[:, 0].astype(np.int64),
        a[:, 1].astype(np.int64),
        a[:, 2:6].copy(),
        np.ones(len(a)),
        np.arange(1, len(a) + 1),
        Path("res.txt"),
    )


def write_seq(root: Path, name: str, gt_lines: Iterable[str], seq_length: int) -> Path:
    """A sequence folder ``root/name`` with seqinfo.ini and gt/gt.txt."""
    d = root / name
    (d / "gt").mkdir(parents=True, exist_ok=True)
    (d / "gt" / "gt.txt").write_text("".join(line.rstrip("\n") + "\n" for line in gt_lines))
    (d / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=25\nseqLength={seq_length}\n"
        "imWidth=1920\nimHeight=1080\nimExt=.jpg\n"
    )
    return d


def tud_folders(tmp: Path) -> tuple:
    """motmetrics' shipped TUD files as a GT root + results folder; returns (gt_root, res_dir)."""
    gt_root, res = tmp / "gt", tmp / "res"
    res.mkdir(parents=True)
    for s in TUD_SEQS:
        gt_txt = (MM_DATA / s / "gt.txt").read_text()
        test_txt = (MM_DATA / s / "test.txt").read_text()
        n = max(int(float(line.split(",")[0])) for line in (gt_txt + test_txt).splitlines() if line)
        write_seq(gt_root, s, gt_txt.splitlines(), n)
        (res / f"{s}.txt").write_text(test_txt)
    return gt_root, res


def trackeval_direct(
    gt_root: Path,
    res_dir: Path,
    seqs: Sequence[str],
    benchmark: str,
    gt_loc_format: str = "{gt_folder}/{seq}/gt/gt.txt",
) -> Dict[str, dict]:
    """Run TrackEval's own MotChallenge2DBox + Evaluator; {seq | 'COMBINED': our summary}."""
    import shutil
    import tempfile

    import trackeval

    with tempfile.TemporaryDirectory() as tmp:
        tr = Path(tmp) / "trackers" / "mine" / "data"
        tr.mkdir(parents=True)
        for s in seqs:
            shutil.copy(Path(res_dir) / f"{s}.txt", tr / f"{s}.txt")
        ds_cfg = {
            "GT_FOLDER": str(gt_root),
            "TRACKERS_FOLDER": str(Path(tmp) / "trackers"),
            "OUTPUT_FOLDER": str(Path(tmp) / "out"),
            "TRACKERS_TO_EVAL": ["mine"],
            "BENCHMARK": benchmark,
            "SPLIT_TO_EVAL": "train",
            "SKIP_SPLIT_FOL": True,
            "SEQ_INFO": {s: None for s in seqs},
            "GT_LOC_FORMAT": gt_loc_format,
            "PRINT_CONFIG": False,
        }
        ev_cfg = {
            "USE_PARALLEL": False,
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "TIME_PROGRESS": False,
            "DISPLAY_LESS_PROGRESS": True,
            "PRINT_ONLY_COMBINED": True,
            "OUTPUT_EMPTY_CLASSES": False,
            "BREAK_ON_ERROR": True,
            "LOG_ON_ERROR": None,
        }
        metrics = [
            trackeval.metrics.HOTA(),
            trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
            trackeval.metrics.Identity({"PRINT_CONFIG": False}),
        ]
        out, msg = trackeval.Evaluator(ev_cfg).evaluate(
            [trackeval.datasets.MotChallenge2DBox(ds_cfg)], metrics
        )
    res = out["MotChallenge2DBox"]["mine"]
    return {
        ("COMBINED" if k == "COMBINED_SEQ" else k): summarize_trackeval(v["pedestrian"])
        for k, v in res.items()
    }


def run_cli(args: List[str]) -> subprocess.CompletedProcess:
    """Run tools/eval.py with this interpreter (no install needed)."""
    return subprocess.run(
        [sys.executable, str(TOOL)] + [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_close_metrics(ours: dict, ref: dict, tol: float, keys: Iterable[str] = None) -> None:
    keys = list(keys) if keys is not None else sorted(set(ours) & set(ref))
    bad = {k: (ours[k], ref[k]) for k in keys if abs(float(ours[k]) - float(ref[k])) > tol}
    assert not bad, f"metrics differ (ours, reference): {bad}"
