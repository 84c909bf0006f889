#!/usr/bin/env python
"""Time FineTrack's Re-ID head per frame for the Table 4 variants, side by side in one process.

Variants: ``fpn_gap`` (baseline), ``fafpn_gap``, ``fpn_mpmg`` and ``fafpn_mpmg`` (FineTrack), all
with SPEC defaults (C = 128, K = 6, 256 + 6 x 128 embedding, ROIAlign 32x16/16x8/8x4 at strides
4/8/16). Inputs: random backbone maps shaped like YOLOX-s on a 608x1088 frame (``--features
random``, default) or the real backbone maps of ``--variant`` on a real frame (``--features real``;
random-init weights unless ``--detector-checkpoint``). Boxes: random pedestrian-shaped boxes
(height 40-300 px, w/h 0.35-0.5) inside the frame, the same for every variant. Only the head's
forward is timed (inference mode, eval), variants interleaved within every repeat so that load
changes on a shared machine hit all of them alike; the median over repeats is reported.
Parameters are counted per head; FLOPs come from ``torch.utils.flop_counter`` (conv / linear /
matmul, plus the attention of MPMG, which the CPU counter does not see by itself; ROIAlign,
grid_sample, BN and element-wise ops are not counted).

Usage:
    python scripts/bench_reid_head.py [--boxes 10 50 200] [--repeats 5] [--json OUT]
        [--features random|real] [--variant s] [--image PATH] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from finetrack.models.build import build_reid_head  # noqa: E402
from finetrack.utils.io import atomic_write_text  # noqa: E402

logger = logging.getLogger("bench_reid_head")

#: Table 4 variants: name -> (neck, pooling).
VARIANTS: Dict[str, Tuple[str, str]] = {
    "fpn_gap": ("fpn", "gap"),
    "fafpn_gap": ("fafpn", "gap"),
    "fpn_mpmg": ("fpn", "mpmg"),
    "fafpn_mpmg": ("fafpn", "mpmg"),
}
BASELINE = "fpn_gap"
FRAME_HW = (608, 1088)  # ByteTrack's YOLOX-s MOT input
YOLOX_S_CHANNELS = (64, 128, 256)  # CSPDarknet dark2/3/4 at width 0.5
STRIDES = (4, 8, 16)
BOX_HEIGHT_RANGE = (40.0, 300.0)
BOX_ASPECT_RANGE = (0.35, 0.5)
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "MOT15" / "train" / "PETS09-S2L1" / "img1"


def random_boxes(n: int, frame_hw: Tuple[int, int], gen: torch.Generator) -> torch.Tensor:
    """(n, 4) xyxy pedestrian-shaped boxes fully inside a (H, W) frame."""
    h = BOX_HEIGHT_RANGE[0] + torch.rand(n, generator=gen) * (
        BOX_HEIGHT_RANGE[1] - BOX_HEIGHT_RANGE[0]
    )
    lo, hi = BOX_ASPECT_RANGE
    w = h * (lo + torch.rand(n, generator=gen) * (hi - lo))
    x1 = torch.rand(n, generator=gen) * (frame_hw[1] - w)
    y1 = torch.rand(n, generator=gen) * (frame_hw[0] - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=1)


def random_features(gen: torch.Generator) -> Tuple[List[torch.Tensor], Sequence[int]]:
    """YOLOX-s-like dark2/3/4 maps of one 608x1088 frame."""
    feats = [
        torch.randn(1, c, FRAME_HW[0] // s, FRAME_HW[1] // s, generator=gen)
        for c, s in zip(YOLOX_S_CHANNELS, STRIDES)
    ]
    return feats, YOLOX_S_CHANNELS


def real_features(args: argparse.Namespace) -> Tuple[List[torch.Tensor], Sequence[int], str]:
    """Backbone maps of ``args.variant`` on a real frame (letterboxed to 608x1088)."""
    import cv2

    from finetrack.models.detector import build_detector

    det = build_detector(args.variant, input_size=FRAME_HW).eval()
    if args.detector_checkpoint:
        det.load_checkpoint(args.detector_checkpoint)
    path = Path(args.image) if args.image else DEFAULT_IMAGE / "000001.jpg"
    img = cv2.imread(str(path))
    if img is None:
        raise SystemExit(f"cannot read image {path}")
    tensor, _ = det.preprocess(img)
    with torch.inference_mode():
        start = time.perf_counter()
        feats = det.features(tensor[None])
        backbone_ms = (time.perf_counter() - start) * 1e3
    note = f"real YOLOX-{args.variant} backbone maps of {path.name} (backbone {backbone_ms:.0f} ms)"
    return feats, det.feature_channels, note


def count_flops(head: torch.nn.Module, feats, boxes) -> int:
    """FLOPs of one forward (2 per multiply-add), attention included."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def _sdpa(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
        as4 = [tuple([1] * (4 - len(s)) + list(s)) for s in (q_shape, k_shape, v_shape)]
        return sdpa_flop_count(*as4)

    mapping = {}
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is not None:
        mapping[op] = _sdpa
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        with torch.inference_mode():
            head(feats, boxes)
    return int(counter.get_total_flops())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per (variant, boxes)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json", type=str, default=None, help="write {variant: {boxes: ms}}")
    parser.add_argument("--features", choices=("random", "real"), default="random")
    parser.add_argument("--variant", default="s", help="YOLOX variant for --features real")
    parser.add_argument("--image", default=None, help="frame for --features real")
    parser.add_argument("--detector-checkpoint", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)

    if args.features == "real":
        feats, channels, note = real_features(args)
    else:
        feats, channels = random_features(gen)
        note = "random YOLOX-s-shaped dark2/3/4 maps (64/128/256 ch) of a 608x1088 frame"
    boxes = {n: [random_boxes(n, FRAME_HW, gen)] for n in args.boxes}

    heads = {}
    for name, (neck, pooling) in VARIANTS.items():
        torch.manual_seed(args.seed)
        heads[name] = build_reid_head(
            in_channels=channels, strides=STRIDES, neck=neck, pooling=pooling
        ).eval()
    params = {name: sum(p.numel() for p in h.parameters()) for name, h in heads.items()}
    flops = {
        name: {n: count_flops(h, feats, boxes[n]) for n in args.boxes} for name, h in heads.items()
    }

    times: Dict[str, Dict[int, List[float]]] = {name: {n: [] for n in args.boxes} for name in heads}
    with torch.inference_mode():
        for n in args.boxes:
            for rep in range(args.warmup + args.repeats):
                for name, head in heads.items():
                    start = time.perf_counter()
                    head(feats, boxes[n])
                    elapsed = (time.perf_counter() - start) * 1e3
                    if rep >= args.warmup:
                        times[name][n].append(elapsed)
    median = {name: {n: statistics.median(v) for n, v in d.items()} for name, d in times.items()}

    print(f"\nRe-ID head, ms per frame (median of {args.repeats}; ratio to {BASELINE}); {note}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    header = "| variant | params (M) | " + " | ".join(
        f"{n} boxes: ms (x) | GFLOPs" for n in args.boxes
    ) + " |"
    print(header)
    print("|" + " --- |" * (2 + 2 * len(args.boxes)))
    for name in heads:
        cells = []
        for n in args.boxes:
            ratio = median[name][n] / median[BASELINE][n]
            cells.append(f"{median[name][n]:.1f} ({ratio:.2f}x) | {flops[name][n] / 1e9:.1f}")
        print(f"| {name} | {params[name] / 1e6:.2f} | " + " | ".join(cells) + " |")
    if args.json:
        payload = {name: {str(n): round(v, 3) for n, v in d.items()} for name, d in median.items()}
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
        logger.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
