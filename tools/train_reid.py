"""Train FineTrack's Re-ID head on ground-truth boxes.

    python tools/train_reid.py -c configs/synthetic_reid.yaml [key=value ...]
    torchrun --nproc_per_node 2 tools/train_reid.py -c configs/mot17_half_finetrack.yaml

Writes to ``outputs/<name>/`` (or ``out_dir=DIR``): config.yaml, train.log, tb/ (TensorBoard),
last.pth, best.pth, metrics.json. ``resume=true`` (or ``train.resume=true``) continues a killed run
from last.pth. A folder that already holds a run is refused unless ``resume=true`` or
``overwrite=true``. Exit code 2 = bad input (one line, ``--debug`` for the traceback), 3 = non-finite
loss or weights (the last good checkpoint is kept), 130 = Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import _path  # noqa: F401

from finetrack.config import Config, load_config
from finetrack.engine.logger import LOG_FORMAT
from finetrack.utils.cli import add_debug_flag, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", required=True, help="YAML config (configs/*.yaml)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=2")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_debug_flag(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    if int(os.environ.get("RANK", "0")) > 0:  # torchrun: only rank 0 reports progress
        level = logging.WARNING
    logging.basicConfig(level=level, format=LOG_FORMAT)
    cfg = load_config(Config, args.config, args.overrides)
    from finetrack.config import freeze
    from finetrack.engine.runner import train_from_config

    metrics = train_from_config(freeze(cfg))
    if metrics:
        summary = {k: metrics[k] for k in ("selected_on", "best", "final", "train_seconds")}
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
