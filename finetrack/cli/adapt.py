"""Adapt a Re-ID checkpoint to a new video without labels.

Tracks the target with motion only (byte, its det/det.txt), keeps long, isolated, high-score
tracklets as pseudo-identities, fine-tunes the model on them for a few CPU minutes (the project's
Re-ID trainer; schedule in finetrack/engine/adapt.py, overridable with key=value) and writes
OUT/adapted.pth and OUT/adapt.json. The target's gt/ is never read.
"""
from __future__ import annotations

import json
import sys

from finetrack.cli import common
from finetrack.configlib import ConfigError

EXAMPLE = """\
  finetrack adapt --source ../shared/data/MOT15/train/KITTI-17 \\
      --reid-ckpt outputs/pets09_reid/last.pth --out outputs/adapt/KITTI-17
  finetrack track ... --mode robust --reid-ckpt outputs/adapt/KITTI-17/adapted.pth
"""


def parse_args(argv=None):
    p = common.parser("finetrack adapt", __doc__, EXAMPLE)
    p.add_argument("--source", required=True, help="MOTChallenge sequence folder (images + det/det.txt)")
    p.add_argument("--reid-ckpt", required=True, help="FineTrack checkpoint to adapt")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--min-len", type=int, default=8, help="isolated high-score frames a tracklet needs")
    p.add_argument("--min-score", type=float, default=0.7, help="score of a usable frame")
    p.add_argument("--isolation-iou", type=float, default=0.05,
                   help="a frame is isolated when its box overlaps no other detection above this IoU")
    common.add_progress(p)
    common.add_verbose(p)
    p.add_argument("overrides", nargs="*", help="key=value overrides of the fine-tuning config")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose)
    from finetrack.data.pseudo import MinerRules
    from finetrack.engine.adapt import adapt_reid

    rules = MinerRules(min_len=args.min_len, min_score=args.min_score, isolation_iou=args.isolation_iou)
    try:
        report = adapt_reid(args.source, args.reid_ckpt, args.out, rules, args.overrides,
                            progress=not args.no_progress)
    except (ConfigError, FileNotFoundError, KeyError, ValueError, OSError) as e:
        return common.error(e)
    print(json.dumps(report["mining"]))
    print(f"adapted checkpoint: {report['adapted']} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
