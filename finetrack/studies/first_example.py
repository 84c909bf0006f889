"""Wall time of README's first example on this machine: `finetrack track --source clip.mp4
--det-ckpt NAME --out OUT --video` (default mode: botsort on colour + ImageNet), with PyTorch and
with onnxruntime, each as a fresh process as a user runs it.

    python scripts/time_first_example.py [--seq ../shared/data/MOT15/train/PETS09-S2L1]
        [--frames 150] [--detector yolox-s] [--boxes 6] [--out outputs/first_example]

The clip is the sequence's first --frames images written to OUT/clip.mp4 (mp4v, its frame rate).
No weights are downloaded: the named detector gets random weights in the official format, made to
respond to the frames with about --boxes person boxes per frame, served from a ``file://`` folder
(:func:`finetrack.studies.bench_stages.serve_random_named`), so the time is real and the tracks
are not. Prints each run's wall time and stage timing and writes OUT/times.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from finetrack.studies.bench_stages import PETS09, serve_random_named


def write_clip(seq: Path, frames: int, path: Path):
    """The first ``frames`` images of ``seq/img1`` as an mp4v clip at the sequence's frame rate;
    returns the decoded images."""
    import cv2

    from finetrack.data.mot import MOTSequence

    info = MOTSequence(seq).info
    paths = sorted((seq / "img1").glob("*.jpg"))[:frames]
    if not paths:
        raise FileNotFoundError(f"no images in {seq / 'img1'}")
    images = [cv2.imread(str(p)) for p in paths]
    h, w = images[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(info.frame_rate), (w, h))
    for img in images:
        writer.write(img)
    writer.release()
    return images


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("--seq", type=Path, default=PETS09, help="a MOTChallenge sequence (read only)")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--detector", default="yolox-s", help="a COCO model name (yolox-nano ... yolox-x)")
    ap.add_argument("--boxes", type=int, default=6, help="person boxes per frame the weights give")
    ap.add_argument("--out", type=Path, default=Path("outputs/first_example"))
    args = ap.parse_args(argv)
    if not (args.seq / "img1").is_dir():
        print(f"error: {args.seq}: no img1/ folder (a MOTChallenge sequence)", file=sys.stderr)
        return 2
    args.out = args.out.resolve()
    clip = args.out / "clip.mp4"
    images = write_clip(args.seq, args.frames, clip)
    conf = serve_random_named(args.detector, images, args.boxes, args.out)
    res = {}
    for runtime in ("torch", "onnx"):
        run_out = args.out / f"run_{runtime}"
        cmd = [sys.executable, "-m", "finetrack.cli", "track", "--source", str(clip), "--det-ckpt",
               args.detector, "--out", str(run_out), "--video", "--overwrite", "--no-progress",
               "--conf", f"{conf:.4f}", "--runtime", runtime, "train.threads=1"]
        load0, t0 = os.getloadavg()[0], time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        summary = json.loads((run_out / "track_summary.json").read_text())
        res[runtime] = {"wall_s": wall, "load": [load0, os.getloadavg()[0]],
                        "frames": summary["frames"], "timing_s": summary["timing"]}
        print(f"{runtime}: {wall:.1f} s for {summary['frames']} frames (load {load0:.1f} -> "
              f"{os.getloadavg()[0]:.1f}); stages (s): "
              + ", ".join(f"{k} {v:.1f}" for k, v in summary["timing"].items()), flush=True)
    (args.out / "times.json").write_text(json.dumps(res, indent=1))
    return 0
