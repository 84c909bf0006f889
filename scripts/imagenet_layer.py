#!/usr/bin/env python
"""Choose the ``imagenet`` cue's MobileNetV2 layer, pooling and crop size by GT-box retrieval on
the shared scenes (finetrack/studies/imagenet_layer.py).

    python scripts/imagenet_layer.py [--data ../shared/data] [--json FILE]

Prints a markdown table of mean mAP (protocol v2: +-1 s excluded) per candidate.
"""
from __future__ import annotations

import argparse
import json
import sys

from finetrack.studies import imagenet_layer
from finetrack.utils.io import atomic_write_text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="the shared data root")
    ap.add_argument("--json", default=None, help="also write the result here")
    ap.add_argument("--samples-per-s", type=float, default=2.5)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: shared cores)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    try:
        res = imagenet_layer.run(args.data, samples_per_s=args.samples_per_s)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(imagenet_layer.markdown(res))
    print(f"({res['seconds'] / 60:.1f} min)")
    if args.json:
        atomic_write_text(args.json, json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
