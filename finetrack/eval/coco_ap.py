"""Person-detection AP with pycocotools (COCOeval, ``bbox``): AP@0.5 and AP@[.5:.95], 0-100.

Ground truth: the positive boxes of every validation image; ignore regions enter as ``iscrowd=1``
boxes, so detections on them are neither TP nor FP (COCO's crowd rule). Every image is scored,
including images without any box (their detections are FPs).
"""
from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from finetrack.data.det_dataset import DetRecord, read_image

logger = logging.getLogger(__name__)

#: COCO category id of "person" in the evaluation dicts.
PERSON_CATEGORY = 1
#: COCOeval's default maximum detections per image is 100; crowded MOT frames need more.
DEFAULT_MAX_DETS = 1000


@dataclass(frozen=True)
class ImageGT:
    """Ground truth of one image: ``boxes_xyxy`` (N, 4) positives, ``ignore_xyxy`` (M, 4)."""

    boxes_xyxy: np.ndarray
    ignore_xyxy: np.ndarray
    height: int = 0
    width: int = 0


def _xywh(b: np.ndarray) -> List[float]:
    return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]


def coco_ap(
    gts: Sequence[ImageGT],
    dets: Sequence[Tuple[np.ndarray, np.ndarray]],
    max_dets: int = DEFAULT_MAX_DETS,
) -> Dict[str, float]:
    """AP of person detections against ground truth with pycocotools.

    Args:
        gts: one :class:`ImageGT` per image (xyxy pixels).
        dets: per image ``(boxes_xyxy (K, 4), scores (K,))``.
        max_dets: detections kept per image (highest scores), COCOeval ``maxDets``.

    Returns:
        ``{"AP50": AP@0.5, "AP": AP@[.5:.95], "AP75": ..., "num_images", "num_gt", "num_dets"}``,
        APs in 0-100; -1 when there is no positive GT box at all (COCO's convention).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(gts) != len(dets):
        raise ValueError(f"{len(gts)} ground-truth images but {len(dets)} detection lists")
    images, annotations, results = [], [], []
    ann_id = 0
    for img_id, (gt, (boxes, scores)) in enumerate(zip(gts, dets), start=1):
        h = gt.height or 1
        w = gt.width or 1
        images.append({"id": img_id, "height": int(h), "width": int(w)})
        for crowd, arr in ((0, gt.boxes_xyxy), (1, gt.ignore_xyxy)):
            for b in np.asarray(arr, dtype=np.float64).reshape(-1, 4):
                ann_id += 1
                xywh = _xywh(b)
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": img_id,
                        "category_id": PERSON_CATEGORY,
                        "bbox": xywh,
                        "area": xywh[2] * xywh[3],
                        "iscrowd": crowd,
                        "ignore": crowd,
                    }
                )
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(boxes) != len(scores):
            raise ValueError(f"image {img_id}: {len(boxes)} boxes but {len(scores)} scores")
        for b, s in zip(boxes, scores):
            results.append(
                {"image_id": img_id, "category_id": PERSON_CATEGORY, "bbox": _xywh(b),
                 "score": float(s)}
            )
    num_gt = sum(len(g.boxes_xyxy) for g in gts)
    summary = {"num_images": len(gts), "num_gt": num_gt, "num_dets": len(results)}
    if num_gt == 0:
        return {"AP50": -1.0, "AP": -1.0, "AP75": -1.0, **summary}
    if not results:
        return {"AP50": 0.0, "AP": 0.0, "AP75": 0.0, **summary}

    log = io.StringIO()
    with contextlib.redirect_stdout(log):  # pycocotools prints its progress
        coco_gt = COCO()
        coco_gt.dataset = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": PERSON_CATEGORY, "name": "person"}],
        }
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
        ev.params.catIds = [PERSON_CATEGORY]
        ev.params.maxDets = [1, 10, int(max_dets)]
        ev.evaluate()
        ev.accumulate()
    logger.debug("COCOeval:\n%s", log.getvalue())
    # precision: (iou thresholds, recall points, categories, area ranges, maxDets); area "all" is
    # index 0, our max_dets the last. (COCOeval.summarize hard-codes maxDets=100 for AP.)
    precision = ev.eval["precision"][:, :, 0, 0, -1]
    iou_thrs = np.asarray(ev.params.iouThrs)

    def _ap(rows: np.ndarray) -> float:
        valid = rows[rows > -1]
        return 100.0 * float(valid.mean()) if valid.size else -1.0

    return {
        "AP50": _ap(precision[np.isclose(iou_thrs, 0.5)]),
        "AP": _ap(precision),
        "AP75": _ap(precision[np.isclose(iou_thrs, 0.75)]),
        **summary,
    }


@torch.no_grad()
def predict_records(
    detector,
    records: Sequence[DetRecord],
    device: torch.device,
    batch_size: int = 8,
    progress: bool = False,
) -> Tuple[List[ImageGT], List[Tuple[np.ndarray, np.ndarray]]]:
    """Run a :class:`~finetrack.models.detector.YOLOXDetector` on records (its own preprocessing).

    The detector is used as at tracking time (``preprocess`` + ``detect``), with its
    ``conf_thresh``/``nms_thresh``. Its train/eval mode is restored afterwards.

    Returns:
        ``(gts, dets)`` for :func:`coco_ap`.
    """
    was_training = detector.training
    detector.eval()
    gts: List[ImageGT] = []
    dets: List[Tuple[np.ndarray, np.ndarray]] = []
    batches = range(0, len(records), batch_size)
    if progress:
        from finetrack.utils.progress import progress_bar

        batches = progress_bar(batches, desc="eval", leave=False)
    try:
        for start in batches:
            chunk = records[start : start + batch_size]
            tensors, ratios, sizes = [], [], []
            for rec in chunk:
                img = read_image(rec.image_path)
                t, r = detector.preprocess(img)
                tensors.append(t)
                ratios.append(r)
                sizes.append(img.shape[:2])
                gts.append(ImageGT(rec.boxes_xyxy, rec.ignore_xyxy, img.shape[0], img.shape[1]))
            out = detector.detect(torch.stack(tensors).to(device), ratios, sizes)
            dets.extend(out)
    finally:
        detector.train(was_training)
    return gts, dets


def public_detections(
    records: Sequence[DetRecord],
) -> Tuple[List[ImageGT], List[Tuple[np.ndarray, np.ndarray]]]:
    """The sequences' own ``det/det.txt`` boxes for MOTChallenge records (a reference detector).

    Returns:
        ``(gts, dets)`` for :func:`coco_ap`.

    Raises:
        ValueError: a record that is not a frame of a MOTChallenge sequence (CrowdHuman).
    """
    from finetrack.data.mot import MOTSequence

    cache: Dict[Path, object] = {}
    gts: List[ImageGT] = []
    dets: List[Tuple[np.ndarray, np.ndarray]] = []
    for rec in records:
        if rec.seq_dir is None or rec.frame is None:
            raise ValueError(f"{rec.name}: not a MOTChallenge frame, it has no det.txt")
        if rec.seq_dir not in cache:
            seq = MOTSequence(rec.seq_dir)
            cache[rec.seq_dir] = (seq.det(), seq.info)
        det, info = cache[rec.seq_dir]
        gts.append(ImageGT(rec.boxes_xyxy, rec.ignore_xyxy, info.im_height, info.im_width))
        boxes, scores = det.for_frame(rec.frame)
        dets.append((boxes.astype(np.float32), scores.astype(np.float32)))
    return gts, dets


def evaluate_detector(
    detector,
    records: Sequence[DetRecord],
    device: torch.device,
    batch_size: int = 8,
    max_dets: int = DEFAULT_MAX_DETS,
    progress: bool = False,
) -> Dict[str, float]:
    """:func:`predict_records` then :func:`coco_ap`."""
    gts, dets = predict_records(detector, records, device, batch_size, progress)
    return coco_ap(gts, dets, max_dets=max_dets)


def format_ap(metrics: Dict[str, float], prefix: Optional[str] = None) -> str:
    """``AP50 61.2 AP 25.3 (398 images, 2012 gt, 10233 dets)``."""
    head = f"{prefix}: " if prefix else ""
    return (
        f"{head}AP50 {metrics['AP50']:.1f} AP {metrics['AP']:.1f} AP75 {metrics['AP75']:.1f} "
        f"({metrics['num_images']} images, {metrics['num_gt']} gt, {metrics['num_dets']} dets)"
    )
