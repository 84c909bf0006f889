#!/usr/bin/env python
"""Grid over tracker settings on every cached cross-scene row (scripts/cross_scene.py).

    python scripts/robust_grid.py [--out outputs/cross_scene] [--mode robust] \
        --grid "add_llr=0,4" "veto_llr=2,4" [--fixed tracker.match_thresh=0.9 ...]

Replays OUT/cache/<model>/<SEQ>.<half>.npz (no model runs) with ``byte`` once and ``--mode`` for
each setting of the grid, and prints per setting: IDF1 - byte per row, mean and minimum over the
unseen rows (half ``all``), and the in-scene rows. A grid key without a dot is a
``tracker.robust.*`` key; a dotted key (``tracker.match_thresh``) is used as it is. The setting is
meant to be chosen on the whole table (README states which); nothing is tuned per sequence.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from finetrack.studies import cross_scene as cs
from finetrack.config import Config
from finetrack.configlib import freeze, load_config
from finetrack.inference.build import resolve_appearance
from finetrack.inference.cache import is_color_cache, load_frames, shuffle_embeddings

REPO = Path(__file__).resolve().parents[2]


def grid_key(key: str) -> str:
    return key if "." in key else f"tracker.robust.{key}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "outputs" / "cross_scene"))
    ap.add_argument("--mode", default="robust", choices=["byte", "finetrack", "jde", "robust"])
    ap.add_argument("--grid", nargs="+", default=[], help="KEY=v1,v2 (bare keys are tracker.robust.*)")
    ap.add_argument("--fixed", nargs="*", default=[], help="key=value overrides of every setting")
    ap.add_argument("--models", nargs="*", default=None, help="only these cache folders (model labels)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--shuffle-embeddings", type=int, default=None, metavar="SEED",
                    help="control: permute each frame's embeddings among its detections (boxes kept), "
                         "so any gain over byte is not appearance's")
    args = ap.parse_args(argv)
    out = Path(args.out)
    caches = sorted(c for c in (out / "cache").glob("*/*.npz")
                    if args.models is None or c.parent.name in args.models)
    keys = [grid_key(g.split("=")[0]) for g in args.grid]
    values = [g.split("=", 1)[1].split(",") for g in args.grid]
    settings = [dict(zip(keys, combo)) for combo in itertools.product(*values)] or [{}]
    base = freeze(load_config(Config, None, []))
    fixed = list(args.fixed)
    cfgs = [freeze(load_config(Config, None, fixed + [f"{k}={v}" for k, v in st.items()]))
            for st in settings]  # fail on a bad key before any tracking
    tmp = Path("/tmp/robust_grid")
    rows = []
    for c in caches:
        cache = load_frames(c)
        # the colour features of the same boxes: robust's default appearance (auto) reads them
        cpath = out / "cache" / ("color-val" if c.name.endswith(".val.npz") else "color") / c.name
        color = load_frames(cpath) if cpath.is_file() and c.parent.name not in ("color", "color-val") else None
        needs = {resolve_appearance(cfg.tracker, args.mode) for cfg in cfgs} - {"reid", "color"}
        if color is None and needs and not is_color_cache(cache):
            raise SystemExit(f"error: {cpath} is missing (tracker.appearance {sorted(needs)}): run "
                             f"scripts/cross_scene.py --out {out} --models color first")
        if args.shuffle_embeddings is not None:
            cache = shuffle_embeddings(cache, args.shuffle_embeddings)
            color = None if color is None else shuffle_embeddings(color, args.shuffle_embeddings)
        seq, half = cache.meta["sequence"], cache.meta["half"]
        label = c.parent.name
        byte = cs.track_and_score(cache, seq, half, "byte", base, tmp / label / "byte")
        row = {"model": label, "seq": seq, "half": half, "byte": byte, "variant": []}
        for cfg in cfgs:
            r = cs.track_and_score(cache, seq, half, args.mode, cfg, tmp / label / args.mode, color)
            row["variant"].append(r)
        rows.append(row)
        print(f"{label:28s} {seq:15s} {half:3s} byte {byte['IDF1']:6.2f}", " ".join(
            f"{r['IDF1'] - byte['IDF1']:+6.2f}" for r in row["variant"]), flush=True)
    print()
    for i, st in enumerate(settings):
        unseen = [r["variant"][i]["IDF1"] - r["byte"]["IDF1"] for r in rows if r["half"] == "all"]
        ass = [r["variant"][i]["AssA"] - r["byte"]["AssA"] for r in rows if r["half"] == "all"]
        ins = [r["variant"][i]["IDF1"] - r["byte"]["IDF1"] for r in rows if r["half"] != "all"]
        if unseen:
            print(st, f"unseen IDF1 mean {sum(unseen) / len(unseen):+.2f} min {min(unseen):+.2f} | "
                      f"AssA min {min(ass):+.2f} | in-scene {' '.join(f'{v:+.2f}' for v in ins)}")
        else:
            print(st, f"in-scene {' '.join(f'{v:+.2f}' for v in ins)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"mode": args.mode, "fixed": args.fixed,
                                               "shuffle_embeddings": args.shuffle_embeddings,
                                               "settings": settings, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
