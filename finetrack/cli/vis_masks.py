"""Show what each MPMG branch attends to (the paper's Fig. 5): crops with their masks overlaid.

    finetrack vis-masks --ckpt outputs/pets09/best.pth \
        --seq ../shared/data/MOT15/train/PETS09-S2L1 --frames 400 500 --out outputs/pets09/masks

For every chosen frame one PNG ``<seq>_<frame>.png``: one row per GT box (up to --max-crops),
columns = the crop, the global mask, then the K part masks, each as a JET heat map blended over the
crop (blue = 0, red = 1). The model is rebuilt from the checkpoint alone; GT rows are filtered as
in training (class 1, flag != 0, visibility >= 0.1).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Sequence

import cv2
import numpy as np
import torch

from finetrack.cli import common
from finetrack.data.identities import GTFilter
from finetrack.data.mot import MOTSequence
from finetrack.utils.io import atomic_write_bytes

logger = logging.getLogger("finetrack.tools.vis_masks")

#: Size (H, W) of every tile of the grid, in pixels.
TILE_SIZE = (128, 64)
#: Weight of the heat map in the blend (the crop gets 1 - this).
HEAT_ALPHA = 0.5
LABEL_HEIGHT = 14


def parse_args(argv=None) -> argparse.Namespace:
    p = common.parser(
        "finetrack vis-masks", __doc__,
        "  finetrack vis-masks --ckpt outputs/pets09/best.pth --seq ../shared/data/MOT15/train/"
        "PETS09-S2L1 --frames 400 --out outputs/pets09/masks",
    )
    p.add_argument("--ckpt", required=True, type=Path, help="Re-ID checkpoint (best.pth)")
    p.add_argument("--seq", required=True, type=Path, help="sequence directory (MOT layout)")
    p.add_argument(
        "--frames",
        type=int,
        nargs="+",
        default=None,
        help="1-based frames (default: 3 frames spread over the sequence)",
    )
    p.add_argument("--max-crops", type=int, default=8, help="boxes per frame")
    p.add_argument("--out", type=Path, required=True, help="output folder for the PNGs")
    common.add_verbose(p)
    return p.parse_args(argv)


def heat_overlay(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend a JET heat map of ``mask`` (h, w) in [0, 1] over ``crop`` (H, W, 3) uint8 BGR."""
    m = cv2.resize(
        mask.astype(np.float32), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    heat = cv2.applyColorMap(np.clip(m * 255.0, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(crop, 1.0 - HEAT_ALPHA, heat, HEAT_ALPHA, 0.0)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (2, LABEL_HEIGHT - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
    return np.vstack([bar, tile])


def mask_grid(
    crops: Sequence[np.ndarray],
    global_masks: np.ndarray,
    part_masks: np.ndarray,
    ids: Sequence[int],
) -> np.ndarray:
    """Rows of [crop | global | part 1..K] tiles.

    Args:
        crops: N (H, W, 3) uint8 crops already resized to :data:`TILE_SIZE`.
        global_masks: (N, h, w) in [0, 1]. part_masks: (N, K, h, w) in [0, 1].
        ids: N track ids (row labels).
    """
    rows = []
    for i, crop in enumerate(crops):
        tiles = [
            _label(crop, f"id {ids[i]}"),
            _label(heat_overlay(crop, global_masks[i]), "global"),
        ]
        for k in range(part_masks.shape[1]):
            tiles.append(_label(heat_overlay(crop, part_masks[i, k]), f"part {k + 1}"))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose)
    from finetrack.utils.checkpoint import load_checkpoint
    from finetrack.models.build import model_from_checkpoint

    obj = load_checkpoint(args.ckpt)
    model = model_from_checkpoint(args.ckpt, obj=obj).eval()
    seq = MOTSequence(args.seq)
    data = (obj.get("config") or {}).get("data", {})  # the GT filter the model was trained with
    gt = GTFilter.of(data).apply(seq.gt())
    frames: List[int] = args.frames or [int(f) for f in np.linspace(1, len(seq), 5)[1:4]]
    if model.head.num_parts == 0:
        logger.warning(
            "this checkpoint pools without parts (%s): only the global mask is shown",
            model.head.pooling,
        )
    written = []
    for frame in frames:
        ann = gt.for_frame(frame)
        if len(ann) == 0:
            logger.warning("%s frame %d has no GT box: skipped", seq.name, frame)
            continue
        order = np.argsort(ann.ids)[: args.max_crops]
        boxes = ann.xyxy()[order]
        img = seq.read_frame(frame)
        image, ratio = model.detector.preprocess(img)
        with torch.no_grad():
            out = model(image[None], [torch.as_tensor(boxes * ratio, dtype=torch.float32)])
        crops = []
        h_img, w_img = img.shape[:2]
        for x1, y1, x2, y2 in boxes:
            x1, y1 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            x2, y2 = int(min(w_img, np.ceil(x2))), int(min(h_img, np.ceil(y2)))
            crop = img[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)]
            crops.append(cv2.resize(crop, (TILE_SIZE[1], TILE_SIZE[0])))
        grid = mask_grid(
            crops,
            out["global_mask"][:, 0].numpy(),
            out["part_masks"].numpy(),
            ann.ids[order].tolist(),
        )
        ok, png = cv2.imencode(".png", grid)
        if not ok:
            raise RuntimeError("PNG encoding failed")
        path = args.out / f"{seq.name}_{frame:06d}.png"
        atomic_write_bytes(path, png.tobytes())
        logger.info("wrote %s (%d crops)", path, len(crops))
        written.append(path)
    common.print_files(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
