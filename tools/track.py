"""Track MOTChallenge sequences and write result files (one <SEQ>.txt per sequence).

    python tools/track.py [-c CONFIG] --data-root DIR --split train|test [--seqs ...]
        [--half all|train|val] --det yolox|public|gt [--det-ckpt PATH] [--reid-ckpt PATH]
        --mode byte|finetrack|jde|robust --out DIR [--video] [--submission mot17] [key=value ...]

Without -c the SPEC section 5 defaults are used. `--half val` tracks frames N//2+1..N renumbered from
1 (matching gt_val_half.txt). Prints per-stage timing (detector, Re-ID, association) and FPS.

The output folder is owned by one run: everything is written into a hidden staging folder beside
--out and swapped in when every sequence is done, so an interrupted run leaves the previous
results as they were and no result of another run is ever left beside the new ones. A non-empty
--out is refused without --overwrite; a second run into the same --out while one is running is
refused (lock file beside it). Bad input: one line on stderr, exit 2 (--debug: traceback);
Ctrl-C: exit 130.
"""
from __future__ import annotations

import argparse
import logging
import sys

import _path  # noqa: F401

from finetrack.config import Config, freeze, load_config, save_config
from finetrack.utils.cli import add_debug_flag, run_cli


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-c", "--config", default=None)
    ap.add_argument("--data-root", required=True, help="dataset root holding <split>/<SEQ>/")
    ap.add_argument("--split", default="train")
    ap.add_argument("--seqs", nargs="*", default=None)
    ap.add_argument("--half", default="all", choices=["all", "train", "val"])
    ap.add_argument("--det", default="public", choices=["yolox", "public", "gt"])
    ap.add_argument("--det-ckpt", default=None, help="YOLOX weights (ByteTrack .pth.tar format)")
    ap.add_argument("--reid-ckpt", default=None, help="FineTrack checkpoint from train_reid.py")
    ap.add_argument("--mode", default=None, choices=["byte", "finetrack", "jde", "robust"],
                    help="association (default: tracker.mode of the config)")
    ap.add_argument("--out", required=True, help="results folder (replaced as a whole at the end)")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace a non-empty --out (default: refuse it)")
    ap.add_argument("--video", action="store_true", help="also render <out>/videos/<SEQ>.mp4")
    ap.add_argument("--min-score", type=float, default=None, help="drop public detections below this")
    ap.add_argument("--submission", choices=["mot17"], default=None,
                    help="also write the 21 MOT17 files + zip in <out>/submission")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("overrides", nargs="*", help="config key=value overrides")
    add_debug_flag(ap)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pathlib import Path

    from finetrack.inference.app import run_tracking, write_summary
    from finetrack.utils.io import staged_dir

    cfg = freeze(load_config(Config, args.config, args.overrides))
    with staged_dir(args.out, overwrite=args.overwrite) as work:
        summary = run_tracking(
            cfg, args.data_root, args.split, str(work), det=args.det, mode=args.mode,
            seqs=args.seqs, half=args.half, det_ckpt=args.det_ckpt, reid_ckpt=args.reid_ckpt,
            video=args.video, min_score=args.min_score, progress=not args.no_progress,
        )
        save_config(cfg, work, "track_config.yaml")  # only once the input was read and tracked
        write_summary(summary, str(work))
        if args.submission == "mot17":
            from finetrack.inference.submission import write_mot17_submission

            z = write_mot17_submission(work, work / "submission", args.split)
    if args.submission == "mot17":
        print(f"submission: {Path(args.out) / z.relative_to(work)}")
    print(f"[{summary['mode']}/{summary['det']}] {summary['timing_line']}")
    print(f"results: {args.out}/<SEQ>.txt ({len(summary['sequences'])} sequences)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
