"""Nested leave-one-scene-out study of appearance fusion rules on training-free cues (issue 27).

Protocol (stress-aware nested selection). Every (rule, cue) pair has a small grid of free
settings (:data:`RULES`). For each left-out scene S, a setting of a pair *qualifies* when, on
every stress cut of every other (training) scene -- the scene at 1/k of its frame rate for each
k of ``steps`` (every 2nd and 3rd frame) -- its IDF1 is at least ``byte``'s on that cut minus
:data:`STRESS_MARGIN` (issue 27's bar, applied to the training scenes only). Among the qualifying
settings the one with the best mean full-rate IDF1 over the training scenes is chosen
(:meth:`NestedStudy.select`); when none qualifies, the best mean alone decides and the output
says so (``fallback``). Nothing of S (full rate or cut) is read for the choice. The pair is then
scored on S with that setting. The table reports those left-out scores per scene, their mean and
the worst difference to ``byte``; a row "nested choice" also chooses the rule and the cue (with
the setting) on the training scenes, by the same check (:meth:`NestedStudy.select_overall`).
Every row shows the association ceiling of its scene (:func:`ceiling_rows`: each detection given
the id of the GT box it covers, IoU >= 0.5, Hungarian).

Checks that choose nothing: the left-out scene at 1/k of its frame rate (:func:`finetrack.inference.cache.every_kth`, the
ground truth cut the same way by :func:`finetrack.data.splits.write_cut_gt`), tracked with the settings chosen for the
full-rate scene's left-out fold.

Each scene's public detections and both cues' features are computed once
(:func:`build_scene_cache`, ``<work>/cache/<SCENE>.npz``); every tracked row replays them through
:func:`finetrack.inference.track_loop.track_sequence` (the loop ``finetrack track`` runs,
:func:`finetrack.inference.cache.replay_sequence`).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from finetrack.config import Config
from finetrack.configlib import freeze, load_config
from finetrack.data.identities import GTFilter
from finetrack.data.mot import MOTSequence
from finetrack.data.results import write_results
from finetrack.data.splits import write_cut_gt
from finetrack.inference.cache import CachedFrames, every_kth, load_frames, replay_sequence, save_frames
from finetrack.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

#: the training-free cues of the study (``tracker.appearance`` values)
CUES = ("color", "imagenet", "color+imagenet")
#: rule -> (tracker.mode, grid of tracker.* overrides; the first entry is the rule's published
#: default). ``byte`` reads no cue.
RULES: Dict[str, Tuple[str, List[Tuple[str, ...]]]] = {
    "byte": ("byte", [()]),
    "finetrack": ("finetrack", [("tracker.finetrack.match_thresh=0.5",), ("tracker.finetrack.match_thresh=0.4",),
                                ("tracker.finetrack.match_thresh=0.6",)]),
    "botsort": ("botsort", [(f"tracker.botsort.appearance_thresh={a}", f"tracker.botsort.proximity_thresh={p}")
                            for p in (0.5, 0.8) for a in (0.25, 0.1, 0.15)]),
    "robust": ("robust", [()]),
}
METRICS = ("IDF1", "HOTA", "AssA", "MOTA", "IDs")
#: the stress cuts of the selection's check and of the stress rows: every k-th frame
STRESS_STEPS = (2, 3)
#: the stress check's bar: a setting may lose at most this much IDF1 to byte on a training cut
STRESS_MARGIN = 0.5


# ----------------------------------------------------------------------------- features
def split_cue(cache: CachedFrames, cue: str) -> CachedFrames:
    """The cache with only ``cue``'s features (``color+imagenet``: :func:`concat_cues`).

    The cache's ``meta["cues"]`` gives each stored cue's columns ``[start, stop]``.
    """
    from finetrack.inference.appearance import concat_cues

    cols = cache.meta["cues"]
    parts = cue.split("+")
    if any(p not in cols for p in parts):
        raise ValueError(f"{cache.meta.get('sequence')}: cue {cue} not in the cache ({sorted(cols)})")
    emb = []
    for e in cache.emb:
        if len(e) == 0:
            emb.append(np.zeros((0, sum(cols[p][1] - cols[p][0] for p in parts)), np.float32))
        else:
            emb.append(concat_cues([e[:, cols[p][0]:cols[p][1]] for p in parts]))
    return CachedFrames(cache.frames, cache.xyxy, cache.scores, emb, {**cache.meta, "cue": cue})


class _BothCues:
    """One embedder call giving ``[colour | imagenet]`` and timing each part."""

    def __init__(self, device: str = "cpu"):
        from finetrack.inference.color import ColorHistogramEmbedder
        from finetrack.inference.imagenet import ImageNetEmbedder

        self.color = ColorHistogramEmbedder()
        self.imagenet = ImageNetEmbedder(device=device)
        self.seconds = {"color": 0.0, "imagenet": 0.0}
        self.boxes = 0

    @property
    def dim(self) -> int:
        return self.color.dim + self.imagenet.dim

    def __call__(self, image, xyxy):
        t0 = time.perf_counter()
        c = self.color(image, xyxy)
        t1 = time.perf_counter()
        i = self.imagenet(image, xyxy)
        t2 = time.perf_counter()
        self.seconds["color"] += t1 - t0
        self.seconds["imagenet"] += t2 - t1
        self.boxes += len(xyxy)
        return np.concatenate([c, i], axis=1)


def build_scene_cache(seq_dir: Path, path: Path, device: str = "cpu") -> CachedFrames:
    """The scene's public detections with colour and imagenet features, computed once.

    Reuses ``path`` when it exists and was made with the same imagenet layer and pooling.
    """
    from finetrack.inference import imagenet
    from finetrack.inference.cache import compute_frames
    from finetrack.inference.sources import PublicDetections

    want = {"layer": imagenet.DEFAULT_LAYER, "pooling": imagenet.DEFAULT_POOLING,
            "crop_hw": list(imagenet.DEFAULT_CROP_HW)}
    if path.is_file():
        cache = load_frames(path)
        if cache.meta.get("imagenet") == want:
            return cache
    seq = MOTSequence(seq_dir)
    emb = _BothCues(device)
    cache = compute_frames(seq, PublicDetections(seq), emb, "all", meta={
        "checkpoint": "training-free cues", "imagenet": want,
        "cues": {"color": [0, emb.color.dim], "imagenet": [emb.color.dim, emb.dim]}})
    cache.meta["ms_per_box"] = {k: 1000.0 * v / max(emb.boxes, 1) for k, v in emb.seconds.items()}
    cache.meta["boxes"] = emb.boxes
    save_frames(cache, path)
    return cache


# ----------------------------------------------------------------------------- ground truth
def ceiling_rows(cache: CachedFrames, gt_dir: Path, iou_min: float = 0.5) -> np.ndarray:
    """The association ceiling's results: each detection given the id of the GT box it covers.

    Per frame, detections and the evaluated GT boxes (class 1, flag not 0) are matched by the
    Hungarian algorithm on IoU, pairs below ``iou_min`` refused; matched detections keep their
    box and score with the GT id, the others are dropped.

    Returns:
        (R, 7) rows ``frame, id, x, y, w, h, score``.
    """
    from scipy.optimize import linear_sum_assignment

    from finetrack.structures import box_iou_xyxy, xyxy_to_tlwh

    gt = GTFilter(classes=(1,), min_visibility=0.0, drop_zero_flag=True, min_box_size=0.0).apply(
        MOTSequence(gt_dir, require_images=False).gt())
    rows = []
    for i, f in enumerate(cache.frames.tolist()):
        ann = gt.for_frame(f)
        det = cache.xyxy[i]
        if not len(ann) or not len(det):
            continue
        iou = box_iou_xyxy(det, ann.xyxy())
        r, c = linear_sum_assignment(-iou)
        ok = iou[r, c] >= iou_min
        r, c = r[ok], c[ok]
        if len(r):
            rows.append(np.column_stack([np.full(len(r), f), ann.ids[c], xyxy_to_tlwh(det[r]),
                                         cache.scores[i][r]]))
    return np.concatenate(rows) if rows else np.zeros((0, 7))


def score_rows(rows: np.ndarray, gt_dir: Path, res_dir: Path) -> Dict[str, float]:
    """Write ``rows`` as ``res_dir/<NAME>.txt`` and score them against ``gt_dir`` (TrackEval,
    :func:`finetrack.eval.evaluator.evaluate`)."""
    from finetrack.eval.evaluator import evaluate

    name = Path(gt_dir).name
    res_dir.mkdir(parents=True, exist_ok=True)
    write_results(res_dir / f"{name}.txt", rows[:, 0], rows[:, 1], rows[:, 2:6], rows[:, 6])
    rep = evaluate(Path(gt_dir).parent, res_dir, [name], "full", ("trackeval",))
    m = rep.per_sequence["trackeval"][name]
    return {k: float(m[k]) for k in METRICS}


# ----------------------------------------------------------------------------- tracking
def tracker_config(mode: str, cue: Optional[str], overrides: Sequence[str]):
    """The frozen tracker config of a grid point (the project's config machinery)."""
    extra = [f"tracker.mode={mode}"] + ([f"tracker.appearance={cue}"] if cue else [])
    return freeze(load_config(Config, None, list(overrides) + extra)).tracker


def track_cache(cache: CachedFrames, mode: str, cue: Optional[str], overrides: Sequence[str]) -> np.ndarray:
    """Replay a scene cache with one grid point through the user's tracking loop."""
    from finetrack.inference.build import build_tracker

    tcfg = tracker_config(mode, cue, overrides)
    tracker = build_tracker(tcfg, cache.meta["frame_rate"])
    frames = split_cue(cache, cue) if mode != "byte" else cache
    return replay_sequence(frames, tracker, use_embeddings=mode != "byte")


def row_cache(caches: Dict[str, CachedFrames], row: str) -> CachedFrames:
    """A table row's frames: ``caches[row]``, or for a stress row ``<SCENE>-every<k>`` frames
    1, 1 + k, ... of the scene renumbered from 1 at rate / k (:func:`every_kth`)."""
    if "-every" in row:
        base, k = row.split("-every")
        return every_kth(caches[base], int(k))
    return caches[row]


Candidate = Tuple[str, Optional[str], int]  # (rule, cue or None for byte, grid index)


def candidates(rules: Dict[str, Tuple[str, list]] = RULES, cues: Sequence[str] = CUES) -> List[Candidate]:
    """Every (rule, cue, grid index) of the study (byte once, with no cue)."""
    out = []
    for rule, (mode, grid) in rules.items():
        for cue in ([None] if mode == "byte" else cues):
            out.extend((rule, cue, i) for i in range(len(grid)))
    return out


class NestedStudy:
    """The grid's scores, computed on demand and stored in ``<work>/scores.json``.

    Args:
        caches: {scene: whole-sequence cache with the cues' features (:func:`build_scene_cache`)}.
        gt_dirs: {scene: its sequence folder (gt/gt.txt, seqinfo.ini)}; a scene's GT is read only
            when one of its rows is scored.
        work: folder for results files, the cut GT and the score store.
        rules, cues: the grid (:data:`RULES`, :data:`CUES`).
    """

    def __init__(self, caches: Dict[str, CachedFrames], gt_dirs: Dict[str, Path], work: Path,
                 rules=RULES, cues: Sequence[str] = CUES, store: bool = True):
        self.caches = caches
        self.gt_dirs = {k: Path(v) for k, v in gt_dirs.items()}
        self.work = Path(work)
        self.rules = rules
        self.cues = tuple(cues)
        self.store = self.work / "scores.json" if store else None
        self.scores: Dict[str, Dict[str, float]] = {}
        if self.store is not None and self.store.is_file():
            self.scores = json.loads(self.store.read_text())
        self.scored_scenes: set = set()  #: scenes whose GT was read by this object

    def _key(self, cand: Candidate, scene: str) -> str:
        rule, cue, i = cand
        return json.dumps([rule, cue, list(self.rules[rule][1][i]), scene])

    def score(self, cand: Candidate, scene: str) -> Dict[str, float]:
        """The metrics of one grid point on one scene (``<SCENE>-every<k>`` rows too)."""
        key = self._key(cand, scene)
        if key not in self.scores:
            self.scored_scenes.add(scene.split("-every")[0] if "-every" in scene else scene)
            cache, gt_dir = self._scene(scene)
            rule, cue, i = cand
            rows = self.track(cand, cache, scene)
            res_dir = self.work / "results" / f"{rule}.{cue}.{i}"
            self.scores[key] = score_rows(rows, gt_dir, res_dir)
            if self.store is not None:
                atomic_write_text(self.store, json.dumps(self.scores))
        return self.scores[key]

    def track(self, cand: Candidate, cache: CachedFrames, scene: str) -> np.ndarray:
        """The (R, 7) rows of one grid point on one row's frames (``cache``: the scene's cache or
        :func:`row_cache`'s cut of it). Replays our tracker; a subclass may track otherwise
        (:class:`finetrack.studies.peers_nested.PeerStudy` reads boxmot's rows)."""
        rule, cue, i = cand
        mode, grid = self.rules[rule]
        return track_cache(cache, mode, cue, grid[i])

    def _scene(self, scene: str) -> Tuple[CachedFrames, Path]:
        if "-every" in scene:
            base, k = scene.split("-every")
            return row_cache(self.caches, scene), write_cut_gt(self.gt_dirs[base], int(k), self.work / "gt")
        return self.caches[scene], self.gt_dirs[scene]

    def ceiling(self, scene: str) -> Dict[str, float]:
        key = json.dumps(["ceiling", scene])
        if key not in self.scores:
            cache, gt_dir = self._scene(scene)
            self.scores[key] = score_rows(ceiling_rows(cache, gt_dir), gt_dir,
                                          self.work / "results" / "ceiling")
            if self.store is not None:
                atomic_write_text(self.store, json.dumps(self.scores))
        return self.scores[key]

    def reference(self) -> Candidate:
        """The stress check's reference: the grid's ``byte`` rule."""
        for rule, (mode, _) in self.rules.items():
            if mode == "byte":
                return (rule, None, 0)
        raise ValueError("the stress-aware selection needs a byte rule in the grid")

    def stress_failures(self, cand: Candidate, train: Sequence[str],
                        steps: Sequence[int] = STRESS_STEPS) -> List[str]:
        """The stress cuts ``<SCENE>-every<k>`` of ``train`` on which ``cand``'s IDF1 is below
        byte's on the same cut minus :data:`STRESS_MARGIN` (empty: ``cand`` qualifies)."""
        ref = self.reference()
        if cand == ref:
            return []
        rows = [f"{s}-every{k}" for s in train for k in steps]
        return [r for r in rows
                if self.score(cand, r)["IDF1"] < self.score(ref, r)["IDF1"] - STRESS_MARGIN - 1e-9]

    def _best(self, cands: Sequence[Candidate], train: Sequence[str],
              steps: Sequence[int]) -> Tuple[Candidate, bool]:
        """The best mean IDF1 over ``train`` among ``cands`` passing the stress check (ties: the
        earlier); if none passes, among all of them. Returns (candidate, fell back)."""
        ok = [c for c in cands if not self.stress_failures(c, train, steps)]
        best = None
        for cand in ok or cands:
            mean = float(np.mean([self.score(cand, s)["IDF1"] for s in train]))
            if best is None or mean > best[0] + 1e-9:
                best = (mean, cand)
        return best[1], not ok

    def select(self, train: Sequence[str], steps: Sequence[int] = STRESS_STEPS
               ) -> Dict[Tuple[str, Optional[str]], int]:
        """{(rule, cue): the grid index with the best mean IDF1 over ``train`` among those passing
        the stress check on ``train``'s cuts} (ties: the earlier grid entry, i.e. the published
        default first; none passing: the best mean, :meth:`fallbacks`). Reads only ``train``'s GT."""
        groups: Dict[Tuple[str, Optional[str]], List[Candidate]] = {}
        for cand in candidates(self.rules, self.cues):
            groups.setdefault(cand[:2], []).append(cand)
        return {k: self._best(v, train, steps)[0][2] for k, v in groups.items()}

    def select_overall(self, train: Sequence[str], exclude: Sequence[str] = (),
                       steps: Sequence[int] = STRESS_STEPS) -> Candidate:
        """The (rule, cue, setting) with the best mean IDF1 over ``train`` among those passing the
        stress check (``byte`` included, so one always passes; the rules in ``exclude`` left out)."""
        return self._best([c for c in candidates(self.rules, self.cues) if c[0] not in exclude],
                          train, steps)[0]

    def failures(self, train: Sequence[str], steps: Sequence[int] = STRESS_STEPS
                 ) -> Dict[Candidate, List[str]]:
        """{candidate failing the stress check on ``train``'s cuts: the cuts it fails}."""
        out = {}
        for cand in candidates(self.rules, self.cues):
            bad = self.stress_failures(cand, train, steps)
            if bad:
                out[cand] = bad
        return out


#: rules whose defaults were fitted on the shared scenes before this study (robust's gates:
#: README's cross-scene section): their left-out rows are not left out for those defaults, so a
#: second nested choice leaves them out
FITTED_ON_SHARED = ("robust",)


def _choice_record(study: NestedStudy, train: Sequence[str], steps: Sequence[int],
                   fitted: Sequence[str]) -> Tuple[dict, tuple]:
    """One selection on ``train`` as JSON (overrides by name) and as (chosen, overall, clean)."""
    rules = study.rules
    name = lambda rule, cue: rule if cue is None else f"{rule}/{cue}"  # noqa: E731
    chosen = study.select(train, steps)
    overall = study.select_overall(train, (), steps)
    clean = study.select_overall(train, fitted, steps)
    failed = study.failures(train, steps)
    cands = candidates(rules, study.cues)
    failed_by: Dict[str, list] = {}
    for (r, c, i), rows in failed.items():
        failed_by.setdefault(name(r, c), []).append([list(rules[r][1][i]), rows])
    record = {
        "chosen": {name(r, c): list(rules[r][1][i]) for (r, c), i in chosen.items()},
        "overall": [overall[0], overall[1], list(rules[overall[0]][1][overall[2]])],
        "overall_unfitted": [clean[0], clean[1], list(rules[clean[0]][1][clean[2]])],
        "stress_failed": failed_by,
        "fallback": [name(r, c) for (r, c) in chosen
                     if all(k in failed for k in cands if k[:2] == (r, c))],
        "overall_fallback": all(k in failed for k in cands),
        "overall_unfitted_fallback": all(k in failed for k in cands if k[0] not in fitted)}
    return record, (chosen, overall, clean)


def run(study: NestedStudy, scenes: Sequence[str], steps: Iterable[int] = STRESS_STEPS,
        progress: Optional[Callable[[str], None]] = None,
        partial: Optional[Callable[[dict], None]] = None,
        fitted: Sequence[str] = FITTED_ON_SHARED) -> dict:
    """The nested table (stress-aware selection, see the module docstring), the all-scene choice,
    then the stress rows.

    Args:
        steps: the stress cuts (every k-th frame) of the selection's check and of the stress rows.
        partial: called with the result after the left-out folds, before the stress rows.
        fitted: rules left out of the second nested choice (``nested choice w/o ...``).

    Returns:
        a JSON-able dict: ``folds`` {left-out scene: {"chosen": {rule/cue: overrides},
        "overall": [rule, cue, overrides], "stress_failed": {rule/cue: [[overrides, [training
        cuts failed]], ...]}, "fallback": [rule/cue with no setting passing the check],
        "scores": {rule/cue: metrics}, "nested": metrics, "ceiling": metrics}}, ``all_scenes``
        {"chosen": ..., "overall": ..., ...} (the choice on all scenes: what a user gets),
        ``stress`` {row: {"scores", "nested", "ceiling"}}.
    """
    steps = tuple(steps)
    say = progress or (lambda s: None)
    out = {"folds": {}, "stress": {}, "scenes": list(scenes), "protocol": {
        "selection": "stress-aware", "steps": list(steps), "margin": STRESS_MARGIN}}
    name = lambda rule, cue: rule if cue is None else f"{rule}/{cue}"  # noqa: E731
    picks = {}
    for left in scenes:
        train = [s for s in scenes if s != left]
        t0 = time.perf_counter()
        fold, picks[left] = _choice_record(study, train, steps, fitted)
        chosen, overall, clean = picks[left]
        fold.update({"scores": {name(r, c): study.score((r, c, i), left) for (r, c), i in chosen.items()},
                     "nested": study.score(overall, left), "nested_unfitted": study.score(clean, left),
                     "ceiling": study.ceiling(left)})
        out["folds"][left] = fold
        say(f"{left}: chosen on {', '.join(train)} in {time.perf_counter() - t0:.0f} s; "
            f"byte {fold['scores']['byte']['IDF1']:.1f}, nested choice {name(*overall[:2])} "
            f"{fold['nested']['IDF1']:.1f}, ceiling {fold['ceiling']['IDF1']:.1f}"
            + (f"; no setting passed the training stress check: {', '.join(fold['fallback'])}"
               if fold["fallback"] else ""))
    out["fitted"] = list(fitted)
    out["all_scenes"] = _choice_record(study, scenes, steps, fitted)[0]
    if partial is not None:
        partial(out)
    for left in scenes:
        chosen, overall, clean = picks[left]
        for k in steps:
            row = f"{left}-every{k}"
            out["stress"][row] = {
                "scores": {name(r, c): study.score((r, c, i), row) for (r, c), i in chosen.items()},
                "nested": study.score(overall, row), "nested_unfitted": study.score(clean, row),
                "ceiling": study.ceiling(row)}
            say(f"{row}: byte {out['stress'][row]['scores']['byte']['IDF1']:.1f}, nested choice "
                f"{out['stress'][row]['nested']['IDF1']:.1f}")
    return out


def _row_cells(scores: Dict[str, Dict[str, float]], key: str, rows: Sequence[str]) -> List[float]:
    return [scores[r][key]["IDF1"] if key in scores[r] else float("nan") for r in rows]


def _stress_check_lines(result: dict) -> List[str]:
    """Per fold: the settings that failed the training stress check, and the fallbacks."""
    p = result.get("protocol", {})
    lines = [f"Training stress check (every {' / '.join(map(str, p.get('steps', [])))}-th frame of the "
             f"fold's training scenes, IDF1 >= byte - {p.get('margin', STRESS_MARGIN)}): settings failing it"]
    folds = dict(result["folds"], **({"all scenes": result["all_scenes"]} if "all_scenes" in result else {}))
    for left, f in folds.items():
        if "stress_failed" not in f:
            continue
        parts = [f"{k}: " + ", ".join(f"{' '.join(o) or 'defaults'} ({', '.join(rows)})" for o, rows in v)
                 for k, v in f["stress_failed"].items()]
        lines.append(f"- {left if left == 'all scenes' else left + ' left out'}: "
                     + ("; ".join(parts) or "none"))
        if f.get("fallback"):
            lines.append(f"  - no setting passed (chosen by the mean alone): {', '.join(f['fallback'])}")
        if f.get("overall_fallback") or f.get("overall_unfitted_fallback"):
            lines.append("  - no candidate of the nested choice passed (chosen by the mean alone)")
    return lines


def markdown(result: dict) -> str:
    """The nested table (left-out IDF1 per scene, mean, worst vs byte) and the stress table."""
    lines = []
    for title, block in (("Left-out scenes (nested leave-one-scene-out)", "folds"),
                         ("Frame-rate stress rows (settings of the full-rate scene's fold; choose nothing)",
                          "stress")):
        rows = list(result[block])
        if not rows:
            continue
        unfitted = "nested choice w/o " + "+".join(result.get("fitted", [])) if result.get("fitted") else None
        per = {r: dict(result[block][r]["scores"], **{"nested choice": result[block][r]["nested"],
                                                      "ceiling": result[block][r]["ceiling"]})
               for r in rows}
        extra = ["nested choice"]
        if unfitted and all("nested_unfitted" in result[block][r] for r in rows):
            for r in rows:
                per[r][unfitted] = result[block][r]["nested_unfitted"]
            extra.append(unfitted)
        keys = list(result[block][rows[0]]["scores"]) + extra + ["ceiling"]
        byte = _row_cells(per, "byte", rows)
        lines += [f"**{title}** (TrackEval IDF1)", "",
                  "| rule / cue | " + " | ".join(rows) + " | mean | worst vs byte |",
                  "|" + " --- |" * (len(rows) + 3)]
        for k in keys:
            v = _row_cells(per, k, rows)
            worst = min(a - b for a, b in zip(v, byte))
            lines.append(f"| {k} | " + " | ".join(f"{x:.1f}" for x in v)
                         + f" | {np.mean(v):.2f} | {worst:+.1f} |")
        if block == "folds":
            for label, field in (("Nested choice", "overall"), (unfitted, "overall_unfitted")):
                if label and all(field in f for f in result["folds"].values()):
                    lines.append("")
                    lines.append(f"{label} per fold: " + "; ".join(
                        f"{r}: {f[field][0]}/{f[field][1]} {' '.join(f[field][2]) or '(defaults)'}"
                        for r, f in result["folds"].items()))
            lines += [""] + _stress_check_lines(result)
        lines.append("")
    a = result.get("all_scenes")
    if a:
        lines.append(f"Chosen on all {len(result['scenes'])} scenes: {a['overall'][0]}/{a['overall'][1]} "
                     f"{' '.join(a['overall'][2]) or '(defaults)'}")
        if "overall_unfitted" in a and result.get("fitted"):
            u = a["overall_unfitted"]
            lines.append("")
            lines.append(f"Chosen on all {len(result['scenes'])} scenes without "
                         f"{'+'.join(result.get('fitted', []))}: {u[0]}/{u[1]} {' '.join(u[2]) or '(defaults)'}")
        lines.append("")
        lines.append("Settings chosen per fold (rule/cue: left-out scene -> overrides):")
        for k in a["chosen"]:
            per_fold = ", ".join(f"{s}: {' '.join(result['folds'][s]['chosen'][k]) or 'defaults'}"
                                 for s in result["folds"])
            lines.append(f"- {k}: {per_fold}; all scenes: {' '.join(a['chosen'][k]) or 'defaults'}")
    return "\n".join(lines) + "\n"


USAGE = """Nested leave-one-scene-out study of fusion rules on training-free cues (issue 27).

    python scripts/nested_loso.py [--data ../shared/data] [--out outputs/unseen] [--steps 2 3]
        [--scenes PETS09-S2L1 ETH-Sunnyday KITTI-17 MOT17-09-FRCNN]

Stress-aware nested selection: in each fold a setting qualifies only if on every training scene's
every-k-th-frame cut its IDF1 is >= byte's - 0.5; the best training mean among those is chosen.
Builds each scene's cache once (public detections, colour and ImageNet MobileNetV2 features:
OUT/cache/<SCENE>.npz), scores the grid of finetrack/studies/nested_loso.py RULES x CUES with
TrackEval (stored in OUT/scores.json, so a rerun replays nothing it has), and writes
OUT/nested_loso.json and OUT/nested_loso.md (printed too).
"""


def main(argv=None) -> int:
    import argparse
    import json
    import logging
    import os
    import sys
    import time
    from pathlib import Path
    from finetrack.utils.io import atomic_write_text
    from finetrack.studies.scenes import SHARED_SCENES, scene_dirs

    ap = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="the shared data root (read only)")
    ap.add_argument("--out", default="outputs/unseen")
    ap.add_argument("--scenes", nargs="+", default=list(SHARED_SCENES), choices=list(SHARED_SCENES))
    ap.add_argument("--steps", type=int, nargs="*", default=[2, 3], help="stress rows and the selection's training stress check: every k-th frame")
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
        caches[scene] = build_scene_cache(d, out / "cache" / f"{scene}.npz")
        logging.info("%s: cache ready (%d frames, %.0f s; ms/box %s)", scene, len(caches[scene].frames),
                     time.perf_counter() - t1, caches[scene].meta.get("ms_per_box"))
    study = NestedStudy(caches, dirs, out)

    def partial(res):  # the main table as soon as it is there (the stress rows follow)
        atomic_write_text(out / "nested_loso.partial.md", markdown(res))
        logging.info("main table: %s", out / "nested_loso.partial.md")

    res = run(study, args.scenes, args.steps, progress=logging.info, partial=partial)
    res["minutes"] = (time.perf_counter() - t0) / 60
    res["load_start"], res["load_end"] = load0, os.getloadavg()
    res["ms_per_box"] = {s: c.meta.get("ms_per_box") for s, c in caches.items()}
    md = markdown(res)
    atomic_write_text(out / "nested_loso.json", json.dumps(res, indent=1))
    atomic_write_text(out / "nested_loso.md", md)
    print(md)
    print(f"({res['minutes']:.1f} min, load {load0[0]:.1f} -> {res['load_end'][0]:.1f}) wrote "
          f"{out / 'nested_loso.md'}")
    return 0
