"""Re-ID frame dataset: one item = one frame, its GT boxes and their identity labels.

Boxes are filtered with :class:`finetrack.data.identities.GTFilter` (SPEC section 3: class 1, flag != 0,
visibility >= 0.1) and mapped to network-input pixels with the detector's letterbox ratio, so the
Re-ID head ROI-aligns them on the backbone maps of the same preprocessed image.

Index layout (what :mod:`finetrack.data.samplers` expects): the frames of sequence 0 in video
order, then those of sequence 1, ... :attr:`ReIDFrameDataset.seq_lengths` gives the counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from finetrack.utils.letterbox import preprocess_image
from finetrack.data.identities import GTFilter, IdentityTable
from finetrack.data.mot import half_split_frames, MOTSequence, tail_split_frames

logger = logging.getLogger(__name__)

#: ``preprocess(img_bgr (h, w, 3) uint8) -> (Tensor (3, H, W) float32, ratio)``
Preprocess = Callable[[np.ndarray], Tuple[torch.Tensor, float]]


def letterbox_preprocess(input_size: Tuple[int, int]) -> Preprocess:
    """The detector's preprocessing (:func:`finetrack.utils.letterbox.preprocess_image`).

    Args:
        input_size: network input (H, W).
    """
    size = (int(input_size[0]), int(input_size[1]))

    def _pre(img_bgr: np.ndarray) -> Tuple[torch.Tensor, float]:
        chw, ratio = preprocess_image(img_bgr, size)
        return torch.from_numpy(chw), ratio

    return _pre


@dataclass(frozen=True)
class _FrameRef:
    seq_index: int
    frame: int  # 1-based


class ReIDFrameDataset(Dataset):
    """Frames of several MOTChallenge sequences with their filtered GT boxes.

    Args:
        seq_dirs: sequence directories (``<root>/<split>/<SEQ>``).
        half: which frames of every sequence: ``train`` (1..N//2), ``val`` (N//2+1..N) or ``all``.
        gt_filter: which GT rows are samples.
        identities: global label table; None = built from these sequences' filtered rows
            (``(sequence, track id)`` -> 0..M-1, see :class:`IdentityTable`). Rows whose identity is
            not in the table get label -1.
        preprocess: image -> (tensor, ratio); None = :func:`letterbox_preprocess` at ``input_size``.
        input_size: network input (H, W), used when ``preprocess`` is None.
        skip_empty: leave out frames without any kept GT box.
        max_frames: keep at most this many frames per sequence (the first ones of the half);
            None = all.
        augment: training augmentations (:mod:`finetrack.data.reid_augment`); None = none.
        portion: ``whole`` half, or its ``head`` / ``tail`` (:func:`tail_split_frames` with
            ``tail_frac``): the tail of the training half is the model-selection slice, the head
            is what is trained on.
        tail_frac: fraction of each sequence's half in the tail.
        holdout_frac: fraction of each sequence's identities (those with a kept box in the
            half) held out: their boxes are dropped, so they can be open-set queries later. The
            choice depends on the half and the GT only (a fixed-seed permutation of the sorted
            ids), so the head and the tail of a half hold out the same identities.
    """

    def __init__(
        self,
        seq_dirs: Sequence[Union[str, Path]],
        half: str = "train",
        gt_filter: GTFilter = GTFilter(),
        identities: Optional[IdentityTable] = None,
        preprocess: Optional[Preprocess] = None,
        input_size: Tuple[int, int] = (608, 1088),
        skip_empty: bool = True,
        max_frames: Optional[int] = None,
        augment=None,
        portion: str = "whole",
        tail_frac: float = 0.0,
        holdout_frac: float = 0.0,
    ) -> None:
        if not seq_dirs:
            raise ValueError("ReIDFrameDataset needs at least one sequence")
        self.sequences = [MOTSequence(d) for d in seq_dirs]
        self.seq_names = [s.name for s in self.sequences]
        if len(set(self.seq_names)) != len(self.seq_names):
            raise ValueError(f"duplicate sequence names: {self.seq_names}")
        self.half = half
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self._preprocess = preprocess
        self.augment = augment if (augment is not None and augment.active) else None
        if not 0.0 <= holdout_frac < 1.0:
            raise ValueError(f"holdout_frac must be in [0, 1), got {holdout_frac}")
        self.portion = portion
        self.annotations = {}
        self.first_frames: Dict[int, int] = {}
        #: {sequence index: (first, last)} 1-based inclusive frames of this dataset
        self.frame_ranges: Dict[int, Tuple[int, int]] = {}
        #: (sequence name, track id) pairs whose boxes were dropped (``holdout_frac``)
        self.heldout_identities: List[Tuple[str, int]] = []
        for i, seq in enumerate(self.sequences):
            h_first, h_last = half_split_frames(len(seq), half)
            ann = gt_filter.apply(seq.gt().in_frames(h_first, h_last))
            if holdout_frac > 0:
                held = holdout_ids(ann.ids, holdout_frac)
                self.heldout_identities += [(seq.name, int(t)) for t in held]
                ann = ann.subset(~np.isin(ann.ids, held))
            first, last = tail_split_frames(h_first, h_last, tail_frac, portion)
            self.first_frames[i] = first
            self.frame_ranges[i] = (first, last)
            self.annotations[seq.name] = ann.in_frames(first, last)
        self.identities = (
            identities if identities is not None else IdentityTable.build(self.annotations)
        )
        self._frames: List[_FrameRef] = []
        self.seq_lengths: List[int] = []
        self._rows: Dict[Tuple[int, int], np.ndarray] = {}
        for i, seq in enumerate(self.sequences):
            first, last = self.frame_ranges[i]
            ann = self.annotations[seq.name]
            order = np.argsort(ann.frames, kind="stable")
            frames_sorted = ann.frames[order]
            n = 0
            for f in range(first, last + 1):
                lo, hi = np.searchsorted(frames_sorted, [f, f + 1])
                rows = order[lo:hi]
                if skip_empty and len(rows) == 0:
                    continue
                if max_frames is not None and n >= max_frames:
                    break
                self._rows[(i, f)] = rows
                self._frames.append(_FrameRef(i, f))
                n += 1
            self.seq_lengths.append(n)
        logger.info(
            "Re-ID dataset (%s half%s): %d sequences, %d frames, %d boxes, %d labelled identities",
            half,
            "" if portion == "whole" else f", {portion} {tail_frac:g}",
            len(self.sequences),
            len(self._frames),
            self.num_boxes,
            len(self.identities),
        )

    @property
    def frame_rates(self) -> Dict[int, float]:
        """{sequence index: frames per second} from seqinfo.ini."""
        return {i: float(seq.info.frame_rate) for i, seq in enumerate(self.sequences)}

    @property
    def num_boxes(self) -> int:
        return int(sum(len(r) for r in self._rows.values()))

    @property
    def num_identities(self) -> int:
        return len(self.identities)

    def __len__(self) -> int:
        return len(self._frames)

    def preprocess(self, img_bgr: np.ndarray) -> Tuple[torch.Tensor, float]:
        if self._preprocess is None:
            self._preprocess = letterbox_preprocess(self.input_size)
        return self._preprocess(img_bgr)

    def frame_ref(self, index: int) -> Tuple[int, int]:
        """(sequence index, 1-based frame) of a dataset index."""
        r = self._frames[index]
        return r.seq_index, r.frame

    def targets(self, index: int) -> Dict[str, np.ndarray]:
        """GT of one item without reading the image.

        Returns:
            {"boxes_xyxy": (N, 4) float64 original-image pixels, "track_ids": (N,) int64,
             "labels": (N,) int64 identity labels (-1 = unknown)}
        """
        seq_index, frame = self.frame_ref(index)
        seq = self.sequences[seq_index]
        ann = self.annotations[seq.name].subset(self._rows[(seq_index, frame)])
        return {
            "boxes_xyxy": ann.xyxy(),
            "track_ids": ann.ids.copy(),
            "labels": self.identities.labels(seq.name, ann.ids),
        }

    def augmented_frame(self, index: int):
        """Frame ``index`` as read, augmented when ``self.augment`` is set:
        ``(seq_index, frame, img, boxes, targets)``, ``img`` the (H, W, 3) uint8 BGR frame,
        ``boxes`` (N, 4) xyxy in its pixels, ``targets`` :meth:`targets` (labels, track ids)."""
        seq_index, frame = self.frame_ref(index)
        img = self.sequences[seq_index].read_frame(frame)
        t = self.targets(index)
        boxes = t["boxes_xyxy"]
        if self.augment is not None:
            from finetrack.data.reid_augment import augment_frame

            # torch's RNG is seeded per worker and epoch by the DataLoader: draw the numpy seed from it
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))
            img, boxes = augment_frame(img, boxes, self.augment, rng)
        return seq_index, frame, img, boxes, t

    def __getitem__(self, index: int) -> Dict[str, object]:
        """One frame.

        Returns:
            dict with ``image`` (3, H, W) float32 preprocessed; ``boxes`` (N, 4) float32 xyxy in
            network-input pixels; ``labels`` (N,) int64; ``track_ids`` (N,) int64;
            ``seq_index`` int; ``frame`` int (1-based); ``ratio`` float; ``orig_size`` (h, w).
        """
        seq_index, frame, img, boxes, t = self.augmented_frame(index)
        image, ratio = self.preprocess(img)
        return {
            "image": image,
            "boxes": torch.as_tensor(boxes * ratio, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.as_tensor(t["labels"], dtype=torch.int64),
            "track_ids": torch.as_tensor(t["track_ids"], dtype=torch.int64),
            "seq_index": seq_index,
            "frame": frame,
            "ratio": float(ratio),
            "orig_size": tuple(img.shape[:2]),
        }


def holdout_ids(track_ids: np.ndarray, frac: float, seed: int = 0) -> np.ndarray:
    """The identities held out of training for the open-set protocol (SPEC section 4).

    Args:
        track_ids: (N,) track ids of the kept GT rows of one sequence's half (repeats allowed).
        frac: fraction of the distinct ids held out, rounded to the nearest count.
        seed: permutation seed (fixed, so every run and every seed holds out the same ids).

    Returns:
        (K,) int64 sorted held-out ids, K = round(frac * number of distinct ids).
    """
    ids = np.unique(np.asarray(track_ids, dtype=np.int64))
    k = int(round(frac * len(ids)))
    if k == 0:
        return np.zeros(0, np.int64)
    perm = np.random.default_rng(seed).permutation(len(ids))
    return np.sort(ids[perm[:k]])


def collate_frames(items: List[Dict[str, object]]) -> Dict[str, object]:
    """Stack images; keep per-frame box lists (variable N_i).

    Returns:
        {"images": (B, 3, H, W), "boxes": list of (N_i, 4), "labels": (sum N_i,) int64,
         "track_ids": (sum N_i,), "seq_index": (sum N_i,) int64 per box,
         "frame": (sum N_i,) per box,
         "frames": list of B (seq_index, frame), "ratios": list of B floats}
    """
    images = torch.stack([it["image"] for it in items])
    boxes = [it["boxes"] for it in items]
    counts = [len(b) for b in boxes]
    return {
        "images": images,
        "boxes": boxes,
        "labels": torch.cat([it["labels"] for it in items]),
        "track_ids": torch.cat([it["track_ids"] for it in items]),
        "seq_index": torch.repeat_interleave(
            torch.as_tensor([it["seq_index"] for it in items], dtype=torch.int64),
            torch.as_tensor(counts, dtype=torch.int64),
        ),
        "frame": torch.repeat_interleave(
            torch.as_tensor([it["frame"] for it in items], dtype=torch.int64),
            torch.as_tensor(counts, dtype=torch.int64),
        ),
        "frames": [(it["seq_index"], it["frame"]) for it in items],
        "ratios": [it["ratio"] for it in items],
    }
