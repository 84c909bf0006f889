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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from finetrack.cli import track as track_cli  # noqa: E402
from finetrack.config import Config, freeze, load_config  # noqa: E402
from finetrack.engine.runner import model_kwargs  # noqa: E402
from finetrack.models.build import build_model  # noqa: E402
from finetrack.models.detector import DETECTOR_STATE_KEY  # noqa: E402

PETS09 = REPO.parent / "shared" / "data" / "MOT15" / "train" / "PETS09-S2L1"


def make_detector_respond(detector, images, boxes_per_image: int, gain: float = 4.0) -> None:
    """Give a RANDOM-weight YOLOX detector pixel-dependent boxes, about N per image (tests, bench).

    Random init makes the activations vanish layer by layer (objectness constant up to float
    noise). BatchNorm statistics are re-estimated on ``images`` so the signal survives, then each
    level's objectness logits are standardised and shifted so that the ``boxes_per_image``-th
    highest anchor scores 0.1 (the default threshold) and the top ones close to 1. Class
    probabilities are set to ~1 so that the score is the objectness.

    Args:
        detector: a :class:`finetrack.models.detector.YOLOXDetector` (modified in place).
        images: BGR uint8 (H, W, 3) frames to calibrate on.
        boxes_per_image: wanted anchors above the threshold per image (before NMS).
    """
    bns = [m for m in detector.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    detector.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration images
        m.train()
    tensors = [detector.preprocess(img)[0][None] for img in images]
    with torch.no_grad():
        for t in tensors:
            detector(t)
    for m in bns:
        m.eval()
    head = detector.model.head
    logits = {k: [] for k in range(len(head.obj_preds))}
    regs = {k: [] for k in range(len(head.reg_preds))}
    hooks = [c.register_forward_hook(lambda _m, _i, o, k=k: logits[k].append(o.detach().flatten()))
             for k, c in enumerate(head.obj_preds)]
    hooks += [c.register_forward_hook(lambda _m, _i, o, k=k: regs[k].append(o.detach()))
              for k, c in enumerate(head.reg_preds)]
    with torch.no_grad():
        for t in tensors:
            detector(t)
    for h in hooks:
        h.remove()
    with torch.no_grad():  # box offsets ~0.2 cells, size ~2 x 4 cells (person-like aspect)
        for k, c in enumerate(head.reg_preds):
            std = torch.cat([r.transpose(0, 1).flatten(1) for r in regs[k]], 1).std(1)
            c.weight.mul_((0.2 / std.clamp_min(1e-12)).view(-1, 1, 1, 1))
            c.bias.copy_(torch.tensor([0.0, 0.0, float(np.log(2.0)), float(np.log(4.0))]))
    stats = {k: (torch.cat(v).mean(), torch.cat(v).std().clamp_min(1e-12))
             for k, v in logits.items()}
    z = [torch.cat([(logits[k][i] - stats[k][0]) / stats[k][1] for k in logits])
         for i in range(len(tensors))]
    z_k = float(np.mean([float(torch.sort(zi, descending=True).values[boxes_per_image])
                         for zi in z]))
    with torch.no_grad():
        for k, c in enumerate(head.obj_preds):
            mean, std = stats[k]
            c.weight.mul_(gain / std)
            c.bias.copy_((c.bias - mean) * gain / std - gain * z_k - 2.2)
        for c in head.cls_preds:
            c.bias.fill_(8.0)


def _count(detector, images) -> float:
    n = []
    for img in images:
        t, r = detector.preprocess(img)
        n.append(len(detector.detect(t[None], [r], [img.shape[:2]])[0][0]))
    return float(np.mean(n))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    torch.save(state, args.out / "reid.pth")
    sd = {k: v.detach().cpu() for k, v in model.detector.model.state_dict().items()}
    spec = {"detector": cfg.model.detector, "input_size": list(cfg.model.input_size)}
    torch.save({"model": sd, **spec}, args.out / "det.pth")
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
