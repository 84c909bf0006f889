"""The tracker's per-mode choices live in one strategy object per mode
(finetrack.tracker.association), built from its settings dataclass; the shared stages read
ByteTrackSettings, which TrackerConfig extends (no copy of fields between the config and the
tracker)."""
import dataclasses

import numpy as np
import pytest

from finetrack.config import Config
from finetrack.configlib import freeze, load_config
from finetrack.tracker import (MODES, ByteTrackSettings, FineTrackSettings, JDESettings,
                               RobustSettings, Tracker)
from finetrack.tracker.association import ASSOCIATIONS


def test_registry_covers_every_mode():
    assert sorted(ASSOCIATIONS) == sorted(MODES) == ["botsort", "byte", "finetrack", "jde",
                                                     "robust"]
    assert all(cls.name == mode for mode, cls in ASSOCIATIONS.items())


@pytest.mark.parametrize("mode,thresh,emb,low,fuse_unconf,every_box", [
    ("byte", 0.8, False, True, True, False),
    ("finetrack", 0.5, True, True, True, False),
    ("jde", 0.4, True, False, False, False),
    ("robust", 0.8, True, True, True, True),
    ("botsort", 0.8, True, True, True, False),
])
def test_strategy_of_each_mode(mode, thresh, emb, low, fuse_unconf, every_box):
    a = Tracker(mode=mode).association
    assert (a.needs_embeddings, a.low_stage, a.fuse_score_unconfirmed, a.reads_every_box) == (
        emb, low, fuse_unconf, every_box)
    first = getattr(a.settings, "match_thresh", None) or a.tracker.settings.match_thresh
    assert first == thresh


def test_tracker_takes_each_modes_settings_and_checks_the_mode():
    t = Tracker(mode="jde", jde=JDESettings(match_thresh=0.3), mot20=True)
    assert t.association.settings.match_thresh == 0.3 and t.settings.mot20
    assert Tracker(mode="finetrack", finetrack=FineTrackSettings(0.6)).association.settings.match_thresh == 0.6
    assert Tracker(mode="robust", robust=RobustSettings(veto_llr=2.0)).association.settings.veto_llr == 2.0
    with pytest.raises(ValueError, match="unknown tracker mode 'sort'; valid modes: byte, "
                                         "finetrack, jde, robust"):
        Tracker(mode="sort")
    with pytest.raises(TypeError):
        Tracker(mode="byte", fused_match_thresh=0.5)  # a mode's setting is not a shared one
    with pytest.raises(ValueError, match="mode 'finetrack' needs embeddings"):
        Tracker(mode="finetrack").update(np.array([[0, 0, 10, 20.0]]), np.array([0.9]))


def test_config_is_the_trackers_settings():
    cfg = freeze(load_config(Config, None, [
        "tracker.mode=jde", "tracker.jde.match_thresh=0.35", "tracker.jde.motion_lambda=0.9",
        "tracker.finetrack.match_thresh=0.45", "tracker.robust.add_llr=2", "tracker.track_thresh=0.5",
        "tracker.track_buffer=60"])).tracker
    assert isinstance(cfg, ByteTrackSettings)
    t = Tracker.from_config(cfg, 15.0)
    assert t.settings is cfg and t.max_time_lost == 30 and t.new_track_thresh == pytest.approx(0.6)
    assert t.association.settings is cfg.jde and t.association.settings.motion_lambda == 0.9
    assert Tracker.from_config(cfg, 15.0, mode="finetrack").association.settings is cfg.finetrack
    assert Tracker.from_config(cfg, 15.0, mode="robust").association.settings.add_llr == 2.0
    # every shared field of the config reaches the tracker (none copied by hand)
    names = {f.name for f in dataclasses.fields(ByteTrackSettings)}
    assert names <= {f.name for f in dataclasses.fields(type(cfg))}
    assert all(getattr(t.settings, n) == getattr(cfg, n) for n in names)
