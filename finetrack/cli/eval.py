"""Score MOTChallenge tracker results: HOTA/DetA/AssA/LocA (TrackEval), CLEAR and Identity.

    finetrack eval --data-root DIR --split train --results DIR [--seqs A B ...] [--half all|val]
        [--evaluator trackeval|motmetrics|both] [--workers N] [--json OUT.json] [--csv OUT.csv]
    finetrack eval --gt-root DIR/train --compare NAME=DIR NAME=DIR ... [--plot OUT.png] [...]
    finetrack eval --reid --ckpt best.pth [-c CONFIG] [--json OUT] [key=value ...]
        (Re-ID Rank-1 / mAP with GT boxes: the same as finetrack eval-reid)

The GT is ``--data-root``/``--split`` (as in ``finetrack track``) or ``--gt-root``, the folder
holding the sequences. The half a results folder was tracked with is read from its
track_summary.json (written by ``finetrack track``); ``--half`` is only needed for results made
elsewhere, and a ``--half`` that contradicts the summary is an error. ``--split full|val_half``
is the old spelling of ``--half all|val``.

Bad input (missing results file, malformed line, id used twice in a frame) exits with code 2 and a
one-line message naming the file and line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional

from finetrack.cli import common
from finetrack.data.mot import MOTFormatError
from finetrack.eval import report as rpt
from finetrack.eval.evaluator import SPLITS, evaluate, parse_evaluators
from finetrack.utils.io import atomic_write_text

EXIT_BAD_INPUT = 2
DEFAULT_PLOT = "eval_compare.png"
#: ``finetrack track --half`` -> the evaluator's GT split (the train half has no GT file).
HALF_TO_SPLIT = {"all": "full", "val": "val_half"}
SPLIT_TO_HALF = {v: k for k, v in HALF_TO_SPLIT.items()}
EXAMPLE = """\
  finetrack eval --data-root ../shared/data/MOT15 --split train --seqs PETS09-S2L1 \\
      --results outputs/track_pets09 --evaluator both --json outputs/track_pets09/eval.json
"""


def parse_args(argv=None) -> argparse.Namespace:
    p = common.parser("finetrack eval", __doc__, EXAMPLE)
    gt = p.add_mutually_exclusive_group(required=True)
    gt.add_argument("--gt-root", help="folder holding the sequence directories")
    gt.add_argument("--data-root", help="dataset root holding <split>/<SEQ>/ (with --split)")
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
    p.add_argument("--split", default=None,
                   help="folder under --data-root (default train); full|val_half: old --half")
    p.add_argument("--half", choices=tuple(HALF_TO_SPLIT), default=None,
                   help="val: frames N//2+1..N of gt.txt renumbered from 1 (built in memory); "
                   "default: the results' track_summary.json, else all")
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
    args = p.parse_args(argv)
    if args.split in SPLITS:  # old spelling: --split full|val_half meant the half
        if args.half is not None and HALF_TO_SPLIT[args.half] != args.split:
            p.error(f"--split {args.split} contradicts --half {args.half}")
        args.half = SPLIT_TO_HALF[args.split]
        args.split = None
    if args.data_root is not None:
        args.gt_root = str(Path(args.data_root) / (args.split or "train"))
    elif args.split is not None:
        p.error("--split NAME goes with --data-root (--gt-root already names the folder)")
    return args


def tracked_half(results_dir) -> Optional[str]:
    """The ``half`` recorded in ``<results_dir>/track_summary.json`` (None without one)."""
    path = Path(results_dir) / "track_summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if summary.get("interrupted"):
        logging.getLogger("finetrack.tools.eval").warning(
            "%s: tracking was interrupted (%s): its results cover part of the frames", path,
            summary["interrupted"],
        )
    return summary.get("half")


def resolve_split(requested_half: Optional[str], result_dirs) -> str:
    """The evaluator split (``full`` / ``val_half``) from the summaries, checked against a flag."""
    recorded = {str(d): tracked_half(d) for d in result_dirs}
    halves = {h for h in recorded.values() if h is not None}
    if len(halves) > 1:
        raise ValueError(f"the result folders were tracked on different halves: {recorded}")
    if halves:
        half = halves.pop()
        if half not in HALF_TO_SPLIT:
            raise ValueError(f"results tracked on --half {half}: eval scores the all or val half")
        if requested_half is not None and requested_half != half:
            where = [d for d, h in recorded.items() if h == half][0]
            raise ValueError(
                f"--half {requested_half} contradicts {where}/track_summary.json (tracked with "
                f"--half {half}); drop the flag"
            )
        return HALF_TO_SPLIT[half]
    return HALF_TO_SPLIT[requested_half or "all"]


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
    if args.results is not None:
        dirs = [args.results]
    else:
        dirs = list(parse_compare(args.compare).values())
    split = resolve_split(args.half, dirs)
    if split != "full":
        print(f"GT half: {split} (from the results' track_summary.json or --half)")
    kw = dict(seqs=args.seqs, split=split, evaluators=evaluators, workers=args.workers)
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
        from finetrack.cli import eval_reid

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
    sys.exit(main())
