"""Tiny MOTChallenge sequences (drawn on the fly) and a tiny-model config for engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

from finetrack.config import Config
from finetrack.configlib import load_config

#: (H, W) of the tiny frames; the network input below keeps the same aspect ratio.
FRAME_H, FRAME_W = 128, 224
NUM_FRAMES = 16
#: BGR torso / legs colours of the people; identity = sequence + index.
PEOPLE = [
    ((40, 40, 200), (200, 60, 30)),
    ((60, 180, 40), (30, 30, 30)),
    ((200, 200, 40), (40, 40, 200)),
]


def write_tiny_sequence(seq_dir: Path, seed: int, num_frames: int = NUM_FRAMES) -> None:
    """MOT17-layout sequence: 3 walkers (head, torso, legs in distinct colours) on grey noise."""
    rng = np.random.default_rng(seed)
    (seq_dir / "img1").mkdir(parents=True)
    (seq_dir / "gt").mkdir()
    starts = rng.uniform([10, 20], [FRAME_W - 60, FRAME_H - 70], size=(len(PEOPLE), 2))
    vel = rng.uniform(-4, 4, size=(len(PEOPLE), 2))
    rows: List[str] = []
    for f in range(1, num_frames + 1):
        img = rng.integers(100, 140, size=(FRAME_H, FRAME_W, 3), dtype=np.uint8)
        for pid, (torso, legs) in enumerate(PEOPLE):
            x, y = starts[pid] + vel[pid] * (f - 1)
            x = float(np.clip(x, 0, FRAME_W - 25))
            y = float(np.clip(y, 0, FRAME_H - 50))
            w, h = 22, 48
            x0, y0 = int(x), int(y)
            cv2.rectangle(img, (x0 + 6, y0), (x0 + 15, y0 + 9), (120, 170, 230), -1)
            cv2.rectangle(img, (x0, y0 + 10), (x0 + w - 1, y0 + 28), torso, -1)
            cv2.rectangle(img, (x0 + 3, y0 + 29), (x0 + w - 4, y0 + h - 1), legs, -1)
            rows.append(f"{f},{pid + 1},{x0},{y0},{w},{h},1,1,1.0")
        cv2.imwrite(str(seq_dir / "img1" / f"{f:06d}.jpg"), img)
    (seq_dir / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    (seq_dir / "seqinfo.ini").write_text(
        f"[Sequence]\nname={seq_dir.name}\nimDir=img1\nframeRate=10\nseqLength={num_frames}\n"
        f"imWidth={FRAME_W}\nimHeight={FRAME_H}\nimExt=.jpg\n"
    )


@pytest.fixture(scope="session")
def tiny_mot_root(tmp_path_factory) -> Path:
    """``<root>/train/{TINY-01,TINY-02}``, 16 frames each, 3 identities each."""
    root = tmp_path_factory.mktemp("tiny_mot")
    for i, name in enumerate(("TINY-01", "TINY-02")):
        write_tiny_sequence(root / "train" / name, seed=i)
    return root


def tiny_overrides(root: Path, out_dir: Path) -> List[str]:
    """A YOLOX-nano backbone at 128x224 and a small head: seconds per epoch on one core."""
    return [
        f"data.root={root}",
        "data.num_workers=0",
        "model.detector=yolox_nano",
        "model.input_size=[128,224]",
        "model.freeze_detector=false",
        "model.channels=32",
        "model.num_parts=2",
        "model.global_dim=32",
        "model.part_dim=16",
        "train.batch_size=4",
        "train.epochs=2",
        "train.lr_step_epoch=1",
        "train.progress=false",
        "train.log_every=1",
        "reid_eval.query_every=4",
        # 8-frame halves at 10 fps: a 4-frame selection slice, +-1 frame excluded (v2)
        "reid_eval.select_frac=0.5",
        "reid_eval.exclude_seconds=0.1",
        f"out_dir={out_dir}",
    ]


def tiny_config(root: Path, out_dir: Path, extra=()) -> Config:
    return load_config(Config, None, tiny_overrides(root, out_dir) + list(extra))


def load_script(name: str):
    """The study behind ``scripts/<name>.py``: the module ``finetrack.studies.<name>``."""
    import importlib

    return importlib.import_module(f"finetrack.studies.{name}")
