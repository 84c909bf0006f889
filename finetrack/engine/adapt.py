"""Adapt a Re-ID checkpoint to a new video without labels (what ``finetrack adapt`` calls).

1. Motion-only tracking (``byte``) of the target with its detections (public det/det.txt).
2. Confident tracklets become pseudo-identities (:mod:`finetrack.data.pseudo`).
3. The model is fine-tuned on them with the project's Re-ID trainer (same loss, sampler, engine),
   starting from the checkpoint (``model.init_ckpt``; fresh classifiers for the pseudo-identities).
4. The final epoch is written as ``OUT/adapted.pth``, a checkpoint ``tools/track.py`` takes.

Only the target's images, seqinfo.ini and det.txt are read: never gt/ (the pseudo folder gets a
gt/gt.txt of our own pseudo-labels).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Sequence

from finetrack.config import Config, upgrade_stored_config
from finetrack.configlib import apply_overrides, build_dataclass, freeze
from finetrack.data.mot import MOTSequence
from finetrack.data.pseudo import MinerRules, mine_tracklets, summary, track_for_mining, write_pseudo_sequence

logger = logging.getLogger(__name__)

#: the fine-tuning schedule (overridable with key=value): a few CPU minutes
ADAPT_DEFAULTS = [
    "train.epochs=3",
    "train.max_iters_per_epoch=25",
    "train.lr=2.0e-4",
    "train.lr_step_epoch=100",
    "train.eval_every=100",
    "reid_eval.max_frames=30",
    "reid_eval.select_on=final_epoch",  # no labels on the target: nothing to select on
    "data.augment.flip=0.5",
    "data.augment.color=0.2",
    "data.augment.erase=0.3",
    "data.augment.box_jitter=0.03",
]


def adapt_reid(
    source: str,
    reid_ckpt: str,
    out_dir: str,
    rules: MinerRules = MinerRules(),
    overrides: Sequence[str] = (),
    progress: bool = True,
) -> dict:
    """Run the four steps above; returns the report (also written as OUT/adapt.json).

    Args:
        source: a MOTChallenge sequence folder (images, seqinfo.ini, det/det.txt).
        reid_ckpt: the FineTrack checkpoint to adapt.
        out_dir: output folder (pseudo/ sequence, run/ training folder, adapted.pth, adapt.json).
        rules: tracklet mining rules.
        overrides: config ``key=value`` overrides of the fine-tuning run.
    """
    from finetrack.utils.checkpoint import load_checkpoint
    from finetrack.engine.reid_build import train_from_config
    from finetrack.tracker import Tracker
    from finetrack.utils.io import atomic_write_bytes, atomic_write_text

    t0 = time.perf_counter()
    seq = MOTSequence(source)
    if not seq.det_path.is_file():
        raise FileNotFoundError(f"adaptation needs detections: {seq.det_path} not found")
    det = seq.det()
    frames = [det.for_frame(f) for f in range(1, len(seq) + 1)]
    if sum(len(s) for _, s in frames) == 0:
        raise ValueError(f"{seq.det_path}: no detections, nothing to adapt on")
    rows = track_for_mining(frames, Tracker(mode="byte", frame_rate=seq.info.frame_rate))
    mined = mine_tracklets(rows, rules)
    stats = summary(rows, mined)
    logger.info("%s: %s", seq.name, stats)
    if stats["pseudo_ids"] < 2:
        raise ValueError(f"{seq.name}: only {stats['pseudo_ids']} confident tracklet(s) found; "
                         "adaptation needs at least 2 (relax the miner rules)")
    out = Path(out_dir)
    pseudo_root = out / "pseudo"
    write_pseudo_sequence(seq.seq_dir, mined, pseudo_root / "train" / seq.name)

    stored = load_checkpoint(reid_ckpt).get("config")
    if stored is None:
        raise KeyError(f"{reid_ckpt} holds no config: not a tools/train_reid.py checkpoint")
    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # our own previous fine-tuning folder: a rerun starts afresh
    ov = ADAPT_DEFAULTS + [
        f"data.root={pseudo_root.resolve()}", "data.train_split=train", "data.val_split=train",
        f"data.train_seqs=[{seq.name}]", f"data.val_seqs=[{seq.name}]", "data.split=full",
        "data.mot17_detector=null", "data.min_visibility=0.0", "data.drop_zero_flag=false",
        "data.num_workers=0", f"model.init_ckpt={Path(reid_ckpt).resolve()}",
        f"out_dir={run_dir}", f"train.progress={'true' if progress else 'false'}",
        "resume=false", "train.resume=false", *overrides,
    ]
    cfg = freeze(build_dataclass(Config, apply_overrides(upgrade_stored_config(stored), ov)))
    metrics = train_from_config(cfg)
    dst = out / "adapted.pth"
    atomic_write_bytes(dst, (run_dir / "last.pth").read_bytes())
    report = {
        "source": str(seq.seq_dir), "reid_ckpt": str(reid_ckpt), "adapted": str(dst),
        "rules": rules.__dict__, "mining": stats, "train_seconds": metrics.get("train_seconds"),
        "seconds": time.perf_counter() - t0, "overrides": list(overrides),
        "note": "pseudo-label validation only (the target has no labels); the final epoch is used",
    }
    atomic_write_text(out / "adapt.json", json.dumps(report, indent=2))
    return report
