#!/usr/bin/env python
"""Camera motion compensation in every association mode, on cached detections and embeddings.

    python scripts/cmc_modes.py --cache CACHE.npz --seq DIR [--modes byte finetrack]
        [--cmc none sof] --out OUT [key=value tracker overrides ...]

CACHE.npz is an embedding cache of one sequence (``finetrack.inference.cache``, e.g. the ones
``scripts/cross_scene.py`` writes to ``<out>/cache/<model>/<SEQ>.all.npz``): one Re-ID pass per
frame, replayed here for each mode and each ``tracker.cmc`` method. The warps come from the
sequence's frames (DIR) through the runner's per-sequence CMC cache (``OUT/cmc/<SEQ>.<method>.txt``),
as in ``tools/track.py``. Each run's results go to ``OUT/<mode>_<cmc>/<SEQ>.txt``; TrackEval scores
them on DIR/gt/gt.txt (the whole sequence). Prints a table, writes OUT/cmc_modes.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np

from finetrack.config import Config
from finetrack.configlib import ConfigError, load_config
from finetrack.data.mot import MOTSequence
from finetrack.data.results import write_results
from finetrack.eval.evaluator import evaluate
from finetrack.inference.app import build_sequence_cmc
from finetrack.inference.build import build_tracker
from finetrack.inference.cache import load_frames
from finetrack.structures import xyxy_to_tlwh
from finetrack.tracker import MODES
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]

log = logging.getLogger("cmc_modes")
METRICS = ("IDF1", "IDs", "HOTA", "MOTA")


def run(cache, seq_dir: Path, seq: MOTSequence, mode: str, cmc: str, cfg: Config,
        out: Path) -> dict:
    """Track the cached frames with ``mode`` and ``tracker.cmc=cmc``; returns TrackEval scores."""
    # the cache's Re-ID features as one cue (this study is about camera motion, not the cues)
    tcfg = dataclasses.replace(cfg.tracker, mode=mode, cmc=cmc, appearance="reid")
    tracker = build_tracker(tcfg, cache.meta["frame_rate"])
    motion = build_sequence_cmc(tcfg, seq, out)
    rows = []
    for i, frame in enumerate(cache.frames.tolist()):
        warp = None if motion is None else motion(frame, cache.xyxy[i])
        o = tracker.update(cache.xyxy[i], cache.scores[i],
                           cache.emb[i] if mode != "byte" else None, warp=warp)
        if len(o.ids):
            rows.append(np.column_stack([np.full(len(o.ids), frame), o.ids, xyxy_to_tlwh(o.xyxy),
                                         o.scores]))
    if motion is not None:
        motion.save()
    rows = np.concatenate(rows) if rows else np.zeros((0, 7))
    res = out / f"{mode}_{cmc}"
    res.mkdir(parents=True, exist_ok=True)
    write_results(res / f"{seq.name}.txt", rows[:, 0], rows[:, 1], rows[:, 2:6], rows[:, 6])
    rep = evaluate(seq_dir.parent, res, [seq.name], "full", ("trackeval",))
    m = rep.per_sequence["trackeval"][seq.name]
    return {k: float(m[k]) for k in METRICS}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    p.add_argument("--cache", required=True, help="embedding cache (.npz) of the sequence")
    p.add_argument("--seq", required=True, help="MOTChallenge sequence folder (frames, gt)")
    p.add_argument("--modes", nargs="+", default=["byte", "finetrack"], choices=MODES)
    p.add_argument("--cmc", nargs="+", default=["none", "sof"],
                   choices=("none", "sof", "ecc", "orb"))
    p.add_argument("--out", required=True)
    p.add_argument("overrides", nargs="*", help="tracker.* key=value overrides")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg = load_config(Config, None, args.overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in (args.cache, args.seq):
        if not Path(path).exists():
            print(f"error: not found: {path}", file=sys.stderr)
            return 2
    cache = load_frames(args.cache)
    seq = MOTSequence(Path(args.seq))
    out = Path(args.out)
    table = {}
    for mode in args.modes:
        for cmc in args.cmc:
            table[f"{mode} {cmc}"] = run(cache, Path(args.seq), seq, mode, cmc, cfg, out)
            log.info("%-16s %s", f"{mode} {cmc}", "  ".join(
                f"{k} {v:.2f}" if k != "IDs" else f"IDs {int(v)}"
                for k, v in table[f'{mode} {cmc}'].items()))
    atomic_write_text(out / "cmc_modes.json", json.dumps(
        {"cache": str(args.cache), "cache_meta": cache.meta, "seq": str(args.seq),
         "overrides": args.overrides, "results": table}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
