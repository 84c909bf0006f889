"""Time tools/eval.py on a MOT17-sized synthetic set (7 sequences, ~5.3k frames, ~100k GT boxes).

    .venv/bin/python scripts/bench_eval.py [--workers 1 2] [--evaluator trackeval both] [--seed 0]

The GT + perturbed results are written to a temporary folder (deleted afterwards unless --keep) and
each configuration is timed end to end (a fresh ``tools/eval.py`` process, imports included).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from finetrack.synthetic.eval_sets import write_synthetic_set

REPO = Path(__file__).resolve().parents[2]

BUDGET_S = 60.0  # issue 3: a MOT17-sized set must evaluate in under a minute


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument(
        "--evaluator",
        nargs="+",
        default=["trackeval", "both"],
        choices=("trackeval", "motmetrics", "both"),
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", type=Path, default=None, help="write the set here and keep it")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        gt_root, res_dir, n_gt = write_synthetic_set(root, seed=args.seed)
        n_res = sum(len(f.read_text().splitlines()) for f in res_dir.glob("*.txt"))
        print(
            f"set: {gt_root} ({n_gt} GT rows, {n_res} result rows; written in "
            f"{time.perf_counter() - t0:.1f} s)"
        )
        rows = []
        for ev in args.evaluator:
            for w in args.workers:
                js = Path(tmp) / f"out_{ev}_{w}.json"
                cmd = [
                    sys.executable,
                    str(REPO / "tools" / "eval.py"),
                    "--gt-root",
                    str(gt_root),
                    "--results",
                    str(res_dir),
                    "--evaluator",
                    ev,
                    "--workers",
                    str(w),
                    "--json",
                    str(js),
                ]
                t = time.perf_counter()
                out = subprocess.run(cmd, capture_output=True, text=True)
                dt = time.perf_counter() - t
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return out.returncode
                comb = json.loads(js.read_text())["COMBINED"]
                rows.append((ev, w, dt, comb["HOTA"], comb["MOTA"], comb["IDF1"]))
    print("| evaluator | workers | seconds | HOTA | MOTA | IDF1 |")
    print("|---|---|---|---|---|---|")
    for ev, w, dt, h, m, i in rows:
        h_txt = "-" if h is None else f"{h:.2f}"
        print(f"| {ev} | {w} | {dt:.1f} | {h_txt} | {m:.2f} | {i:.2f} |")
    slow = [r for r in rows if r[2] >= BUDGET_S]
    print(f"budget {BUDGET_S:.0f} s: " + ("FAILED " + str(slow) if slow else "all within"))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
