"""Do the K MPMG part masks differ? (issue 13 item 6, the paper's Fig. 5)

Trains one Re-ID config in four variants and reports, per variant, how alike the K part masks
are (mean pairwise Pearson correlation over the evaluated crops, signed and absolute:
``finetrack/eval/reid_metrics.py:mask_correlation``) next to Rank-1 / mAP:

* ``paper``: the config as it is (the paper's loss, eq. 7);
* ``mask_div``: + ``loss.mask_div=W``: eq. (6) on the flattened masks as well as on the features;
* ``mask_overlap``: + ``loss.mask_overlap=W``: a penalty on pixels more than one part claims;
* ``longer``: twice the config's ``train.epochs`` (and its ``lr_step_epoch``).

    .venv/bin/python scripts/mask_study.py -c configs/pets09.yaml --out outputs/mask_study/pets09 \\
        --jobs 2 --vis-seq ../shared/data/MOT15/train/PETS09-S2L1 --vis-frames 450 \\
        --pictures docs/reports/mask_study/pets09

Every variant is one ``tools/train_reid.py`` run on one thread (``train.threads=1``, so a rerun
gives the same numbers) in ``OUT/<variant>/``; a folder is reused only when its saved config
equals the requested one (as in scripts/run_reid_ablations.py), otherwise the script stops
naming the differing keys. ``--jobs N`` trains N variants at once. With ``--vis-seq`` every
variant's final checkpoint renders its masks (``finetrack vis-masks``) into ``--pictures``.
Output: ``OUT/mask_study.json`` and ``OUT/mask_study.md`` (or ``--json`` / ``--md``). The masks'
numbers are on the evaluation split of the config (its ``evaluated_on``); nothing is selected on
them: the variants are reported, not chosen between.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional

import cv2

from finetrack.utils.io import atomic_write_bytes, atomic_write_text

REPO = Path(__file__).resolve().parents[2]

logger = logging.getLogger("finetrack.scripts.mask_study")

VARIANT_NAMES = ("paper", "mask_div", "mask_overlap", "longer")
#: what every run gets (one thread: bit-reproducible on CPU; no bar in a log file)
COMMON = ["train.threads=1", "train.progress=false"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("-c", "--config", required=True, help="Re-ID config (configs/*.yaml)")
    p.add_argument("--out", required=True, type=Path, help="folder of the variant runs")
    p.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES), choices=VARIANT_NAMES)
    p.add_argument("--weight", type=float, default=2.0,
                   help="weight of the mask terms (default 2.0, the paper's gamma)")
    p.add_argument("--jobs", type=int, default=1, help="variants trained at once (one thread each)")
    p.add_argument("--report-only", action="store_true", help="train nothing; report finished runs")
    p.add_argument("--vis-seq", default=None, help="MOT sequence folder for the mask pictures")
    p.add_argument("--vis-frames", type=int, nargs="+", default=[450], help="frames to render")
    p.add_argument("--vis-crops", type=int, default=6, help="boxes per picture")
    p.add_argument("--pictures", type=Path, default=None,
                   help="folder for <variant>.png (default OUT/pictures)")
    p.add_argument("--json", type=Path, default=None, help="default OUT/mask_study.json")
    p.add_argument("--md", type=Path, default=None, help="default OUT/mask_study.md")
    p.add_argument("overrides", nargs="*", help="key=value overrides applied to every variant")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.weight <= 0:
        p.error(f"--weight must be > 0, got {args.weight}")
    return args


def variant_overrides(name: str, base: Dict[str, Any], weight: float) -> List[str]:
    """The variant's own ``key=value`` list; ``base`` is the resolved config (``to_dict``)."""
    if name == "paper":
        return []
    if name == "mask_div":
        return [f"loss.mask_div={weight}"]
    if name == "mask_overlap":
        return [f"loss.mask_overlap={weight}"]
    if name == "longer":
        t = base["train"]
        return [f"train.epochs={2 * t['epochs']}", f"train.lr_step_epoch={2 * t['lr_step_epoch']}"]
    raise KeyError(name)


def run_overrides(name: str, args: argparse.Namespace, base: Dict[str, Any]) -> List[str]:
    return [*variant_overrides(name, base, args.weight), *args.overrides, *COMMON,
            f"out_dir={args.out / name}", f"name={name}"]


def _metrics(run_dir: Path) -> Optional[dict]:
    path = run_dir / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def train(name: str, args: argparse.Namespace, base: Dict[str, Any]) -> dict:
    """Train (or resume) one variant unless its finished run is there; its metrics.json."""
    run_dir = args.out / name
    m = _metrics(run_dir)
    if m and m.get("finished"):
        logger.info("%s: finished run reused (%s)", name, run_dir)
        return m
    cmd = [sys.executable, str(REPO / "tools" / "train_reid.py"), "-c", args.config,
           *run_overrides(name, args, base), "resume=true"]
    logger.info("%s: %s", name, " ".join(cmd[1:]))
    t0 = time.perf_counter()
    log = args.out / f"{name}.stderr.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=fh)
    if proc.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {proc.returncode}); see {log}")
    logger.info("%s: trained in %.0f s", name, time.perf_counter() - t0)
    return _metrics(run_dir)


def final_with_border(name: str, args: argparse.Namespace, final: dict) -> dict:
    """The final epoch's numbers with ``mask_border``; a run made before that metric existed is
    re-scored with ``tools/eval_reid.py`` on its last.pth (same split; its Rank-1 / mAP must
    match the stored ones)."""
    if final.get("mask_border") is not None:
        return final
    out = args.out / name / "final_rescored.json"
    if not out.is_file():
        cmd = [sys.executable, str(REPO / "tools" / "eval_reid.py"), "--ckpt",
               str(args.out / name / "last.pth"), "-c", args.config, "--json", str(out),
               *args.overrides, *COMMON]
        proc = subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"eval-reid failed for {name}: {proc.stderr[-2000:]}")
    again = json.loads(out.read_text())
    if abs(again["mAP"] - final["mAP"]) > 0.05:
        raise RuntimeError(f"{name}: last.pth re-scored to mAP {again['mAP']:.2f}, metrics.json "
                           f"says {final['mAP']:.2f}: not the same run or split")
    return {**final, "mask_border": again.get("mask_border")}


def render(name: str, args: argparse.Namespace, pictures: Path) -> List[str]:
    """Masks of the variant's final checkpoint on --vis-frames; the PNG paths written."""
    ckpt = args.out / name / "last.pth"
    tmp = args.out / name / "masks"
    cmd = [sys.executable, str(REPO / "tools" / "vis_masks.py"), "--ckpt", str(ckpt),
           "--seq", args.vis_seq, "--frames", *map(str, args.vis_frames),
           "--max-crops", str(args.vis_crops), "--out", str(tmp)]
    proc = subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vis-masks failed for {name}: {proc.stderr[-2000:]}")
    pictures.mkdir(parents=True, exist_ok=True)
    written = []
    for png in sorted(tmp.glob("*.png")):
        dst = pictures / f"{name}_{png.stem}.jpg"  # JPEG: a tenth of the PNG's size
        ok, buf = cv2.imencode(".jpg", cv2.imread(str(png)), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError(f"could not encode {png}")
        atomic_write_bytes(dst, buf.tobytes())
        written.append(str(dst))
    return written


def summarise(name: str, m: dict, overrides: List[str]) -> dict:
    """One variant's row: evaluation-split numbers of the final epoch and of best.pth."""
    final, best = m["final"], m["best"]
    last = m["history"][-1] if m.get("history") else {}
    return {
        "variant": name,
        "overrides": overrides,
        "epochs": len(m.get("history", [])),
        "train_seconds": m.get("train_seconds"),
        "final": {k: final.get(k) for k in ("rank1", "mAP", "mask_corr", "mask_abs_corr", "mask_border")},
        "selected": {k: best.get(k) for k in ("epoch", "rank1", "mAP", "mask_corr", "mask_abs_corr")},
        "selected_on": m.get("selected_on"),
        "evaluated_on": m.get("evaluated_on"),
        "per_epoch_select_mask_abs_corr": [h.get("select_mask_abs_corr") for h in m.get("history", [])],
        "last_epoch_losses": {k[5:]: round(v, 4) for k, v in last.items() if k.startswith("loss_")},
    }


def _f(v: Optional[float], fmt: str = ".1f") -> str:
    return "-" if v is None else format(v, fmt)


def markdown(report: dict) -> str:
    rows = report["rows"]
    first = rows[0]
    lines = [
        f"### Part-mask diversity: {report['config']}", "",
        f"Command: `{report['command']}`", "",
        f"Evaluation split: {first['evaluated_on']} (protocol v2). |r| = mean absolute Pearson "
        "correlation between the K part masks of a crop, averaged over the evaluated crops "
        "(1 = one pattern or its inverse, 0 = unrelated); r = the signed mean; border share = "
        "the mean share of a part mask's mass in the crop's outer columns (w // 8 a side; 0.25 "
        "for an even mask at w = 8: high = the parts sit on the box edges, not the body). "
        "Final = last "
        f"epoch; selected = best.pth, chosen on {first['selected_on']}. One run each, seed "
        f"{report['seed']}, one thread (bit-reproducible).", "",
        "| variant | overrides | epochs | final Rank-1 | final mAP | final r | final abs r "
        "| final border share | selected epoch | selected mAP | selected abs r "
        "| abs r per epoch (selection slice) | run s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        f, s = r["final"], r["selected"]
        per = ", ".join(_f(v, ".2f") for v in r["per_epoch_select_mask_abs_corr"])
        lines.append(
            f"| {r['variant']} | {' '.join(r['overrides']) or '(paper loss)'} | {r['epochs']} | "
            f"{_f(f['rank1'])} | {_f(f['mAP'])} | {_f(f['mask_corr'], '.3f')} | "
            f"{_f(f['mask_abs_corr'], '.3f')} | {_f(f.get('mask_border'), '.3f')} | {s['epoch']} | {_f(s['mAP'])} | "
            f"{_f(s['mask_abs_corr'], '.3f')} | {per} | {_f(r['train_seconds'], '.0f')} |")
    lines += ["", report["outcome"], ""]
    for r in rows:
        for png in r.get("pictures", []):
            lines.append(f"![{r['variant']}]({png})")
    return "\n".join(lines) + "\n"


def outcome(rows: List[dict]) -> str:
    """A plain statement: which variant's masks differ most, and what it costs in mAP."""
    by = {r["variant"]: r for r in rows}
    ref = by.get("paper")
    have = [r for r in rows if r["final"]["mask_abs_corr"] is not None]
    if ref is None or not have:
        return "No outcome: the paper variant or the mask numbers are missing."
    low = min(have, key=lambda r: r["final"]["mask_abs_corr"])
    parts = [f"Paper loss: final |r| {ref['final']['mask_abs_corr']:.3f}, mAP "
             f"{ref['final']['mAP']:.1f}."]
    for r in rows:
        if r is ref or r["final"]["mask_abs_corr"] is None:
            continue
        parts.append(f"{r['variant']}: |r| {r['final']['mask_abs_corr']:.3f} "
                     f"({r['final']['mask_abs_corr'] - ref['final']['mask_abs_corr']:+.3f}), "
                     f"mAP {r['final']['mAP']:.1f} ({r['final']['mAP'] - ref['final']['mAP']:+.1f}).")
    parts.append(f"Most diverse masks: {low['variant']}.")
    return " ".join(parts)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from finetrack.config import Config
    from finetrack.configlib import ConfigError, load_config, to_dict
    from finetrack.studies.run_reid_ablations import stale_keys

    try:
        base = to_dict(load_config(Config, args.config, list(args.overrides)))
        wanted = {n: to_dict(load_config(Config, args.config, run_overrides(n, args, base)))
                  for n in args.variants}
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = {n: stale_keys(args.out / n, wanted[n]) for n in args.variants}
    stale = {n: k for n, k in stale.items() if k}
    if stale:
        for n, keys in stale.items():
            print(f"error: {args.out / n} was made with another config: {'; '.join(keys)}",
                  file=sys.stderr)
        return 2
    if args.report_only:
        results = {n: _metrics(args.out / n) for n in args.variants}
        missing = [n for n, m in results.items() if not (m and m.get("finished"))]
        if missing:
            print(f"error: no finished run for {', '.join(missing)} under {args.out}", file=sys.stderr)
            return 2
    else:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {n: pool.submit(train, n, args, base) for n in args.variants}
            results = {n: f.result() for n, f in futures.items()}
    rows = []
    pictures = args.pictures or args.out / "pictures"
    for n in args.variants:
        m = dict(results[n], final=final_with_border(n, args, results[n]["final"]))
        row = summarise(n, m, variant_overrides(n, base, args.weight))
        if args.vis_seq:
            row["pictures"] = render(n, args, pictures)
        rows.append(row)
    md_path = args.md or args.out / "mask_study.md"
    json_path = args.json or args.out / "mask_study.json"
    written = [p for r in rows for p in r.get("pictures", [])]
    if args.vis_seq:  # markdown links relative to where the markdown lies
        for row in rows:
            row["pictures"] = [str(Path(p).resolve().relative_to(md_path.resolve().parent))
                               if Path(p).resolve().is_relative_to(md_path.resolve().parent)
                               else str(p) for p in row["pictures"]]
    report = {
        "config": args.config, "seed": base["seed"], "weight": args.weight,
        "command": "python scripts/mask_study.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "rows": rows, "outcome": outcome(rows),
    }
    atomic_write_text(json_path, json.dumps(report, indent=2) + "\n")
    atomic_write_text(md_path, markdown(report))
    print(report["outcome"])
    for p in (json_path, md_path, *written):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
