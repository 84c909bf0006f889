"""Train the one-class YOLOX detector (ByteTrack's recipe) on MOTChallenge-layout data / CrowdHuman.

    finetrack train-det -c configs/det_pets09.yaml [key=value ...]
    finetrack train-det -c configs/det_pets09.yaml out_dir=outputs/det_pets09 seed=1
    torchrun --nproc_per_node 8 tools/train_det.py -c configs/det_mot17_ablation_yolox_x.yaml

Writes to ``outputs/<name>/`` (or ``out_dir=DIR``): config.yaml, train.log, tb/ (TensorBoard),
last.pth, best.pth (ByteTrack's ``{"model": ...}`` format, EMA weights, plus the variant and input
size, which ``tools/track.py --det yolox --det-ckpt best.pth`` reads from the file; for Re-ID
training on it, metrics.json ``track_overrides`` gives the ``model.*`` overrides) and metrics.json
(``{"AP50", "AP", "epoch", "train_seconds", ...}``, AP in 0-100). ``resume=true`` continues from
last.pth. Exit code 2 = bad config, 3 = non-finite loss.
"""
from __future__ import annotations

import sys

from finetrack.cli import common

EXAMPLE = """\
  finetrack train-det -c configs/det_synthetic_tiny.yaml train.epochs=1 --device cpu
  finetrack train-det -c configs/det_pets09.yaml out_dir=outputs/det_pets09
"""


def parse_args(argv=None):
    p = common.train_parser(
        "finetrack train-det", __doc__, EXAMPLE, "detector config (configs/det_*.yaml)"
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose)
    from finetrack.det_config import DetConfig
    from finetrack.engine.det_build import train_from_config

    keys = ("selected_on", "AP50", "AP", "epoch", "final", "train_seconds", "track_overrides")
    return common.train_from_args(args, DetConfig, train_from_config, keys)


if __name__ == "__main__":
    sys.exit(main())
