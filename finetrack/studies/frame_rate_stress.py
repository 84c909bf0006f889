"""Does appearance still only help at lower frame rates? The cross-scene rows at 1/k of their rate.

    python scripts/frame_rate_stress.py [--out outputs/cross_scene] [--steps 2 3] [--models M ...]
        [--json FILE] [key=value tracker overrides ...]

Takes every cached cross-scene row of a whole sequence (OUT/cache/<model>/<SEQ>.all.npz, written by
scripts/cross_scene.py; no model runs) and keeps every k-th frame (frames 1, 1 + k, 1 + 2k, ...,
renumbered, frame rate / k) with the colour cache of the same boxes beside it. The ground truth
is cut the same way into OUT/frame_rate_stress/gt/<SEQ>-every<k>/ (gt.txt and seqinfo.ini; the
shared data is only read). Each row is tracked with ``byte`` and ``robust`` (the overrides apply
to both) and scored with TrackEval. No setting was chosen on these rows: they are a check of the
settings chosen on the cross-scene table, on conditions it does not hold (boxes move k times
farther between frames, IoU says less, appearance has to say more).

Prints per row byte IDF1 / AssA and robust - byte, then the mean and minimum over the rows.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from finetrack.config import Config
from finetrack.configlib import ConfigError, freeze, load_config
from finetrack.data.splits import write_cut_gt
from finetrack.inference.cache import every_kth, load_frames
from finetrack.studies import cross_scene as cs
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "outputs" / "cross_scene"))
    ap.add_argument("--steps", type=int, nargs="+", default=[2, 3], help="keep every k-th frame")
    ap.add_argument("--models", nargs="*", default=None, help="only these cache folders")
    ap.add_argument("--json", default=None)
    ap.add_argument("overrides", nargs="*", help="tracker.* key=value overrides")
    args = ap.parse_args(argv)
    if any(k < 2 for k in args.steps):
        print("error: --steps must be 2 or more", file=sys.stderr)
        return 2
    try:
        cfg = freeze(load_config(Config, None, args.overrides))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    caches = sorted(c for c in (out / "cache").glob("*/*.all.npz")
                    if args.models is None or c.parent.name in args.models)
    if not caches:
        print(f"error: no whole-sequence rows under {out / 'cache'} (run scripts/cross_scene.py)",
              file=sys.stderr)
        return 2
    work = out / "frame_rate_stress"
    rows = []
    for c in caches:
        cache = load_frames(c)
        seq = cache.meta["sequence"]
        cpath = out / "cache" / "color" / c.name
        color = load_frames(cpath) if cpath.is_file() and c.parent.name != "color" else None
        for k in args.steps:
            name = write_cut_gt(cs.SCENES_ROOT / "train" / seq, k, work / "gt").name
            sub, sub_color = every_kth(cache, k), None if color is None else every_kth(color, k)
            res = {m: cs.track_and_score(sub, name, "all", m, cfg, work / "results" / c.parent.name / m,
                                         sub_color, gt_root=work / "gt")
                   for m in ("byte", "robust")}
            row = {"model": c.parent.name, "seq": name, "frame_rate": sub.meta["frame_rate"], **res}
            rows.append(row)
            b, r = res["byte"], res["robust"]
            print(f"{row['model']:28s} {name:24s} {row['frame_rate']:5.2f} fps  byte IDF1 {b['IDF1']:6.2f} "
                  f"AssA {b['AssA']:6.2f} | robust {r['IDF1'] - b['IDF1']:+6.2f} / {r['AssA'] - b['AssA']:+6.2f}",
                  flush=True)
    d_idf1 = [r["robust"]["IDF1"] - r["byte"]["IDF1"] for r in rows]
    d_assa = [r["robust"]["AssA"] - r["byte"]["AssA"] for r in rows]
    print(f"\n{len(rows)} rows: robust - byte IDF1 mean {np.mean(d_idf1):+.2f} min {min(d_idf1):+.2f} | "
          f"AssA mean {np.mean(d_assa):+.2f} min {min(d_assa):+.2f}")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps({"overrides": args.overrides, "steps": args.steps,
                                                       "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
