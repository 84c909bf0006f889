"""Synthetic MOTChallenge GT + perturbed tracker results, for evaluator tests and benchmarks.

GT follows MOT17 semantics: mostly pedestrians (class 1, flag 1), some distractors
(classes 2/7/8/12, flag 0) and some other non-scored classes (e.g. 3 car, 6 non_mot_vehicle,
9 occluder; flag 0), boxes moving linearly.
Results are the pedestrian (and some distractor) boxes with jitter, misses, identity switches and
short false-positive tracks, so every preprocessing and metric path is exercised.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np

from finetrack.utils.io import atomic_open

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
#: MOT17 train sequence lengths (FRCNN copies): about 5.3k frames in all.
MOT17_TRAIN_LENGTHS = {
    "MOT17-02-FRCNN": 600,
    "MOT17-04-FRCNN": 1050,
    "MOT17-05-FRCNN": 837,
    "MOT17-09-FRCNN": 525,
    "MOT17-10-FRCNN": 654,
    "MOT17-11-FRCNN": 900,
    "MOT17-13-FRCNN": 750,
}
DISTRACTOR_SAMPLE = (2, 7, 8, 12)
#: Non-scored classes; 6 (non_mot_vehicle) is a distractor for MOT20 only.
OTHER_SAMPLE = (3, 4, 6, 9, 10, 11)
#: Classes the synthetic tracker also reports (some boxes): the distractors and non_mot_vehicle.
TRACKED_NON_PEDESTRIAN = DISTRACTOR_SAMPLE + (6,)


def synth_gt(
    rng: np.random.Generator,
    num_frames: int,
    boxes_per_frame: float = 20.0,
    mean_track_len: float = 120.0,
    distractor_frac: float = 0.05,
    other_frac: float = 0.05,
    img_size: Tuple[int, int] = (1920, 1080),
) -> np.ndarray:
    """GT rows of one sequence.

    Args:
        rng: random generator.
        num_frames: sequence length T.
        boxes_per_frame: mean number of GT boxes per frame (all classes).
        mean_track_len: mean track length in frames.
        distractor_frac / other_frac: fraction of tracks that are distractors / other classes.
        img_size: (width, height).

    Returns:
        (N, 9) float64 rows ``frame,id,x,y,w,h,flag,class,visibility`` sorted by frame then id.
    """
    w_img, h_img = img_size
    num_tracks = max(1, int(round(boxes_per_frame * num_frames / mean_track_len)))
    lengths = np.clip(rng.exponential(mean_track_len, num_tracks).astype(int), 5, num_frames)
    starts = rng.integers(1, num_frames - lengths + 2)
    kind = rng.random(num_tracks)
    cls = np.where(
        kind < distractor_frac,
        rng.choice(DISTRACTOR_SAMPLE, num_tracks),
        np.where(kind < distractor_frac + other_frac, rng.choice(OTHER_SAMPLE, num_tracks), 1),
    )
    w0 = rng.uniform(25, 140, num_tracks)
    x0, y0 = rng.uniform(0, w_img - 150, num_tracks), rng.uniform(0, h_img - 350, num_tracks)
    vx, vy = rng.normal(0, 2.0, num_tracks), rng.normal(0, 0.5, num_tracks)
    tid = np.repeat(np.arange(1, num_tracks + 1), lengths)
    k = np.concatenate([np.arange(n) for n in lengths])
    i = tid - 1
    w = w0[i] * (1 + 0.001 * k)
    rows = np.stack(
        [
            starts[i] + k,
            tid,
            x0[i] + vx[i] * k,
            y0[i] + vy[i] * k,
            w,
            2.5 * w,
            (cls[i] == 1).astype(float),
            cls[i],
            rng.uniform(0.1, 1.0, len(k)),
        ],
        axis=1,
    )
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def perturb_results(
    rng: np.random.Generator,
    gt: np.ndarray,
    num_frames: int,
    miss_rate: float = 0.1,
    jitter: float = 0.06,
    switch_prob: float = 0.003,
    distractor_hit: float = 0.5,
    fp_per_frame: float = 1.0,
) -> np.ndarray:
    """Tracker results from GT rows: jittered boxes, misses, id switches, false-positive tracks.

    Args:
        rng: random generator.
        gt: (N, 9) rows from :func:`synth_gt`.
        num_frames: sequence length.
        miss_rate: fraction of kept boxes dropped.
        jitter: box noise, as a fraction of the box width/height.
        switch_prob: per-box probability that the track continues under a new id.
        distractor_hit: fraction of distractor (and class 6) boxes the tracker also reports.
        fp_per_frame: mean number of false-positive boxes per frame (short tracks of 1-10 frames).

    Returns:
        (M, 10) rows ``frame,id,x,y,w,h,score,-1,-1,-1`` (ids unique per frame).
    """
    is_ped = gt[:, 7] == 1
    is_dis = np.isin(gt[:, 7], TRACKED_NON_PEDESTRIAN) & (rng.random(len(gt)) < distractor_hit)
    keep = (is_ped | is_dis) & (rng.random(len(gt)) >= miss_rate)
    g = gt[keep]
    # id switch: from a switch point on, the rest of that track gets a fresh id
    order = np.lexsort((g[:, 0], g[:, 1]))
    g = g[order]
    switch = rng.random(len(g)) < switch_prob
    new_track = np.r_[True, g[1:, 1] != g[:-1, 1]] | switch
    ids = np.cumsum(new_track)
    box = g[:, 2:6] + rng.normal(0, jitter, (len(g), 4)) * np.repeat(g[:, 4:6], 2, axis=1)
    box[:, 2:] = np.maximum(box[:, 2:], 1.0)
    n_fp_tracks = max(0, int(round(fp_per_frame * num_frames / 5.5)))
    fp_len = rng.integers(1, 11, n_fp_tracks)
    fp_start = rng.integers(1, num_frames + 1, n_fp_tracks)
    fp_id = np.repeat(np.arange(n_fp_tracks), fp_len)
    fp_k = np.concatenate([np.arange(n) for n in fp_len]) if n_fp_tracks else np.zeros(0, int)
    fp_frame = fp_start[fp_id] + fp_k
    ok = fp_frame <= num_frames
    fpw = rng.uniform(20, 120, n_fp_tracks)
    fp_box = np.stack(
        [rng.uniform(0, 1800, n_fp_tracks), rng.uniform(0, 700, n_fp_tracks), fpw, 2.5 * fpw],
        axis=1,
    )[fp_id]
    frames = np.r_[g[:, 0], fp_frame[ok]]
    all_ids = np.r_[ids, ids.max(initial=0) + 1 + fp_id[ok]]
    boxes = np.r_[box, fp_box[ok]]
    scores = rng.uniform(0.3, 1.0, len(frames))
    out = np.column_stack([frames, all_ids, boxes, scores, -np.ones((len(frames), 3))])
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def _write_rows(path: Path, rows: np.ndarray, int_cols: int, fmt_tail: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        for r in rows:
            head = ",".join(str(int(v)) for v in r[:int_cols])
            f.write(head + "," + fmt_tail.format(*r[int_cols:]) + "\n")


def write_synthetic_set(
    root: PathLike, lengths: Dict[str, int] = None, seed: int = 0, **gt_kwargs
) -> Tuple[Path, Path, int]:
    """Write ``root/gt/<SEQ>/{seqinfo.ini, gt/gt.txt}`` and ``root/results/<SEQ>.txt``.

    Args:
        root: output folder (created).
        lengths: {sequence name: number of frames}; default :data:`MOT17_TRAIN_LENGTHS`.
        seed: random seed (same seed, same files).
        **gt_kwargs: forwarded to :func:`synth_gt`.

    Returns:
        (gt_root, results_dir, number of GT rows written).
    """
    root = Path(root)
    lengths = dict(MOT17_TRAIN_LENGTHS if lengths is None else lengths)
    rng = np.random.default_rng(seed)
    gt_root, res_dir = root / "gt", root / "results"
    total = 0
    for name, n in lengths.items():
        gt = synth_gt(rng, n, **gt_kwargs)
        res = perturb_results(rng, gt, n)
        seq = gt_root / name
        _write_rows(
            seq / "gt" / "gt.txt", gt, 2, "{:.2f},{:.2f},{:.2f},{:.2f},{:.0f},{:.0f},{:.3f}"
        )
        _write_rows(res_dir / f"{name}.txt", res, 2, "{:.2f},{:.2f},{:.2f},{:.2f},{:.3f},-1,-1,-1")
        with atomic_open(seq / "seqinfo.ini", "w", encoding="utf-8") as f:
            f.write(
                f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={n}\n"
                "imWidth=1920\nimHeight=1080\nimExt=.jpg\n"
            )
        total += len(gt)
    logger.info("synthetic set: %d sequences, %d GT rows in %s", len(lengths), total, root)
    return gt_root, res_dir, total
