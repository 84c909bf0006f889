"""finetrack/studies/identity_separation.py: the two calibrations' d' on scripted caches (no labels read)."""
from pathlib import Path

import numpy as np

from finetrack.inference.cache import CachedFrames, save_frames
from finetrack.studies import identity_separation as mod


def _cache(path: Path, emb_of, n: int = 60):
    """Three people 300 px apart walking right at 10 fps; ``emb_of(frame, person)`` their features."""
    xyxy, scores, emb = [], [], []
    for f in range(1, n + 1):
        xyxy.append(np.array([[x0 + 3 * f, 100, x0 + 3 * f + 50, 220] for x0 in (100.0, 400.0, 700.0)]))
        scores.append(np.full(3, 0.9))
        emb.append(np.array([emb_of(f, p) for p in range(3)], np.float32))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_frames(CachedFrames(np.arange(1, n + 1), xyxy, scores, emb,
                             {"sequence": path.stem, "half": "all", "frame_rate": 10}), path)


def test_stable_identities_open_the_gate_random_features_do_not(tmp_path, capsys):
    rng = np.random.default_rng(0)
    _cache(tmp_path / "cache" / "stable" / "SEQ.all.npz", lambda f, p: np.eye(3, 8)[p] + 0.05 * rng.normal(size=8))
    _cache(tmp_path / "cache" / "random" / "SEQ.all.npz", lambda f, p: rng.normal(size=8))
    assert mod.main(["--out", str(tmp_path), "tracker.robust.min_samples=10"]) == 0
    rows = {ln.split("|")[1].strip(): ln for ln in capsys.readouterr().out.splitlines()[2:]}
    on = {k: float(v.split("|")[5].split("%")[0]) for k, v in rows.items()}
    ident = {k: float(v.split("|")[4].split("/")[0]) for k, v in rows.items()}
    assert ident["stable"] > 5.0 and on["stable"] > 50.0
    assert ident["random"] < 0.5 and on["random"] == 0.0


def test_no_cache_is_an_error(tmp_path, capsys):
    assert mod.main(["--out", str(tmp_path)]) == 2
    assert "no cached rows" in capsys.readouterr().err
