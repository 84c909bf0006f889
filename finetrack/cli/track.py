"""Track a video, an image folder, a webcam or MOTChallenge sequences; write MOTChallenge txt.

    finetrack track --source PATH --det-ckpt DET [--reid-ckpt REID] [--mode MODE]
        --out DIR [--video] [--fps N]
    finetrack track --source PATH --det-file DETS.txt --mode byte --out DIR
        [--conf C] [--classes 0 2] [--vid-stride N] [--max-frames N] [--save-crops]
        [--format txt|json|csv]   (results: DIR/<name>.txt, .json or .csv)

    finetrack track [-c CONFIG] --data-root DIR --split train|test [--seqs ...]
        [--half all|train|val] --det yolox|public|gt|fairmot [--det-ckpt PATH] [--reid-ckpt PATH]
        [--mode byte|finetrack|jde|robust|botsort]
        --out DIR [--video] [--submission mot17] [key=value ...]

--det-ckpt takes a path or a name: yolox-nano, yolox-tiny, yolox-s, yolox-m, yolox-l, yolox-x
(YOLOX's COCO weights, downloaded once into $TORCH_HOME/hub/checkpoints; person class only unless
--classes; $FINETRACK_WEIGHTS_URL or model.weights_url replaces the download address) or
bytetrack_{x,l,m,s,tiny,nano}_mot17 / bytetrack_x_mot20 (ByteTrack's pedestrian weights: put the
file from https://github.com/ifzhang/ByteTrack#model-zoo in that folder; never downloaded).

--source takes a video file (any type OpenCV reads: mp4/avi/mkv/mov/webm/...), a folder of images,
a glob ('frames/*.jpg'), a webcam index (0) or a MOT sequence folder; results go to DIR/<name>.txt
(1-based frames; <name> = the file's stem / the folder's name) and, with --video, DIR/<name>.mp4
(H.264, plays in browsers). Such sources have no det.txt: they need a detector (--det yolox, the
default with --source) or their boxes as --det-file. When the Re-ID checkpoint holds a
trained detector (the frozen-detector pipeline), boxes and Re-ID features come from ONE backbone
pass per frame; the log says which path runs. Without -c the SPEC section 5 defaults are used.
Without --mode: botsort on training-free cues (colour histogram + ImageNet MobileNetV2 features,
no checkpoint; docs/experiments/unseen_scenes.md); --mode finetrack is the paper's rule on the
Re-ID features of --reid-ckpt.
`--half val` tracks frames N//2+1..N renumbered from 1 (matching gt_val_half.txt). Prints
per-stage timing and FPS; Ctrl-C stops cleanly (exit 130) and leaves only complete files.

The output folder is owned by one run: everything is written into a hidden staging folder beside
--out and swapped in when every sequence is done, so an interrupted or failed run leaves the
previous results as they were (byte for byte) and no result of another run is ever left beside
the new ones. An interrupted run's partial results take the place of an empty or new --out only
(a webcam has no end: Ctrl-C ends it and its results are kept). A non-empty --out is refused
without --overwrite, and --overwrite replaces only a folder whose every file a FineTrack run wrote
(track_summary.json's manifest: relative path -> sha1); an --out that is, holds or lies inside an
input (source, <data-root>/<split>, checkpoint, config), or is the current folder or a filesystem
root, is refused. A second run into the same --out while one is running is refused (lock file
beside it). Bad input: one line on stderr, exit 2 (--debug: traceback).
"""
from __future__ import annotations

import sys
from pathlib import Path

from finetrack.cli import common
from finetrack.config import Config
from finetrack.configlib import ConfigError, freeze, load_config, save_config
from finetrack.data.mot import MOTFormatError

EXAMPLE = """\
  finetrack track --source clip.mp4 --det-ckpt yolox-s --mode byte --out out --video
  finetrack track --source video.mp4 --det-ckpt outputs/det_pets09/best.pth \\
      --reid-ckpt outputs/pets09_frozen_det/best.pth --mode finetrack --out outputs/track_video \\
      --video
  finetrack track --data-root ../shared/data/MOT15 --split train --seqs PETS09-S2L1 --half val \\
      --det public --mode byte --out outputs/track_pets09
"""


def parse_args(argv=None):
    ap = common.parser("finetrack track", __doc__, EXAMPLE)
    ap.add_argument("-c", "--config", default=None)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--source", default=None,
                     help="video file, image folder, glob, webcam index or MOT sequence folder")
    src.add_argument("--data-root", default=None, help="dataset root holding <split>/<SEQ>/")
    ap.add_argument("--split", default="train")
    ap.add_argument("--seqs", nargs="*", default=None)
    ap.add_argument("--half", default="all", choices=["all", "train", "val"])
    ap.add_argument("--det", default=None, choices=["yolox", "public", "gt", "fairmot"],
                    help="detections (default: yolox with --source, public with --data-root); "
                    "fairmot: boxes + embeddings from one FairMOT forward (--det-ckpt)")
    ap.add_argument("--det-ckpt", default=None, help="YOLOX weights: a name (yolox-nano ... yolox-x: "
                    "COCO, downloaded; bytetrack_x_mot17 ...: from the torch hub cache) or a path "
                    "(ByteTrack .pth.tar format), or a tools/train_fairmot.py checkpoint with "
                    "--det fairmot")
    ap.add_argument("--reid-ckpt", default=None, help="FineTrack checkpoint from train_reid.py")
    ap.add_argument("--mode", default=None,
                    choices=["byte", "finetrack", "jde", "robust", "botsort"],
                    help="association (default: tracker.mode of the config, botsort on "
                    "color+imagenet: no checkpoint); finetrack is the paper's rule on Re-ID features")
    ap.add_argument("--two-networks", action="store_true",
                    help="run the detector and the Re-ID model separately even when one pass "
                    "could do")
    ap.add_argument("--runtime", default="torch", choices=["torch", "onnx"],
                    help="run the networks (detector, Re-ID head, ImageNet cue) in PyTorch or in onnxruntime (CPU; "
                    "exported in memory at start, as `finetrack export` writes them)")
    ap.add_argument("--out", required=True, help="output folder (replaced as a whole at the end)")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace a non-empty --out whose every file a FineTrack run wrote "
                    "(default: refuse it)")
    ap.add_argument("--video", action="store_true",
                    help="also render the tracked mp4 (<out>/<name>.mp4; <out>/videos/<SEQ>.mp4)")
    ap.add_argument("--fps", type=float, default=None,
                    help="frame rate of a source that records none (image folders; default 30)")
    ap.add_argument("--min-score", type=float, default=None,
                    help="drop public / --det-file detections below this (default: --conf)")
    ap.add_argument("--submission", choices=["mot17"], default=None,
                    help="also write the 21 MOT17 files + zip in <out>/submission")
    common.add_source_flags(ap)
    common.add_run_flags(ap)
    ap.add_argument("overrides", nargs="*", help="config key=value overrides")
    args = ap.parse_args(argv)
    if args.det is None:
        args.det = "file" if args.det_file else "yolox" if args.source is not None else "public"
    return args


SUMMARY = "track_summary.json"


class _KeepEarlier(Exception):
    """An interrupted run over earlier results: drop the staging folder, keep the earlier ones."""


def _unquoted_glob(args) -> str:
    """The message for a --source glob the shell expanded (its extra files land in the
    overrides), or ''."""
    extra = [o for o in args.overrides if "=" not in o]
    if args.source is None or not extra:
        return ""
    paths = [Path(args.source)] + [Path(o) for o in extra]
    if not all(p.exists() or p.suffix for p in paths):
        return ""
    parent = paths[0].parent
    suffix = paths[0].suffix or ""
    quoted = f"'{parent / ('*' + suffix)}'"
    more = " ..." if len(extra) > 1 else ""
    return (f"--source got {len(paths)} paths ({paths[0]} {extra[0]}{more}): the shell expanded "
            f"an unquoted glob; quote it, e.g. --source {quoted}")


def _glob_folder(spec: str) -> str:
    """The folder part of a glob before its first wildcard (``frames/*.jpg`` -> ``frames``)."""
    parts = []
    for part in Path(spec).parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return str(Path(*parts)) if parts else "."


def _inputs(args, cfg) -> list:
    """The files and folders this run reads (an --out may neither be, hold nor lie in one); with
    --data-root that is the split folder (an --out beside the split, under the root, is fine)."""
    src = args.source
    if src is not None:
        src = None if src.isdigit() else (_glob_folder(src) if any(c in src for c in "*?[")
                                          and not Path(src).exists() else src)
    model_ckpt = getattr(getattr(cfg, "model", None), "det_ckpt", None)
    split = str(Path(args.data_root) / args.split) if args.data_root is not None else None
    return [src, split, args.config, args.det_ckpt, args.reid_ckpt,
            getattr(args, "det_file", None), model_ckpt if isinstance(model_ckpt, str) else None]


def _final_files(summary: dict, work: Path, out: Path, extra=()) -> list:
    """The paths the files of a run will have once ``work`` is swapped in as ``out``."""
    files = []
    for f in list(summary["files"]) + list(extra):
        p = Path(f)
        try:
            files.append(str(out / p.relative_to(work)))
        except ValueError:
            files.append(str(p))
    return files


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose)
    from finetrack.inference.app import run_tracking, write_summary
    from finetrack.models.detector import CheckpointMismatchError

    from finetrack.utils.io import file_manifest, staged_dir

    files = []
    glob_msg = _unquoted_glob(args)
    if glob_msg:
        return common.error(glob_msg)
    try:
        overrides = ([f"train.device={args.device}"] if args.device else []) + args.overrides
        cfg = freeze(load_config(Config, args.config, overrides))
        if cfg.train.threads is not None:  # train.threads=1: on 2 shared cores 3-4x faster
            import torch

            torch.set_num_threads(int(cfg.train.threads))
        out = Path(args.out)
        earlier = out.is_dir() and any(out.iterdir())
        live = args.source is not None and args.source.isdigit()
        with staged_dir(args.out, overwrite=args.overwrite, inputs=_inputs(args, cfg),
                        manifest_file=SUMMARY) as work:
            with common.tqdm_safe_logging():
                summary = run_tracking(
                    cfg, args.data_root, args.split, str(work), det=args.det, mode=args.mode,
                    seqs=args.seqs, half=args.half, det_ckpt=args.det_ckpt,
                    reid_ckpt=args.reid_ckpt, video=args.video, min_score=args.min_score,
                    progress=not args.no_progress, source=args.source, fps=args.fps,
                    two_networks=args.two_networks, runtime=args.runtime,
                    options=common.source_options(args),
                )
            if "interrupted" in summary and earlier and not live:
                raise _KeepEarlier()  # swap only after success: the earlier results stay
            save_config(cfg, work, "track_config.yaml")  # only once the input was read and tracked
            extra = []
            if args.submission == "mot17" and "interrupted" not in summary:
                from finetrack.inference.submission import write_mot17_submission

                extra.append(write_mot17_submission(work, work / "submission", args.split))
            extra += [work / "track_config.yaml", work / SUMMARY]
            files = _final_files(summary, work, out, extra)
            summary["files"] = files  # the final paths, not the staging folder's
            # what a later --overwrite may replace
            summary["manifest"] = file_manifest(work, exclude=(SUMMARY,))
            write_summary(summary, str(work))
    except (ConfigError, MOTFormatError, FileNotFoundError, ValueError, KeyError,
            CheckpointMismatchError) as e:
        return common.error(e.args[0] if isinstance(e, KeyError) and e.args else e)
    except OSError as e:  # an --out that is a file, is locked by another run, cannot be written
        from finetrack.utils.cli import one_line

        return common.error(one_line(e))
    except _KeepEarlier:
        it = summary["interrupted"]
        print(f"interrupted: {it['sequence']} stopped after {it['frames']} frame(s); {out} keeps "
              "its earlier results as they were (this run's partial results were dropped)",
              file=sys.stderr)
        return common.EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C): the staging folder was removed, earlier results kept", file=sys.stderr)
        return common.EXIT_INTERRUPTED
    print(f"[{summary['mode']}/{summary['det']}, {summary['pipeline']}, {summary['runtime']}] "
          f"{summary['timing_line']}")
    common.print_files(files)
    if "interrupted" in summary:
        it = summary["interrupted"]
        print(f"interrupted: {it['sequence']} stopped after {it['frames']} frame(s); the files "
              "above are complete (that one covers the finished frames)", file=sys.stderr)
        return common.EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
