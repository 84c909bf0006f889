"""Re-ID evaluation with ground-truth boxes: embed every GT box of a dataset, then Rank-1/mAP.

The protocol itself (queries on every n-th frame, gallery = the other frames of the same
sequence) lives in :func:`finetrack.eval.reid_metrics.evaluate_reid`; this module only runs the
model.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Collection, Dict, Iterable, Optional, Tuple, Union

import numpy as np
import torch

from finetrack.eval.reid_metrics import (
    ReIDResult, evaluate_reid, mask_border_share, mask_correlation,
)

logger = logging.getLogger(__name__)


@torch.no_grad()
def extract_gt_embeddings(
    model: torch.nn.Module,
    loader: Iterable[Dict[str, object]],
    device: torch.device,
    amp: bool = False,
    progress: bool = False,
) -> Dict[str, np.ndarray]:
    """Run ``model(images, boxes)["embedding"]`` on every batch, in eval mode (mode restored after);
    ``model(crops)["embedding"]`` for the batches of a crop network (a ``crops`` entry).

    Args:
        model: a :class:`finetrack.models.reid_head.FineTrackModel` (or DDP-wrapped).
        loader: yields :func:`finetrack.data.reid_dataset.collate_frames` batches (or
            :func:`finetrack.crop_reid.data.collate_crops` ones).
        device: where the model runs.
        amp: autocast on CUDA.
        progress: show a tqdm bar of the validation batches (its own bar, left when done).

    Returns:
        {"embeddings": (N, D) float32, "seq_index": (N,) int64, "frames": (N,) int64,
         "track_ids": (N,) int64} over all boxes of the loader, plus "mask_corr": (N,) float64
        and "mask_abs_corr" (:func:`finetrack.eval.reid_metrics.mask_correlation` of each crop's
        part masks, signed and absolute) and "mask_border"
        (:func:`~finetrack.eval.reid_metrics.mask_border_share`) when the model has K >= 2 masks.
    """
    was_training = model.training
    model.eval()
    embs, seqs, frames, tids, corrs, abs_corrs, borders = [], [], [], [], [], [], []
    batches = loader
    if progress:
        from finetrack.utils.progress import progress_bar

        batches = progress_bar(loader, desc="validation", unit="batch", leave=False,
                               dynamic_ncols=True)
    try:
        for batch in batches:
            with torch.autocast(device_type=device.type, enabled=amp and device.type == "cuda"):
                if "crops" in batch:  # a crop network (finetrack/crop_reid/data.py batches)
                    out = model(batch["crops"].to(device, non_blocking=True))
                else:
                    images = batch["images"].to(device, non_blocking=True)
                    boxes = [b.to(device) for b in batch["boxes"]]
                    out = model(images, boxes)
            embs.append(out["embedding"].float().cpu().numpy())
            masks = out.get("part_masks")
            if masks is not None and masks.ndim == 4 and masks.shape[1] >= 2 and masks.shape[0]:
                m = masks.float().cpu().numpy()
                corrs.append(mask_correlation(m))
                abs_corrs.append(mask_correlation(m, absolute=True))
                if m.shape[3] >= 3:
                    borders.append(mask_border_share(m))
            seqs.append(batch["seq_index"].numpy())
            frames.append(batch["frame"].numpy())
            tids.append(batch["track_ids"].numpy())
    finally:
        model.train(was_training)
    if not embs:
        return {
            "embeddings": np.zeros((0, 0), np.float32),
            "seq_index": np.zeros(0, np.int64),
            "frames": np.zeros(0, np.int64),
            "track_ids": np.zeros(0, np.int64),
        }
    data = {
        "embeddings": np.concatenate(embs),
        "seq_index": np.concatenate(seqs),
        "frames": np.concatenate(frames),
        "track_ids": np.concatenate(tids),
    }
    if corrs:
        data["mask_corr"] = np.concatenate(corrs)
        data["mask_abs_corr"] = np.concatenate(abs_corrs)
    if borders:
        data["mask_border"] = np.concatenate(borders)
    return data


def evaluate_gt_reid(
    model: torch.nn.Module,
    loader: Iterable[Dict[str, object]],
    device: torch.device,
    first_frames: Optional[Dict[int, int]] = None,
    query_every: int = 10,
    amp: bool = False,
    exclude_frames: Union[int, Dict[int, int]] = 0,
    seen_identities: Optional[Collection[Tuple[int, int]]] = None,
    progress: bool = False,
) -> ReIDResult:
    """Rank-1 / mAP of ``model`` on the GT boxes of ``loader`` (SPEC section 4).

    Args:
        first_frames: {sequence index: first frame of the evaluated range} (the dataset's
            ``first_frames``); queries are frames ``first + k * query_every``.
        query_every: query frame spacing.
        exclude_frames: gallery entries within +-T frames of the query are excluded (0 = v1);
            an int or {sequence index: T}.
        seen_identities: (sequence index, track id) pairs the model was trained on; when given,
            the result's ``open_set`` holds the same evaluation restricted to the queries whose
            identity is not among them (same gallery).
        progress: a tqdm bar over the validation batches.
    """
    data = extract_gt_embeddings(model, loader, device, amp, progress)
    args = (data["embeddings"], data["seq_index"], data["frames"], data["track_ids"])
    kwargs = dict(first_frames=first_frames, query_every=query_every, exclude_frames=exclude_frames)
    closed = evaluate_reid(*args, **kwargs)
    corr = data.get("mask_corr")
    if corr is not None and np.isfinite(corr).any():
        closed = dataclasses.replace(closed, mask_corr=float(np.nanmean(corr)),
                                     mask_abs_corr=float(np.nanmean(data["mask_abs_corr"])))
    border = data.get("mask_border")
    if border is not None and np.isfinite(border).any():
        closed = dataclasses.replace(closed, mask_border=float(np.nanmean(border)))
    if seen_identities is None:
        return closed
    seen = set((int(s), int(t)) for s, t in seen_identities)
    unseen = np.asarray(
        [(int(s), int(t)) not in seen for s, t in zip(data["seq_index"], data["track_ids"])],
        dtype=bool,
    )
    open_set = evaluate_reid(*args, **kwargs, query_keep=unseen)
    return dataclasses.replace(closed, open_set=open_set)
