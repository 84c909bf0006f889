"""Detection records (image + person boxes) from MOTChallenge sequences and CrowdHuman odgt files.

A :class:`DetRecord` is one image with its positive boxes and its ignore regions, in original-image
xyxy pixels. :class:`DetDataset` serves records through the interface that yolox's
``MosaicDetection`` expects from the dataset it wraps (``pull_item``, ``load_anno``, ``input_dim``;
labels ``(N, 5)`` = ``[x1, y1, x2, y2, class]``), so any mix of sources can be trained with yolox's
own augmentation.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from yolox.data import Dataset as YoloxDataset

from finetrack.data.identities import GTFilter
from finetrack.data.mot import DISTRACTOR_CLASSES, list_sequences, MOTSequence, tail_split_frames

logger = logging.getLogger(__name__)

#: CrowdHuman ``tag`` of real people (``mask`` boxes are crowds/reflections: ignore regions).
CROWDHUMAN_PERSON_TAG = "person"


@dataclass(frozen=True)
class DetRecord:
    """One training/validation image.

    Attributes:
        image_path: the image file.
        boxes_xyxy: (N, 4) float32 positive boxes, original pixels.
        ignore_xyxy: (M, 4) float32 ignore regions (not trained on; not FP in evaluation).
        name: ``<source>/<frame or ID>`` for logs and COCO image names.
        seq_dir: the MOTChallenge sequence folder (None for CrowdHuman).
        frame: the 1-based frame of ``seq_dir`` (None for CrowdHuman).
    """

    image_path: Path
    boxes_xyxy: np.ndarray
    ignore_xyxy: np.ndarray
    name: str
    seq_dir: Optional[Path] = None
    frame: Optional[int] = None


def _as_boxes(rows: Sequence[Sequence[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, 4)


def mot_records(
    split_dir: Path,
    seqs: Optional[Sequence[str]] = None,
    half: str = "train",
    gt_filter: GTFilter = GTFilter(),
    mot17_detector: Optional[str] = "FRCNN",
    frame_step: int = 1,
    max_images: Optional[int] = None,
    portion: str = "whole",
    tail_frac: float = 0.0,
) -> List[DetRecord]:
    """Records of the frames of MOTChallenge sequences (every frame of the half, even empty ones).

    Positives are the rows kept by ``gt_filter``. Ignore regions are the other rows of people-like
    classes (pedestrian, distractor classes 2/7/8/12): zero-flag rows (MOT15 conf 0), too little
    visibility; other classes (vehicles, occluders) are neither.

    Args:
        split_dir: ``<root>/<split>``.
        seqs: sequence names; None = all (MOT17: the ``mot17_detector`` copy).
        half: ``all`` | ``train`` | ``val`` (ByteTrack's half split).
        gt_filter: which GT rows are positives.
        mot17_detector: MOT17 copy to use.
        frame_step: keep every n-th frame of the half (starting with its first frame).
        max_images: cap on records over all sequences (after frame_step).
        portion: ``whole`` half, or its ``head`` / ``tail`` (the last ``tail_frac`` of each
            sequence's half, :func:`finetrack.data.mot.tail_split_frames`): the tail of the
            training half selects ``best.pth``, the head trains.
        tail_frac: fraction of each sequence's half in the tail.

    Returns:
        Records sorted by sequence then frame.
    """
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    people = np.asarray((1,) + tuple(DISTRACTOR_CLASSES), dtype=np.int64)
    out: List[DetRecord] = []
    for seq_dir in list_sequences(split_dir, seqs, mot17_detector):
        seq = MOTSequence(seq_dir)
        if not seq.has_gt:
            raise FileNotFoundError(f"{seq.name}: no gt/gt.txt, cannot train/evaluate a detector")
        gt = seq.gt()
        keep = gt_filter.mask(gt)
        ignore = ~keep & np.isin(gt.classes, people)
        boxes = gt.xyxy().astype(np.float32)
        first, last = tail_split_frames(seq.frames(half)[0], seq.frames(half)[-1], tail_frac,
                                        portion)
        for frame in list(range(first, last + 1))[::frame_step]:
            in_frame = gt.frames == frame
            out.append(
                DetRecord(
                    image_path=seq.frame_path(frame),
                    boxes_xyxy=boxes[in_frame & keep],
                    ignore_xyxy=boxes[in_frame & ignore],
                    name=f"{seq.name}/{frame:06d}",
                    seq_dir=Path(seq_dir),
                    frame=int(frame),
                )
            )
    if max_images is not None:
        out = out[:max_images]
    part = "" if portion == "whole" else f", {portion} {tail_frac:g}"
    logger.info("%s (%s half%s): %d images, %d boxes", split_dir, half, part, len(out),
                sum(len(r.boxes_xyxy) for r in out))
    return out


def crowdhuman_records(
    root: Path,
    ann_file: str = "annotation_train.odgt",
    image_dir: str = "Images",
    min_box_size: float = 2.0,
    frame_step: int = 1,
    max_images: Optional[int] = None,
) -> List[DetRecord]:
    """Records of a CrowdHuman odgt file (one JSON object per line), full-body boxes.

    As ByteTrack's ``convert_crowdhuman_to_coco.py``: ``fbox`` ``[x, y, w, h]`` of ``person`` boxes;
    boxes with ``extra.ignore == 1`` and non-person tags (``mask``) become ignore regions.

    Raises:
        FileNotFoundError: missing odgt file.
        ValueError: a malformed line (file and 1-based line number in the message).
    """
    path = Path(root) / ann_file
    if not path.is_file():
        raise FileNotFoundError(f"CrowdHuman annotation file not found: {path}")
    out: List[DetRecord] = []
    with open(path, "r", encoding="utf-8") as f:
        lines = [ln for ln in f if ln.strip()]
    for line_no, line in enumerate(lines[::frame_step], start=1):
        try:
            item = json.loads(line)
            pos, ign = [], []
            for box in item.get("gtboxes", []):
                x, y, w, h = (float(v) for v in box["fbox"])
                ignored = box.get("tag") != CROWDHUMAN_PERSON_TAG or int(
                    box.get("extra", {}).get("ignore", 0)
                ) == 1
                if w < min_box_size or h < min_box_size:
                    continue
                (ign if ignored else pos).append([x, y, x + w, y + h])
            image_id = str(item["ID"])
        except (ValueError, KeyError, TypeError) as e:
            src_line = (line_no - 1) * frame_step + 1
            raise ValueError(f"{path}:{src_line}: malformed odgt line: {e}") from e
        out.append(
            DetRecord(
                image_path=Path(root) / image_dir / f"{image_id}.jpg",
                boxes_xyxy=_as_boxes(pos),
                ignore_xyxy=_as_boxes(ign),
                name=f"crowdhuman/{image_id}",
            )
        )
        if max_images is not None and len(out) >= max_images:
            break
    logger.info("%s: %d images, %d boxes", path, len(out), sum(len(r.boxes_xyxy) for r in out))
    return out


def read_image(path: Path) -> np.ndarray:
    """BGR uint8 (h, w, 3) image; truncated/undecodable files are errors naming the path."""
    from finetrack.data.mot import read_image as read_image_strict

    return read_image_strict(path)


class DetDataset(YoloxDataset):
    """Records served the way yolox's ``MosaicDetection`` and ``TrainTransform`` expect.

    Args:
        records: the images (at least one must have a box, mixup searches for one).
        input_size: network input (H, W).
        preproc: ``preproc(img, labels, input_dim) -> (chw, padded_targets)`` for plain (no mosaic)
            items; None returns the raw image and labels.
        class_id: label of every box (one-class detector: 0).
    """

    def __init__(
        self,
        records: Sequence[DetRecord],
        input_size: Tuple[int, int],
        preproc: Optional[Callable] = None,
        class_id: int = 0,
    ) -> None:
        super().__init__((int(input_size[0]), int(input_size[1])), mosaic=False)
        if not records:
            raise ValueError("DetDataset needs at least one record")
        if not any(len(r.boxes_xyxy) for r in records):
            raise ValueError("none of the training images has a person box")
        self.records = list(records)
        self.preproc = preproc
        self.class_id = int(class_id)

    def __len__(self) -> int:
        return len(self.records)

    def load_anno(self, index: int) -> np.ndarray:
        """(N, 5) float32 labels ``[x1, y1, x2, y2, class]`` in original pixels (a new array)."""
        boxes = self.records[index].boxes_xyxy
        labels = np.zeros((len(boxes), 5), dtype=np.float32)
        labels[:, :4] = boxes
        labels[:, 4] = self.class_id
        return labels

    def pull_item(self, index: int) -> Tuple[np.ndarray, np.ndarray, Tuple[int, int], int]:
        """``(img BGR uint8 (h, w, 3), labels (N, 5), (h, w), index)``."""
        img = read_image(self.records[index].image_path)
        return img, self.load_anno(index), img.shape[:2], index

    @YoloxDataset.mosaic_getitem
    def __getitem__(self, index: int):
        img, labels, img_info, img_id = self.pull_item(index)
        if self.preproc is not None:
            img, labels = self.preproc(img, labels, self.input_dim)
        return img, labels, img_info, img_id
