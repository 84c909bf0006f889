"""Re-ID Rank-1 / mAP of a checkpoint with ground-truth boxes (SPEC section 4 protocol).

    finetrack eval-reid --ckpt outputs/pets09/best.pth -c configs/pets09.yaml [key=value ...]

The model is rebuilt from the checkpoint alone; the config gives the validation data
(``data.*``), the input size and ``reid_eval.*``. Without ``-c`` the config stored in the
checkpoint is used. Prints one JSON line: rank1, mAP (percent), num_queries, num_gallery,
gallery_per_query and ``open_set`` (the same for the queries whose identity the checkpoint was not
trained on). Protocol v2 (gallery entries within +-1 s of the query excluded) unless
``reid_eval.exclude_seconds=0`` (v1).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


from finetrack.cli import common
from finetrack.config import Config, upgrade_stored_config
from finetrack.configlib import ConfigError, apply_overrides, build_dataclass, freeze, load_config
from finetrack.engine.logger import LOG_FORMAT
from finetrack.utils.io import atomic_write_text


EXAMPLE = """\
  finetrack eval-reid --ckpt outputs/pets09/best.pth --device cpu
  finetrack eval-reid --ckpt outputs/pets09/best.pth -c configs/pets09.yaml reid_eval.max_frames=100
"""


def parse_args(argv=None):
    p = common.parser("finetrack eval-reid", __doc__, EXAMPLE)
    p.add_argument("--ckpt", required=True, type=Path, help="last.pth / best.pth of a Re-ID run")
    p.add_argument("-c", "--config", default=None, help="YAML config (default: the checkpoint's)")
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. data.val_seqs=[A]")
    common.add_run_flags(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose, fmt=LOG_FORMAT)
    log = logging.getLogger("finetrack.tools.eval_reid")
    from finetrack.utils.checkpoint import load_checkpoint
    from finetrack.engine.reid_build import evaluate_checkpoint

    overrides = common.config_overrides(args)
    ckpt = None  # the checkpoint is read once (here when it gives the config, else below)
    try:
        if args.config is not None:
            cfg = load_config(Config, args.config, overrides)
        else:
            ckpt = load_checkpoint(args.ckpt)
            stored = ckpt.get("config")
            if stored is None:
                log.error("%s holds no config: pass -c CONFIG", args.ckpt)
                return 2
            cfg = build_dataclass(Config, apply_overrides(upgrade_stored_config(stored), overrides))
    except ConfigError as e:
        log.error("%s", e)
        return 2
    with common.tqdm_safe_logging():
        result = evaluate_checkpoint(freeze(cfg), args.ckpt, obj=ckpt).as_percent()
    text = json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()})
    print(text)
    if args.json is not None:
        atomic_write_text(args.json, text + "\n")
        common.print_files([args.json])
    return 0


if __name__ == "__main__":
    sys.exit(main())
