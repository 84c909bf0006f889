"""Train FineTrack's Re-ID head on ground-truth boxes.

    finetrack train-reid -c configs/synthetic_reid.yaml [key=value ...]
    torchrun --nproc_per_node 2 tools/train_reid.py -c configs/mot17_half_finetrack.yaml

Writes to ``outputs/<name>/`` (or ``out_dir=DIR``): config.yaml, train.log, tb/ (TensorBoard),
last.pth, best.pth, metrics.json, and prints that run folder and its files at the end.
``resume=true`` (or ``train.resume=true``) continues a killed run from last.pth. Exit code 2 = bad
config, 3 = non-finite loss.
"""

from __future__ import annotations

import logging
import os
import sys

from finetrack.cli import common
from finetrack.config import Config
from finetrack.engine.logger import LOG_FORMAT

EXAMPLE = """\
  finetrack train-reid -c configs/synthetic_reid.yaml train.epochs=2 --device cpu
  finetrack train-reid -c configs/pets09.yaml out_dir=outputs/pets09 --no-progress
"""


def parse_args(argv=None):
    p = common.train_parser(
        "finetrack train-reid", __doc__, EXAMPLE, "YAML config (configs/*.yaml)"
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    if int(os.environ.get("RANK", "0")) > 0:  # torchrun: only rank 0 reports progress
        level = logging.WARNING
    logging.basicConfig(level=level, format=LOG_FORMAT)
    from finetrack.engine.reid_build import train_from_config

    return common.train_from_args(
        args, Config, train_from_config, ("selected_on", "best", "final", "train_seconds")
    )


if __name__ == "__main__":
    sys.exit(main())
