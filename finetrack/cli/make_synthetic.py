"""Write synthetic MOTChallenge sequences and print their statistics.

    finetrack make-synthetic --out datasets/synthetic       # 4 x 150 frames, 640x360
    finetrack make-synthetic --out /tmp/tiny --preset tiny  # 2 x 20 frames, 320x240
    finetrack make-synthetic --out datasets/mot17like --preset mot17like  # 7 x 114, crowded
    finetrack make-synthetic --out DIR --num-seqs 8 --frames 300 --fps 5 --json s.json

Every field of ``finetrack.synthetic.generate.SyntheticConfig`` is a ``--flag`` (underscores become
dashes; ``--crossing-behaviours reverse,stop``). Sequences already generated with the same config
are kept; others are replaced only with ``--overwrite``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path


from finetrack.cli import common
from finetrack.synthetic.generate import (
    MOT17LIKE,
    TINY,
    SyntheticConfig,
    dataset_statistics,
    format_statistics,
    generate_dataset,
)
from finetrack.utils.io import atomic_write_text

PRESETS = {"default": {}, "tiny": TINY, "mot17like": MOT17LIKE}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="finetrack make-synthetic", description=__doc__,
        epilog="example:\n  finetrack make-synthetic --out /tmp/tiny --preset tiny --frames 10",
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
    )
    from finetrack.cli.common import add_version
    from finetrack.utils.cli import add_debug_flag

    add_version(p)
    add_debug_flag(p)
    p.add_argument("--out", required=True, help="output root; sequences go to OUT/<split>/SYN-XX")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="starting point; explicit flags override it")
    p.add_argument("--overwrite", action="store_true", help="replace existing sequences")
    p.add_argument("--json", default=None, help="also write the statistics to this JSON file")
    p.add_argument("--no-progress", "--quiet", dest="quiet", action="store_true",
                   help="no progress logging (--quiet: old spelling)")
    common.add_verbose(p)
    for f in dataclasses.fields(SyntheticConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "crossing_behaviours":
            p.add_argument(flag, default=None, help="comma-separated, e.g. reverse,stop,pass")
        else:
            p.add_argument(flag, type=type(f.default), default=None,
                           help=f"default {f.default} (preset value if the preset sets it)")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> SyntheticConfig:
    values = dict(PRESETS[args.preset])
    for f in dataclasses.fields(SyntheticConfig):
        v = getattr(args, f.name)
        if v is not None:
            if f.name == "crossing_behaviours":
                v = tuple(s for s in v.split(",") if s)
            values[f.name] = v
    return SyntheticConfig(**values)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else
                        logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = build_config(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    paths = generate_dataset(cfg, args.out, overwrite=args.overwrite)
    elapsed = time.perf_counter() - t0
    stats = dataset_statistics(paths)
    print(format_statistics(stats))
    print(f"{len(paths)} sequence(s) in {Path(args.out) / cfg.split} ({elapsed:.1f} s)")
    if args.json:
        atomic_write_text(args.json, json.dumps(dict(stats, config=cfg.to_dict(), seconds=elapsed),
                                                indent=1, sort_keys=True) + "\n")
        print(f"wrote: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
