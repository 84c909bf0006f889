"""The paper's head on pretrained maps (issue 27 item 5): leave-one-scene-out retrieval and tracking.

Models: for each of the four shared scenes S, ``configs/transfer_imagenet.yaml`` (FAFPN + MPMG
on the frozen ImageNet MobileNetV2 maps) trained on everything labelled but S (the synthetic
sequences and the three other real scenes; :func:`loso_specs`, trained by
:func:`finetrack.studies.cross_scene.train_model`, final epoch's last.pth). ``--models transfer``
adds the same with ``configs/transfer.yaml`` (random-init YOLOX-nano backbone). Each model is
scored only on its left-out scene.

Retrieval: GT-box retrieval of :func:`finetrack.studies.imagenet_layer.run` (protocol v2, gallery
items within +-1 s of the query excluded; the rows ``color``, ``imagenet`` and ``color+imagenet``
of docs/experiments/unseen_scenes.md), the left-out model's embeddings beside them
(``reid``) and concatenated with them.

Tracking: each scene's public detections with colour and imagenet features
(:func:`finetrack.studies.nested_loso.build_scene_cache`), the left-out model's embeddings of the
same boxes added as the cue ``reid``; every (rule, cue) at the rule's defaults (:data:`RULES`: no
setting is chosen) replayed through the project's tracking loop and scored with TrackEval
(:class:`finetrack.studies.nested_loso.NestedStudy`).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from finetrack.inference.cache import CachedFrames, load_frames, save_frames

logger = logging.getLogger(__name__)

#: model family -> its config (one model per left-out scene)
CONFIGS = {"imagenet-head": "configs/transfer_imagenet.yaml", "transfer": "configs/transfer.yaml"}
#: rules at their defaults (tracker.* defaults: finetrack match_thresh 0.5; botsort 0.15 / 0.8)
RULES = {"byte": ("byte", [()]), "finetrack": ("finetrack", [()]), "botsort": ("botsort", [()])}
#: the training-free cues, the learned one, and the learned one with them
CUES = ("color", "imagenet", "color+imagenet", "reid", "reid+imagenet", "reid+color+imagenet")
#: the ImageNet candidate the ``imagenet`` cue uses (finetrack/inference/imagenet.py defaults)
IMAGENET_ROW = "imagenet L17 avg2 256x128"
#: the control: the same frozen map the head reads, pooled on the box, no training
MAPS_ROW = "frame map L17 avg2 (no training)"
#: the same control at the paper's YOLOX-s input (is what the frame maps lose resolution?)
MAPS_ROW_LARGE = "frame map L17 avg2 608x1088 (no training)"


class FrameMapEmbedder:
    """Control without training: the frozen ImageNet MobileNetV2 map the head reads, pooled on
    each box as the ``imagenet`` cue pools its crop (layer 17, ``avg2``), ``embedder(image_bgr,
    xyxy) -> (N, 640)`` L2-normalised.

    The frame goes through the network once at ``input_size`` (configs/transfer_imagenet.yaml's
    384x512); each box is ROIAligned (torchvision) from the stride-32 map to ``roi_hw`` (8x4, the
    map a 256x128 crop gives at that layer). With it, ``reid`` minus this row is what the trained
    head adds to the same maps, and ``imagenet`` minus this row what cropping each box adds.
    """

    def __init__(self, input_size=(384, 512), roi_hw=(8, 4), pooling: str = "avg2"):
        from finetrack.models.imagenet_backbone import ImageNetBackbone

        self.net = ImageNetBackbone(input_size, levels=(17,)).eval()
        self.roi_hw = tuple(roi_hw)
        self.pooling = pooling

    def __call__(self, image_bgr, xyxy):
        import torch
        from torchvision.ops import roi_align

        from finetrack.inference.imagenet import pool_map

        xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        with torch.inference_mode():
            x, ratio = self.net.preprocess(image_bgr)
            fmap, = self.net.features(x[None])
            boxes = torch.from_numpy(xyxy * np.float32(ratio))
            rois = roi_align(fmap, [boxes], self.roi_hw, spatial_scale=1.0 / 32, sampling_ratio=2,
                             aligned=True)
            f = pool_map(rois, self.pooling).numpy()
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def loso_specs(family: str, scenes: Sequence[str], threads: int = 1) -> Dict[str, dict]:
    """{``<family>-<S>``: cross_scene spec} training on the synthetic sequences and every scene
    of ``scenes`` but S."""
    from finetrack.studies.cross_scene import SYN

    specs = {}
    for left in scenes:
        seqs = SYN + [s for s in scenes if s != left]
        specs[f"{family}-{left}"] = {
            "config": CONFIGS[family], "left_out": left,
            "overrides": [f"data.train_seqs=[{','.join(seqs)}]", f"train.threads={threads}"]}
    return specs


def add_reid(free: CachedFrames, seq_dir: Path, ckpt: Path, path: Path) -> CachedFrames:
    """``free``'s cache with a ``reid`` cue: the checkpoint's embeddings of the same boxes.

    Reuses ``path`` when it holds the same checkpoint's features, newer than it.
    """
    from finetrack.data.mot import MOTSequence
    from finetrack.inference.embedder import Embedder

    if path.is_file() and path.stat().st_mtime >= Path(ckpt).stat().st_mtime:
        cache = load_frames(path)
        if cache.meta.get("reid_checkpoint") == str(ckpt):
            return cache
    seq = MOTSequence(seq_dir)
    embedder = Embedder.from_checkpoint(ckpt)
    t0 = time.perf_counter()
    emb, boxes = [], 0
    for f, xyxy, e in zip(free.frames.tolist(), free.xyxy, free.emb):
        r = embedder(seq.read_frame(f), xyxy) if len(xyxy) else np.zeros((0, embedder.dim), np.float32)
        emb.append(np.concatenate([e, r.astype(np.float32)], axis=1))
        boxes += len(xyxy)
    width = free.emb[0].shape[1] if free.emb else 0
    cues = dict(free.meta["cues"], reid=[width, width + embedder.dim])
    ms = dict(free.meta.get("ms_per_box", {}), reid=1000.0 * (time.perf_counter() - t0) / max(boxes, 1))
    cache = CachedFrames(free.frames, free.xyxy, free.scores, emb,
                         {**free.meta, "cues": cues, "reid_checkpoint": str(ckpt), "ms_per_box": ms})
    save_frames(cache, path)
    return cache


def tracking(caches: Dict[str, CachedFrames], dirs: Dict[str, Path], work: Path) -> dict:
    """{scene: {rule/cue: metrics}, "ceiling": ...} of every (rule, cue) of :data:`RULES` x
    :data:`CUES` at the rules' defaults on each scene (its own model's ``reid`` cue)."""
    from finetrack.studies.nested_loso import NestedStudy, candidates

    study = NestedStudy(caches, dirs, work, rules=RULES, cues=CUES)
    out = {}
    for scene in caches:
        row = {}
        for rule, cue, i in candidates(RULES, CUES):
            row[rule if cue is None else f"{rule}/{cue}"] = study.score((rule, cue, i), scene)
        row["ceiling"] = study.ceiling(scene)
        out[scene] = row
        logger.info("%s: %s", scene, {k: round(v["IDF1"], 1) for k, v in row.items()})
    return out


def markdown(retr: dict, track: Dict[str, dict], family: str) -> str:
    """Retrieval mAP and tracking IDF1 tables, one column per left-out scene."""
    scenes = list(retr["boxes"])
    keep = ["color", IMAGENET_ROW, "color+" + IMAGENET_ROW, MAPS_ROW, MAPS_ROW_LARGE, family,
            f"color+{family}",
            f"{IMAGENET_ROW}+{family}", f"color+{IMAGENET_ROW}+{family}"]
    lines = ["GT-box retrieval, protocol v2 (mAP %; the learned rows: the model trained without "
             "that scene)", "", "| features | " + " | ".join(scenes) + " | mean |",
             "|" + " --- |" * (len(scenes) + 2)]
    for name in keep:
        r = retr["rows"].get(name)
        if r is not None:
            lines.append(f"| {name} | " + " | ".join(f"{r[s]:.1f}" if s in r else "-" for s in scenes)
                         + f" | {r['mean']:.1f} |")
    if track:
        tscenes = list(track)
        keys = list(track[tscenes[0]])
        lines += ["", "Tracking, public detections, rules at their defaults (TrackEval IDF1; reid = "
                  "the model trained without that scene)", "",
                  "| rule / cue | " + " | ".join(tscenes) + " | mean | worst vs byte |",
                  "|" + " --- |" * (len(tscenes) + 3)]
        for k in keys:
            v = [track[s][k]["IDF1"] for s in tscenes]
            worst = min(a - track[s]["byte"]["IDF1"] for a, s in zip(v, tscenes))
            lines.append(f"| {k} | " + " | ".join(f"{x:.1f}" for x in v)
                         + f" | {np.mean(v):.2f} | {worst:+.1f} |")
    return "\n".join(lines) + "\n"


USAGE = """The paper's head on the ImageNet MobileNetV2 maps, leave-one-scene-out (issue 27 item 5).

    python scripts/pretrained_head.py [--data ../shared/data] [--out outputs/pretrained_head]
        [--models imagenet-head transfer] [--no-tracking]

Trains (or reuses) one model per left-out scene into OUT/models/<family>-<SCENE>/, scores GT-box
retrieval (protocol v2) and tracking (public detections, byte / finetrack / botsort at their
defaults) on the left-out scenes beside the training-free cues; writes OUT/<family>.json and .md.
"""


def main(argv=None) -> int:
    import argparse
    import os
    import subprocess
    import sys

    from finetrack.studies import imagenet_layer
    from finetrack.studies.cross_scene import PY, REPO, SCENES_ROOT, train_model
    from finetrack.studies.nested_loso import build_scene_cache
    from finetrack.studies.scenes import SHARED_SCENES, scene_dirs
    from finetrack.utils.io import atomic_write_text

    ap = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="the shared data root (read only)")
    ap.add_argument("--out", default="outputs/pretrained_head")
    ap.add_argument("--models", nargs="+", default=["imagenet-head"], choices=list(CONFIGS))
    ap.add_argument("--samples-per-s", type=float, default=1.5, help="retrieval: sampled frames / s")
    ap.add_argument("--no-tracking", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: shared cores)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("finetrack").setLevel(logging.WARNING)
    logger.setLevel(logging.INFO)
    scenes = list(SHARED_SCENES)
    try:
        dirs = scene_dirs(args.data, scenes)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    t_start, load0 = time.perf_counter(), os.getloadavg()
    if not (REPO / "datasets" / "synthetic" / "train" / "SYN-00").is_dir():
        subprocess.run([PY, str(REPO / "tools" / "make_synthetic.py"), "--out",
                        str(REPO / "datasets" / "synthetic")], check=True, cwd=REPO)
    subprocess.run([PY, str(REPO / "scripts" / "link_scenes.py"), "--shared", str(args.data),
                    "--out", str(SCENES_ROOT)], check=True, cwd=REPO)
    for family in args.models:
        t0 = time.perf_counter()
        ckpts = {}
        for name, spec in loso_specs(family, scenes, args.threads).items():
            ckpts[spec["left_out"]] = train_model(name, spec, out)
        trained_min = (time.perf_counter() - t0) / 60
        from finetrack.inference.embedder import Embedder

        t1 = time.perf_counter()
        retr = imagenet_layer.run(
            args.data, scenes, samples_per_s=args.samples_per_s, crop_sizes=((256, 128),),
            layers=(17,), poolings=("avg2",),
            extra={family: {s: Embedder.from_checkpoint(c) for s, c in ckpts.items()},
                   MAPS_ROW: dict.fromkeys(scenes, FrameMapEmbedder()),
                   MAPS_ROW_LARGE: dict.fromkeys(scenes, FrameMapEmbedder((608, 1088)))})
        retr_min = (time.perf_counter() - t1) / 60
        track, track_min = {}, 0.0
        if not args.no_tracking:
            t2 = time.perf_counter()
            caches = {}
            for s, d in dirs.items():
                free = build_scene_cache(d, out / "cache" / "free" / f"{s}.npz")
                caches[s] = add_reid(free, d, ckpts[s], out / "cache" / family / f"{s}.npz")
            track = tracking(caches, dirs, out / "track" / family)
            track_min = (time.perf_counter() - t2) / 60
        md = markdown(retr, track, family)
        res = {"family": family, "config": CONFIGS[family], "checkpoints": {s: str(c) for s, c in ckpts.items()},
               "retrieval": retr, "tracking": track, "minutes": {
                   "training (or reuse)": trained_min, "retrieval": retr_min, "tracking": track_min},
               "load_start": load0, "load_end": os.getloadavg()}
        atomic_write_text(out / f"{family}.json", json.dumps(res, indent=1))
        atomic_write_text(out / f"{family}.md", md)
        print(md)
        print(f"({(time.perf_counter() - t_start) / 60:.1f} min; load {load0[0]:.1f} -> "
              f"{os.getloadavg()[0]:.1f}) wrote {out / (family + '.md')}")
    return 0
