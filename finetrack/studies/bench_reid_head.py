#!/usr/bin/env python
"""Time FineTrack's Re-ID head per frame for the Table 4 variants, side by side in one process.

Variants: ``fpn_gap`` (baseline), ``fafpn_gap``, ``fpn_mpmg`` and ``fafpn_mpmg`` (FineTrack), each
in its training form and in its inference form (``+fused``: :meth:`ReIDHead.fuse`, BN folded,
the K MPMG branches in one attention call, channels_last), plus ``crop_osnet``: a separate crop
Re-ID network, torchreid's OSNet-x0.25 (random init, no download) on 256x128 crops, timed from
the BGR frame with crop, resize and normalisation included (skipped with a note when torchreid
is not installed: ``pip install --no-deps torchreid==0.2.5``, a bench-only dependency).

Model settings: SPEC defaults (C = 128, K = 6, 256 + 6 x 128 embedding, ROIAlign 32x16/16x8/8x4
at strides 4/8/16 on YOLOX-s maps of a 608x1088 frame), or with ``-c CONFIG`` the config's
``model`` section (detector variant and input size, ROI sizes, channels, parts, dims); the
config's own neck + pooling is then marked ``(config)``. Inputs: random backbone-shaped maps
(``--features random``, default) or the real backbone maps (random-init or
``--detector-checkpoint`` weights) of a real frame (``--features real``). Boxes: random
pedestrian-shaped boxes (height 40-300 px scaled to the input, w/h 0.35-0.5), the same for every
variant. Only the Re-ID forward is timed (inference mode, eval), variants interleaved within
every repeat so that load changes on a shared machine hit all of them alike; the median over
repeats is reported, with the load average before and after. FLOPs come from
``torch.utils.flop_counter`` (conv / linear / matmul and MPMG's attention; ROIAlign,
grid_sample, BN, element-wise ops and the crop network's resizing are not counted).

Usage:
    python scripts/bench_reid_head.py [-c CONFIG] [--boxes 10 50 200] [--repeats 5] [--json OUT]
        [--features random|real] [--variant s] [--image PATH] [--threads N] [--no-crop]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from finetrack.models.build import build_reid_head
from finetrack.crop_reid.model import load_torchreid_osnet
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]

logger = logging.getLogger("bench_reid_head")

#: Table 4 variants: name -> (neck, pooling).
VARIANTS: Dict[str, Tuple[str, str]] = {
    "fpn_gap": ("fpn", "gap"),
    "fafpn_gap": ("fafpn", "gap"),
    "fpn_mpmg": ("fpn", "mpmg"),
    "fafpn_mpmg": ("fafpn", "mpmg"),
}
BASELINE = "fpn_gap"
CROP = "crop_osnet"
FRAME_HW = (608, 1088)  # ByteTrack's YOLOX-s MOT input
YOLOX_S_CHANNELS = (64, 128, 256)  # CSPDarknet dark2/3/4 at width 0.5
STRIDES = (4, 8, 16)
BOX_HEIGHT_RANGE = (40.0, 300.0)  # at FRAME_HW; scaled with the input height
BOX_ASPECT_RANGE = (0.35, 0.5)
CROP_HW = (256, 128)  # torchreid's OSNet input
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "MOT15" / "train" / "PETS09-S2L1" / "img1"


def random_boxes(
    n: int, frame_hw: Tuple[int, int], gen: torch.Generator, scale: float = 1.0
) -> torch.Tensor:
    """(n, 4) xyxy pedestrian-shaped boxes fully inside a (H, W) frame (heights x ``scale``)."""
    lo_h, hi_h = (v * scale for v in BOX_HEIGHT_RANGE)
    hi_h = min(hi_h, frame_hw[0] - 1.0)
    h = lo_h + torch.rand(n, generator=gen) * (hi_h - lo_h)
    lo, hi = BOX_ASPECT_RANGE
    w = h * (lo + torch.rand(n, generator=gen) * (hi - lo))
    x1 = torch.rand(n, generator=gen) * (frame_hw[1] - w)
    y1 = torch.rand(n, generator=gen) * (frame_hw[0] - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=1)


class CropReID:
    """A separate crop Re-ID network: crop every box from the BGR frame, resize, normalise, embed.

    Args:
        net: (B, 3, 256, 128) ImageNet-normalised RGB -> (B, D) (eval mode).
        crop_hw: crop (H, W).
    """

    MEAN = np.array([0.485, 0.456, 0.406], np.float32)
    STD = np.array([0.229, 0.224, 0.225], np.float32)

    def __init__(self, net: torch.nn.Module, crop_hw: Tuple[int, int] = CROP_HW) -> None:
        self.net = net.eval()
        self.crop_hw = crop_hw

    def batch(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> torch.Tensor:
        """(N, 3, H, W) float32 crops of ``xyxy`` (original pixels, clipped to the frame)."""
        import cv2

        h_img, w_img = image_bgr.shape[:2]
        out = np.empty((len(xyxy), self.crop_hw[0], self.crop_hw[1], 3), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy, np.float64)):
            x1, y1 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            x2, y2 = int(min(w_img, np.ceil(x2))), int(min(h_img, np.ceil(y2)))
            crop = image_bgr[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
            crop = cv2.resize(crop, (self.crop_hw[1], self.crop_hw[0]),
                              interpolation=cv2.INTER_LINEAR)
            out[i] = crop[:, :, ::-1]
        out = (out / 255.0 - self.MEAN) / self.STD
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()

    def __call__(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> torch.Tensor:
        """(N, D) embeddings of the boxes."""
        return self.net(self.batch(image_bgr, xyxy))


def model_settings(config: Optional[str]) -> dict:
    """Head keywords + detector settings from ``-c CONFIG`` (None: SPEC / YOLOX-s defaults)."""
    if config is None:
        return {"variant": "s", "input_size": FRAME_HW, "head": {}, "own": None,
                "levels": ("dark2", "dark3", "dark4")}
    from finetrack.config import Config
    from finetrack.configlib import freeze, load_config
    from finetrack.engine.reid_build import model_kwargs

    cfg = freeze(load_config(Config, config, []))
    kw = model_kwargs(cfg, 0)
    head = dict(kw["reid_head"])
    own = (head.pop("neck"), head.pop("pooling"))
    return {"variant": kw["detector"]["variant"], "input_size": tuple(kw["detector"]["input_size"]),
            "head": head, "own": own, "levels": tuple(kw["detector"]["feature_levels"])}


def load_frame(args: argparse.Namespace, frame_hw: Tuple[int, int]) -> Tuple[np.ndarray, str]:
    """The BGR frame the crop network reads (and the real features come from)."""
    import cv2

    path = Path(args.image) if args.image else DEFAULT_IMAGE / "000001.jpg"
    img = cv2.imread(str(path)) if path.is_file() else None
    if img is None:
        if args.image or args.features == "real":
            raise SystemExit(f"cannot read image {path}")
        rng = np.random.default_rng(args.seed)
        return rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8), "random frame"
    return img, path.name


def backbone_features(
    args: argparse.Namespace, settings: dict, image: np.ndarray, gen: torch.Generator
) -> Tuple[List[torch.Tensor], Sequence[int], Sequence[int], str]:
    """``(maps, channels, strides, note)`` of the frame, random or from the real backbone."""
    from finetrack.models.detector import build_detector

    variant = settings["variant"] if args.config else args.variant
    det = build_detector(variant, input_size=settings["input_size"],
                         feature_levels=settings["levels"]).eval()
    hw = det.input_size
    if args.features == "random":
        feats = [torch.randn(1, c, hw[0] // s, hw[1] // s, generator=gen)
                 for c, s in zip(det.feature_channels, det.feature_strides)]
        note = (f"random YOLOX-{variant}-shaped maps ({'/'.join(map(str, det.feature_channels))} "
                f"ch) of a {hw[0]}x{hw[1]} input")
        return feats, det.feature_channels, det.feature_strides, note
    if args.detector_checkpoint:
        det.load_checkpoint(args.detector_checkpoint)
    tensor, _ = det.preprocess(image)
    with torch.inference_mode():
        start = time.perf_counter()
        feats = det.features(tensor[None])
        backbone_ms = (time.perf_counter() - start) * 1e3
    note = f"real YOLOX-{variant} backbone maps at {hw[0]}x{hw[1]} (backbone {backbone_ms:.0f} ms)"
    return feats, det.feature_channels, det.feature_strides, note


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call (2 per multiply-add), attention included."""
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
            fn()
    return int(counter.get_total_flops())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default=None,
                        help="take the model settings (detector, input, head) from this config")
    parser.add_argument("--boxes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per (variant, boxes)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json", type=str, default=None,
                        help="write {variant: {boxes: ms per frame}} and the run's settings")
    parser.add_argument("--features", choices=("random", "real"), default="random")
    parser.add_argument("--variant", default="s", help="YOLOX variant without -c")
    parser.add_argument("--image", default=None, help="frame for the crop network / real maps")
    parser.add_argument("--detector-checkpoint", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--no-crop", action="store_true", help="skip the crop_osnet baseline")
    parser.add_argument("--only-config", action="store_true",
                        help="with -c: time only the config's own head (and its fused form)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)

    settings = model_settings(args.config)
    input_hw = tuple(settings["input_size"])
    image, image_note = load_frame(args, input_hw)
    feats, channels, strides, note = backbone_features(args, settings, image, gen)
    ratio = min(input_hw[0] / image.shape[0], input_hw[1] / image.shape[1])
    box_scale = input_hw[0] / FRAME_HW[0]
    boxes = {n: [random_boxes(n, input_hw, gen, box_scale)] for n in args.boxes}

    variants = dict(VARIANTS)
    if settings["own"] is not None and args.only_config:
        variants = {k: v for k, v in variants.items() if v == settings["own"]}
    runs: Dict[str, Callable[[int], object]] = {}
    params: Dict[str, int] = {}
    labels: Dict[str, str] = {}
    for name, (neck, pooling) in variants.items():
        for fused in (False, True):
            torch.manual_seed(args.seed)
            head = build_reid_head(in_channels=channels, strides=strides, neck=neck,
                                   pooling=pooling, **settings["head"]).eval()
            if fused:
                head.fuse()
            key = name + ("+fused" if fused else "")
            runs[key] = lambda n, h=head: h(feats, boxes[n])
            params[key] = sum(p.numel() for p in head.parameters())
            own = settings["own"] == (neck, pooling)
            labels[key] = key + (" (config)" if own else "") + (
                " (FineTrack)" if name == "fafpn_mpmg" and not fused else "")
    crop_note = ""
    if not args.no_crop:
        builder = load_torchreid_osnet()
        if builder is None:
            crop_note = ("crop_osnet skipped: torchreid is not installed "
                         "(pip install --no-deps torchreid==0.2.5)")
        else:
            torch.manual_seed(args.seed)
            crop = CropReID(builder(num_classes=1, pretrained=False, loss="softmax"))
            orig = {n: (b[0].numpy() / ratio) for n, b in boxes.items()}
            runs[CROP] = lambda n: crop(image, orig[n])
            params[CROP] = sum(p.numel() for p in crop.net.parameters())
            labels[CROP] = f"{CROP} (OSNet-x0.25, {CROP_HW[0]}x{CROP_HW[1]} crops, crop+resize)"
    flops = {name: {n: count_flops(lambda: fn(n)) for n in args.boxes} for name, fn in runs.items()}

    load_before = os.getloadavg()
    times: Dict[str, Dict[int, List[float]]] = {name: {n: [] for n in args.boxes} for name in runs}
    with torch.inference_mode():
        for n in args.boxes:
            for rep in range(args.warmup + args.repeats):
                for name, fn in runs.items():
                    start = time.perf_counter()
                    fn(n)
                    elapsed = (time.perf_counter() - start) * 1e3
                    if rep >= args.warmup:
                        times[name][n].append(elapsed)
    load_after = os.getloadavg()
    median = {name: {n: statistics.median(v) for n, v in d.items()} for name, d in times.items()}

    cfg_note = f"-c {args.config}" if args.config else "SPEC defaults"
    print(f"\nRe-ID per frame, ms (median of {args.repeats}; ratio to {BASELINE}; ms per box); "
          f"{cfg_note}; {note}; crops from {image_note}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after (2 cores)\n")
    if crop_note:
        print(crop_note + "\n")
    header = "| variant | params (M) | " + " | ".join(
        f"{n} boxes: ms (x) | ms/box | GFLOPs" for n in args.boxes) + " |"
    print(header)
    print("|" + " --- |" * (2 + 3 * len(args.boxes)))
    base = BASELINE if BASELINE in median else next(iter(median))
    for name in runs:
        cells = []
        for n in args.boxes:
            ratio_n = median[name][n] / median[base][n]
            cells.append(f"{median[name][n]:.1f} ({ratio_n:.2f}x) | {median[name][n] / n:.2f} | "
                         f"{flops[name][n] / 1e9:.2f}")
        print(f"| {labels[name]} | {params[name] / 1e6:.2f} | " + " | ".join(cells) + " |")
    if args.json:
        payload = {
            "ms_per_frame": {name: {str(n): round(v, 3) for n, v in d.items()}
                             for name, d in median.items()},
            "gflops": {name: {str(n): round(v / 1e9, 4) for n, v in d.items()}
                       for name, d in flops.items()},
            "config": args.config, "features": note, "threads": torch.get_num_threads(),
            "repeats": args.repeats, "load_average": [load_before[0], load_after[0]],
        }
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
        logger.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
