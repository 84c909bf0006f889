"""The ``robust`` mode with two appearance cues (``Tracker(cues=...)``, ``tracker.appearance=auto``).

- each cue is L2-normalised and calibrated on its own; bad widths are errors;
- the decisions read the cue that separates people on the sequence (chosen without labels,
  the larger lower confidence bound of d'; hand value): a noise cue next to an informative one
  neither stops the informative one from keeping the identities through a crossing nor is ever
  read, in either order;
- with two uninformative cues the mode is exactly ``byte``.
"""

import numpy as np
import pytest

from finetrack.tracker import Tracker
from finetrack.tracker import RobustSettings

from tests.tracker.test_tracker_crossing import bounce_scene, run_scene
from tests.tracker.test_tracker_robust import FAST, _outputs


class TwoCues:
    """run_scene's embedding table: per detection, [noise (fresh every frame), identity one-hot]
    (or the other order), the identity cue scaled 3x to check the per-cue normalisation."""

    def __init__(self, identity_first: bool, noise_dim: int = 16, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.identity_first, self.noise_dim = identity_first, noise_dim

    def __getitem__(self, gt):
        noise = self.rng.normal(size=(len(gt), self.noise_dim))
        ident = 3.0 * np.eye(2, 8)[gt]
        return np.hstack([ident, noise] if self.identity_first else [noise, ident])


@pytest.mark.parametrize("identity_first", [False, True])
def test_select_reads_the_cue_that_separates_people(identity_first):
    frames = bounce_scene(occluded=())
    byte = run_scene(Tracker(mode="byte"), frames)
    assert byte[-1] == {0: 2, 1: 1}  # the swap appearance must undo
    cues = (8, -1) if identity_first else (-1, 8)
    rob = Tracker(mode="robust", robust=FAST, cues=cues)
    reads = []
    orig = rob.association._appearance_llr
    rob.association._appearance_llr = lambda s: (reads.append((rob.association.active_cue, rob.association.appearance_on)), orig(s))[1]
    res = run_scene(rob, frames, TwoCues(identity_first))
    assert res[-1] == {0: 1, 1: 2}, res
    ident = 0 if identity_first else 1
    assert rob.association.active_cue == ident and rob.association._cue_on(ident) and not rob.association._cue_on(1 - ident)
    assert rob.association.identity_calibrators[ident].state.separation > 2.0
    assert rob.association.identity_calibrators[1 - ident].state.separation < 1.0
    # while appearance acts, the decisions read the identity cue only
    assert any(on for _, on in reads) and {cue for cue, on in reads if on} == {ident}
    assert rob.association.stats["vetoes"] > 0
    # the noise cue on its own changes nothing: robust is byte
    noise_only = run_scene(Tracker(mode="robust", robust=FAST), frames,
                           type("Noise", (), {"__getitem__": lambda self, gt, r=np.random.default_rng(1):
                                              r.normal(size=(len(gt), 16))})())
    assert noise_only == byte


def test_two_noise_cues_equal_byte():
    frames = bounce_scene(occluded=())
    rng = np.random.default_rng(2)
    dets = [(b, np.full(len(b), 0.9)) for b, _ in frames]
    embs = [rng.normal(size=(len(b), 24)) for b, _ in frames]
    rob = Tracker(mode="robust", robust=FAST, cues=(16, 8))
    got = _outputs(rob, dets, embs)
    want = _outputs(Tracker(mode="byte"), dets)
    assert not rob.association.appearance_on
    for (ib, _, db), (ir, _, dr) in zip(want, got):
        np.testing.assert_array_equal(ib, ir)
        np.testing.assert_array_equal(db, dr)


def _ready_tracker():
    """A two-cue tracker whose calibrations are filled by hand: cue 0 d' = 2 (positives
    0.6, 0.8 / negatives 0.2, 0.4: means 0.7 / 0.3, pooled sd 0.1414), cue 1 d' = 7 (0.8, 0.9, 1.0
    / 0.1, 0.2, 0.3: sd 0.1)."""
    t = Tracker(mode="robust", robust=RobustSettings(min_samples=2, identity_z=0.0,
                                                   min_identity_separation=0.5),
                cues=(4, 4))
    for cals in (t.association.calibrators, t.association.identity_calibrators):
        cals[0].add([0.6, 0.8], [0.2, 0.4])
        cals[1].add([0.8, 0.9, 1.0], [0.1, 0.2, 0.3])
    t.association._select_cue()
    return t


def test_select_picks_the_larger_lower_bound():
    sims0, sims1 = np.array([[0.5, 0.9]]), np.array([[0.2, 0.55]])
    # llr = (mu_p - mu_n) / sd^2 * (s - (mu_p + mu_n) / 2)
    llr0 = 0.4 / 0.02 * (sims0 - 0.5)
    llr1 = 0.7 / 0.01 * (sims1 - 0.55)
    sel = _ready_tracker()
    assert sel.association._cue_on(0) and sel.association._cue_on(1)
    assert sel.association.identity_calibrators[0].state.separation == pytest.approx(0.4 / np.sqrt(0.02))
    assert sel.association.identity_calibrators[1].lower_bound() > sel.association.identity_calibrators[0].lower_bound()
    assert sel.association.active_cue == 1 and sel.association.identity_calibrator is sel.association.identity_calibrators[1]
    np.testing.assert_allclose(sel.association._appearance_llr([sims0, sims1]), llr1)
    assert not np.allclose(llr0, llr1)  # reading cue 0 would give another llr
    # the lower bound is d' - z se with se = sqrt(n / (n_p n_n) + d'^2 / (2 n)): cue 1, z = 2
    se = np.sqrt(6 / 9 + 49 / 12)
    assert sel.association.identity_calibrators[1].lower_bound(2.0) == pytest.approx(7.0 - 2 * se)


def test_cue_widths_and_normalisation():
    with pytest.raises(ValueError, match="positive widths"):
        Tracker(mode="robust", cues=(-1, -1))
    with pytest.raises(ValueError, match="positive widths"):
        Tracker(mode="robust", cues=(0, 4))
    t = Tracker(mode="robust", robust=RobustSettings(center=False), cues=(6, 4))
    with pytest.raises(ValueError, match="width 8 do not split into cues"):
        t.update(np.array([[0, 0, 10, 20.0]]), np.array([0.9]), np.ones((1, 8)))
    e = np.hstack([np.full((2, 6), 5.0), np.array([[1.0, 0, 0, 0], [0, 2.0, 0, 0]])])
    out = t.association._cue_normalize(e)
    np.testing.assert_allclose(np.linalg.norm(out[:, :6], axis=1), np.sqrt(0.5))
    np.testing.assert_allclose(np.linalg.norm(out[:, 6:], axis=1), np.sqrt(0.5))
    sims = t.association._cue_sims(out, out)
    np.testing.assert_allclose(sims[0], np.ones((2, 2)))
    np.testing.assert_allclose(sims[1], np.eye(2))


def test_auto_appearance_sets_the_cues():
    from finetrack.config import Config
    from finetrack.configlib import ConfigError, freeze, load_config
    from finetrack.inference.build import build_tracker, resolve_appearance
    from finetrack.inference.color import COLOR_DIM

    def cues(tc):
        tr = build_tracker(tc, 30.0)
        return getattr(tr.association, "cues", None)

    cfg = freeze(load_config(Config, None, ["tracker.appearance=auto", "tracker.mode=robust"]))
    assert cues(cfg.tracker) == (-1, COLOR_DIM) == (-1, 144)
    assert cues(freeze(load_config(Config, None, [])).tracker) is None
    # null (the default) is the mode's own: auto for robust, reid for the others
    for mode, want in (("robust", (-1, 144)), ("finetrack", None), ("jde", None)):
        tc = freeze(load_config(Config, None, [f"tracker.mode={mode}"])).tracker
        assert tc.appearance is None and cues(tc) == want
        assert resolve_appearance(tc) == ("auto" if want else "reid")
    tc = freeze(load_config(Config, None, ["tracker.mode=robust", "tracker.appearance=reid"])).tracker
    assert cues(tc) is None
    with pytest.raises(ConfigError):
        load_config(Config, None, ["tracker.appearance=reid+color"])


def test_replay_appearance_reads_what_the_cache_holds():
    from finetrack.inference.cache import CachedFrames, replay_appearance

    boxes, scores = [np.array([[0, 0, 10, 20.0], [30, 0, 40, 20]])], [np.array([0.9, 0.8])]
    deep = CachedFrames(np.array([1]), boxes, scores, [np.array([[3.0, 4], [1, 0]])], {"sequence": "S"})
    col = CachedFrames(np.array([1]), boxes, scores, [np.array([[0.0, 2], [1, 1]])],
                       {"sequence": "S", "checkpoint": "color histogram"})
    assert replay_appearance(deep, "reid") == (deep, "reid")
    assert replay_appearance(col, "auto") == (col, "color")  # a colour cache holds nothing else
    assert replay_appearance(deep, "color", col) == (col, "color")
    fused, what = replay_appearance(deep, "auto", col)
    s = np.sqrt(0.5)
    np.testing.assert_allclose(fused.emb[0], [[0.6 * s, 0.8 * s, 0, s], [s, 0, s * s, s * s]], atol=1e-6)
    assert what == "auto"
    with pytest.raises(ValueError, match="colour features of the same boxes"):
        replay_appearance(deep, "auto")


def test_each_cue_keeps_its_own_ema():
    """A cue whose features wander (its EMA's norm shrinks) does not slow the other cue's EMA:
    the second cue's block of a track's feature is what a tracker fed that cue alone holds."""
    rng = np.random.default_rng(4)
    params = RobustSettings(center=False)
    two = Tracker(mode="robust", robust=params, cues=(8, 6))
    one = Tracker(mode="robust", robust=params)
    box = np.array([[100.0, 100, 140, 200]])
    for f in range(12):
        b = np.eye(1, 6, f % 3)[0] + 0.3 * rng.normal(size=6)
        two.update(box + 2 * f, [0.9], np.hstack([rng.normal(size=8), b])[None])
        one.update(box + 2 * f, [0.9], b[None])
    t2, t1 = two.tracked_tracks[0], one.tracked_tracks[0]
    assert t2.n_feats == t1.n_feats > 5
    got = t2.smooth_feat[8:] / np.linalg.norm(t2.smooth_feat[8:])
    np.testing.assert_allclose(got, t1.smooth_feat, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(t2.smooth_feat[:8]), np.sqrt(0.5))
