"""What the joint-pipeline inference tests share: a tiny FineTrack model (YOLOX-nano at 64x96, a
12-channel FAFPN + MPMG head) with random weights made to respond to the pixels
(:func:`make_detector_respond`), the drawn frames it responds to, its checkpoints and a MOT
sequence folder of frames.

Imported as ``tests.inference.tiny_model`` (as ``tests.tracker.golden_cases``).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from finetrack.data.mot import SeqInfo, write_seqinfo
from finetrack.models.build import build_model
from finetrack.models.detector import DETECTOR_STATE_KEY
from finetrack.models.random_detector import make_detector_respond

#: (H, W) of the drawn frames; the network input below keeps the same aspect ratio.
FRAME_H, FRAME_W = 96, 144
INPUT = (64, 96)


def tiny_frames(n: int = 6, seed: int = 0):
    """``n`` BGR frames: noise with a red and a green box moving right."""
    rng = np.random.default_rng(seed)
    out = []
    for f in range(n):
        img = rng.integers(60, 120, size=(FRAME_H, FRAME_W, 3), dtype=np.uint8)
        for k, col in enumerate(((30, 30, 220), (40, 200, 40))):
            x = 10 + 9 * f + 50 * k
            cv2.rectangle(img, (x, 20 + 10 * k), (x + 18, 70 + 10 * k), col, -1)
        out.append(img)
    return out


def tiny_model(frames, seed: int = 0):
    """The tiny model (torch seed ``seed``) made to respond to ``frames``, in eval mode."""
    torch.manual_seed(seed)
    model = build_model(
        {"variant": "nano", "input_size": INPUT, "conf_thresh": 0.1},
        {"channels": 12, "num_parts": 2, "global_dim": 16, "part_dim": 8,
         "roi_sizes": ((8, 4), (4, 2), (2, 1))},
    )
    make_detector_respond(model.detector, frames, boxes_per_image=12)
    return model.eval()


def save_reid_ckpt(model, path: Path) -> None:
    """A Re-ID checkpoint of ``model`` marked as holding a trained detector."""
    state = model.checkpoint_state()
    state[DETECTOR_STATE_KEY] = {"head_trained": True, "checkpoint": "test", "frozen": True}
    torch.save(state, path)


def save_det_ckpt(model, path: Path) -> None:
    """``model``'s detector alone, as a YOLOX checkpoint (``--det-ckpt``)."""
    sd = {k: v.detach().cpu() for k, v in model.detector.model.state_dict().items()}
    torch.save({"model": sd, "detector": "yolox_nano", "input_size": list(INPUT)}, path)


def write_mot_seq(root: Path, name: str, frames, fps: int = 10, ext: str = ".png") -> Path:
    """``root/name`` as a MOTChallenge sequence (img1/ + seqinfo.ini) of ``frames``."""
    d = root / name
    (d / "img1").mkdir(parents=True)
    for i, img in enumerate(frames, 1):
        cv2.imwrite(str(d / "img1" / f"{i:06d}{ext}"), img)
    write_seqinfo(d, SeqInfo(name, d, "img1", fps, len(frames), FRAME_W, FRAME_H, ext))
    return d
