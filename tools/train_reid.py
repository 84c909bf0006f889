"""Train FineTrack's Re-ID head on ground-truth boxes.

    python tools/train_reid.py -c configs/synthetic_reid.yaml [key=value ...]
    torchrun --nproc_per_node 2 tools/train_reid.py -c configs/mot17_half_finetrack.yaml

Writes to ``outputs/<name>/`` (or ``out_dir=DIR``): config.yaml, train.log, tb/ (TensorBoard),
last.pth, best.pth, metrics.json. ``resume=true`` (or ``train.resume=true``) continues a killed run
from last.pth. Exit code 2 = bad config, 3 = non-finite loss.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import _path  # noqa: F401

from finetrack.config import Config, ConfigError, load_config
from finetrack.engine.logger import LOG_FORMAT


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", required=True, help="YAML config (configs/*.yaml)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=2")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    if int(os.environ.get("RANK", "0")) > 0:  # torchrun: only rank 0 reports progress
        level = logging.WARNING
    logging.basicConfig(level=level, format=LOG_FORMAT)
    log = logging.getLogger("finetrack.tools.train_reid")
    try:
        cfg = load_config(Config, args.config, args.overrides)
    except ConfigError as e:
        log.error("%s", e)
        return 2
    from finetrack.config import freeze
    from finetrack.engine.runner import train_from_config
    from finetrack.engine.trainer import NonFiniteLossError
    from finetrack.models.detector import CheckpointMismatchError

    cfg = freeze(cfg)
    try:
        metrics = train_from_config(cfg)
    except NonFiniteLossError as e:
        log.error("stopped: %s", e)
        return 3
    except (ConfigError, CheckpointMismatchError, FileNotFoundError) as e:
        log.error("%s", e)
        return 2
    if metrics:
        summary = {k: metrics[k] for k in ("selected_on", "best", "final", "train_seconds")}
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
