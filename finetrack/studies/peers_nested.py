"""boxmot's BoT-SORT and Deep OC-SORT in the nested leave-one-scene-out table (issue 27 item 2).

The peers are fed exactly what our rules read in :mod:`finetrack.studies.nested_loso`: each
scene's cached public detections and the cue columns ``color``, ``imagenet``, ``color+imagenet``
(:func:`~finetrack.studies.nested_loso.split_cue`), full-rate and every k-th frame
(:func:`~finetrack.studies.nested_loso.row_cache`). Two steps, because boxmot is a peer for
comparison, not a dependency:

1. :func:`track_peers` (bench venv, boxmot 25.0.0): every peer run of :data:`PEER_RULES` on every
   row and cue, through :mod:`finetrack.studies.peers_boxmot` (boxmot's ReID stubbed, our
   embeddings passed, ids renumbered densely), written as MOTChallenge results
   ``OUT/peers/<tracker>.<cue>.<settings>/<ROW>.txt`` (:func:`results_path`).
2. :class:`PeerStudy` (finetrack's venv): the nested study of :mod:`~finetrack.studies.nested_loso`
   over ``byte``, our ``botsort`` and the peers; a peer's rows are read from step 1's files and
   scored by the project's evaluator like every other row, settings chosen on the other scenes.

Peer settings: boxmot's defaults with the ByteTrack-like thresholds of
:mod:`~finetrack.studies.peers_boxmot` (no free setting, so left-out by construction);
``boxmot-botsort-gates`` also chooses BoT-SORT's two gates per fold on the other scenes, from the
values of our ``botsort`` rule's grid, passed to boxmot's parameters as they are. The gates' meaning
differs by a factor: boxmot 25's first stage keeps ``d_app = 1 - cos`` where it is at most
``appearance_thresh`` (the original BoT-SORT and our rule: ``(1 - cos) / 2``), for pairs within
``proximity_thresh`` IoU distance, and takes ``min(d_iou, d_app)`` with d_iou not fused with the
score (``fuse_first_associate=False``); so boxmot's 0.25 / 0.1 / 0.15 are 0.125 / 0.05 / 0.075 in
our rule's units. :func:`same_settings` puts the two side by side at each grid point.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from finetrack.inference.cache import CachedFrames
from finetrack.studies.nested_loso import CUES, RULES, NestedStudy, row_cache, split_cue

logger = logging.getLogger(__name__)

#: a peer rule's mode: this prefix + the :mod:`~finetrack.studies.peers_boxmot` tracker name
PEER_PREFIX = "boxmot:"
_GATES = [tuple(o.replace("tracker.botsort.", "") for o in g) for g in RULES["botsort"][1]]
#: peer rule -> (mode, grid of boxmot keyword overrides ``name=value``; ``()`` = the settings of
#: peers_boxmot.build_tracker). The gates' grid is our botsort grid (:data:`RULES`), boxmot's
#: defaults (0.25, 0.5) first.
PEER_RULES: Dict[str, Tuple[str, List[Tuple[str, ...]]]] = {
    "boxmot-botsort": (PEER_PREFIX + "botsort", [()]),
    "boxmot-botsort-gates": (PEER_PREFIX + "botsort", _GATES),
    "boxmot-deepocsort": (PEER_PREFIX + "deepocsort", [()]),
}
#: ``--ablation``: boxmot's BoT-SORT with its first stage's IoU cost fused with the score (as our
#: rule's; the gates' grid as above), and without appearance (its motion and lifecycle alone; the
#: cue is then unread); our byte and botsort with no score fusion in their IoU costs (``mot20``, as
#: boxmot's first stage; its unconfirmed stage still fuses).
ABLATION_RULES: Dict[str, Tuple[str, List[Tuple[str, ...]]]] = {
    "boxmot-botsort-gates-fused": (PEER_PREFIX + "botsort", [g + ("fuse_first_associate=true",) for g in _GATES]),
    "boxmot-botsort-no-app": (PEER_PREFIX + "botsort", [("use_embeddings=false",)]),
    "byte-mot20": ("byte", [("tracker.mot20=true",)]),
    "botsort-mot20": ("botsort", [g + ("tracker.mot20=true",) for g in RULES["botsort"][1]]),
}
#: the table's rules: byte, our botsort (the default's rule, same grid) and the peers
STUDY_RULES = {"byte": RULES["byte"], "botsort": RULES["botsort"], **PEER_RULES}


def peer_kwargs(overrides: Sequence[str]) -> Dict[str, object]:
    """``("appearance_thresh=0.1", "use_embeddings=false")`` -> ``{"appearance_thresh": 0.1,
    "use_embeddings": False}`` (boxmot checks flags are bool).

    Raises:
        ValueError: an entry is not ``name=number`` or ``name=true|false``.
    """
    out: Dict[str, object] = {}
    for o in overrides:
        name, sep, value = o.partition("=")
        flags = {"true": True, "false": False}
        try:
            out[name.strip()] = flags[value] if value in flags else float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"boxmot setting {o!r} is not name=number or name=true|false")
    return out


def peer_runs(rules=PEER_RULES) -> List[Tuple[str, Tuple[str, ...]]]:
    """The distinct (tracker, overrides) of the peer rules in ``rules`` (others ignored)."""
    out = []
    for mode, grid in rules.values():
        if mode.startswith(PEER_PREFIX):
            out += [(mode[len(PEER_PREFIX):], tuple(g)) for g in grid
                    if (mode[len(PEER_PREFIX):], tuple(g)) not in out]
    return out


def results_path(work: Path, tracker: str, cue: str, overrides: Sequence[str], row: str) -> Path:
    """``work/peers/<tracker>.<cue>.<overrides joined by ',' or 'defaults'>/<row>.txt``."""
    return Path(work) / "peers" / f"{tracker}.{cue}.{','.join(overrides) or 'defaults'}" / f"{row}.txt"


def feed(cache: CachedFrames) -> dict:
    """A cache as :func:`finetrack.studies.peers_boxmot.run_tracker` reads it (per-frame lists)."""
    return {"frames": cache.frames, "xyxy": cache.xyxy, "scores": cache.scores, "emb": cache.emb,
            "meta": cache.meta}


def track_row(frames: CachedFrames, tracker: str, overrides: Sequence[str],
              size: Tuple[int, int], name: str) -> Tuple[np.ndarray, dict, int]:
    """One boxmot run over one row's frames of one cue (bench venv).

    Returns:
        rows (R, 7) ``frame, id, x, y, w, h, score`` (ids dense from 1), the settings passed to
        boxmot, the number of degenerate boxes not passed.
    """
    from finetrack.studies import peers_boxmot as pb

    trk, settings = pb.build_tracker(tracker, float(frames.meta["frame_rate"]), False, peer_kwargs(overrides))
    rows, dropped = pb.run_tracker(trk, feed(frames), size, False, None, 0, name)
    pb.check_rows(rows)
    return rows, settings, dropped


def track_peers(caches: Dict[str, CachedFrames], dirs: Dict[str, Path], work: Path, rows: Sequence[str],
                cues: Sequence[str] = CUES, rules=PEER_RULES,
                progress: Optional[Callable[[str], None]] = None) -> dict:
    """Step 1 (needs boxmot): every peer run on every row and cue, written under ``work/peers``.

    A results file that exists is kept (a rerun tracks only what is missing). ``dirs`` give each
    scene's seqinfo.ini (the image size boxmot is told). Returns a JSON-able record (boxmot
    version, ReID builders stubbed, per run: settings, seconds, frames, rows, ids).
    """
    import boxmot

    from finetrack.data.results import write_results
    from finetrack.studies import peers_boxmot as pb

    say = progress or (lambda s: None)
    pb.quiet_boxmot()
    record = {"boxmot": getattr(boxmot, "__version__", "?"), "stubbed": pb.patch_reid(), "runs": {}}
    for row in rows:
        base = row.split("-every")[0]
        row_frames = row_cache(caches, row)
        size = pb.image_size(feed(row_frames), pb.seq_info(Path(dirs[base]).parent, Path(dirs[base]).name))
        for cue in cues:
            frames = split_cue(row_frames, cue)
            for tracker, overrides in peer_runs(rules):
                path = results_path(work, tracker, cue, overrides, row)
                if path.is_file():
                    continue
                t0 = time.perf_counter()
                out, settings, dropped = track_row(frames, tracker, overrides, size, row)
                write_results(path, out[:, 0], out[:, 1], out[:, 2:6], out[:, 6])
                sec = time.perf_counter() - t0
                record["runs"][str(path.relative_to(work))] = {
                    "settings": settings, "seconds": sec, "frames": len(frames.frames), "rows": len(out),
                    "ids": int(len(np.unique(out[:, 1]))), "dropped": dropped}
                say(f"{row} {cue} {tracker} {','.join(overrides) or 'defaults'}: {len(out)} rows, "
                    f"{len(np.unique(out[:, 1]))} ids, {sec:.1f} s")
    return record


class PeerStudy(NestedStudy):
    """:class:`NestedStudy` whose peer rules (mode ``boxmot:<tracker>``) read step 1's results
    (:func:`results_path`) instead of replaying our tracker; scored, stored and selected alike."""

    def __init__(self, caches, gt_dirs, work, rules=STUDY_RULES, cues: Sequence[str] = CUES, store: bool = True):
        super().__init__(caches, gt_dirs, work, rules, cues, store)

    def track(self, cand, cache: CachedFrames, scene: str) -> np.ndarray:
        from finetrack.data.results import read_results

        rule, cue, i = cand
        mode, grid = self.rules[rule]
        if not mode.startswith(PEER_PREFIX):
            return super().track(cand, cache, scene)
        path = results_path(self.work, mode[len(PEER_PREFIX):], cue, grid[i], scene)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no boxmot results (run `scripts/peers_nested.py track` "
                                    "with the bench venv's python first)")
        r = read_results(path)
        return np.column_stack([r.frames, r.ids, r.tlwh, r.scores]).astype(np.float64)


def same_settings(study: NestedStudy, scenes: Sequence[str], cues: Sequence[str] = CUES) -> str:
    """Markdown: our ``botsort`` and ``boxmot-botsort-gates`` at each grid point, IDF1 per scene and
    mean (``study.score``; read on the scored scenes, so not a left-out number)."""
    lines = ["| cue | gates (values as passed) | " + " | ".join(f"ours {s}" for s in scenes) + " | ours mean | "
             + " | ".join(f"boxmot {s}" for s in scenes) + " | boxmot mean |",
             "|" + " --- |" * (2 * len(scenes) + 4)]
    for cue in cues:
        for i, g in enumerate(PEER_RULES["boxmot-botsort-gates"][1]):
            ours = [study.score(("botsort", cue, i), s)["IDF1"] for s in scenes]
            peer = [study.score(("boxmot-botsort-gates", cue, i), s)["IDF1"] for s in scenes]
            lines.append(f"| {cue} | {' '.join(g)} | " + " | ".join(f"{v:.1f}" for v in ours)
                         + f" | {np.mean(ours):.2f} | " + " | ".join(f"{v:.1f}" for v in peer) + f" | {np.mean(peer):.2f} |")
    return "\n".join(lines) + "\n"


USAGE = """boxmot's BoT-SORT and Deep OC-SORT fed the nested study's cues, in its table (issue 27).

    # 1. boxmot runs (bench venv, docs/experiments/boxmot_parity.md)
    PYTHONPATH=. outputs/benchvenv/bin/python scripts/peers_nested.py track --caches outputs/unseen/cache \\
        --out outputs/peers_nested
    # 2. the nested table (finetrack's venv): byte, our botsort and the peers, TrackEval IDF1
    python scripts/peers_nested.py table --caches outputs/unseen/cache --out outputs/peers_nested

CACHES holds scripts/nested_loso.py's scene caches <SCENE>.npz (only read). Step 1 writes
OUT/peers/<tracker>.<cue>.<settings>/<ROW>.txt (existing files kept) and OUT/peers/runs.json;
step 2 writes OUT/peers_nested.json and OUT/peers_nested.md (printed too; scores stored in
OUT/scores.json, so a rerun scores nothing it has). --ablation (both steps) adds boxmot's BoT-SORT
with its stage-1 IoU fused with the score, and without appearance (OUT/peers_nested_ablation.*).
"""


def main(argv=None) -> int:
    import argparse
    import os
    import sys

    from finetrack.cli.common import error
    from finetrack.inference.cache import load_frames
    from finetrack.studies.nested_loso import markdown, run
    from finetrack.studies.scenes import SHARED_SCENES, scene_dirs
    from finetrack.utils.io import atomic_write_text

    ap = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=("track", "table"), help="track: boxmot runs (bench venv); table: score")
    ap.add_argument("--caches", type=Path, default=Path("outputs/unseen/cache"),
                    help="scripts/nested_loso.py's OUT/cache (read only)")
    ap.add_argument("--data", default="../shared/data", help="the shared data root (read only)")
    ap.add_argument("--out", type=Path, default=Path("outputs/peers_nested"))
    ap.add_argument("--scenes", nargs="+", default=list(SHARED_SCENES), choices=list(SHARED_SCENES))
    ap.add_argument("--steps", type=int, nargs="*", default=[2, 3],
                    help="stress rows and the selection's training stress check: every k-th frame")
    ap.add_argument("--ablation", action="store_true",
                    help="also ABLATION_RULES (table: OUT/peers_nested_ablation.{md,json})")
    args = ap.parse_args(argv)
    rules = {**STUDY_RULES, **(ABLATION_RULES if args.ablation else {})}
    stem = "peers_nested_ablation" if args.ablation else "peers_nested"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("finetrack").setLevel(logging.WARNING)
    if len(args.scenes) < 3:
        return error("the nested protocol needs at least 3 scenes")
    if any(k < 2 for k in args.steps):
        return error("--steps must be 2 or more")
    try:
        dirs = scene_dirs(args.data, args.scenes)
        caches = {}
        for s in args.scenes:
            path = args.caches / f"{s}.npz"
            if not path.is_file():
                return error(f"{path}: no scene cache (make it with scripts/nested_loso.py)")
            caches[s] = load_frames(path)
            split_cue(caches[s], "+".join(CUES[:2]))  # both cues' columns are there
    except (FileNotFoundError, ValueError, KeyError) as e:
        return error(e)
    t0, load0 = time.perf_counter(), os.getloadavg()
    if args.step == "track":
        try:
            import boxmot  # noqa: F401
        except ImportError:
            return error("boxmot is not installed here: run this step with the bench venv's python "
                         "(docs/experiments/boxmot_parity.md)")
        rows = [r for s in args.scenes for r in [s] + [f"{s}-every{k}" for k in args.steps]]
        rec = track_peers(caches, dirs, args.out, rows, rules=rules, progress=logging.info)
        rec.update(minutes=(time.perf_counter() - t0) / 60, load_start=load0, load_end=os.getloadavg())
        old = args.out / "peers" / "runs.json"
        if old.is_file():  # keep the record of runs made by an earlier call
            rec["runs"] = {**json.loads(old.read_text()).get("runs", {}), **rec["runs"]}
        atomic_write_text(old, json.dumps(rec, indent=1))
        print(f"boxmot {rec['boxmot']}: {len(rec['runs'])} runs recorded in {old} "
              f"({rec['minutes']:.1f} min, load {load0[0]:.1f} -> {rec['load_end'][0]:.1f})")
        return 0
    import torch

    torch.set_num_threads(1)
    study = PeerStudy(caches, dirs, args.out, rules)
    try:
        res = run(study, args.scenes, args.steps, progress=logging.info, fitted=())
    except FileNotFoundError as e:
        return error(e)
    res.update(minutes=(time.perf_counter() - t0) / 60, load_start=load0, load_end=os.getloadavg())
    md = (markdown(res) + "\n**The same gates in both implementations** (full-rate scenes; not left-out)\n\n"
          + same_settings(study, args.scenes))
    atomic_write_text(args.out / f"{stem}.json", json.dumps(res, indent=1))
    atomic_write_text(args.out / f"{stem}.md", md)
    print(md)
    print(f"({res['minutes']:.1f} min, load {load0[0]:.1f} -> {res['load_end'][0]:.1f}) wrote "
          f"{args.out / f'{stem}.md'}", file=sys.stderr)
    return 0
