"""How well do a model's features tell people apart on a sequence? The robust mode's two calibrations.

    python scripts/identity_separation.py [--out outputs/cross_scene] [--models pets09 ...] [key=value ...]

Replays every cached cross-scene row (OUT/cache/<model>/<SEQ>.<half>.npz, scripts/cross_scene.py) in
``robust`` mode and prints, per row, the separation d' of its two label-free calibrations
(finetrack/tracker/appearance.py), as the median over the frames where each is measured and at the
last frame:

- ``next frame``: a track's EMA feature against the next frame's detections (the llr's calibration);
- ``identity``: a track's feature of ``identity_lag_s`` ago against its current detection (the gate);

and the share of frames on which appearance was allowed to act (the gate open). No ground truth is
read. Any ``tracker.*`` key=value override applies (e.g. tracker.robust.identity_lag_s=0.5).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from finetrack.config import Config
from finetrack.configlib import ConfigError, freeze, load_config
from finetrack.inference.build import build_tracker
from finetrack.inference.cache import is_color_cache, load_frames

REPO = Path(__file__).resolve().parents[2]


def separations(cache, cfg: Config) -> dict:
    """Replay ``cache`` in robust mode; medians and last values of both calibrations' d'."""
    # the cache's own features, one cue (not robust's default two: this measures one model)
    one = "color" if is_color_cache(cache) else "reid"
    tr = build_tracker(dataclasses.replace(cfg.tracker, mode="robust", appearance=one),
                       cache.meta["frame_rate"])
    rob = tr.association
    tr.reset()
    nxt, ident, on = [], [], 0
    for i in range(len(cache.frames)):
        tr.update(cache.xyxy[i], cache.scores[i], cache.emb[i])
        a, b = rob.calibrator.state, rob.identity_calibrator.state
        if a.n_pos >= 2 and a.n_neg >= 2:
            nxt.append(a.separation)
        if b.n_pos >= 2 and b.n_neg >= 2:
            ident.append(b.separation)
        on += int(rob.appearance_on)

    def stat(v):
        return (float(np.median(v)), float(v[-1])) if v else (float("nan"), float("nan"))

    return {"next_frame": stat(nxt), "identity": stat(ident), "on": on / max(len(cache.frames), 1),
            "frames": len(cache.frames)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "outputs" / "cross_scene"))
    ap.add_argument("--models", nargs="*", default=None, help="only these cache folders")
    ap.add_argument("overrides", nargs="*", help="tracker.* key=value")
    args = ap.parse_args(argv)
    try:
        cfg = freeze(load_config(Config, None, args.overrides))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    paths = sorted((Path(args.out) / "cache").glob("*/*.npz"))
    if args.models:
        paths = [p for p in paths if p.parent.name in args.models]
    if not paths:
        print(f"error: no cached rows under {Path(args.out) / 'cache'} (run scripts/cross_scene.py)",
              file=sys.stderr)
        return 2
    print("| model | sequence | next-frame d' (median / last) | identity d' (median / last) | appearance on |")
    print("| --- | --- | --- | --- | --- |")
    for p in paths:
        s = separations(load_frames(p), cfg)
        print(f"| {p.parent.name} | {p.stem} | {s['next_frame'][0]:.2f} / {s['next_frame'][1]:.2f} | "
              f"{s['identity'][0]:.2f} / {s['identity'][1]:.2f} | {100 * s['on']:.0f} % of {s['frames']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
