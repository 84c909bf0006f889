"""Train a separate crop Re-ID network (torchreid's OSNet-x0.25 or ResNet-18) on GT box crops,
with the data, sampler, loss, schedule, selection and protocol of the FineTrack head's configs.

    finetrack train-crop-reid -c configs/pets09_crop_osnet.yaml [key=value ...]

Writes to ``outputs/<name>/`` (or ``out_dir=DIR``): config.yaml, train.log, tb/, last.pth,
best.pth, metrics.json (as ``train-reid``). ``tools/track.py --reid-ckpt`` takes its best.pth: the
tracker then crops every box, resizes it to ``model.crop_size`` and embeds it. ``model.*`` keys
are the crop network's (``arch``, ``crop_size``). Exit code 2 = bad config, 3 = non-finite loss.
"""
from __future__ import annotations

import sys

from finetrack.cli import common

EXAMPLE = """\
  finetrack train-crop-reid -c configs/pets09_crop_osnet.yaml out_dir=outputs/pets09_crop_osnet
  finetrack train-crop-reid -c configs/pets09_crop_osnet.yaml model.arch=resnet18 train.epochs=2
"""


def parse_args(argv=None):
    p = common.train_parser(
        "finetrack train-crop-reid", __doc__, EXAMPLE, "YAML config (configs/*crop*.yaml)"
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose)
    from finetrack.crop_reid.config import CropReIDConfig
    from finetrack.crop_reid.build import train_crop_from_config

    keys = ("selected_on", "best", "final", "train_seconds")
    return common.train_from_args(args, CropReIDConfig, train_crop_from_config, keys)


if __name__ == "__main__":
    sys.exit(main())
