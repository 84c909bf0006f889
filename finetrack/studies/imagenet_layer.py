"""Which MobileNetV2 layer, pooling and crop size make the ``imagenet`` cue: GT-box retrieval.

For each shared scene, the GT boxes (the training filter, :class:`finetrack.data.mot.GTFilter`)
of frames sampled ``samples_per_s`` times a second are embedded with every candidate
(layer, pooling) at every crop size from one forward pass per crop size
(:meth:`finetrack.inference.imagenet.ImageNetEmbedder.taps`), beside the colour histogram and
colour+imagenet (each L2-normalised, concatenated). Retrieval is protocol v2 of
:func:`finetrack.eval.reid_metrics.evaluate_reid`: queries every ``query_every``-th sampled frame,
gallery entries within +-1 s of the query excluded, mAP per scene; the candidates are ranked by
the mean mAP over the scenes. Tracking is not looked at (the nested study scores tracking).
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from finetrack.data.identities import GTFilter
from finetrack.data.mot import MOTSequence
from finetrack.inference.color import ColorHistogramEmbedder
from finetrack.inference.imagenet import POOLINGS, ImageNetEmbedder
from finetrack.studies.scenes import scene_dirs

#: candidate layers (torchvision ``features`` index: 13 stride 16, 17 and 18 stride 32)
LAYERS = (13, 17, 18)
CROP_SIZES = ((256, 128), (128, 64))


def l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def scene_boxes(seq: MOTSequence, samples_per_s: float) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
    """{frame: (xyxy (n, 4), ids (n,))} of the GT boxes on frames sampled ``samples_per_s``/s."""
    step = max(1, int(round(seq.info.frame_rate / samples_per_s)))
    gt = GTFilter().apply(seq.gt())
    out = {}
    for f in range(1, len(seq) + 1, step):
        ann = gt.for_frame(f)
        if len(ann):
            out[f] = (ann.xyxy(), ann.ids.copy())
    return out


def run(data_root, scenes: Sequence[str] = None, samples_per_s: float = 2.5, query_every: int = 5,
        crop_sizes=CROP_SIZES, layers=LAYERS, poolings=POOLINGS,
        extra: Optional[Dict[str, Dict[str, Callable]]] = None) -> dict:
    """Retrieval mAP (%) per candidate and scene.

    Args:
        extra: other features on the same boxes, ``{name: {scene: embedder}}`` with
            ``embedder(image_bgr, xyxy) -> (n, D)`` (e.g. a Re-ID model trained without that
            scene: :mod:`finetrack.studies.pretrained_head`); each gives the rows ``name``,
            ``color+name`` and, for every imagenet candidate ``I``, ``I+name`` (each part
            L2-normalised, concatenated). A scene missing from ``{scene: embedder}`` has no such
            rows' score (the means then cover the scenes it has).

    Returns:
        ``{"rows": {name: {scene: mAP, "mean": mAP}}, "boxes": {scene: n}, "ms_per_box":
        {name: ms}, "seconds": s}``; ``name`` is ``imagenet L<layer> <pooling> <H>x<W>``,
        ``color`` or ``color+imagenet ...`` (the latter for each imagenet candidate).
    """
    from finetrack.eval.reid_metrics import evaluate_reid

    t_start = time.perf_counter()
    dirs = scene_dirs(data_root, scenes)
    options = [(layer, p) for layer in layers for p in poolings]
    color = ColorHistogramEmbedder()
    embedders = {hw: ImageNetEmbedder(layer=max(layers), crop_hw=hw) for hw in crop_sizes}
    rows: Dict[str, Dict[str, float]] = {}
    n_boxes: Dict[str, int] = {}
    spent: Dict[str, float] = {}
    for scene, d in dirs.items():
        seq = MOTSequence(d)
        boxes = scene_boxes(seq, samples_per_s)
        feats: Dict[str, List[np.ndarray]] = {}
        frames, ids = [], []
        for f, (xyxy, tid) in boxes.items():
            image = seq.read_frame(f)
            t0 = time.perf_counter()
            feats.setdefault("color", []).append(color(image, xyxy))
            spent["color"] = spent.get("color", 0.0) + time.perf_counter() - t0
            for hw, emb in embedders.items():
                t0 = time.perf_counter()
                for (layer, p), v in emb.taps(image, xyxy, options).items():
                    feats.setdefault(f"imagenet L{layer} {p} {hw[0]}x{hw[1]}", []).append(v)
                spent[f"imagenet {hw[0]}x{hw[1]}"] = (spent.get(f"imagenet {hw[0]}x{hw[1]}", 0.0)
                                                      + time.perf_counter() - t0)
            for name, per_scene in (extra or {}).items():
                if scene in per_scene:
                    t0 = time.perf_counter()
                    feats.setdefault(name, []).append(np.asarray(per_scene[scene](image, xyxy)))
                    spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
            frames.append(np.full(len(tid), f))
            ids.append(tid)
        frames, ids = np.concatenate(frames), np.concatenate(ids)
        n_boxes[scene] = int(len(ids))
        window = int(round(seq.info.frame_rate))  # +-1 s
        step = max(1, int(round(seq.info.frame_rate / samples_per_s)))
        stacked = {k: np.concatenate(v) for k, v in feats.items()}
        imagenet_keys = [k for k in stacked if k.startswith("imagenet")]
        for k in imagenet_keys:
            stacked["color+" + k] = l2(np.concatenate([stacked["color"], stacked[k]], axis=1))
        for name in extra or {}:
            if name in stacked:
                own = l2(stacked[name])
                for k in ["color"] + imagenet_keys:
                    stacked[f"{k}+{name}"] = l2(np.concatenate([stacked[k], own], axis=1))
        for name, emb in stacked.items():
            res = evaluate_reid(emb, np.zeros(len(ids)), frames, ids, query_every=query_every * step,
                                exclude_frames=window)
            rows.setdefault(name, {})[scene] = 100.0 * res.mAP
    for r in rows.values():
        r["mean"] = float(np.mean([r[s] for s in dirs if s in r]))
    total = sum(n_boxes.values())
    ms = {k: 1000.0 * v / sum(n for s, n in n_boxes.items() if s in extra[k])
          if k in (extra or {}) else 1000.0 * v / total for k, v in spent.items()}
    return {"rows": rows, "boxes": n_boxes, "ms_per_box": ms, "samples_per_s": samples_per_s,
            "query_every": query_every, "seconds": time.perf_counter() - t_start}


def markdown(result: dict) -> str:
    """The candidates sorted by mean mAP, one column per scene."""
    scenes = list(result["boxes"])
    lines = ["| features | " + " | ".join(scenes) + " | mean mAP |",
             "|" + " --- |" * (len(scenes) + 2)]
    for name, r in sorted(result["rows"].items(), key=lambda kv: -kv[1]["mean"]):
        lines.append(f"| {name} | " + " | ".join(f"{r[s]:.1f}" if s in r else "-" for s in scenes)
                     + f" | {r['mean']:.1f} |")
    lines.append("")
    lines.append("boxes: " + ", ".join(f"{s} {n}" for s, n in result["boxes"].items())
                 + " | ms per box (one forward for all taps): "
                 + ", ".join(f"{k} {v:.1f}" for k, v in result["ms_per_box"].items()))
    return "\n".join(lines) + "\n"


USAGE = """Choose the ``imagenet`` cue's MobileNetV2 layer, pooling and crop size by GT-box retrieval on
the shared scenes (finetrack/studies/imagenet_layer.py).

    python scripts/imagenet_layer.py [--data ../shared/data] [--json FILE]

Prints a markdown table of mean mAP (protocol v2: +-1 s excluded) per candidate.
"""


def main(argv=None) -> int:
    import argparse
    import json
    import sys
    from finetrack.utils.io import atomic_write_text

    ap = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="the shared data root")
    ap.add_argument("--json", default=None, help="also write the result here")
    ap.add_argument("--samples-per-s", type=float, default=2.5)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: shared cores)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    try:
        res = run(args.data, samples_per_s=args.samples_per_s)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown(res))
    print(f"({res['seconds'] / 60:.1f} min)")
    if args.json:
        atomic_write_text(args.json, json.dumps(res, indent=1))
    return 0
