"""Export a checkpoint's detector and Re-ID head as ONNX (onnxruntime-ready), and check them.

    finetrack export --ckpt CKPT --out DIR [--image FRAME] [--opset 17]

CKPT is a `finetrack train-reid` best.pth (detector + Re-ID head: DIR/detector.onnx and
DIR/reid_head.onnx) or a detector checkpoint (`finetrack train-det` best.pth, ByteTrack's weights:
DIR/detector.onnx only). detector.onnx: letterboxed, normalised images (1, 3, H, W) -> YOLOX's raw
decoded output + the backbone maps feat0.. of the Re-ID levels (NMS stays outside). reid_head.onnx:
feat0.. + boxes (N, 4) xyxy in network-input pixels -> embedding (N, D); ROIAlign is ONNX's
RoiAlign. DIR/export.json records the input size, strides, thresholds and embedding width. After
writing, both graphs are run by onnxruntime on a frame (--image, or a synthetic one) next to
PyTorch and the largest differences are printed (embeddings: absolute; backbone maps and raw
output boxes: relative to their magnitude; scores: absolute); above --tolerance the command fails (exit 3).
Bad input: one line on stderr, exit 2 (--debug: traceback).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from finetrack.cli import common

EXAMPLE = """\
  finetrack export --ckpt outputs/pets09_frozen_det/best.pth --out outputs/onnx_pets09
  finetrack export --ckpt outputs/det_pets09/best.pth --out outputs/onnx_det \\
      --image ../shared/data/MOT15/train/PETS09-S2L1/img1/000001.jpg
"""
#: Exit code when the exported graphs disagree with PyTorch.
EXIT_MISMATCH = 3


def parse_args(argv=None):
    p = common.parser("finetrack export", __doc__, EXAMPLE)
    p.add_argument("--ckpt", required=True, type=Path,
                   help="train-reid best.pth (detector + head) or a detector checkpoint")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("-c", "--config", default=None,
                   help="config for a detector checkpoint that records no variant/input size")
    p.add_argument("--image", type=Path, default=None,
                   help="frame for the parity check (default: a synthetic frame)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |onnx - torch| (default 1e-4)")
    common.add_verbose(p)
    return p.parse_args(argv)


def load_model(ckpt: Path, config=None):
    """``(model, kind)``: a FineTrackModel (``"finetrack"``) or a YOLOXDetector (``"detector"``)."""
    from finetrack.utils.checkpoint import load_checkpoint

    obj = load_checkpoint(ckpt)
    if isinstance(obj, dict) and "model_args" in obj:
        from finetrack.models.build import model_from_checkpoint

        model = model_from_checkpoint(ckpt, obj=obj).eval()
        if not getattr(model.detector, "has_detection_head", True):
            raise ValueError(f"{ckpt}: its backbone ({model.detector.name}) has no detection "
                             "head; finetrack export writes a detector's graphs (track this "
                             "checkpoint with --det public in PyTorch)")
        return model, "finetrack"
    from finetrack.config import Config
    from finetrack.configlib import freeze, load_config
    from finetrack.inference.build import build_detector_from_config

    cfg = freeze(load_config(Config, config, []))
    return build_detector_from_config(cfg, str(ckpt)), "detector"


def main(argv=None) -> int:
    args = parse_args(argv)
    common.setup_logging(args.verbose)
    import cv2

    from finetrack.inference.onnx_export import export_onnx, parity
    from finetrack.models.detector import CheckpointMismatchError

    try:
        if args.opset < 16:
            raise ValueError(f"--opset {args.opset}: RoiAlign's half-pixel mode needs opset >= 16")
        image = None
        if args.image is not None:
            image = cv2.imread(str(args.image))
            if image is None:
                raise FileNotFoundError(f"cannot read image {args.image}")
        model, kind = load_model(args.ckpt, args.config)
        files = export_onnx(model, args.out, opset=args.opset, checkpoint=str(args.ckpt))
        report = parity(model, args.out, image)
    except (FileNotFoundError, ValueError, KeyError, CheckpointMismatchError) as e:
        return common.error(e.args[0] if isinstance(e, KeyError) and e.args else e)
    what = "detector + Re-ID head" if kind == "finetrack" else "detector"
    print(f"exported the {what} of {args.ckpt}; onnxruntime vs PyTorch on "
          f"{args.image or 'a synthetic frame'}: " + json.dumps(report))
    common.print_files(files)
    worst = max(v for k, v in report.items() if k.startswith("max_"))
    if worst > args.tolerance:
        print(f"error: the exported graphs differ from PyTorch by {worst:.3g} > --tolerance "
              f"{args.tolerance:g}", file=sys.stderr)
        return EXIT_MISMATCH
    return 0


if __name__ == "__main__":
    sys.exit(main())
