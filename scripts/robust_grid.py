#!/usr/bin/env python
"""Grid over ``tracker.robust.*`` settings on every cached cross-scene row (scripts/cross_scene.py).

    python scripts/robust_grid.py [--out outputs/cross_scene] --grid "unlock_llr=0,1" "bonus_weight=0.05,0.1"

Replays OUT/cache/<model>/<SEQ>.<half>.npz (no model runs) with ``byte`` once and ``robust`` for each
setting of the grid, and prints per setting: IDF1 - byte per row, mean and minimum over the unseen
rows (half ``all``), and the in-scene rows. The setting is meant to be chosen on the whole table
(README states which); nothing is tuned per sequence.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import cross_scene as cs  # noqa: E402
from finetrack.config import Config, freeze, load_config  # noqa: E402
from finetrack.inference.cache import load_frames  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "outputs" / "cross_scene"))
    ap.add_argument("--grid", nargs="+", default=[], help="KEY=v1,v2 (keys under tracker.robust.)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    out = Path(args.out)
    caches = sorted((out / "cache").glob("*/*.npz"))
    keys = [g.split("=")[0] for g in args.grid]
    values = [g.split("=")[1].split(",") for g in args.grid]
    settings = [dict(zip(keys, combo)) for combo in itertools.product(*values)] or [{}]
    base = freeze(load_config(Config, None, []))
    rows = []
    for c in caches:
        cache = load_frames(c)
        seq, half = cache.meta["sequence"], cache.meta["half"]
        label = c.parent.name
        byte = cs.track_and_score(cache, seq, half, "byte", base, Path("/tmp/robust_grid") / label / "byte")
        row = {"model": label, "seq": seq, "half": half, "byte": byte, "robust": []}
        for st in settings:
            cfg = freeze(load_config(Config, None, [f"tracker.robust.{k}={v}" for k, v in st.items()]))
            r = cs.track_and_score(cache, seq, half, "robust", cfg, Path("/tmp/robust_grid") / label / "robust")
            row["robust"].append(r)
        rows.append(row)
        print(label, seq, half, "byte", round(byte["IDF1"], 2), " ".join(
            f"{r['IDF1'] - byte['IDF1']:+.2f}" for r in row["robust"]), flush=True)
    print()
    for i, st in enumerate(settings):
        unseen = [r["robust"][i]["IDF1"] - r["byte"]["IDF1"] for r in rows if r["half"] == "all"]
        ass = [r["robust"][i]["AssA"] - r["byte"]["AssA"] for r in rows if r["half"] == "all"]
        ins = [r["robust"][i]["IDF1"] - r["byte"]["IDF1"] for r in rows if r["half"] != "all"]
        if unseen:
            print(st, f"unseen IDF1 mean {sum(unseen) / len(unseen):+.2f} min {min(unseen):+.2f} | "
                      f"AssA min {min(ass):+.2f} | in-scene {' '.join(f'{v:+.2f}' for v in ins)}")
        else:
            print(st, f"in-scene {' '.join(f'{v:+.2f}' for v in ins)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": settings, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
