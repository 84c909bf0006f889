"""FPS of `finetrack track --source video.mp4` (one pass vs two networks), on CPU, for README.

    .venv/bin/python scripts/bench_track_source.py [--frames 100] [--out /tmp/bench_src]

Writes a video of the first --frames frames of PETS09-S2L1 (768x576), a FineTrack model with
configs/pets09.yaml's model settings (YOLOX-nano at 384x512, FAFPN + MPMG) and its detector alone,
then times `finetrack track --source VIDEO --det-ckpt DET --reid-ckpt REID --mode finetrack` with
and without --two-networks. No trained detector ships with the repository, so the weights are
random, with BatchNorm statistics re-estimated on the frames and the objectness standardised so
that about --boxes anchors per frame pass the threshold: the numbers
measure the speed of the pipeline at that load, not tracking quality.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from finetrack.cli import track as track_cli
from finetrack.config import Config
from finetrack.configlib import freeze, load_config
from finetrack.utils.checkpoint import write_checkpoint
from finetrack.engine.reid_build import model_kwargs
from finetrack.models.build import build_model
from finetrack.models.detector import DETECTOR_STATE_KEY
from finetrack.models.random_detector import make_detector_respond

REPO = Path(__file__).resolve().parents[2]

PETS09 = REPO.parent / "shared" / "data" / "MOT15" / "train" / "PETS09-S2L1"


def _count(detector, images) -> float:
    n = []
    for img in images:
        t, r = detector.preprocess(img)
        n.append(len(detector.detect(t[None], [r], [img.shape[:2]])[0][0]))
    return float(np.mean(n))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--boxes", type=int, default=15, help="mean detections per frame")
    p.add_argument("--out", type=Path, default=Path("/tmp/bench_track_source"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    frames = [cv2.imread(str(PETS09 / "img1" / f"{i:06d}.jpg")) for i in range(1, args.frames + 1)]
    video = args.out / "video.mp4"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 7, frames[0].shape[1::-1])
    for f in frames:
        vw.write(f)
    vw.release()

    cfg = freeze(load_config(Config, str(REPO / "configs" / "pets09.yaml"), []))
    torch.manual_seed(0)
    model = build_model(**dict(model_kwargs(cfg, 19), detector_checkpoint=None)).eval()
    make_detector_respond(model.detector, frames[:: max(1, len(frames) // 8)], args.boxes)
    print(f"calibrated: {_count(model.detector, frames[:5]):.1f} detections per frame")
    state = model.checkpoint_state()
    state[DETECTOR_STATE_KEY] = {"head_trained": True, "checkpoint": "random (benchmark)"}
    write_checkpoint(args.out / "reid.pth", state)
    sd = {k: v.detach().cpu() for k, v in model.detector.model.state_dict().items()}
    spec = {"detector": cfg.model.detector, "input_size": list(cfg.model.input_size)}
    write_checkpoint(args.out / "det.pth", {"model": sd, **spec})
    load = os.getloadavg()
    rows = {}
    for name, extra in (("joint", []), ("two-networks", ["--two-networks"])):
        out = args.out / name
        t0 = time.perf_counter()
        rc = track_cli.main(["--source", str(video), "--det-ckpt", str(args.out / "det.pth"),
                             "--reid-ckpt", str(args.out / "reid.pth"), "--mode", "finetrack",
                             "--out", str(out), "--no-progress", "train.device=cpu", *extra])
        wall = time.perf_counter() - t0
        assert rc == 0, name
        s = json.loads((out / "track_summary.json").read_text())
        per = {k: 1000 * v / s["frames"] for k, v in s["timing"].items()}
        dets = sum(v["detections"] for v in s["sequences"].values()) / s["frames"]
        rows[name] = dict(pipeline=s["pipeline"], frames=s["frames"], boxes_per_frame=dets,
                          fps=s["frames"] / sum(s["timing"].values()), wall_s=wall,
                          ms_per_frame=per)
    print(json.dumps({"load_before": load, "load_after": os.getloadavg(), "runs": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
