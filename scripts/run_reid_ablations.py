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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from finetrack.utils.io import atomic_path, atomic_write_text  # noqa: E402

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
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    from finetrack.config import Config, load_config, to_dict

    return to_dict(load_config(Config, config, variant_overrides(name, out, overrides, False)))


def stale_keys(run_dir: Path, wanted: dict) -> List[str]:
    """Why ``run_dir`` cannot be reused for the requested config ``wanted``.

    Returns:
        [] when the folder holds no run, or when its saved config.yaml equals ``wanted`` (keys of
        :data:`REUSE_MAY_DIFFER` aside; a smaller ``train.epochs`` is fine: resuming extends
        the run); else the ``"key: saved -> requested"`` differences.
    """
    import yaml

    from finetrack.config import config_changes

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


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    varied = {o.split("=", 1)[0] for name, (ovs, _, _) in VARIANTS.items() for o in ovs}
    clash = sorted(o for o in args.overrides if o.split("=", 1)[0] in varied)
    if clash:
        print(f"error: {clash} set what the variants vary ({sorted(varied)})", file=sys.stderr)
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
    wanted = {}
    try:
        for name in names:
            wanted[name] = requested_config(args.config, name, out, list(args.overrides))
    except ValueError as e:  # ConfigError: a bad override or config
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.rerun:
        stale = {name: stale_keys(out / name, wanted[name]) for name in names}
        stale = {name: keys for name, keys in stale.items() if keys}
        if stale:
            for name, keys in stale.items():
                print(
                    f"error: {out / name} was made with another config: {'; '.join(keys)}",
                    file=sys.stderr,
                )
            print(
                "error: not reusing stale results; use --rerun (trains every variant again) or "
                "another --out",
                file=sys.stderr,
            )
            return 2
    results = {}
    for name in names:
        results[name] = run_variant(
            args.config, name, out, list(args.overrides), args.rerun,
            epochs=wanted[name]["train"]["epochs"],
        )
    command = " ".join(
        [
            "python scripts/run_reid_ablations.py",
            "-c",
            _rel(args.config),
            "--tables",
            *args.tables,
            *args.overrides,
        ]
    )
    title = args.title or Path(args.config).stem
    atomic_write_text(out / "ablations.md", markdown(title, results, args.tables, command))
    atomic_write_text(out / "ablations.json", json.dumps(results, indent=2) + "\n")
    plot(results, out / "ablation_map.png", f"{title}: selection-slice mAP per epoch")
    print((out / "ablations.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
