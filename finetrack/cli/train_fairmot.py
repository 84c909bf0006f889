"""Train the FairMOT one-shot baseline (joint centre detection + centre-point Re-ID) on
MOTChallenge-layout data, or score a checkpoint's detection AP.

    finetrack train-fairmot -c configs/fairmot_pets09.yaml [key=value ...]
    finetrack train-fairmot -c configs/fairmot_pets09.yaml \
        --eval-ckpt outputs/fairmot_pets09/best.pth

Writes to ``outputs/<name>/`` (or ``out_dir=DIR``): config.yaml, train.log, tb/ (TensorBoard),
last.pth, best.pth (``{"kind": "fairmot", "model", "model_args", ...}``; track with
``tools/track.py --det fairmot --det-ckpt best.pth --mode jde``) and metrics.json (selection on
the training sequences' tail, AP50/AP of best.pth on ``data.val_half``). ``resume=true``
continues from last.pth. ``--eval-ckpt CKPT`` only prints the AP of CKPT on ``data.val_half``
(every frame; ``--json FILE`` also writes it). Exit code 2 = bad config, 3 = non-finite loss.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from finetrack.cli import common
from finetrack.configlib import ConfigError, freeze, load_config

EXAMPLE = """\
  finetrack train-fairmot -c configs/fairmot_synthetic.yaml train.epochs=1 --device cpu
  finetrack train-fairmot -c configs/fairmot_pets09.yaml out_dir=outputs/fairmot_pets09
"""


def parse_args(argv=None):
    p = common.parser("finetrack train-fairmot", __doc__, EXAMPLE)
    p.add_argument("-c", "--config", required=True, help="FairMOT config (configs/fairmot_*.yaml)")
    p.add_argument("--eval-ckpt", default=None,
                   help="only evaluate this checkpoint's detection AP on data.val_half")
    p.add_argument("--json", default=None, help="with --eval-ckpt: write the AP dict here")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=2")
    common.add_run_flags(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose)
    from finetrack.fairmot.config import FairMOTConfig

    cfg = freeze(load_config(FairMOTConfig, args.config, common.config_overrides(args)))
    from finetrack.fairmot import build

    if args.eval_ckpt is not None:
        from finetrack.engine.context import resolve_device

        records = build.val_records(cfg)
        if not records:
            raise ConfigError("--eval-ckpt needs data.val_half (it is null)")
        m = build.evaluate_checkpoint(Path(args.eval_ckpt), records,
                                      resolve_device(cfg.train.device), cfg.eval.conf_thresh,
                                      cfg.eval.batch_size, progress=cfg.train.progress)
        out = {"ckpt": args.eval_ckpt, "split": cfg.data.val_half, **m}
        print(json.dumps(out))
        if args.json:
            from finetrack.utils.io import atomic_write_text

            atomic_write_text(Path(args.json), json.dumps(out, indent=2) + "\n")
            common.print_files([args.json])
        return 0
    keys = ("selected_on", "AP50", "AP", "epoch", "final", "train_seconds", "identities")
    return common.run_training(cfg, build.train_from_config, keys)


if __name__ == "__main__":
    sys.exit(main())
