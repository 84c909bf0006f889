#!/usr/bin/env python
"""Nested leave-one-scene-out study of fusion rules on training-free cues (issue 27).

    python scripts/nested_loso.py [--data ../shared/data] [--out outputs/unseen] [--steps 2 3]
        [--scenes PETS09-S2L1 ETH-Sunnyday KITTI-17 MOT17-09-FRCNN]

Builds each scene's cache once (public detections, colour and ImageNet MobileNetV2 features:
OUT/cache/<SCENE>.npz), scores the grid of finetrack/studies/nested_loso.py RULES x CUES with
TrackEval (stored in OUT/scores.json, so a rerun replays nothing it has), and writes
OUT/nested_loso.json and OUT/nested_loso.md (printed too).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from finetrack.studies import nested_loso
from finetrack.studies.scenes import SHARED_SCENES, scene_dirs
from finetrack.utils.io import atomic_write_text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="the shared data root (read only)")
    ap.add_argument("--out", default="outputs/unseen")
    ap.add_argument("--scenes", nargs="+", default=list(SHARED_SCENES), choices=list(SHARED_SCENES))
    ap.add_argument("--steps", type=int, nargs="*", default=[2, 3], help="stress rows: every k-th frame")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: shared cores)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("finetrack").setLevel(logging.WARNING)
    if len(args.scenes) < 3:
        print("error: the nested protocol needs at least 3 scenes", file=sys.stderr)
        return 2
    if any(k < 2 for k in args.steps):
        print("error: --steps must be 2 or more", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    try:
        dirs = scene_dirs(args.data, args.scenes)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    caches = {}
    for scene, d in dirs.items():
        t1 = time.perf_counter()
        caches[scene] = nested_loso.build_scene_cache(d, out / "cache" / f"{scene}.npz")
        logging.info("%s: cache ready (%d frames, %.0f s; ms/box %s)", scene, len(caches[scene].frames),
                     time.perf_counter() - t1, caches[scene].meta.get("ms_per_box"))
    study = nested_loso.NestedStudy(caches, dirs, out)

    def partial(res):  # the main table as soon as it is there (the stress rows follow)
        atomic_write_text(out / "nested_loso.partial.md", nested_loso.markdown(res))
        logging.info("main table: %s", out / "nested_loso.partial.md")

    res = nested_loso.run(study, args.scenes, args.steps, progress=logging.info, partial=partial)
    res["minutes"] = (time.perf_counter() - t0) / 60
    res["load_start"], res["load_end"] = load0, os.getloadavg()
    res["ms_per_box"] = {s: c.meta.get("ms_per_box") for s, c in caches.items()}
    md = nested_loso.markdown(res)
    atomic_write_text(out / "nested_loso.json", json.dumps(res, indent=1))
    atomic_write_text(out / "nested_loso.md", md)
    print(md)
    print(f"({res['minutes']:.1f} min, load {load0[0]:.1f} -> {res['load_end'][0]:.1f}) wrote "
          f"{out / 'nested_loso.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
