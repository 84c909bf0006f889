#!/usr/bin/env python
"""Per-stage time of `byte` and `finetrack` tracking on PETS09-S2L1 frames, PyTorch and ONNX.

    .venv/bin/python scripts/bench_stages.py [-c configs/pets09.yaml] [--frames 40] [--first 1]
        [--repeats 3] [--det-ckpt DET --reid-ckpt REID | --detector yolox-tiny] [--threads 1 2]
        [--json OUT]

Runs `finetrack track --source FRAMES` (an image folder of --frames PETS09-S2L1 frames from frame
--first on, 768x576; ``--first 398 --frames 398`` is the second half that README's tracking
tables score) in one process, interleaved --repeats times: `byte` (the detector alone), `finetrack`
(the joint pipeline: one backbone pass gives the boxes and the Re-ID features), each with
`--runtime torch` and `--runtime onnx`, and reports each stage of track_summary.json's `timing`
(decode, detector, reid, association, write) in ms per frame, the median over the repeats, and
the ratio of finetrack's whole frame to byte's: of the medians, and per repeat (median, range). One thread (torch and onnxruntime).
`finetrack_all` is finetrack with ``tracker.embed_all_boxes=true``: the Re-ID head embeds every
detection, also those at or below ``tracker.low_thresh`` that the association never reads (the code
before the embedding floor); `finetrack` embeds only the boxes it reads (same result files).
``--no-onnx`` skips the onnxruntime columns. ``--interleave frames`` builds the same pipelines in
this process and sends every frame through all of them in turn (alternating the order), instead
of whole runs one after the other: a machine whose speed drifts by 10-20 % between runs (a shared
VM) then slows every column alike. Its ``write`` stage formats the result rows (no file).

``--detector yolox-tiny`` times the route of a new user instead: `finetrack track --source FRAMES
--det-ckpt yolox-tiny` (YOLOX-tiny at its own 416x416, random weights in the official format served
from a file:// folder and loaded by name, every box a person) in three columns, `byte`, `color`
(``tracker.appearance=color``: the colour-histogram appearance, no Re-ID network) and `default`
(no --mode: the config's default, botsort on color+imagenet: colour histogram + ImageNet
MobileNetV2 features of 256x128 crops, in onnxruntime under `--runtime onnx`), each with torch
and onnxruntime; ``--threads 1 2`` runs every column at each thread count, in the same process.
The `appearance` stage is also reported in ms per box.

Without --det-ckpt/--reid-ckpt the model is built from -c's `model` section (configs/pets09.yaml:
YOLOX-nano at 384x512 + FAFPN/MPMG, C = 64) with RANDOM weights made to respond to the pixels
(:func:`finetrack.models.random_detector.make_detector_respond`) and ``model.conf_thresh`` set
so that about --boxes detections per frame remain (PETS09-S2L1 has about 5.5 people per frame):
the numbers measure the speed of the pipeline at that box count, not tracking quality.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
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
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]

PETS09 = REPO.parent / "shared" / "data" / "MOT15" / "train" / "PETS09-S2L1"
STAGES = ("decode", "detector", "reid", "appearance", "association", "write")
#: (column, tracker mode, runtime, overrides)
RUNS = tuple((f"{name}/{rt}", mode, rt, extra) for rt in ("torch", "onnx") for name, mode, extra in (
    ("byte", "byte", []), ("finetrack_all", "finetrack", ["tracker.embed_all_boxes=true"]),
    ("finetrack", "finetrack", [])))
#: the columns of ``--detector NAME`` (a named COCO detector, no Re-ID network): ``byte``, the
#: colour-histogram appearance (``tracker.appearance=color``, no checkpoint), ``default``: no
#: --mode, the config's defaults (botsort on color+imagenet; only the high detections are
#: embedded), and ``default_all``: the same with every box embedded (the cost when every box
#: scores high); mode None = no --mode flag
NAMED_RUNS = tuple((f"{name}/{rt}", mode, rt, extra) for rt in ("torch", "onnx") for name, mode, extra in (
    ("byte", "byte", []), ("color", "finetrack", ["tracker.appearance=color"]),
    ("default", None, []), ("default_all", None, ["tracker.embed_all_boxes=true"])))


def calibrate_conf(detector, calib, boxes: int) -> float:
    """The score threshold that leaves about ``boxes`` detections per frame (bisection on the
    mean count over the calibration frames); ``detector.conf_thresh`` is changed."""
    tensors = [(detector.preprocess(img), img.shape[:2]) for img in calib]

    def mean_count(th: float) -> float:
        detector.conf_thresh = th
        return float(np.mean([len(detector.detect(t[None], [r], [hw])[0][1])
                              for (t, r), hw in tensors]))

    lo, hi = 1e-4, 0.999
    for _ in range(14):
        mid = float(np.sqrt(lo * hi))
        lo, hi = (mid, hi) if mean_count(mid) > boxes else (lo, mid)
    print(f"conf={hi:.4g}: {mean_count(hi):.1f} detections per frame on {len(calib)} "
          "calibration frames")
    return hi


def serve_random_named(name: str, frames, boxes: int, out: Path) -> float:
    """Random weights in the official format for the named COCO detector ``name`` (e.g.
    ``yolox-tiny``), made to respond to ``frames`` with every box a person, served from a
    ``file://`` folder (FINETRACK_WEIGHTS_URL) into a fresh torch hub cache (TORCH_HOME) in
    ``out``, so that the runs load them by name as a user would. Returns the ``--conf`` that
    leaves about ``boxes`` detections per frame."""
    import shutil

    from finetrack.models import zoo
    from finetrack.models.detector import YOLOXDetector
    from finetrack.models.random_detector import make_detector_respond

    entry = zoo.lookup(name)
    if entry is None or not entry.downloadable:
        raise SystemExit(f"--detector takes a COCO model name (yolox-nano ... yolox-x), got {name}")
    torch.manual_seed(0)
    det = YOLOXDetector(entry.variant, num_classes=entry.num_classes, input_size=entry.input_size)
    calib = frames[:: max(1, len(frames) // 8)]
    make_detector_respond(det, calib, boxes)
    with torch.no_grad():  # every anchor's best class: person (the class kept by default)
        for c in det.model.head.cls_preds:
            c.weight.zero_()
            c.bias.fill_(-8.0)
            c.bias[zoo.COCO_PERSON] = 8.0
    det.classes = (zoo.COCO_PERSON,)
    thresh = calibrate_conf(det, calib, boxes)
    srv = out / "weights_server"
    srv.mkdir(parents=True, exist_ok=True)
    write_checkpoint(srv / entry.filename,
                     {"model": {k: v.detach().cpu() for k, v in det.model.state_dict().items()}})
    shutil.rmtree(out / "torch_home", ignore_errors=True)
    os.environ["TORCH_HOME"] = str(out / "torch_home")
    os.environ[zoo.WEIGHTS_URL_ENV] = srv.as_uri()
    return thresh


def random_checkpoints(config: str, frames, boxes: int, out: Path):
    """(reid.pth holding a responding random detector, det.pth with the same detector, the
    ``model.conf_thresh`` that gives about ``boxes`` detections per frame)."""
    from finetrack.engine.reid_build import model_kwargs
    from finetrack.models.build import build_model
    from finetrack.models.detector import DETECTOR_STATE_KEY
    from finetrack.models.random_detector import make_detector_respond

    cfg = freeze(load_config(Config, config, []))
    torch.manual_seed(0)
    model = build_model(**dict(model_kwargs(cfg, 0), detector_checkpoint=None)).eval()
    calib = frames[:: max(1, len(frames) // 8)]
    make_detector_respond(model.detector, calib, boxes)
    thresh = calibrate_conf(model.detector, calib, boxes)
    model.detector.conf_thresh = 0.1
    state = model.checkpoint_state()
    state[DETECTOR_STATE_KEY] = {"head_trained": True, "checkpoint": "random (benchmark)"}
    write_checkpoint(out / "reid.pth", state)
    sd = {k: v.detach().cpu() for k, v in model.detector.model.state_dict().items()}
    spec = {"detector": cfg.model.detector, "input_size": list(cfg.model.input_size)}
    write_checkpoint(out / "det.pth", {"model": sd, **spec})
    return out / "reid.pth", out / "det.pth", thresh


def build_pipelines(config: str, selected, reid: Path, det: Path, overrides):
    """{column: (source, tracker)} for ``--interleave frames``: the same models as the CLI runs
    (:func:`finetrack.inference.app.build_models`; the joint pipeline for finetrack)."""
    from finetrack.inference.app import build_models, onnx_models
    from finetrack.inference.build import build_source, build_tracker, embed_floor
    from finetrack.inference.sources import JointDetections

    pipes = {}
    for key, mode, runtime, extra in selected:
        cfg = freeze(load_config(Config, config, [*overrides, *extra]))
        joint, detector, embedder, pipeline = build_models(
            cfg, "yolox", mode, str(det), str(reid) if mode != "byte" else None, "cpu", False)
        if runtime == "onnx":
            joint, detector = onnx_models(joint, detector, embedder, pipeline)
        # the Re-ID features only (this loop feeds no colour cue; robust's default reads both)
        tracker = build_tracker(
            dataclasses.replace(cfg.tracker, appearance=cfg.tracker.appearance or "reid"), 7.0, mode)
        floor = embed_floor(cfg.tracker, tracker)
        src = (JointDetections(joint, "cpu", min_score=floor) if joint is not None
               else build_source("yolox", None, cfg, detector, "cpu"))
        pipes[key] = (src, tracker, pipeline)
    return pipes


def run_interleaved(pipes, paths, repeats: int):
    """Every frame goes through every pipeline before the next frame (the order alternates
    frame by frame), so that a drift of the machine's speed hits all columns alike.

    Returns:
        {column: [per-pass {stage: ms per frame, "total", "boxes", "embedded", "pipeline"}]}.
    """
    from finetrack.inference.track_loop import StageTimer, detect_frame
    from finetrack.models.reid_head import embed_mask

    keys = list(pipes)
    per = {k: [] for k in keys}
    for _ in range(repeats):
        timers = {k: StageTimer() for k in keys}
        counts = {k: [0, 0] for k in keys}
        for _, tracker, _ in pipes.values():
            tracker.reset()
        for i, path in enumerate(paths):
            for key in (keys if i % 2 == 0 else keys[::-1]):
                src, tracker, _ = pipes[key]
                tm = timers[key]
                t0 = time.perf_counter()
                image = cv2.imread(str(path))
                tm.add("decode", time.perf_counter() - t0)
                xyxy, scores, emb = detect_frame(src, i + 1, image, tm)
                tm.add("reid", 0.0)  # a column for byte too
                if emb is not None:
                    counts[key][1] += int(embed_mask(scores, src.min_score).sum())
                counts[key][0] += len(xyxy)
                t0 = time.perf_counter()
                out = tracker.update(xyxy, scores, emb)
                tm.add("association", time.perf_counter() - t0)
                t0 = time.perf_counter()
                _rows = [f"{i + 1},{t},{b[0]:.2f},{b[1]:.2f},{b[2]:.2f},{b[3]:.2f}"
                        for t, b in zip(out.ids, out.xyxy)]  # the results file's formatting
                tm.add("write", time.perf_counter() - t0)
                tm.frames += 1
        for key in keys:
            tm = timers[key]
            ms = {k: 1000.0 * v / tm.frames for k, v in tm.seconds.items()}
            ms["total"] = sum(ms.values())
            ms["boxes"] = counts[key][0] / tm.frames
            ms["embedded"] = counts[key][1] / tm.frames
            ms["pipeline"] = pipes[key][2]
            per[key].append(ms)
    return per


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", default=str(REPO / "configs" / "pets09.yaml"))
    p.add_argument("--frames", type=int, default=40, help="how many frames")
    p.add_argument("--first", type=int, default=1, help="first PETS09-S2L1 frame (1-based)")
    p.add_argument("--boxes", type=int, default=8, help="detections per frame (random weights)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--det-ckpt", default=None)
    p.add_argument("--reid-ckpt", default=None)
    p.add_argument("--out", type=Path, default=Path("/tmp/bench_stages"))
    p.add_argument("--json", default=None)
    p.add_argument("--no-onnx", action="store_true", help="PyTorch columns only")
    p.add_argument("--detector", default=None,
                   help="a named COCO detector (e.g. yolox-tiny, at its own input 416): random "
                   "weights in the official format served from file:// and loaded by name; "
                   "columns byte, color (tracker.appearance=color), default (no --mode: "
                   "botsort on color+imagenet) and default_all (every box embedded), no Re-ID "
                   "network")
    p.add_argument("--threads", type=int, nargs="+", default=[1],
                   help="torch / onnxruntime intra-op threads; every column runs at each")
    p.add_argument("--interleave", choices=("runs", "frames"), default="runs",
                   help="runs: whole `finetrack track` runs one after the other (default); "
                        "frames: every frame through every pipeline in turn, in this process")
    args = p.parse_args(argv)
    if args.first < 1 or args.frames < 1:
        p.error(f"--first and --frames must be >= 1, got {args.first} and {args.frames}")
    base_runs = NAMED_RUNS if args.detector else RUNS
    if args.detector and args.interleave == "frames":
        p.error("--detector runs whole `finetrack track` runs (--interleave runs)")
    multi = len(args.threads) > 1
    selected = [(f"{key}/t{n}" if multi else key, mode, rt, extra, n)
                for key, mode, rt, extra in base_runs for n in args.threads
                if not (args.no_onnx and rt == "onnx")]
    torch.set_num_threads(args.threads[0])
    if not (PETS09 / "img1").is_dir():
        raise SystemExit(f"real data absent: {PETS09}")
    args.out = args.out.resolve()  # a file:// address and TORCH_HOME need an absolute path
    args.out.mkdir(parents=True, exist_ok=True)
    src = args.out / f"frames_{args.first}_{args.frames}"
    src.mkdir(exist_ok=True)
    frames = []
    for i in range(args.first, args.first + args.frames):
        name = f"{i:06d}.jpg"
        if not (PETS09 / "img1" / name).is_file():
            raise SystemExit(f"{PETS09 / 'img1' / name} does not exist (PETS09-S2L1 has 795 frames)")
        if not (src / name).exists():
            os.symlink(PETS09 / "img1" / name, src / name)
        frames.append(cv2.imread(str(src / name)))
    overrides = ["train.device=cpu"]
    if args.detector:
        thresh = serve_random_named(args.detector, frames, args.boxes, args.out)
        reid, det = None, args.detector
        overrides.append(f"model.conf_thresh={thresh:.6g}")
        weights = (f"--det-ckpt {args.detector} with random weights responding to the pixels, "
                   f"served from file://, conf {thresh:.3g} for about {args.boxes} boxes per frame")
    elif args.reid_ckpt:
        reid, det = Path(args.reid_ckpt), Path(args.det_ckpt or args.reid_ckpt)
        weights = f"{reid} / {det}"
    else:
        reid, det, thresh = random_checkpoints(args.config, frames, args.boxes, args.out)
        overrides.append(f"model.conf_thresh={thresh:.6g}")
        weights = (f"random weights responding to the pixels (-c {args.config}), "
                   f"model.conf_thresh={thresh:.3g} for about {args.boxes} boxes per frame")
    per: dict = {key: [] for key, *_ in selected}
    load = [os.getloadavg()[0]]
    if args.interleave == "frames":
        pipes = build_pipelines(args.config, [r[:4] for r in selected], reid, det, overrides)
        per = run_interleaved(pipes, sorted(src.glob("*.jpg")), args.repeats)
        load.append(os.getloadavg()[0])
    runs = args.repeats if args.interleave == "runs" else 0  # whole `finetrack track` runs
    for rep in range(runs):
        for key, mode, runtime, run_extra, threads in selected:
            torch.set_num_threads(threads)  # onnxruntime takes torch's count
            out = args.out / key.replace("/", "_")
            # the same detector weights in both: finetrack runs them in the joint pipeline, with
            # --det-ckpt's thresholds (model.conf_thresh)
            extra = ["--reid-ckpt", str(reid)] if mode == "finetrack" and reid is not None else []
            rc = track_cli.main(["--source", str(src), "--fps", "7", "--det-ckpt", str(det),
                                 *extra, *(["--mode", mode] if mode else []),
                                 "--runtime", runtime, "--out", str(out),
                                 "--overwrite", "--no-progress", *overrides, *run_extra])
            if rc != 0:
                raise SystemExit(f"{key} failed with exit code {rc}")
            s = json.loads((out / "track_summary.json").read_text())
            ms = {k: 1000.0 * v / s["frames"] for k, v in s["timing"].items()}
            ms["total"] = sum(ms.values())
            ms["boxes"] = sum(v["detections"] for v in s["sequences"].values()) / s["frames"]
            ms["embedded"] = (sum(v.get("embedded", 0) for v in s["sequences"].values())
                              / s["frames"])
            ms["pipeline"] = s["pipeline"]
            per[key].append(ms)
        load.append(os.getloadavg()[0])
    med = {}
    for key, runs in per.items():
        med[key] = {k: statistics.median(r.get(k, 0.0) for r in runs)
                    for k in (*STAGES, "total", "boxes", "embedded")}
        med[key]["pipeline"] = runs[0]["pipeline"]
    cols = [key for key, *_ in selected]
    threads = "/".join(str(n) for n in args.threads)
    how = ("runs" if args.interleave == "runs" else
           "passes, every frame through every column in turn,")
    print(f"\nms per frame, median of {args.repeats} interleaved {how} of {args.frames} PETS09-S2L1 "
          f"frames from frame {args.first} (768x576); {weights}; {threads} thread(s); load average "
          f"{', '.join(f'{v:.1f}' for v in load)} (2 cores, shared)\n")
    print("| stage | " + " | ".join(cols) + " |")
    print("|" + " --- |" * (1 + len(cols)))
    for stage in (*STAGES, "total"):
        print(f"| {stage} | " + " | ".join(f"{med[c][stage]:.1f}" for c in cols) + " |")
    print("| boxes / frame | " + " | ".join(f"{med[c]['boxes']:.1f}" for c in cols) + " |")
    print("| embedded / frame | " + " | ".join(f"{med[c]['embedded']:.1f}" for c in cols) + " |")
    print("| appearance ms / box | " + " | ".join(
        f"{med[c]['appearance'] / med[c]['boxes']:.2f}" if med[c]["boxes"] else "-"
        for c in cols) + " |")
    print("| appearance ms / embedded box | " + " | ".join(
        f"{med[c]['appearance'] / med[c]['embedded']:.2f}" if med[c]["embedded"] else "-"
        for c in cols) + " |")
    ratios, per_repeat = {}, {}
    names = ("color", "default", "default_all") if args.detector else ("finetrack_all", "finetrack")
    suffixes = [f"/t{n}" for n in args.threads] if multi else [""]
    for runtime in sorted({r[2] for r in selected}, reverse=True):
        for sfx in suffixes:
            for name in names:
                key, base = f"{name}/{runtime}{sfx}", f"byte/{runtime}{sfx}"
                ratio = med[key]["total"] / med[base]["total"]
                ratios[key] = ratio
                # each repeat's own ratio: byte and finetrack ran minutes apart at most, so a
                # slow drift of the machine cancels within a repeat
                reps = [a["total"] / b["total"] for a, b in zip(per[key], per[base])]
                per_repeat[key] = reps
                print(f"\n{name} / byte whole frame ({runtime}{sfx}): {ratio:.2f}x of the "
                      f"medians; per repeat median {statistics.median(reps):.2f}x, range "
                      f"{min(reps):.2f}-{max(reps):.2f}x (goal <= 1.3x)", end="")
    if not args.no_onnx:
        for sfx in suffixes:
            print(f"\nonnx / torch whole frame{sfx}: " + ", ".join(
                f"{n} {med[f'{n}/onnx{sfx}']['total'] / med[f'{n}/torch{sfx}']['total']:.2f}x"
                for n in ("byte", *names)), end="")
    if multi:
        a, b = args.threads[0], args.threads[-1]
        for key in {k.rsplit("/t", 1)[0] for k in cols}:
            print(f"\n{key}: {b} / {a} threads whole frame "
                  f"{med[f'{key}/t{b}']['total'] / med[f'{key}/t{a}']['total']:.2f}x, "
                  f"{1000.0 / med[f'{key}/t{b}']['total']:.1f} FPS at {b}", end="")
    print()
    if args.json:
        atomic_write_text(args.json, json.dumps({"median_ms_per_frame": med, "runs": per,
                                                 "ratio_to_byte": ratios,
                                                 "ratio_to_byte_per_repeat": per_repeat,
                                                 "load_average": load, "weights": weights,
                                                 "first_frame": args.first, "frames": args.frames,
                                                 "interleave": args.interleave},
                                                indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
