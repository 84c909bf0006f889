#!/usr/bin/env python
"""Peer trackers: boxmot's BoT-SORT and Deep OC-SORT on our cached detections and embeddings.

boxmot (PyPI ``boxmot==25.0.0``) is a peer for comparison, not a dependency: run this script with a
python that has it (the bench venv), not with finetrack's venv. It only needs numpy and boxmot (and
OpenCV, a boxmot dependency, for ``--cmc``); no other finetrack module is imported, so
``PYTHONPATH=.`` (this checkout) is all the bench venv needs to find it.

For every cache ``CACHE_ROOT/<model>/<SEQ>.<half>.npz`` (written by
``finetrack.inference.cache.save_frames``: frames, counts, xyxy, scores, emb, meta) each tracker is
fed, frame by frame, exactly the cached detections (class 0) and the cached embeddings (passed as
``embs``, so boxmot never computes appearance itself), and writes MOTChallenge results to
``OUT/<model>/<tracker>/<SEQ>.txt`` (``frame,id,x,y,w,h,score,-1,-1,-1``; frames as in the cache's
``frames`` array, i.e. renumbered from 1 for ``val`` halves, the same as our own rows; ids renumbered
densely from 1 in order of first appearance, since boxmot's id counters may start at 0).

Re-ID: boxmot 25's ``update(dets_ndarray, img)`` takes no embeddings and would build a ReID model
(``boxmot.reid.core.ReID``, resolving/downloading weights) to compute them. So each frame is passed
as a ``boxmot.structures.Detections`` carrying our embeddings (float32, L2-normalised; Deep
OC-SORT's cost is a raw dot product), every tracker gets ``reid_model=_NoReidModel()`` (a stub whose
``get_features`` raises), and ``boxmot.reid.core.ReID`` / ``create_reid_encoder`` (and an older
version's ``ReidAutoBackend``) are replaced by stubs that load nothing. No model is ever loaded.
Scores are clipped to [0, 1] (``Detections`` requires it; comparisons with thresholds in (0, 1) are
unchanged) and boxes with x2 <= x1 or y2 <= y1 are dropped (reported; ``Boxes`` rejects them).

Settings (ByteTrack-like, as our rows use; boxmot defaults otherwise):

* BoT-SORT: ``track_high_thresh=0.6``, ``track_low_thresh=0.1``, ``new_track_thresh=0.7``,
  ``match_thresh=0.8``, ``track_buffer=30`` with ``frame_rate`` from the cache (boxmot scales the
  buffer to ``int(frame_rate / 30 * track_buffer)`` frames itself), ReID on with boxmot's default
  gates (``proximity_thresh=0.5``, ``appearance_thresh=0.25``).
* Deep OC-SORT: ``det_thresh=0.6`` (OC-SORT's own MOT setting, = our track thresh; boxmot drops
  detections at or below it and starts tracks from the rest), ``max_age`` = the same scaled buffer
  ``int(frame_rate / 30 * 30)`` (boxmot does not scale it), ``min_hits=3``, ``iou_threshold=0.3``,
  embedding weight etc. at boxmot defaults.
* CMC (camera motion compensation) is off by default (our rows do not use it): BoT-SORT
  ``use_cmc=False``, Deep OC-SORT ``cmc_off=True``. ``--cmc`` turns it on; it then needs the real
  frames, read from ``SCENES_ROOT/<SEQ>/img1/`` (cache frame f of a ``val`` half is image
  ``f + seqLength // 2``). Without ``--cmc`` a black image of the sequence size is passed
  (``imWidth``/``imHeight`` from ``SCENES_ROOT/<SEQ>/seqinfo.ini``, else the boxes' extent); boxmot
  uses its size only (e.g. for size-normalised association costs).

Embeddings are L2-normalised before being passed (Deep OC-SORT's cost is a raw dot product).

Usage (bench venv):
    PYTHONPATH=. outputs/benchvenv/bin/python scripts/peers_boxmot.py --cache-root outputs/cross_scene/cache \\
        --out outputs/cross_scene/results [--trackers botsort deepocsort] [--only MODEL ...] [--cmc]
"""
from __future__ import annotations

import argparse
import configparser
import inspect
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCENES = REPO / "datasets" / "scenes" / "train"
TRACKERS = ("botsort", "deepocsort")

# ByteTrack-like thresholds (the ones our own rows use).
TRACK_HIGH_THRESH = 0.6
TRACK_LOW_THRESH = 0.1
NEW_TRACK_THRESH = 0.7
MATCH_THRESH = 0.8
TRACK_BUFFER = 30

log = logging.getLogger("peers_boxmot")


# --------------------------------------------------------------------------------------- inputs
def load_cache(path: Path) -> dict:
    """Parse a ``save_frames`` .npz (numpy only). ``emb`` is None when the cache has none."""
    with np.load(path, allow_pickle=False) as z:
        counts = np.asarray(z["counts"], np.int64)
        splits = np.cumsum(counts)[:-1]
        out = {
            "frames": np.asarray(z["frames"], np.int64).copy(),
            "xyxy": np.split(np.asarray(z["xyxy"], np.float64).reshape(-1, 4), splits),
            "scores": np.split(np.asarray(z["scores"], np.float64).reshape(-1), splits),
            "emb": (np.split(np.asarray(z["emb"], np.float32), splits)
                    if "emb" in z.files else None),
            "meta": json.loads(str(z["meta"])) if "meta" in z.files else {},
        }
    if len(out["frames"]) != len(counts):
        raise ValueError(f"{path}: {len(out['frames'])} frames but {len(counts)} counts")
    if out["emb"] is not None and int(counts.sum()) and out["emb"][0].ndim != 2:
        raise ValueError(f"{path}: emb is not (N, D)")
    return out


def seq_info(scenes_root: Path, seq: str) -> Optional[dict]:
    """``seqinfo.ini`` fields of ``scenes_root/seq``, or None when absent."""
    ini = scenes_root / seq / "seqinfo.ini"
    if not ini.is_file():
        return None
    cp = configparser.ConfigParser()
    cp.read(ini)
    s = cp["Sequence"]
    return {"width": int(s.get("imWidth", 0)) or None, "height": int(s.get("imHeight", 0)) or None,
            "length": int(s.get("seqLength", 0)) or None, "frame_rate": float(s.get("frameRate", 0)) or None,
            "img_dir": scenes_root / seq / s.get("imDir", "img1"), "ext": s.get("imExt", ".jpg")}


def image_size(cache: dict, info: Optional[dict]) -> Tuple[int, int]:
    """(width, height) from seqinfo.ini, else the boxes' extent."""
    if info and info["width"] and info["height"]:
        return info["width"], info["height"]
    boxes = [b for b in cache["xyxy"] if len(b)]
    if not boxes:
        return 640, 480
    allb = np.concatenate(boxes)
    return max(1, int(math.ceil(allb[:, 2].max()))), max(1, int(math.ceil(allb[:, 3].max())))


# --------------------------------------------------------------------------------- boxmot setup
class _NoReidModel:
    """Stands in for a loaded ReID model: embeddings are always passed, so it is never asked."""

    def get_features(self, *a, **k):
        raise RuntimeError("peers_boxmot: boxmot asked for ReID features, but embeddings are "
                           "always passed (a frame without embs?)")

    __call__ = get_features

    def warmup(self, *a, **k):
        return None


class _StubReidAutoBackend:
    """Replaces boxmot's ``ReidAutoBackend``: no weights resolved, downloaded or loaded."""

    def __init__(self, *a, **k):
        self.model = _NoReidModel()

    def __getattr__(self, name):  # anything else a version might touch (weights, device, ...)
        return None

    def get_features(self, *a, **k):
        return self.model.get_features()


def patch_reid() -> List[str]:
    """Make sure boxmot never builds a ReID model (which would resolve/download weights).

    boxmot 25.0.0 builds one lazily (``boxmot.reid.core.ReID`` / ``reid.factory.create_reid_encoder``)
    only for a non-empty update without embeddings; older versions built ``ReidAutoBackend`` in the
    tracker's __init__. All of these are replaced by stubs that load nothing (and raise if ever
    asked for features); in addition every tracker gets ``reid_model=_NoReidModel()``.
    """
    import importlib

    for name in ("boxmot.reid.core", "boxmot.reid.factory", "boxmot.reid.core.auto_backend",
                 "boxmot.appearance.reid_auto_backend", "boxmot.reid.core.reid",
                 "boxmot.trackers.common.appearance.live"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (module of another boxmot version)
            pass

    def _no_encoder(*a, **k):
        raise RuntimeError("peers_boxmot: boxmot tried to build a ReID encoder")

    patched = []
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name == "boxmot" or name.startswith("boxmot.")):
            continue
        for attr in ("ReidAutoBackend", "ReID"):
            if isinstance(getattr(mod, attr, None), type):
                setattr(mod, attr, _StubReidAutoBackend)
                patched.append(f"{name}.{attr}")
        if callable(getattr(mod, "create_reid_encoder", None)):
            setattr(mod, "create_reid_encoder", _no_encoder)
            patched.append(f"{name}.create_reid_encoder")
    return patched


def _init_params(cls) -> Dict[str, inspect.Parameter]:
    """Named __init__ parameters over the MRO (a **kwargs init forwards to its base)."""
    params: Dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            continue
        var_kw = False
        for p in list(sig.parameters.values())[1:]:
            if p.kind == p.VAR_KEYWORD:
                var_kw = True
            elif p.kind != p.VAR_POSITIONAL:
                params.setdefault(p.name, p)
        if not var_kw:
            break
    return params


def build_tracker(name: str, frame_rate: float, cmc: bool, extra: Optional[Dict[str, float]] = None):
    """A boxmot tracker with our thresholds (and ``extra`` keyword arguments of its class, e.g.
    BoT-SORT's ``appearance_thresh``); returns (tracker, settings actually passed).

    Raises:
        ValueError: a key of ``extra`` is not a parameter of the tracker's class.
    """
    import boxmot

    fps = max(1, int(round(frame_rate)))
    buffer = max(1, int(fps / 30.0 * TRACK_BUFFER))
    if name == "botsort":
        cls = getattr(boxmot, "BotSort", None) or getattr(boxmot, "BoTSORT")
        want = dict(track_high_thresh=TRACK_HIGH_THRESH, track_low_thresh=TRACK_LOW_THRESH,
                    new_track_thresh=NEW_TRACK_THRESH, match_thresh=MATCH_THRESH,
                    track_buffer=TRACK_BUFFER, frame_rate=fps, use_cmc=cmc,
                    with_reid=True, use_embeddings=True)
    elif name == "deepocsort":
        cls = getattr(boxmot, "DeepOcSort", None) or getattr(boxmot, "DeepOCSort")
        want = dict(det_thresh=TRACK_HIGH_THRESH, max_age=buffer, min_hits=3, iou_threshold=0.3,
                    cmc_off=not cmc, embedding_off=False, use_embeddings=True)
    else:
        raise ValueError(name)
    params = _init_params(cls)
    unknown = sorted(set(extra or {}) - set(params))
    if unknown:
        raise ValueError(f"{cls.__name__} has no parameter {', '.join(unknown)}")
    want.update(extra or {})
    kwargs = {k: v for k, v in want.items() if k in params}
    if "reid_model" in params:  # boxmot >= 25: an injected backend is used instead of a lazy one
        kwargs["reid_model"] = _NoReidModel()
    rw = params.get("reid_weights")
    if rw is not None and rw.default is inspect.Parameter.empty:
        kwargs["reid_weights"] = Path(tempfile.gettempdir()) / "peers_boxmot_no_reid.pt"
    missing = [k for k in ("use_cmc" if name == "botsort" else "cmc_off",) if k not in params]
    if missing:
        log.warning("%s: this boxmot has no %s; CMC left at its default", name, missing)
    tracker = cls(**kwargs)
    shown = {k: v for k, v in kwargs.items() if k not in ("reid_model", "reid_weights")}
    return tracker, shown


# -------------------------------------------------------------------------------------- running
def read_image(info: dict, frame: int):
    import cv2

    path = info["img_dir"] / f"{frame:06d}{info['ext']}"
    img = cv2.imread(str(path))
    if img is None:
        raise FileNotFoundError(f"--cmc: cannot read {path}")
    return img


def _frame_dets(xyxy: np.ndarray, scores: np.ndarray, emb: np.ndarray, dim: int):
    """float32 boxes, scores in [0, 1], L2-normalised embeddings; degenerate boxes dropped."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    scores = np.clip(np.asarray(scores, np.float32).reshape(-1), 0.0, 1.0)
    emb = np.asarray(emb, np.float32).reshape(len(scores), -1) if len(scores) else \
        np.zeros((0, dim), np.float32)
    ok = ((xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1]) & np.isfinite(xyxy).all(1)
          & np.isfinite(scores) & np.isfinite(emb).all(1))
    xyxy, scores, emb = xyxy[ok], scores[ok], emb[ok]
    if len(emb):
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return xyxy, scores, np.ascontiguousarray(emb, np.float32), int((~ok).sum())


def run_tracker(tracker, cache: dict, size: Tuple[int, int], cmc: bool, info: Optional[dict],
                offset: int, seq: str = "seq") -> Tuple[np.ndarray, int]:
    """Rows (R, 7): frame, id, x, y, w, h, score (ids dense from 1 by first appearance).

    boxmot 25's ``update(dets_ndarray, img)`` takes no embeddings (it would compute them), so each
    frame goes in as a ``boxmot.structures.Detections`` carrying our embeddings; older versions
    take ``update(dets (N, 6), img, embs)``.
    """
    import boxmot

    w, h = size
    black = np.zeros((h, w, 3), np.uint8)
    dim = next((e.shape[1] for e in cache["emb"] if e.ndim == 2 and e.shape[1]), 1)
    structured = hasattr(getattr(boxmot, "structures", None), "Detections") or _has_structures()
    if structured:
        import torch
        from boxmot.structures import Boxes, Detections
    ids: Dict[int, int] = {}
    rows = []
    dropped = 0
    for i, frame in enumerate(cache["frames"]):
        xyxy, scores, embs, bad = _frame_dets(cache["xyxy"][i], cache["scores"][i],
                                              cache["emb"][i], dim)
        dropped += bad
        img = read_image(info, int(frame) + offset) if cmc else black
        if structured:
            dets = Detections(geometry=Boxes(torch.from_numpy(xyxy)),
                              scores=torch.from_numpy(scores),
                              class_ids=torch.zeros(len(scores), dtype=torch.int64),
                              sample_id=f"{seq}:{int(frame)}",
                              embeddings=torch.from_numpy(embs))
            out = tracker.update(dets, img)
            boxes = out.geometry.values.detach().cpu().numpy().astype(np.float64)
            tids = out.track_ids.detach().cpu().numpy()
            confs = out.scores.detach().cpu().numpy().astype(np.float64)
        else:
            d = np.zeros((len(scores), 6), np.float32)
            d[:, :4], d[:, 4] = xyxy, scores
            out = np.asarray(tracker.update(d, img, embs)).reshape(-1, 8)
            boxes, tids, confs = out[:, :4].astype(np.float64), out[:, 4], out[:, 5]
        for b, raw, c in zip(boxes, tids, confs):
            tid = ids.setdefault(int(raw), len(ids) + 1)
            rows.append((int(frame), tid, b[0], b[1], b[2] - b[0], b[3] - b[1], float(c)))
    return np.asarray(rows, np.float64).reshape(-1, 7), dropped


def _has_structures() -> bool:
    try:
        from boxmot.structures import Detections  # noqa: F401
        return True
    except Exception:  # noqa: BLE001
        return False


def check_rows(rows: np.ndarray) -> None:
    if not len(rows):
        return
    if rows[:, 0].min() < 1 or rows[:, 1].min() < 1:
        raise ValueError("frames and ids must be >= 1")
    pairs = rows[:, :2].astype(np.int64)
    if len(np.unique(pairs, axis=0)) != len(pairs):
        raise ValueError("an id occurs twice in one frame")


def write_mot(path: Path, rows: np.ndarray) -> None:
    order = np.lexsort((rows[:, 1], rows[:, 0])) if len(rows) else []
    lines = [f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},{r[6]:.4f},"
             f"-1,-1,-1" for r in rows[order]]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + ("\n" if lines else ""))
    os.replace(tmp, path)


def find_caches(root: Path, only: Optional[List[str]]) -> List[Tuple[str, str, str, Path]]:
    """(model, seq, half, path) for root/<model>/<SEQ>.<half>.npz."""
    found = []
    for p in sorted(root.glob("*/*.npz")):
        model = p.parent.name
        if only and model not in only:
            continue
        stem = p.name[:-len(".npz")]
        seq, _, half = stem.rpartition(".")
        if not seq:
            seq, half = stem, "all"
        found.append((model, seq, half, p))
    return found


def quiet_boxmot() -> None:
    """boxmot's log (every tracker's settings at INFO) down to warnings on stderr: boxmot 25's
    stdlib logger (set to INFO by its import), older versions' loguru."""
    try:
        import boxmot.utils  # its import configures the logger

        boxmot.utils.logger.setLevel(logging.WARNING)
    except Exception:  # noqa: BLE001  (another boxmot version)
        pass
    try:
        from loguru import logger as _lg

        _lg.remove()
        _lg.add(sys.stderr, level="WARNING")
    except Exception:  # noqa: BLE001
        pass


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    p.add_argument("--cache-root", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="writes OUT/<model>/<tracker>/<SEQ>.txt")
    p.add_argument("--trackers", nargs="+", choices=TRACKERS, default=list(TRACKERS))
    p.add_argument("--only", nargs="+", default=None, metavar="MODEL", help="model folders to run")
    p.add_argument("--cmc", action="store_true", help="enable boxmot's CMC (reads real frames)")
    p.add_argument("--scenes-root", type=Path, default=DEFAULT_SCENES,
                   help="<SEQ>/seqinfo.ini and <SEQ>/img1/ (image size, --cmc frames)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    quiet_boxmot()
    import boxmot

    patched = patch_reid()
    print(f"boxmot {getattr(boxmot, '__version__', '?')}; ReID builders stubbed: "
          f"{', '.join(patched) or 'none found'}; CMC {'on' if args.cmc else 'off'}", flush=True)
    caches = find_caches(args.cache_root, args.only)
    if not caches:
        print(f"no caches under {args.cache_root}/<model>/<SEQ>.<half>.npz", flush=True)
        return 1
    written: Dict[Path, str] = {}
    failures = 0
    for model, seq, half, path in caches:
        try:
            cache = load_cache(path)
        except Exception as e:  # noqa: BLE001
            print(f"SKIP {model} {seq} [{half}]: unreadable cache {path}: {e}", flush=True)
            failures += 1
            continue
        if cache["emb"] is None:
            print(f"SKIP {model} {seq} [{half}]: cache has no embeddings ({path})", flush=True)
            continue
        seq = cache["meta"].get("sequence", seq)
        half = cache["meta"].get("half", half)
        info = seq_info(args.scenes_root, seq)
        fps = float(cache["meta"].get("frame_rate") or (info or {}).get("frame_rate") or 30)
        size = image_size(cache, info)
        offset = 0
        if args.cmc:
            if info is None or not info["img_dir"].is_dir():
                print(f"SKIP {model} {seq} [{half}]: --cmc needs {args.scenes_root / seq}/img1",
                      flush=True)
                failures += 1
                continue
            offset = (info["length"] // 2) if half == "val" else 0
        for name in args.trackers:
            out_path = args.out / model / name / f"{seq}.txt"
            if out_path in written:
                log.warning("%s: also written from the %s half; overwritten by [%s]", out_path,
                            written[out_path], half)
            t0 = time.perf_counter()
            try:
                tracker, settings = build_tracker(name, fps, args.cmc)
                rows, dropped = run_tracker(tracker, cache, size, args.cmc, info, offset, seq)
                check_rows(rows)
            except Exception as e:  # noqa: BLE001
                log.exception("%s %s [%s] %s failed", model, seq, half, name)
                print(f"FAIL {model} {seq} [{half}] {name}: {e}", flush=True)
                failures += 1
                continue
            write_mot(out_path, rows)
            written[out_path] = half
            n_ids = len(np.unique(rows[:, 1])) if len(rows) else 0
            if dropped:
                print(f"  note: {dropped} degenerate/non-finite detections not passed", flush=True)
            print(f"{model} {seq} [{half}] {name}: {len(rows)} rows, {n_ids} ids, "
                  f"{len(cache['frames'])} frames, {time.perf_counter() - t0:.1f} s -> {out_path}"
                  f"  ({', '.join(f'{k}={v}' for k, v in settings.items())})", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
