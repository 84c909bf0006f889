"""Train the one-class YOLOX detector (ByteTrack's recipe) on MOTChallenge-layout data / CrowdHuman.

    python tools/train_det.py -c configs/det_pets09.yaml [key=value ...]
    python tools/train_det.py -c configs/det_pets09.yaml out_dir=outputs/det_pets09 seed=1
    torchrun --nproc_per_node 8 tools/train_det.py -c configs/det_mot17_ablation_yolox_x.yaml

Writes to ``outputs/<name>/`` (or ``out_dir=DIR``): config.yaml, train.log, tb/ (TensorBoard),
last.pth, best.pth (ByteTrack's ``{"model": ...}`` format, EMA weights, plus the variant and input
size, which ``tools/track.py --det yolox --det-ckpt best.pth`` reads from the file; for Re-ID
training on it, metrics.json ``track_overrides`` gives the ``model.*`` overrides) and metrics.json
(``{"selected_on", "AP50", "AP", "epoch", "final", "train_seconds", ...}``, AP in 0-100: AP50/AP
of best.pth, selected on the tail of the training half (``train.select_on``, never ``data.val``),
measured on every ``data.val`` frame after training; ``final`` = the last epoch on the same
frames). ``resume=true`` continues from last.pth; a folder that already holds a run is refused
unless ``resume=true`` or ``overwrite=true``. Exit code 2 = bad input (one line, ``--debug`` for the
traceback), 3 = non-finite loss or weights (the last good checkpoint is kept), 130 = Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

import _path  # noqa: F401

from finetrack.config import freeze, load_config
from finetrack.engine.logger import LOG_FORMAT
from finetrack.utils.cli import add_debug_flag, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", required=True, help="detector config (configs/det_*.yaml)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=2")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_debug_flag(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format=LOG_FORMAT)
    from finetrack.detection.config import DetConfig

    cfg = freeze(load_config(DetConfig, args.config, args.overrides))
    from finetrack.detection.build import train_from_config

    metrics = train_from_config(cfg)
    if metrics:
        keys = ("selected_on", "AP50", "AP", "epoch", "final", "train_seconds", "track_overrides")
        print(json.dumps({k: metrics.get(k) for k in keys}))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
