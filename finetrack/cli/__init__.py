"""The ``finetrack`` command: one entry point, one subcommand per tool.

    finetrack track --source video.mp4 --det-ckpt DET --reid-ckpt REID --mode finetrack --out DIR
    finetrack train-reid -c configs/pets09.yaml
    finetrack <command> --help

Every subcommand is the same code as its ``tools/<name>.py`` script (those are thin wrappers).
"""
from __future__ import annotations

import importlib
import sys
from typing import Dict, List, Optional, Tuple

#: ``{subcommand: (module under finetrack.cli, one-line summary)}``.
COMMANDS: Dict[str, Tuple[str, str]] = {
    "track": ("track", "track a video / image folder / webcam / MOT sequences -> MOT txt (+ mp4)"),
    "train-reid": ("train_reid", "train the Re-ID head (FAFPN + MPMG) on GT boxes"),
    "train-crop-reid": ("train_crop_reid", "train a separate crop Re-ID network (OSNet / ResNet-18)"),
    "train-det": ("train_det", "train the one-class YOLOX detector"),
    "train-fairmot": ("train_fairmot", "train the FairMOT one-shot baseline (detection + Re-ID)"),
    "eval": ("eval", "HOTA / CLEAR / Identity of result folders against GT"),
    "eval-reid": ("eval_reid", "Re-ID Rank-1 / mAP of a checkpoint with GT boxes"),
    "eval-det": ("eval_det", "AP50 / AP of a detector checkpoint"),
    "export": ("export", "write the detector and the Re-ID head as ONNX (onnxruntime)"),
    "make-synthetic": ("make_synthetic", "write synthetic MOTChallenge sequences"),
    "prepare-data": ("prepare_data", "write the half-split GT files of a dataset"),
    "vis-masks": ("vis_masks", "draw the MPMG part masks of a checkpoint on GT crops"),
    "adapt": ("adapt", "fine-tune a Re-ID checkpoint on a new video without labels"),
}


def _usage() -> str:
    lines = ["usage: finetrack <command> [options]   (finetrack <command> --help, finetrack --version)",
             "", "commands:"]
    lines += [f"  {name:<15}{summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "example:",
              "  finetrack track --source video.mp4 --det-ckpt DET --reid-ckpt REID "
              "--mode finetrack --out DIR"]
    return "\n".join(lines)


def command_main(name: str):
    """The ``main(argv) -> int`` of subcommand ``name`` (KeyError lists the valid names)."""
    if name not in COMMANDS:
        raise KeyError(f"unknown command {name!r}; valid: {', '.join(COMMANDS)}")
    return importlib.import_module(f"finetrack.cli.{COMMANDS[name][0]}").main


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``finetrack`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from finetrack.cli.common import version_string

        print(version_string())
        return 0
    name, rest = argv[0], argv[1:]
    try:
        fn = command_main(name)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    from finetrack.utils.cli import run_cli

    return run_cli(fn, rest)  # one-line errors, exit 2 / 3 / 130, --debug for the traceback
