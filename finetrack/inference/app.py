"""Track every sequence of a split and write MOTChallenge result files (what tools/track.py calls)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from finetrack.config import Config, TrackerConfig
from finetrack.data.mot import MOTSequence, list_sequences, write_results
from finetrack.inference.build import build_detector_from_config, build_source, tracker_kwargs
from finetrack.inference.runner import StageTimer, track_sequence

logger = logging.getLogger(__name__)


def _device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_tracking(
    cfg: Config,
    data_root: str,
    split: str,
    out_dir: str,
    det: str = "public",
    mode: Optional[str] = None,
    seqs: Optional[Sequence[str]] = None,
    half: str = "all",
    det_ckpt: Optional[str] = None,
    reid_ckpt: Optional[str] = None,
    video: bool = False,
    min_score: Optional[float] = None,
    progress: bool = True,
) -> dict:
    """Track the sequences and write ``<out_dir>/<SEQ>.txt``; returns a summary dict.

    Args:
        cfg: resolved config (``tracker`` section; ``model`` for a YOLOX detector variant).
        data_root: dataset root holding ``<split>/<SEQ>``.
        det: detection source: ``public`` (det/det.txt), ``gt`` (oracle) or ``yolox``.
        mode: ``byte`` | ``finetrack`` | ``jde`` | ``robust``; None = ``cfg.tracker.mode``.
        half: ``all`` | ``train`` | ``val`` (val renumbered from 1 like gt_val_half.txt).
        det_ckpt: YOLOX weights for ``det=yolox`` (ByteTrack format).
        reid_ckpt: a FineTrack checkpoint (best.pth); needed by ``finetrack`` and ``jde``.
        video: also write ``<out_dir>/videos/<SEQ>.mp4``.

    ``tracker.cmc`` other than ``none`` compensates camera motion, with the warps cached in
    ``<out_dir>/cmc/<SEQ>.<method>.txt`` (reused by later runs into the same folder);
    ``tracker.interpolate`` post-processes the rows (:func:`postprocess_tracks`).
    """
    from finetrack.tracker import Tracker

    mode = mode or cfg.tracker.mode
    if mode in ("finetrack", "jde", "robust") and reid_ckpt is None:
        raise ValueError(f"mode {mode!r} uses appearance: give --reid-ckpt (a train_reid.py best.pth)")
    device = _device(cfg.train.device)
    embedder = detector = None
    if reid_ckpt is not None and mode != "byte":
        from finetrack.inference.embedder import Embedder

        embedder = Embedder.from_checkpoint(reid_ckpt, device)
        logger.info("Re-ID model from %s (embedding dim %d)", reid_ckpt, embedder.dim)
    if det == "yolox":
        if det_ckpt is not None:
            detector = build_detector_from_config(cfg, det_ckpt, device)
        elif embedder is not None:
            logger.warning("--det yolox without --det-ckpt: using the detector inside %s", reid_ckpt)
            detector = embedder.model.detector
        else:
            raise ValueError("--det yolox needs --det-ckpt (or --reid-ckpt holding a trained detector)")

    split_dir = Path(data_root) / split
    seq_dirs = list_sequences(split_dir, seqs, cfg.data.mot17_detector)
    if not seq_dirs:
        raise FileNotFoundError(f"no sequences in {split_dir}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = StageTimer()
    summary = {"mode": mode, "det": det, "half": half, "sequences": {}}
    t_start = time.perf_counter()
    for d in seq_dirs:
        seq = MOTSequence(d)
        source = build_source(det, seq, cfg, detector, device, min_score)
        tracker = Tracker(**tracker_kwargs(_with_mode(cfg, mode), seq.info.frame_rate))
        writer = None
        if video:
            from finetrack.inference.video import VideoWriter

            writer = VideoWriter(out / "videos" / f"{seq.name}.mp4", seq.info.frame_rate)
        cmc = build_sequence_cmc(cfg.tracker, seq, out)
        try:
            res = track_sequence(seq, source, tracker, embedder, half, progress, writer, cmc=cmc)
        except BaseException:
            if writer is not None:
                writer.abort()  # no half-written video left behind
            raise
        if cmc is not None:
            cmc.save()
            logger.info("%s: camera motion (%s) %d computed, %d cached in %s", seq.name,
                        cfg.tracker.cmc, cmc.computed, cmc.reused, cmc.cache_file)
        rows = np.column_stack([res.frames, res.ids, res.tlwh, res.scores]) if len(res.ids) else np.zeros((0, 7))
        rows = postprocess_tracks(rows, cfg.tracker)
        write_results(out / f"{seq.name}.txt", rows[:, 0], rows[:, 1], rows[:, 2:6], rows[:, 6])
        if writer is not None:
            writer.close()
        total.merge(res.timer)
        n_ids = len(np.unique(rows[:, 1])) if len(rows) else 0
        logger.info("%s: %d boxes, %d ids | %s", seq.name, len(rows), n_ids, res.timer.summary())
        summary["sequences"][seq.name] = {"boxes": int(len(rows)), "ids": int(n_ids),
                                          "frames": res.timer.frames}
    summary["timing"] = {k: v for k, v in total.seconds.items()}
    summary["frames"] = total.frames
    summary["wall_seconds"] = time.perf_counter() - t_start
    summary["timing_line"] = total.summary()
    return summary


def build_sequence_cmc(cfg: TrackerConfig, seq: MOTSequence, out_dir: Path):
    """The per-sequence camera motion of ``tracker.cmc`` (None for ``none``), cached in
    ``<out_dir>/cmc/<SEQ>.<method>.txt``."""
    if cfg.cmc == "none":
        return None
    from finetrack.inference.camera_motion import SequenceCMC, cache_path
    from finetrack.tracker.cmc import build_cmc

    return SequenceCMC(build_cmc(cfg.cmc, downscale=cfg.cmc_downscale), seq.read_frame,
                       (seq.info.im_width, seq.info.im_height),
                       cache_path(out_dir, seq.name, cfg.cmc), name=seq.name)


def postprocess_tracks(rows: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """``tracker.interpolate``: none, linear (ByteTrack) or gsi (StrongSORT) on (R, 7) rows."""
    from finetrack.tracker import gsi_tracks, interpolate_tracks

    if not len(rows) or cfg.interpolate == "none":
        return rows
    if cfg.interpolate == "linear":
        return interpolate_tracks(rows, max_gap=cfg.interp_max_gap,
                                  min_track_len=cfg.interp_min_track_len)
    return gsi_tracks(rows, max_gap=cfg.interp_max_gap, min_track_len=cfg.interp_min_track_len,
                      tau=cfg.gsi_tau)


def _with_mode(cfg: Config, mode: str):
    """The tracker config with ``mode`` replaced (configs are frozen: copy)."""
    import dataclasses

    return dataclasses.replace(cfg.tracker, mode=mode)


def write_summary(summary: dict, out_dir: str) -> Path:
    from finetrack.utils.io import atomic_write_text

    p = Path(out_dir) / "track_summary.json"
    atomic_write_text(p, json.dumps(summary, indent=2))
    return p
