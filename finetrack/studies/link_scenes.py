#!/usr/bin/env python
"""Link every labelled scene the project has into one dataset root (symlinks, nothing copied).

    python scripts/link_scenes.py [--shared ../shared/data] [--synthetic datasets/synthetic] \
        [--out datasets/scenes]

Writes ``OUT/train/<SEQ>`` for the four real scenes with whole sequences (PETS09-S2L1,
ETH-Sunnyday, KITTI-17 from MOT15; MOT17-09-FRCNN from MOT17) and the synthetic sequences
(``tools/make_synthetic.py``), and ``OUT/mini/<SEQ>`` for MOT17-mini's seven short clips (a
retrieval set). ``configs/transfer.yaml`` reads this root. Existing correct links are kept; a
path that exists and is not the expected link is an error (nothing is replaced).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REAL_SCENES = {
    "PETS09-S2L1": "MOT15/train/PETS09-S2L1",
    "ETH-Sunnyday": "MOT15/train/ETH-Sunnyday",
    "KITTI-17": "MOT15/train/KITTI-17",
    "MOT17-09-FRCNN": "MOT17/train/MOT17-09-FRCNN",
}
MINI_CLIPS = [f"MOT17-{n:02d}-FRCNN" for n in (2, 4, 5, 9, 10, 11, 13)]


def _link(target: Path, link: Path) -> None:
    target = target.resolve()
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)).resolve() == target:
            return
        raise FileExistsError(f"{link} exists and is not a link to {target}: remove it or choose --out")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


def link_scenes(shared: Path, synthetic: Path, out: Path) -> dict:
    """Create the links; returns {"train": [...], "mini": [...]} (names linked)."""
    done = {"train": [], "mini": []}
    for name, rel in REAL_SCENES.items():
        src = shared / rel
        if not (src / "seqinfo.ini").is_file():
            raise FileNotFoundError(f"scene not found: {src}/seqinfo.ini (is ../shared/data beside the checkout?)")
        _link(src, out / "train" / name)
        done["train"].append(name)
    syn = synthetic / "train"
    if syn.is_dir():
        for d in sorted(syn.iterdir()):
            if (d / "seqinfo.ini").is_file():
                _link(d, out / "train" / d.name)
                done["train"].append(d.name)
    for name in MINI_CLIPS:
        src = shared / "MOT17-mini" / "train" / name
        if (src / "seqinfo.ini").is_file():
            _link(src, out / "mini" / name)
            done["mini"].append(name)
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--synthetic", default=str(REPO / "datasets" / "synthetic"))
    ap.add_argument("--out", default=str(REPO / "datasets" / "scenes"))
    args = ap.parse_args(argv)
    try:
        done = link_scenes(Path(args.shared), Path(args.synthetic), Path(args.out))
    except (FileNotFoundError, FileExistsError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}/train: {', '.join(done['train'])}")
    print(f"{args.out}/mini: {', '.join(done['mini'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
