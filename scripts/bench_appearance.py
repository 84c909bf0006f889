#!/usr/bin/env python
"""Per-box cost of the colour, ImageNet MobileNetV2 and Re-ID cues in one process
(finetrack/studies/cue_speed.py).

    python scripts/bench_appearance.py [--seq ../shared/data/MOT15/train/PETS09-S2L1] [--frames 20]
        [-c configs/pets09.yaml] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys

from finetrack.studies import cue_speed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", default="../shared/data/MOT15/train/PETS09-S2L1")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("-c", "--config", default="configs/pets09.yaml", help="the Re-ID model's config")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    try:
        res = cue_speed.run(args.seq, args.config, args.frames, threads=args.threads)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(cue_speed.markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
