"""Score MOTChallenge tracker results: HOTA/DetA/AssA/LocA (TrackEval), CLEAR and Identity.

    python tools/eval.py --gt-root DIR --results DIR [--seqs A B ...] [--split full|val_half]
        [--evaluator trackeval|motmetrics|both] [--workers N] [--json OUT.json] [--csv OUT.csv]
    python tools/eval.py --gt-root DIR --compare NAME=DIR NAME=DIR ... [--plot OUT.png] [...]
    python tools/eval.py --reid --ckpt best.pth [-c CONFIG] [--json OUT] [key=value ...]
        (Re-ID Rank-1 / mAP with GT boxes: the same as tools/eval_reid.py)

Bad input (missing results file, malformed line, id used twice in a frame, empty gt, results that
do not fit --split) exits with code 2 and a one-line message naming the file and line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import _path  # noqa: F401  (must precede finetrack imports)

from finetrack.data.mot import MOTFormatError
from finetrack.eval import report as rpt
from finetrack.eval.evaluator import SPLITS, evaluate, parse_evaluators
from finetrack.utils.cli import add_debug_flag, run_cli
from finetrack.utils.io import atomic_write_text

EXIT_BAD_INPUT = 2
DEFAULT_PLOT = "eval_compare.png"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gt-root", required=True, help="folder holding the sequence directories")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--results", help="folder with one <SEQ>.txt per sequence")
    src.add_argument(
        "--compare",
        nargs="+",
        metavar="NAME=DIR",
        help="ablation: several results folders, printed in the paper's Table 6 layout",
    )
    p.add_argument(
        "--seqs", nargs="+", default=None, help="sequence names (default: all in --gt-root)"
    )
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="full",
        help="val_half: frames N//2+1..N of gt.txt renumbered from 1 (built in memory)",
    )
    p.add_argument("--evaluator", choices=("trackeval", "motmetrics", "both"), default="trackeval")
    p.add_argument("--workers", type=int, default=1, help="processes (one sequence per task)")
    p.add_argument("--json", type=Path, default=None, help="write the summary JSON here")
    p.add_argument("--csv", type=Path, default=None, help="write per-sequence rows here")
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        help=f"--compare bar chart PNG (default: beside --json, else ./{DEFAULT_PLOT})",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    add_debug_flag(p)
    return p.parse_args(argv)


def parse_compare(items) -> dict:
    """["NAME=DIR", ...] -> {NAME: DIR} (order kept; names unique)."""
    out = {}
    for item in items:
        name, sep, d = item.partition("=")
        if not sep or not name or not d:
            raise ValueError(f"--compare expects NAME=DIR, got {item!r}")
        if name in out:
            raise ValueError(f"--compare: method name {name!r} given twice")
        out[name] = d
    return out


def run(args: argparse.Namespace) -> int:
    evaluators = parse_evaluators(args.evaluator)
    kw = dict(seqs=args.seqs, split=args.split, evaluators=evaluators, workers=args.workers)
    if args.results is not None:
        report = evaluate(args.gt_root, args.results, **kw)
        print(rpt.format_table(report))
        if args.json:
            rpt.write_json(report, args.json)
            print(f"saved json: {args.json}")
        if args.csv:
            rpt.write_csv(report, args.csv)
            print(f"saved csv: {args.csv}")
        return 0
    methods = parse_compare(args.compare)
    reports = {name: evaluate(args.gt_root, d, **kw) for name, d in methods.items()}
    for name, r in reports.items():
        print(f"## {name}\n{rpt.format_table(r)}\n")
    print(rpt.compare_markdown(reports))
    plot = args.plot or (args.json.with_suffix(".png") if args.json else Path(DEFAULT_PLOT))
    rpt.plot_compare(reports, plot)
    print(f"saved plot: {plot}")
    if args.json:
        doc = {
            "evaluator": args.evaluator,
            "table": rpt.compare_values(reports),
            "methods": {n: rpt.report_to_dict(r) for n, r in reports.items()},
        }
        atomic_write_text(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"saved json: {args.json}")
    if args.csv:
        rpt.write_csv(reports, args.csv)
        print(f"saved csv: {args.csv}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--reid" in argv:  # Re-ID Rank-1 / mAP of a checkpoint: tools/eval_reid.py's contract
        import eval_reid

        return eval_reid.main([a for a in argv if a != "--reid"])
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except (MOTFormatError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}".replace("\n", " "), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(run_cli(main))
