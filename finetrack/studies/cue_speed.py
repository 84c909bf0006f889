"""Per-box cost of the appearance cues, side by side in one process.

On real frames of a sequence with its public detections: the colour histogram, the ImageNet
MobileNetV2 cue (at each crop size asked) and the project's Re-ID model (a config's ``model``
section, random init: the cost does not depend on the weights; one backbone pass per frame plus
the head) each embed the frame's boxes, interleaved frame by frame so that load changes on a
shared machine hit all of them alike. Reported: total ms / total boxes and ms per frame.
"""
from __future__ import annotations

import os
import time
from typing import Dict, Optional, Sequence



def run(seq_dir, config: Optional[str] = "configs/pets09.yaml", frames: int = 20,
        crop_sizes: Sequence[Sequence[int]] = ((256, 128), (128, 64)), threads: int = 1,
        runtime: str = "torch") -> dict:
    import torch

    from finetrack.config import Config
    from finetrack.configlib import freeze, load_config
    from finetrack.data.mot import MOTSequence
    from finetrack.inference.color import ColorHistogramEmbedder
    from finetrack.inference.imagenet import ImageNetEmbedder

    torch.set_num_threads(threads)
    seq = MOTSequence(seq_dir)
    det = seq.det()
    cues: Dict[str, object] = {"color": ColorHistogramEmbedder()}
    for hw in crop_sizes:
        cues[f"imagenet {hw[0]}x{hw[1]}"] = ImageNetEmbedder(crop_hw=hw, runtime=runtime)
    if config is not None:
        from finetrack.engine.reid_build import model_kwargs
        from finetrack.inference.embedder import Embedder
        from finetrack.models.build import build_model

        cfg = freeze(load_config(Config, config, []))
        cues["Re-ID model (" + os.path.basename(config) + ")"] = Embedder(
            build_model(**model_kwargs(cfg, 10)), "cpu")
    step = max(1, len(seq) // frames)
    seconds = {k: 0.0 for k in cues}
    boxes = n = 0
    load0 = os.getloadavg()[0]
    for f in range(1, len(seq) + 1, step)[:frames]:
        image = seq.read_frame(f)
        xyxy, _ = det.for_frame(f)
        if not len(xyxy):
            continue
        if n == 0:  # warm-up
            for e in cues.values():
                e(image, xyxy)
        for k, e in cues.items():
            t0 = time.perf_counter()
            e(image, xyxy)
            seconds[k] += time.perf_counter() - t0
        boxes += len(xyxy)
        n += 1
    return {"sequence": seq.name, "frames": n, "boxes": boxes, "threads": threads, "runtime": runtime,
            "load": [load0, os.getloadavg()[0]],
            "ms_per_box": {k: 1000 * v / max(boxes, 1) for k, v in seconds.items()},
            "ms_per_frame": {k: 1000 * v / max(n, 1) for k, v in seconds.items()}}


def markdown(res: dict) -> str:
    base = res["ms_per_box"]["color"]
    lines = [f"{res['sequence']}, {res['frames']} frames, {res['boxes']} public detections, "
             f"{res['threads']} thread(s), imagenet by {res.get('runtime', 'torch')}, load {res['load'][0]:.1f} -> {res['load'][1]:.1f}", "",
             "| cue | ms / box | ms / frame | x colour |", "| --- | --- | --- | --- |"]
    for k, v in res["ms_per_box"].items():
        lines.append(f"| {k} | {v:.2f} | {res['ms_per_frame'][k]:.1f} | {v / base:.1f} |")
    return "\n".join(lines) + "\n"


USAGE = """Per-box cost of the colour, ImageNet MobileNetV2 and Re-ID cues in one process
(finetrack/studies/cue_speed.py).

    python scripts/bench_appearance.py [--seq ../shared/data/MOT15/train/PETS09-S2L1] [--frames 20]
        [-c configs/pets09.yaml | -c none] [--threads 1] [--crops 256x128 128x64] [--runtime torch|onnx]
"""


def main(argv=None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", default="../shared/data/MOT15/train/PETS09-S2L1")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("-c", "--config", default="configs/pets09.yaml", help="the Re-ID model's config (none: no Re-ID row)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--crops", nargs="+", default=["256x128", "128x64"], help="imagenet crop sizes HxW")
    ap.add_argument("--runtime", choices=("torch", "onnx"), default="torch", help="the imagenet cue's runtime")
    args = ap.parse_args(argv)
    try:
        crops = [tuple(int(v) for v in c.lower().split("x")) for c in args.crops]
        if any(len(c) != 2 or min(c) < 1 for c in crops):
            raise ValueError
    except ValueError:
        print(f"error: --crops: expected HxW with positive ints, got {' '.join(args.crops)}", file=sys.stderr)
        return 2
    config = None if args.config.lower() == "none" else args.config
    try:
        res = run(args.seq, config, args.frames, crop_sizes=crops, threads=args.threads, runtime=args.runtime)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown(res))
    return 0
