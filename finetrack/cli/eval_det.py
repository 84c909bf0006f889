"""Evaluate a YOLOX detector checkpoint: AP@0.5 and AP@[.5:.95] (pycocotools) on the val split.

    finetrack eval-det --ckpt outputs/det_pets09/best.pth -c configs/det_pets09.yaml
    finetrack eval-det --ckpt bytetrack_ablation.pth.tar -c configs/det_mot17_ablation_yolox_x.yaml
    finetrack eval-det --public -c configs/det_pets09.yaml     # the sequences' det/det.txt

The config gives the detector variant, input size, thresholds and the validation source (every frame
of it is scored; ``data.val.frame_step=N`` subsamples). Prints one JSON line; ``--json FILE`` (old
spelling ``--out FILE``) also writes it. Exit code 2 = bad config or missing files.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


from finetrack.cli import common
from finetrack.configlib import ConfigError, freeze, load_config
from finetrack.engine.logger import LOG_FORMAT
from finetrack.utils.io import atomic_write_text


EXAMPLE = """\
  finetrack eval-det --public -c configs/det_pets09.yaml --json outputs/det_public.json
  finetrack eval-det --ckpt outputs/det_pets09/best.pth -c configs/det_pets09.yaml --device cpu
"""


def parse_args(argv=None):
    p = common.parser("finetrack eval-det", __doc__, EXAMPLE)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ckpt", help="YOLOX weights (ours or ByteTrack's .pth.tar)")
    src.add_argument("--public", action="store_true",
                     help="score the validation sequences' own det/det.txt instead (reference)")
    p.add_argument("-c", "--config", required=True, help="detector config (configs/det_*.yaml)")
    p.add_argument("--json", "--out", dest="out", default=None,
                   help="also write the metrics JSON to this file (--out: old spelling)")
    common.add_run_flags(p)
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.device=cpu")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose, fmt=LOG_FORMAT)
    log = logging.getLogger("finetrack.tools.eval_det")
    from finetrack.det_config import DetConfig

    try:
        overrides = common.config_overrides(args, args.overrides)
        cfg = freeze(load_config(DetConfig, args.config, overrides))
        from finetrack.engine.det_build import evaluate_checkpoint, evaluate_public

        if args.public:
            metrics = evaluate_public(cfg)
        else:
            metrics = evaluate_checkpoint(cfg, Path(args.ckpt), progress=not args.no_progress)
    except (ConfigError, FileNotFoundError, ValueError) as e:
        log.error("%s", e)
        return 2
    if args.public:
        out = {"detections": "det/det.txt", **metrics}
    else:
        out = {"ckpt": args.ckpt, "detector": cfg.model.detector,
               "input_size": list(cfg.model.input_size), **metrics}
    text = json.dumps(out)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
        common.print_files([args.out])
    return 0


if __name__ == "__main__":
    sys.exit(main())
