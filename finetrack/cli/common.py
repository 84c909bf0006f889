"""What every ``finetrack`` subcommand shares: flag spellings, logging, the tqdm redirect.

The same idea has the same flag in every command (old spellings stay as aliases):

============  ==============================================  =================================
flag          meaning                                         aliases kept
============  ==============================================  =================================
--data-root   dataset root holding ``<split>/<SEQ>/``         --root (prepare-data)
--split       folder under the data root (train / test)
--half        all | train | val (ByteTrack's half split)      --split full|val_half (eval)
--out         output FOLDER                                   (eval-det: --json FILE)
--json        a JSON file to write                            --out (eval-det)
--no-progress no tqdm bar                                     --quiet (make-synthetic)
--device      auto | cpu | cuda (``train.device``)
-v/--verbose  debug logging
============  ==============================================  =================================
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Iterator, List, Optional

from finetrack.engine.logger import LOG_FORMAT

#: Exit code of a user error (bad flag, missing file, malformed input): one line on stderr.
EXIT_BAD_INPUT = 2
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def parser(prog: str, doc: str, example: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose ``--help`` ends with a working example.

    Args:
        prog: ``finetrack <command>``.
        doc: the command's one-paragraph description (first line of its docstring and more).
        example: the example block printed after the options.
    """
    from finetrack.utils.cli import add_debug_flag

    p = argparse.ArgumentParser(
        prog=prog,
        description=doc,
        epilog="example:\n" + example.rstrip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # `--conf 0.3` must never be taken for `--config 0.3`
    )
    add_version(p)
    add_debug_flag(p)  # read by finetrack.utils.cli.run_cli: the traceback of an error
    return p


def version_string() -> str:
    import finetrack

    return f"finetrack {finetrack.__version__}"


def add_version(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", action="version", version=version_string())


def add_source_flags(p: argparse.ArgumentParser) -> None:
    """The input / output flags of a command that tracks a source (ByteTrack's and boxmot's
    names): ``--conf``, ``--classes``, ``--vid-stride``, ``--max-frames``, ``--det-file``,
    ``--save-crops``, ``--format``; :func:`source_options` turns them into a
    :class:`finetrack.inference.options.SourceOptions`."""
    p.add_argument("--conf", type=float, default=None,
                   help="detection score threshold (detector: replaces model.conf_thresh; "
                   "--det-file / public boxes: drop those below it)")
    p.add_argument("--classes", nargs="+", default=None, metavar="C",
                   help="class indices the detector keeps, e.g. 0 or 0,2 (COCO models: default 0 "
                   "= person; ByteTrack's and the project's: their one class)")
    p.add_argument("--vid-stride", type=int, default=1,
                   help="track every n-th frame (frames keep their source numbers)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--det-file", default=None,
                   help="MOTChallenge detection rows (frame,id,x,y,w,h,score; 1-based frames) "
                   "for --source, instead of a detector")
    p.add_argument("--save-crops", action="store_true",
                   help="also write every tracked box as <out>/crops/<name>/<id>/<frame>.jpg")
    p.add_argument("--format", default="txt", choices=("txt", "json", "csv"),
                   help="results file format (txt: MOTChallenge, what `finetrack eval` reads)")


def source_options(args: argparse.Namespace):
    """The :class:`~finetrack.inference.options.SourceOptions` of :func:`add_source_flags`."""
    from finetrack.inference.options import SourceOptions, as_classes

    return SourceOptions(conf=args.conf, classes=as_classes(args.classes),
                         vid_stride=args.vid_stride, max_frames=args.max_frames,
                         det_file=args.det_file, save_crops=args.save_crops, fmt=args.format)


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"),
                   help="compute device (sets train.device; default: the config's)")


def add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """``--no-progress``, ``--device`` and ``-v/--verbose``: what every command that runs a model takes."""
    add_progress(p)
    add_device(p)
    add_verbose(p)


def add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def config_overrides(args: argparse.Namespace, overrides: Optional[List[str]] = None) -> List[str]:
    """``key=value`` overrides with ``--device`` / ``--no-progress`` turned into config keys.

    Explicit ``key=value`` arguments come last, so they win over the flags.
    """
    extra: List[str] = []
    if getattr(args, "device", None):
        extra.append(f"train.device={args.device}")
    if getattr(args, "no_progress", False):
        extra.append("train.progress=false")
    if overrides is None:
        overrides = getattr(args, "overrides", None) or []
    return extra + list(overrides)


def setup_logging(verbose: bool = False, level: int = logging.INFO, fmt: str = LOG_FORMAT) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else level, format=fmt)


@contextlib.contextmanager
def tqdm_safe_logging() -> Iterator[None]:
    """Route log records through ``tqdm.write`` so that they never break a progress bar."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        yield


def train_parser(prog: str, doc: str, example: str, config_help: str) -> argparse.ArgumentParser:
    """The trainer commands' parser: ``-c/--config``, ``key=value`` overrides and
    :func:`add_run_flags`."""
    p = parser(prog, doc, example)
    p.add_argument("-c", "--config", required=True, help=config_help)
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=2")
    add_run_flags(p)
    return p


def train_from_args(args: argparse.Namespace, config_cls, train_fn, summary_keys) -> int:
    """Load ``args.config`` as a ``config_cls`` with :func:`config_overrides`, freeze it and
    :func:`run_training` it."""
    from finetrack.configlib import freeze, load_config

    cfg = freeze(load_config(config_cls, args.config, config_overrides(args)))
    return run_training(cfg, train_fn, summary_keys)


RUN_FILES = ("best.pth", "last.pth", "metrics.json", "config.yaml", "train.log")


def run_training(cfg, train_fn, summary_keys) -> int:
    """The trainer commands' shared run: say the run folder, train with log lines kept off the
    progress bar, then print the summary (``summary_keys`` of the metrics, as one JSON line) and the
    files written; Ctrl-C says what ``last.pth`` holds and returns :data:`EXIT_INTERRUPTED`.

    Args:
        cfg: a frozen config with ``run_dir``.
        train_fn: ``cfg -> metrics dict`` (``{}`` on ranks other than 0: nothing printed).
        summary_keys: metrics keys of the JSON line (a missing key prints null).
    """
    import json
    import time
    from pathlib import Path

    print(f"run folder: {cfg.run_dir}")
    started = time.time() - 1.0  # a last.pth newer than this was written by this run
    try:
        with tqdm_safe_logging():
            metrics = train_fn(cfg)
    except KeyboardInterrupt as e:
        from finetrack.utils.cli import EXIT_TERMINATED, Terminated

        sig = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        last = Path(cfg.run_dir) / "last.pth"
        if last.is_file() and last.stat().st_mtime >= started:
            print(f"{sig}: {last} holds the last finished epoch (resume=true continues)",
                  file=sys.stderr)
        elif last.is_file():
            print(f"{sig} before this run finished an epoch: {last} is the earlier run's, "
                  "unchanged (resume=true continues it)", file=sys.stderr)
        else:
            print(f"{sig} before the first epoch finished: no checkpoint was written in "
                  f"{cfg.run_dir} (run again to start over)", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
    if metrics:
        print(json.dumps({k: metrics.get(k) for k in summary_keys}))
        run = Path(cfg.run_dir)
        print(f"run folder: {run}")
        print_files(run / n for n in RUN_FILES if (run / n).is_file())
    return 0


def error(msg: object) -> int:
    """Print a user error as ONE line on stderr; returns :data:`EXIT_BAD_INPUT`."""
    print(f"error: {str(msg).strip()}".replace("\n", " "), file=sys.stderr)
    return EXIT_BAD_INPUT


def print_files(paths, label: str = "wrote") -> None:
    """The closing list of every file a command wrote."""
    paths = [str(p) for p in paths if p]
    if paths:
        print(f"{label}:")
        for p in paths:
            print(f"  {p}")
