"""Run the Re-ID ablations of the paper (Table 3: sampler; Table 4: neck x pooling; Table 5: FAM)
on any Re-ID config, and write markdown tables next to the paper's numbers plus a plot of the
validation mAP per epoch of every variant.

    .venv/bin/python scripts/run_reid_ablations.py -c configs/synthetic_reid.yaml \
        --out outputs/ablations/synthetic [--tables 3 4] [train.epochs=4 ...]

Every variant is one ``tools/train_reid.py`` run (separate process) in ``OUT/<variant>/`` with the
config's own settings plus the variant's overrides and the extra ``key=value`` overrides given
here. A variant folder is reused only when its saved ``config.yaml`` equals the requested config
(keys that do not change what is trained, such as ``train.progress``, aside; a smaller
``train.epochs`` is extended by resuming): a finished run is then reused, an unfinished one is
resumed from its ``last.pth``. When a folder was made with another config, nothing is trained and
the script stops (exit 2) naming the differing keys of every such variant; ``--rerun`` trains
every variant again from scratch. Variants shared by several tables (FAFPN+MPMG with SGS) run
once. Output: ``OUT/ablations.md``, ``OUT/ablations.json``, ``OUT/ablation_map.png``.

Seeds (issue 13: mean +- std over seeds):

    .venv/bin/python scripts/run_reid_ablations.py -c configs/mot17like_reid.yaml \
        --out outputs/sgs/mot17like --seeds 0 1 2 [--report-only]

runs every variant once per seed in ``OUT/seed<S>/`` (override ``seed=S``; each seed folder gets
the tables above) and writes ``OUT/sgs_report.json`` and ``OUT/sgs_report.md``: per variant the
mean +- sample std (n - 1) over the seeds of the final-epoch and the selected checkpoint's
Rank-1 / mAP, whether the paper's orderings hold (by mean final mAP, and per adjacent pair of the
paper's order in how many seeds), and the positives per anchor per batch of every sampler on the
training frames (scripts/sampler_positives.py, per seed, averaged). ``--report-only`` trains
nothing and reports the finished runs there are (the report says how many seeds each variant has).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from finetrack.utils.io import atomic_path, atomic_write_text

REPO = Path(__file__).resolve().parents[2]

logger = logging.getLogger("finetrack.scripts.ablations")

#: variant name -> (overrides, paper Rank-1, paper mAP); paper = MOT17 val half, GT boxes.
VARIANTS: Dict[str, Tuple[List[str], float, float]] = {
    "sequential": (
        ["data.sampler=sequential", "model.neck=fafpn", "model.pooling=mpmg"],
        89.7,
        56.7,
    ),
    "shuffle": (["data.sampler=shuffle", "model.neck=fafpn", "model.pooling=mpmg"], 90.9, 60.4),
    "fafpn_mpmg": (["data.sampler=sgs", "model.neck=fafpn", "model.pooling=mpmg"], 92.3, 61.8),
    "fpn_gap": (["data.sampler=sgs", "model.neck=fpn", "model.pooling=gap"], 88.3, 50.4),
    "fpn_mpmg": (["data.sampler=sgs", "model.neck=fpn", "model.pooling=mpmg"], 89.8, 55.7),
    "fafpn_gap": (["data.sampler=sgs", "model.neck=fafpn", "model.pooling=gap"], 91.8, 58.2),
    "nofam_gap": (["data.sampler=sgs", "model.neck=fafpn_nofam", "model.pooling=gap"], 91.7, 57.9),
    "nofam_mpmg": (
        ["data.sampler=sgs", "model.neck=fafpn_nofam", "model.pooling=mpmg"],
        92.0,
        61.1,
    ),
}
#: table -> (title, [(row label, variant)])
TABLES: Dict[str, Tuple[str, List[Tuple[str, str]]]] = {
    "3": (
        "Table 3: sampler (FAFPN + MPMG)",
        [("sequential", "sequential"), ("shuffle", "shuffle"), ("SGS", "fafpn_mpmg")],
    ),
    "4": (
        "Table 4: components (SGS)",
        [
            ("FPN + GAP", "fpn_gap"),
            ("FPN + MPMG", "fpn_mpmg"),
            ("FAFPN + GAP", "fafpn_gap"),
            ("FAFPN + MPMG", "fafpn_mpmg"),
        ],
    ),
    "5": (
        "Table 5: FAM (SGS)",
        [
            ("w/o FAM + GAP", "nofam_gap"),
            ("w/o FAM + MPMG", "nofam_mpmg"),
            ("w FAM + GAP", "fafpn_gap"),
            ("w FAM + MPMG", "fafpn_mpmg"),
        ],
    ),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", required=True, help="Re-ID config (configs/*.yaml)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default outputs/ablations/<config stem>)",
    )
    p.add_argument("--tables", nargs="+", default=["3", "4"], choices=sorted(TABLES))
    p.add_argument("--rerun", action="store_true", help="train again even if finished")
    p.add_argument("--title", default=None, help="heading of the markdown (default: config name)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="run every variant once per seed into OUT/seed<S>/ and write "
                        "OUT/sgs_report.{json,md} (mean +- std over the seeds)")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: report the finished, up-to-date runs there are")
    p.add_argument("--final-from", default=None, metavar="NAME",
                   help="with --seeds --report-only: take each run's final-epoch numbers from "
                        "OUT/seed<S>/<variant>/NAME (a tools/eval_reid.py --json of its last.pth, "
                        "e.g. on more evaluation frames) instead of metrics.json; the report is "
                        "then OUT/sgs_report_<NAME stem>.{json,md}")
    p.add_argument("overrides", nargs="*", help="key=value overrides applied to every variant")
    # key=value items go to the overrides wherever they stand (`--tables 3 4 seed=1` would
    # otherwise hand seed=1 to --tables)
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = [a for a in argv if "=" in a and not a.startswith("-")]
    args = p.parse_args([a for a in argv if a not in overrides])
    args.overrides = overrides
    return args


def _load_metrics(run_dir: Path) -> Optional[dict]:
    path = run_dir / "metrics.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


#: keys that may differ between a variant folder's saved config and the requested one
REUSE_MAY_DIFFER = (
    "resume", "train.resume", "overwrite", "out_dir", "name", "train.progress", "train.log_every",
    "train.device", "data.num_workers",
)


def variant_overrides(name: str, out: Path, overrides: List[str], rerun: bool) -> List[str]:
    """The ``key=value`` list handed to tools/train_reid.py for one variant."""
    return [
        *VARIANTS[name][0],
        *overrides,
        f"out_dir={out / name}",
        f"name={name}",
        "train.progress=false",
        f"resume={'false' if rerun else 'true'}",
    ]


def requested_config(config: str, name: str, out: Path, overrides: List[str]) -> dict:
    """The resolved config (:func:`finetrack.config.to_dict`) a variant's run would get."""
    from finetrack.config import Config
    from finetrack.configlib import load_config, to_dict

    return to_dict(load_config(Config, config, variant_overrides(name, out, overrides, False)))


def stale_keys(run_dir: Path, wanted: dict) -> List[str]:
    """Why ``run_dir`` cannot be reused for the requested config ``wanted``.

    Returns:
        [] when the folder holds no run, or when its saved config.yaml equals ``wanted`` (keys of
        :data:`REUSE_MAY_DIFFER` aside; a smaller ``train.epochs`` is fine: resuming extends
        the run); else the ``"key: saved -> requested"`` differences.
    """
    import yaml

    from finetrack.configlib import config_changes

    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        if (run_dir / "metrics.json").is_file() or (run_dir / "last.pth").is_file():
            return [f"{saved_path.name} is missing: the run's config is unknown"]
        return []
    saved = yaml.safe_load(saved_path.read_text()) or {}
    changes = config_changes(saved, wanted, REUSE_MAY_DIFFER)
    old_epochs = (saved.get("train") or {}).get("epochs")
    if isinstance(old_epochs, int) and old_epochs < wanted["train"]["epochs"]:
        changes = [c for c in changes if not c.startswith("train.epochs:")]
    return changes


def run_variant(
    config: str, name: str, out: Path, overrides: List[str], rerun: bool, epochs: int
) -> dict:
    """Train one variant, or reuse its finished run (the caller checked :func:`stale_keys`);
    returns its metrics.json content.

    Args:
        epochs: the requested ``train.epochs``; a finished run with fewer is resumed (extended).
    """
    run_dir = out / name
    metrics = _load_metrics(run_dir)
    done = len((metrics or {}).get("history", []))
    if metrics and metrics.get("finished") and not rerun and done >= epochs:
        logger.info("%s: finished run with the same config reused (%s)", name, run_dir)
        return metrics
    cmd = [
        sys.executable,
        str(REPO / "tools" / "train_reid.py"),
        "-c",
        config,
        *variant_overrides(name, out, overrides, rerun),
        f"overwrite={'true' if rerun else 'false'}",  # --rerun replaces the earlier run
    ]
    logger.info("%s: %s", name, " ".join(cmd[1:]))
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"variant {name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    metrics = _load_metrics(run_dir)
    logger.info("%s: done in %.0fs: best %s", name, time.perf_counter() - t0, metrics["best"])
    return metrics


def _ordering_note(rows: List[Tuple[str, dict, float, float]]) -> str:
    """Compare the ranking by our mAP with the paper's."""
    ours = [r[0] for r in sorted(rows, key=lambda r: -(r[1]["best"]["mAP"] or 0.0))]
    paper = [r[0] for r in sorted(rows, key=lambda r: -r[3])]
    if ours == paper:
        return "mAP ordering: same as the paper."
    return (
        f"mAP ordering: **differs from the paper** (ours: {' > '.join(ours)}; "
        f"paper: {' > '.join(paper)})."
    )


def markdown(title: str, results: Dict[str, dict], tables: List[str], command: str) -> str:
    lines = [f"### {title}", "", f"Command: `{command}`", ""]
    for t in tables:
        head, rows = TABLES[t]
        first = results[rows[0][1]]
        lines += [
            f"**{head}** (ours: Rank-1/mAP on the {first.get('evaluated_on', 'evaluation split')}"
            f", protocol {(first.get('protocol') or {}).get('version', 'v1')}, of the checkpoint "
            f"selected on {first.get('selected_on', 'the evaluation split (old run)')} and of "
            "the final epoch; run s = training seconds; paper: MOT17 val half, GT boxes)",
            "",
            "| variant | Rank-1 | mAP | final Rank-1 | final mAP | selected epoch "
            "| run s | paper Rank-1 | paper mAP |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        scored = []
        for label, name in rows:
            m = results[name]
            b, f = m["best"], m["final"]
            _, p_r1, p_map = VARIANTS[name]
            lines.append(
                f"| {label} | {b['rank1']:.1f} | {b['mAP']:.1f} | {f['rank1']:.1f} | "
                f"{f['mAP']:.1f} | {b['epoch']} | {m['train_seconds']:.0f} | {p_r1} | {p_map} |"
            )
            scored.append((label, m, p_r1, p_map))
        lines += ["", _ordering_note(scored), ""]
    return "\n".join(lines) + "\n"


def plot(results: Dict[str, dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, m in results.items():
        key = "select_mAP" if any("select_mAP" in h for h in m.get("history", [])) else "mAP"
        hist = [h for h in m.get("history", []) if key in h]
        ax.plot([h["epoch"] for h in hist], [h[key] for h in hist], marker="o", label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("selection-slice mAP (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:  # unique temp name, removed on any error
            fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)


def _rel(path: str) -> str:
    """``path`` relative to the repository when inside it (for the printed command)."""
    p = Path(path)
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)


# -------------------------------------------------------------------------------------------
# seeds: mean +- std (issue 13)
# -------------------------------------------------------------------------------------------
def mean_std(values: List[float]) -> Tuple[Optional[float], Optional[float]]:
    """(mean, sample standard deviation with n - 1); std None for one value, both None for none."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return mean, None
    return mean, (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5


#: report key -> (metrics.json entry, metric)
REPORT_METRICS = {
    "final_rank1": ("final", "rank1"),
    "final_mAP": ("final", "mAP"),
    "selected_rank1": ("best", "rank1"),
    "selected_mAP": ("best", "mAP"),
}


def aggregate(per_seed: Dict[int, Dict[str, dict]], names: List[str]) -> Dict[str, dict]:
    """{variant: {"seeds": [...], key: {"mean", "std", "values"} for REPORT_METRICS, "train_seconds",
    "selected_epochs"}} over the seeds that have the variant's metrics.json content."""
    out = {}
    for name in names:
        seeds = sorted(s for s, res in per_seed.items() if res.get(name))
        row: Dict[str, object] = {"seeds": seeds}
        for key, (entry, metric) in REPORT_METRICS.items():
            vals = [(per_seed[s][name].get(entry) or {}).get(metric) for s in seeds]
            mean, std = mean_std(vals)
            row[key] = {"mean": mean, "std": std, "values": vals}
        row["train_seconds"] = mean_std([per_seed[s][name].get("train_seconds") for s in seeds])[0]
        row["selected_epochs"] = [(per_seed[s][name].get("best") or {}).get("epoch") for s in seeds]
        out[name] = row
    return out


def orderings(agg: Dict[str, dict], per_seed: Dict[int, Dict[str, dict]], table: str,
              key: str = "final_mAP") -> dict:
    """Does the paper's mAP ordering of ``table``'s rows hold? By the mean of ``key`` over the
    seeds, and per adjacent pair of the paper's order (better, worse): in how many seeds."""
    rows = TABLES[table][1]
    entry, metric = REPORT_METRICS[key]
    have = [(label, name) for label, name in rows if agg.get(name, {}).get(key, {}).get("mean")
            is not None]
    paper = [label for label, name in sorted(rows, key=lambda r: -VARIANTS[r[1]][2])]
    ours = [label for label, name in sorted(have, key=lambda r: -agg[r[1]][key]["mean"])]
    by_label = dict(rows)
    pairs = []
    for better, worse in zip(paper, paper[1:]):
        b, w = by_label[better], by_label[worse]
        seeds = sorted(s for s, res in per_seed.items() if res.get(b) and res.get(w))
        wins = sum(1 for s in seeds if per_seed[s][b][entry][metric] > per_seed[s][w][entry][metric])
        mb, mw = agg[b][key]["mean"], agg[w][key]["mean"]
        pairs.append({"better": better, "worse": worse, "seeds": len(seeds), "holds_in": wins,
                      "mean_diff": None if mb is None or mw is None else mb - mw})
    return {"metric": key, "paper": paper, "ours": ours,
            "holds": len(have) == len(rows) and ours == paper,
            "paper_best_is_best": bool(ours) and len(have) == len(rows) and ours[0] == paper[0],
            "pairs": pairs}


def _pm(cell: dict) -> str:
    if cell["mean"] is None:
        return "-"
    return f"{cell['mean']:.1f}" + ("" if cell["std"] is None else f" ± {cell['std']:.1f}")


def ordering_sentence(o: dict) -> str:
    pairs = "; ".join(
        f"{p['better']} > {p['worse']} in {p['holds_in']}/{p['seeds']} seeds"
        + ("" if p["mean_diff"] is None else f" (mean {p['mean_diff']:+.1f})")
        for p in o["pairs"])
    head = ("**holds**" if o["holds"] else "**does not hold**")
    return (f"The paper's ordering ({' > '.join(o['paper'])}) {head} by mean "
            f"{o['metric'].replace('_', ' ')} (ours: {' > '.join(o['ours'])}). Pairs: {pairs}.")


def report_markdown(title: str, report: dict) -> str:
    lines = [f"### {title}: Re-ID ablations over seeds", "", f"Command: `{report['command']}`", ""]
    lines += [
        f"Rank-1 / mAP (percent) on the {report['evaluated_on']}, protocol "
        f"{report['protocol']}, mean ± sample std over the seeds (n - 1); final = final epoch "
        f"(main values), selected = the checkpoint selected on {report['selected_on']}. "
        "run s = mean training seconds (one thread, machine shared). Paper: MOT17 val half, "
        "GT boxes, YOLOX-X.", ""]
    for t in report["tables"]:
        head, rows = TABLES[t]
        lines += [f"**{head}**", "",
                  "| variant | seeds | final Rank-1 | final mAP | selected Rank-1 | selected mAP "
                  "| selected epochs | run s | paper Rank-1 | paper mAP |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"]
        for label, name in rows:
            a = report["variants"][name]
            _, p_r1, p_map = VARIANTS[name]
            secs = "-" if a["train_seconds"] is None else f"{a['train_seconds']:.0f}"
            lines.append(
                f"| {label} | {len(a['seeds'])} | {_pm(a['final_rank1'])} | {_pm(a['final_mAP'])} "
                f"| {_pm(a['selected_rank1'])} | {_pm(a['selected_mAP'])} "
                f"| {','.join(str(e) for e in a['selected_epochs'])} | {secs} | {p_r1} | {p_map} |")
        lines += ["", ordering_sentence(report["orderings"][t]["final_mAP"]),
                  "By selected mAP: " + ordering_sentence(report["orderings"][t]["selected_mAP"]),
                  ""]
    pos = report.get("positives")
    if pos:
        lines += ["**Positives per anchor per batch** (scripts/sampler_positives.py: GT of the "
                  f"training frames, batch {pos['batch_size']}, {pos['epochs']} epochs of "
                  f"batches per seed, mean over seeds {pos['seeds']}; {pos['sequences']} sequences, "
                  f"{pos['frames']} frames, {pos['identities']} identities)", "",
                  "| sampler | positives per anchor | anchors with a positive |",
                  "| --- | ---: | ---: |"]
        for name, r in pos["samplers"].items():
            lines.append(f"| {name} | {r['positives_per_anchor']:.2f} | "
                         f"{100 * r['anchors_with_positive']:.1f}% |")
        lines.append("")
    missing = report.get("missing")
    if missing:
        lines += [f"Missing (not finished): {', '.join(missing)}.", ""]
    return "\n".join(lines) + "\n"


def seed_positives(config: str, seeds: List[int], overrides: List[str]) -> dict:
    """finetrack.studies.sampler_positives' numbers per seed, averaged over the seeds."""
    from finetrack.config import Config
    from finetrack.configlib import load_config
    from finetrack.studies.sampler_positives import measure

    runs = [measure(load_config(Config, config, [*overrides, f"seed={s}"])) for s in seeds]
    out = {k: runs[0][k] for k in ("sequences", "frames", "identities", "batch_size", "epochs")}
    out["seeds"] = list(seeds)
    out["samplers"] = {
        name: {k: mean_std([r["samplers"][name][k] for r in runs])[0]
               for k in ("positives_per_anchor", "anchors_with_positive")}
        for name in runs[0]["samplers"]}
    out["per_seed"] = {str(s): r["samplers"] for s, r in zip(seeds, runs)}
    return out


def _finished(metrics: Optional[dict], epochs: int) -> bool:
    return bool(metrics and metrics.get("finished") and len(metrics.get("history", [])) >= epochs)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    varied = {o.split("=", 1)[0] for name, (ovs, _, _) in VARIANTS.items() for o in ovs}
    clash = sorted(o for o in args.overrides if o.split("=", 1)[0] in varied)
    if clash:
        print(f"error: {clash} set what the variants vary ({sorted(varied)})", file=sys.stderr)
        return 2
    if args.final_from and not (args.seeds and args.report_only):
        print("error: --final-from needs --seeds and --report-only", file=sys.stderr)
        return 2
    if args.seeds is not None and any(o.startswith("seed=") for o in args.overrides):
        print("error: give the seeds with --seeds, not seed=", file=sys.stderr)
        return 2
    # the runs start in the repository (data roots there are relative to it): absolute paths here
    args.config = str(Path(args.config).resolve())
    out = (args.out or REPO / "outputs" / "ablations" / Path(args.config).stem).resolve()
    out.mkdir(parents=True, exist_ok=True)
    names: List[str] = []
    for t in args.tables:
        for _, name in TABLES[t][1]:
            if name not in names:
                names.append(name)
    #: (seed or None, folder, overrides) of every set of variants
    jobs = ([(None, out, list(args.overrides))] if args.seeds is None else
            [(s, out / f"seed{s}", [*args.overrides, f"seed={s}"]) for s in args.seeds])
    wanted: Dict[Tuple[Optional[int], str], dict] = {}
    try:
        for seed, folder, ovs in jobs:
            for name in names:
                wanted[seed, name] = requested_config(args.config, name, folder, ovs)
    except ValueError as e:  # ConfigError: a bad override or config
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.rerun:
        stale = {(folder, name): stale_keys(folder / name, wanted[seed, name])
                 for seed, folder, _ in jobs for name in names}
        stale = {k: keys for k, keys in stale.items() if keys}
        if stale:
            for (folder, name), keys in stale.items():
                print(
                    f"error: {folder / name} was made with another config: {'; '.join(keys)}",
                    file=sys.stderr,
                )
            print(
                "error: not reusing stale results; use --rerun (trains every variant again) or "
                "another --out",
                file=sys.stderr,
            )
            return 2
    title = args.title or Path(args.config).stem
    per_seed: Dict[int, Dict[str, dict]] = {}
    missing: List[str] = []
    for seed, folder, ovs in jobs:
        results = {}
        for name in names:
            epochs = wanted[seed, name]["train"]["epochs"]
            if args.report_only:
                m = _load_metrics(folder / name)
                if _finished(m, epochs) and args.final_from:
                    path = folder / name / args.final_from
                    if path.is_file():
                        m = {**m, "final": {"label": f"final epoch ({args.final_from})",
                                            **json.loads(path.read_text())}}
                    else:
                        m = None
                if _finished(m, epochs):
                    results[name] = m
                else:
                    missing.append(str((folder / name).relative_to(out)))
                continue
            results[name] = run_variant(args.config, name, folder, ovs, args.rerun, epochs=epochs)
        per_seed[0 if seed is None else seed] = results
        if len(results) < len(names):
            continue
        command = " ".join(
            ["python scripts/run_reid_ablations.py", "-c", _rel(args.config), "--tables",
             *args.tables, *ovs])
        heading = title if seed is None else f"{title}, seed {seed}"
        atomic_write_text(folder / "ablations.md", markdown(heading, results, args.tables, command))
        atomic_write_text(folder / "ablations.json", json.dumps(results, indent=2) + "\n")
        plot(results, folder / "ablation_map.png", f"{heading}: selection-slice mAP per epoch")
        if args.seeds is None:
            print((folder / "ablations.md").read_text())
    if args.seeds is None:
        if missing:
            print(f"error: not finished: {', '.join(missing)}", file=sys.stderr)
            return 1
        return 0
    agg = aggregate(per_seed, names)
    first = next((m for res in per_seed.values() for m in res.values()), {})
    report = {
        "config": _rel(args.config),
        "command": " ".join(["python scripts/run_reid_ablations.py", "-c", _rel(args.config),
                             "--out", _rel(str(out)), "--tables", *args.tables, "--seeds",
                             *map(str, args.seeds), *args.overrides]),
        "seeds": args.seeds,
        "tables": args.tables,
        "evaluated_on": first.get("evaluated_on", "evaluation split"),
        "protocol": (first.get("protocol") or {}).get("version", "v1"),
        "selected_on": first.get("selected_on"),
        "std": "sample standard deviation (n - 1) over the seeds",
        "variants": agg,
        "orderings": {t: {k: orderings(agg, per_seed, t, k) for k in ("final_mAP", "selected_mAP")}
                      for t in args.tables},
        "positives": seed_positives(args.config, args.seeds, list(args.overrides)),
        "missing": missing,
    }
    stem = "sgs_report"
    if args.final_from:
        stem += "_" + Path(args.final_from).stem
        report["final_from"] = args.final_from
        report["command"] += f" --report-only --final-from {args.final_from}"
        title += f" (final epoch from {args.final_from})"
    atomic_write_text(out / f"{stem}.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / f"{stem}.md", report_markdown(title, report))
    print((out / f"{stem}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
