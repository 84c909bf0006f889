#!/usr/bin/env python
"""Audit an association mode's decisions against the ground truth (a diagnostic, not a metric).

    python scripts/decision_audit.py --cache outputs/cross_scene/cache/synthetic/PETS09-S2L1.all.npz \
        --gt datasets/scenes/train/PETS09-S2L1/gt/gt.txt --modes byte finetrack robust [key=value ...]

Replays a cross-scene cache (scripts/cross_scene.py) and labels every detection with the GT
identity it overlaps (Hungarian, IoU >= 0.5). Per mode it counts, over the matches the tracker
makes: ``cont`` (a tracked track continues), ``refound`` (a lost track is found again), each
``right`` (same GT identity as the track's previous labelled box), ``wrong`` or ``unk`` (either box
unlabelled), and ``new`` tracks started on a GT person (``new_gt``) or on a false positive
(``new_fp``). For every mode but byte it also counts the first-stage pairs of tracked tracks that
byte's own cost would have assigned to another detection in the same state (``swap_*``: which of
the two was right). Nothing here feeds back into the tracker.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

from finetrack.config import Config
from finetrack.configlib import freeze, load_config
from finetrack.inference.build import build_tracker
from finetrack.inference.cache import load_frames
from finetrack.structures import box_iou_xyxy
from finetrack.tracker import matching
from finetrack.tracker.track import TrackState

REPO = Path(__file__).resolve().parents[2]


def gt_labels(cache, gt_path: Path) -> list:
    """(N_f,) GT identity per cached detection (-1: none), per frame."""
    import configparser

    from finetrack.data.mot import half_split_frames

    gt = np.loadtxt(gt_path, delimiter=",", ndmin=2)
    if cache.meta["sequence"].startswith(("MOT17", "MOT20")):  # only pedestrians, considered
        gt = gt[(gt[:, 6] != 0) & (gt[:, 7] == 1)]
    else:
        gt = gt[gt[:, 6] != 0]
    info = configparser.ConfigParser()
    info.read(gt_path.parent.parent / "seqinfo.ini")
    first, _ = half_split_frames(int(info["Sequence"]["seqLength"]), cache.meta["half"])
    out = []
    for i, f in enumerate(cache.frames):
        g = gt[gt[:, 0] == f + first - 1]
        lab = np.full(len(cache.xyxy[i]), -1)
        if len(g) and len(lab):
            gx = np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5]]
            m, _, _ = matching.linear_assignment(1.0 - box_iou_xyxy(cache.xyxy[i], gx), 0.5)
            for a, b in m:
                lab[a] = int(g[b, 1])
        out.append(lab)
    return out


def audit(cache, labels, mode: str, cfg: Config) -> dict:
    tr = build_tracker(cfg.tracker, cache.meta["frame_rate"], mode)
    last = {}
    stats = collections.Counter()
    frame = {"i": 0}
    first_stage = tr.association.first_stage

    def wrapped(fp):  # fp: the frame's FramePool
        lab = labels[frame["i"]]
        pairs = []
        pool, high = fp.tracks, fp.high
        if mode != "byte" and len(pool) and len(high):
            d = matching.fuse_score(matching.iou_distance(fp.boxes, fp.xyxy[high]), fp.scores[high])
            bm, _, _ = matching.linear_assignment(d, tr.settings.match_thresh)
            pairs = [(pool[a].track_id, pool[a].state, int(high[b])) for a, b in bm]
        out = first_stage(fp)
        chosen = {t.track_id: int(t.det_index) for t in fp.activated + fp.refound}
        for tid, state, bdet in pairs:
            mdet = chosen.get(tid)
            if state != TrackState.TRACKED or mdet is None or mdet == bdet:
                continue
            ll = last.get(tid, -1)
            br = ll >= 0 and lab[bdet] == ll
            mr = ll >= 0 and lab[mdet] == ll
            stats[f"swap_byte{'R' if br else 'W'}_mode{'R' if mr else 'W'}"] += 1
        return out

    tr.association.first_stage = wrapped
    tr.reset()
    for i in range(len(cache.frames)):
        frame["i"] = i
        lost_before = {t.track_id for t in tr.lost_tracks}
        tr.update(cache.xyxy[i], cache.scores[i], None if mode == "byte" else cache.emb[i])
        lab = labels[i]
        for t in tr.tracked_tracks:
            if t.frame_id != tr.frame_id:
                continue
            lb = lab[t.det_index] if 0 <= t.det_index < len(lab) else -1
            if t.track_id not in last:
                stats["new_fp" if lb < 0 else "new_gt"] += 1
            else:
                kind = "refound" if t.track_id in lost_before else "cont"
                ll = last[t.track_id]
                stats[f"{kind}_{'unk' if lb < 0 or ll < 0 else ('right' if lb == ll else 'wrong')}"] += 1
            if lb >= 0 or t.track_id not in last:
                last[t.track_id] = lb
    return dict(sorted(stats.items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--modes", nargs="+", default=["byte", "finetrack", "robust"])
    ap.add_argument("overrides", nargs="*", help="tracker.* key=value")
    args = ap.parse_args(argv)
    cache = load_frames(args.cache)
    labels = gt_labels(cache, Path(args.gt))
    cfg = freeze(load_config(Config, None, args.overrides))
    for mode in args.modes:
        print(mode, audit(cache, labels, mode, cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
