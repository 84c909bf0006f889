#!/usr/bin/env python
"""Cross-scene protocol (issue 11): does appearance help on scenes the Re-ID model never saw?

    python scripts/cross_scene.py [--out outputs/cross_scene] [--models pets09 synthetic loso inscene]
        [--modes byte finetrack robust] [--adapt] [key=value tracker overrides ...]

Models (each trained once into OUT/models/<name>/, reused when its config.yaml matches; the final
epoch's last.pth is used everywhere: nothing is selected on a tracked or retrieval split):
- ``pets09``: configs/pets09.yaml (PETS09-S2L1's first half). Tracks the three other real scenes
  (unseen) and PETS09's second half (its in-scene reference).
- ``synthetic``: configs/synthetic_reid.yaml (synthetic sequences only): synthetic-to-real, tracks
  the four real scenes.
- ``loso``: configs/transfer.yaml (synthetic + real scenes, augmentations) trained once per real
  scene with that scene left out (``loso-<SCENE>``), tracking the left-out scene.
- ``inscene``: configs/transfer.yaml on the first halves of every scene, tracking the second halves.

Every tracked row uses the scene's public detections (det/det.txt) and the SPEC tracker settings
(plus any ``tracker.*`` overrides given here), one embedding pass per frame cached in
OUT/cache/<model>/<SEQ>.<half>.npz, replayed for each mode. Scores: TrackEval HOTA / IDF1 / AssA /
IDs (tools/eval.py's evaluator). Retrieval: Rank-1 / mAP with GT boxes on MOT17-mini's clips of
other MOT17 scenes (02, 04, 05, 10, 11, 13; v1 protocol, only same-frame gallery entries excluded:
the clips are 4-8 frames long). ``--adapt`` adds, for the pets09 model, a row per unseen scene
after `finetrack adapt` on that scene (no ground truth read).

Writes OUT/cross_scene.json and OUT/cross_scene.md, and prints the table.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from finetrack.config import Config
from finetrack.configlib import ConfigError, freeze, load_config, to_dict

REPO = Path(__file__).resolve().parents[2]

log = logging.getLogger("cross_scene")
REAL = ["PETS09-S2L1", "ETH-Sunnyday", "KITTI-17", "MOT17-09-FRCNN"]
SYN = ["SYN-00", "SYN-01", "SYN-02", "SYN-03"]
MINI = ["MOT17-02-FRCNN", "MOT17-04-FRCNN", "MOT17-05-FRCNN", "MOT17-10-FRCNN", "MOT17-11-FRCNN",
        "MOT17-13-FRCNN"]
SCENES_ROOT = REPO / "datasets" / "scenes"
PY = sys.executable
#: run-only keys that may differ between a stored run and a request
RUN_KEYS = {"out_dir", "resume", "train.progress", "train.device", "data.num_workers", "train.log_every"}


#: --ablation: the parts of the robust mode taken out one at a time (name -> (mode, overrides))
ABLATIONS = {
    "robust": ("robust", []),
    "-veto": ("robust", ["tracker.robust.veto_llr=1.0e9"]),
    "-recovery": ("robust", ["tracker.robust.recovery=false"]),
    "-occlusion gate": ("robust", ["tracker.robust.occlusion_iou=1.0"]),
    "-dynamic EMA": ("robust", ["tracker.robust.dynamic_ema=false"]),
    "-centring": ("robust", ["tracker.robust.center=false"]),
    "-identity gate": ("robust", ["tracker.robust.identity_lag_s=0"]),
    "-restore": ("robust", ["tracker.robust.restore_dropped=false"]),
    "-fps scaling": ("robust", ["tracker.robust.identity_ref_fps=0"]),
    "-add gate": ("robust", ["tracker.robust.add_llr=0"]),
    "Re-ID cue only": ("robust", ["tracker.appearance=reid"]),
    "Re-ID cue only, -add gate": ("robust", ["tracker.appearance=reid", "tracker.robust.add_llr=0"]),
    "colour cue only": ("robust", ["tracker.appearance=color"]),
}


def model_specs(which: List[str], seed: Optional[int] = None) -> Dict[str, dict]:
    """name -> {config, overrides, tracks: [(seq, half)]}; ``seed`` overrides every config's seed."""
    specs: Dict[str, dict] = {}
    if "pets09" in which:
        specs["pets09"] = {"config": "configs/pets09.yaml", "overrides": [],
                           "tracks": [(s, "all") for s in REAL[1:]] + [("PETS09-S2L1", "val")]}
    if "synthetic" in which:
        specs["synthetic"] = {"config": "configs/synthetic_reid.yaml", "overrides": [],
                              "tracks": [(s, "all") for s in REAL]}
    if "loso" in which:
        for scene in REAL:
            seqs = SYN + [s for s in REAL if s != scene]
            specs[f"loso-{scene}"] = {"config": "configs/transfer.yaml",
                                      "overrides": [f"data.train_seqs=[{','.join(seqs)}]"],
                                      "tracks": [(scene, "all")]}
    if "inscene" in which:
        specs["inscene"] = {"config": "configs/transfer.yaml", "overrides": ["data.split=half"],
                            "tracks": [(s, "val") for s in REAL]}
    if "color" in which:  # no model: the colour histogram of finetrack/inference/color.py
        specs["color"] = {"config": None, "overrides": [], "tracks": [(s, "all") for s in REAL]}
        # the second halves too, next to the in-scene rows (own label: results are one file per sequence)
        specs["color-val"] = {"config": None, "overrides": [], "tracks": [(s, "val") for s in REAL]}
    if seed is not None:
        for spec in specs.values():
            spec["overrides"] = spec["overrides"] + [f"seed={seed}"]
    return specs


def _flat(d: dict, prefix: str = "") -> Dict[str, object]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def train_model(name: str, spec: dict, out: Path) -> Path:
    """Train (or reuse) a model; returns its last.pth (final epoch)."""
    run = out / "models" / name
    overrides = spec["overrides"] + [f"out_dir={run}", "train.progress=false"]
    want = _flat(to_dict(load_config(Config, str(REPO / spec["config"]), overrides)))
    if (run / "metrics.json").is_file() and (run / "last.pth").is_file():
        have = _flat(to_dict(load_config(Config, str(run / "config.yaml"), [])))
        diff = sorted(k for k in set(want) | set(have)
                      if k not in RUN_KEYS and not k.startswith(("tracker.", "reid_eval."))
                      and want.get(k) != have.get(k))
        if not diff:
            log.info("%s: reusing %s", name, run / "last.pth")
            return run / "last.pth"
        raise SystemExit(f"error: {run} holds a run with another config (differs in {diff}); "
                         f"remove it or use another --out")
    log.info("%s: training (%s %s)", name, spec["config"], " ".join(spec["overrides"]))
    t0 = time.perf_counter()
    subprocess.run([PY, str(REPO / "tools" / "train_reid.py"), "-c", str(REPO / spec["config"]),
                    *overrides], check=True, cwd=REPO)
    log.info("%s: trained in %.0f s", name, time.perf_counter() - t0)
    return run / "last.pth"


def cached_frames(ckpt: Path, model: str, seq_name: str, half: str, out: Path):
    from finetrack.data.mot import MOTSequence
    from finetrack.inference.cache import compute_frames, load_frames, save_frames
    from finetrack.inference.embedder import Embedder
    from finetrack.inference.sources import PublicDetections

    path = out / "cache" / model / f"{seq_name}.{half}.npz"
    if path.is_file() and (ckpt is None or path.stat().st_mtime >= ckpt.stat().st_mtime):
        return load_frames(path)
    seq = MOTSequence(SCENES_ROOT / "train" / seq_name)
    t0 = time.perf_counter()
    if ckpt is None:  # the colour histogram: nothing trained
        from finetrack.inference.color import ColorHistogramEmbedder

        embedder, what = ColorHistogramEmbedder(), "color histogram"
    else:
        embedder, what = Embedder.from_checkpoint(ckpt), str(ckpt)
    cache = compute_frames(seq, PublicDetections(seq), embedder, half, meta={"checkpoint": what})
    log.info("%s / %s [%s]: %d frames embedded in %.0f s", model, seq_name, half,
             len(cache.frames), time.perf_counter() - t0)
    save_frames(cache, path)
    return cache


def track_and_score(cache, seq_name: str, half: str, mode: str, cfg: Config, res_dir: Path,
                    color=None, gt_root: Optional[Path] = None) -> dict:
    """Replay ``cache`` with ``mode`` and score it. The embeddings are what the mode's
    ``tracker.appearance`` asks for (robust's default ``auto``: the cache's Re-ID features and
    ``color``, the colour cache of the same boxes, as two cues); a colour cache is colour."""
    import dataclasses

    from finetrack.data.results import write_results
    from finetrack.inference.build import build_tracker, resolve_appearance
    from finetrack.inference.cache import replay_appearance, replay_sequence

    appearance = resolve_appearance(cfg.tracker, mode)
    if mode != "byte":
        cache, appearance = replay_appearance(cache, appearance, color)
    tcfg = dataclasses.replace(cfg.tracker, mode=mode, appearance=appearance)
    tracker = build_tracker(tcfg, cache.meta["frame_rate"])
    rows = replay_sequence(cache, tracker, use_embeddings=mode != "byte")
    res_dir.mkdir(parents=True, exist_ok=True)
    write_results(res_dir / f"{seq_name}.txt", rows[:, 0], rows[:, 1], rows[:, 2:6], rows[:, 6])
    out = score_folder(res_dir, seq_name, half, gt_root)
    if mode == "robust":
        rob = tracker.association
        st = rob.calibrator.state
        out["robust_stats"] = dict(rob.stats, cue=rob.active_cue, n_pos=st.n_pos, n_neg=st.n_neg,
                                   mu_pos=round(st.mu_pos, 3), mu_neg=round(st.mu_neg, 3),
                                   sd=round(st.sd, 3), separation=round(st.separation, 2))
    return out


def score_folder(res_dir: Path, seq_name: str, half: str, gt_root: Optional[Path] = None) -> Optional[dict]:
    """TrackEval scores of an existing results folder (e.g. a boxmot peer's), None if absent;
    the ground truth of ``gt_root`` (default: the linked scenes' train folder)."""
    from finetrack.eval.evaluator import evaluate

    if not (res_dir / f"{seq_name}.txt").is_file():
        return None
    rep = evaluate(gt_root or SCENES_ROOT / "train", res_dir, [seq_name],
                   "val_half" if half == "val" else "full", ("trackeval",))
    m = rep.per_sequence["trackeval"][seq_name]
    return {k: m[k] for k in ("HOTA", "IDF1", "AssA", "MOTA", "IDs")}


def _retrieval_cfg(size=None) -> Config:
    """configs/transfer.yaml with the MOT17-mini retrieval protocol (at ``size``, else its own)."""
    overrides = [] if size is None else [f"model.input_size=[{size[0]},{size[1]}]"]
    overrides += [f"data.root={SCENES_ROOT}", "data.val_split=mini",
                 f"data.val_seqs=[{','.join(MINI)}]", "data.split=full", "reid_eval.query_every=2",
                 "reid_eval.exclude_seconds=0", "reid_eval.select_on=final_epoch",
                 "data.num_workers=0"]
    return freeze(load_config(Config, str(REPO / "configs" / "transfer.yaml"), overrides))


def retrieval(ckpt: Optional[Path]) -> dict:
    """MOT17-mini cross-camera retrieval (GT boxes) of a checkpoint, or of the colour histogram
    (``ckpt`` None) on the same boxes at configs/transfer.yaml's input size."""
    if ckpt is None:
        import torch

        from finetrack.engine.reid_build import build_reid_datasets, make_evaluate_fn
        from finetrack.inference.color import color_reid_model

        cfg = _retrieval_cfg()
        _, val = build_reid_datasets(cfg, need_train=False)
        res = make_evaluate_fn(cfg, val, torch.device("cpu"))(color_reid_model()).as_percent()
    else:
        from finetrack.utils.checkpoint import load_checkpoint
        from finetrack.engine.reid_build import evaluate_checkpoint

        size = load_checkpoint(ckpt)["model_args"]["detector"]["input_size"]
        res = evaluate_checkpoint(_retrieval_cfg(size), ckpt).as_percent()
    return {k: res[k] for k in ("rank1", "mAP", "num_queries", "num_gallery")}


def markdown(rows: List[dict], modes: List[str], retr: Dict[str, dict]) -> str:
    head = "| model | trained on | tracked | " + " | ".join(
        f"{m} HOTA / IDF1 / AssA / IDs" for m in modes) + " |"
    lines = [head, "|" + " --- |" * (3 + len(modes))]
    for r in rows:
        cells = [r["model"], r["trained_on"], f"{r['seq']} ({r['half']})"]
        for m in modes:
            v = r["modes"][m]
            cells.append(f"{v['HOTA']:.1f} / {v['IDF1']:.1f} / {v['AssA']:.1f} / {int(v['IDs'])}")
        lines.append("| " + " | ".join(cells) + " |")
    unseen = [r for r in rows if r["unseen"]]
    if unseen:
        lines.append("")
        lines.append("Mean over the unseen-scene rows (" + str(len(unseen)) + "):")
        lines.append("")
        lines.append("| mode | HOTA | IDF1 | AssA | IDF1 - byte (min over rows) |")
        lines.append("| --- | --- | --- | --- | --- |")
        for m in modes:
            mean = {k: sum(r["modes"][m][k] for r in unseen) / len(unseen) for k in ("HOTA", "IDF1", "AssA")}
            worst = min(r["modes"][m]["IDF1"] - r["modes"]["byte"]["IDF1"] for r in unseen) if "byte" in modes else float("nan")
            lines.append(f"| {m} | {mean['HOTA']:.2f} | {mean['IDF1']:.2f} | {mean['AssA']:.2f} | {worst:+.2f} |")
    if retr:
        lines.append("")
        lines.append("| model | MOT17-mini retrieval Rank-1 / mAP (queries / gallery) |")
        lines.append("| --- | --- |")
        for name, r in retr.items():
            lines.append(f"| {name} | {r['rank1']:.1f} / {r['mAP']:.1f} ({r['num_queries']} / {r['num_gallery']}) |")
    return "\n".join(lines) + "\n"


def ablation_markdown(rows: List[dict]) -> str:
    """IDF1 / AssA of each ablation variant per row, and the mean over unseen rows."""
    names = list(ABLATIONS)
    lines = ["| model | tracked | byte | " + " | ".join(names) + " |",
             "|" + " --- |" * (3 + len(names))]
    for r in rows:
        cells = [r["model"], f"{r['seq']} ({r['half']})",
                 f"{r['modes']['byte']['IDF1']:.1f} / {r['modes']['byte']['AssA']:.1f}"]
        cells += [f"{r['ablation'][n]['IDF1']:.1f} / {r['ablation'][n]['AssA']:.1f}" for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    unseen = [r for r in rows if r["unseen"]]
    if unseen:
        def mean(get):
            return sum(get(r) for r in unseen) / len(unseen)
        cells = ["mean (unseen rows)", str(len(unseen)),
                 f"{mean(lambda r: r['modes']['byte']['IDF1']):.2f} / {mean(lambda r: r['modes']['byte']['AssA']):.2f}"]
        cells += [f"{mean(lambda r, n=n: r['ablation'][n]['IDF1']):.2f} / "
                  f"{mean(lambda r, n=n: r['ablation'][n]['AssA']):.2f}" for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "IDF1 / AssA per variant\n\n" + "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "outputs" / "cross_scene"))
    ap.add_argument("--models", nargs="+", default=["pets09", "synthetic", "loso", "inscene"],
                    choices=["pets09", "synthetic", "loso", "inscene", "color"],
                    help="color: no model, the colour histogram (tracker.appearance=color) on every "
                         "scene, none of which it was fitted to")
    ap.add_argument("--modes", nargs="+", default=["byte", "finetrack", "robust"],
                    choices=["byte", "finetrack", "jde", "robust"])
    ap.add_argument("--no-retrieval", action="store_true")
    ap.add_argument("--ablation", action="store_true",
                    help="also run the robust-mode ablation (ABLATIONS) on every row: OUT/ablation.md")
    ap.add_argument("--peers", nargs="*", default=[], metavar="NAME",
                    help="also score OUT/results/<model>/<NAME>/ folders written by "
                         "scripts/peers_boxmot.py (bench venv) on the same caches, e.g. botsort deepocsort")
    ap.add_argument("--seed", type=int, default=None,
                    help="training seed of every model (default: each config's own, 0); use another "
                         "--out per seed")
    ap.add_argument("--adapt", action="store_true", help="add `finetrack adapt` rows (pets09 model)")
    ap.add_argument("overrides", nargs="*", help="tracker.* key=value overrides")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("finetrack").setLevel(logging.WARNING)
    out = Path(args.out)
    try:
        cfg = freeze(load_config(Config, None, args.overrides))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    appearance = cfg.tracker.appearance or "default"
    if appearance == "color" and set(args.models) != {"color"}:
        print("error: tracker.appearance=color ignores the models: use --models color", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    if not (REPO / "datasets" / "synthetic" / "train" / "SYN-00").is_dir():
        subprocess.run([PY, str(REPO / "tools" / "make_synthetic.py"), "--out",
                        str(REPO / "datasets" / "synthetic")], check=True, cwd=REPO)
    subprocess.run([PY, str(REPO / "scripts" / "link_scenes.py"), "--out", str(SCENES_ROOT)],
                   check=True, cwd=REPO)
    specs = model_specs(args.models, args.seed)
    rows, retr = [], {}
    for name, spec in specs.items():
        ckpt = None if spec["config"] is None else train_model(name, spec, out)
        trained_on = {"pets09": "PETS09 1st half", "synthetic": "synthetic", "color": "nothing", "color-val": "nothing",
                      "inscene": "all 1st halves"}.get(name, "all but " + name[5:])
        if not args.no_retrieval and name != "color-val":
            retr[name] = retrieval(ckpt)
        targets = [(s, h, ckpt, name) for s, h in spec["tracks"]]
        if args.adapt and name == "pets09":
            for s, h in spec["tracks"]:
                if h == "all":
                    targets.append((s, h, adapt(ckpt, s, out, args.seed), f"pets09+adapt-{s}"))
        for seq_name, half, ck, label in targets:
            cache = cached_frames(ck, label, seq_name, half, out)
            # the colour histogram of the same boxes (robust's default appearance reads both)
            color = (cached_frames(None, "color-val" if half == "val" else "color", seq_name, half, out)
                     if ck is not None else None)
            row = {"model": label, "trained_on": trained_on + (" + adapted" if "adapt" in label else ""),
                   "seq": seq_name, "half": half,
                   "unseen": not (half == "val"), "modes": {}}
            for mode in args.modes:
                row["modes"][mode] = track_and_score(cache, seq_name, half, mode, cfg,
                                                     out / "results" / label / mode, color)
            if args.ablation:
                row["ablation"] = {}
                for name, (mode, extra) in ABLATIONS.items():
                    vcfg = freeze(load_config(Config, None, list(args.overrides) + extra))
                    row["ablation"][name] = track_and_score(
                        cache, seq_name, half, mode, vcfg,
                        out / "ablation" / label / name.replace(" ", "_").replace("+", "plus"), color)
            for peer in args.peers:
                score = score_folder(out / "results" / label / peer, seq_name, half)
                if score is None:
                    log.warning("%s / %s: no %s results (run scripts/peers_boxmot.py)", label, seq_name, peer)
                else:
                    row["modes"][f"boxmot-{peer}"] = score
            rows.append(row)
            log.info("%s", json.dumps({k: row[k] for k in ("model", "seq", "half")} | {
                m: {k: round(v, 2) for k, v in row["modes"][m].items() if k != "robust_stats"}
                for m in row["modes"]}))
    cols = list(args.modes) + [f"boxmot-{p}" for p in args.peers
                               if all(f"boxmot-{p}" in r["modes"] for r in rows)]
    md = markdown(rows, cols, retr)
    from finetrack.utils.io import atomic_write_text

    minutes = (time.perf_counter() - t_start) / 60
    stem = "cross_scene" if set(args.models) == {"pets09", "synthetic", "loso", "inscene"} \
        else "cross_scene." + "+".join(args.models)
    if appearance not in ("default", "color"):
        stem += "." + appearance.replace("+", "_")
    atomic_write_text(out / f"{stem}.json", json.dumps(
        {"rows": rows, "retrieval": retr, "tracker_overrides": args.overrides,
         "minutes": minutes}, indent=2))
    atomic_write_text(out / f"{stem}.md", md)
    if args.ablation:
        amd = ablation_markdown(rows)
        atomic_write_text(out / f"{stem.replace('cross_scene', 'ablation')}.md", amd)
        print(amd)
    print(md)
    print(f"({minutes:.1f} min) wrote {out / (stem + '.md')} and {out / (stem + '.json')}")
    return 0


def adapt(ckpt: Path, seq_name: str, out: Path, seed: Optional[int] = None) -> Path:
    """`finetrack adapt` on one unseen scene (its public detections, no GT); returns the checkpoint."""
    dst = out / "adapt" / seq_name
    if (dst / "adapted.pth").is_file():
        return dst / "adapted.pth"
    subprocess.run([PY, "-m", "finetrack.cli", "adapt", "--source",
                    str(SCENES_ROOT / "train" / seq_name), "--reid-ckpt", str(ckpt), "--out", str(dst),
                    "--no-progress", *([f"seed={seed}"] if seed is not None else [])],
                   check=True, cwd=REPO)
    return dst / "adapted.pth"


if __name__ == "__main__":
    sys.exit(main())
