"""Every FairMOT config loads and builds; bad keys and values are one-line ConfigErrors."""
from pathlib import Path

import pytest

from finetrack.configlib import ConfigError, load_config
from finetrack.fairmot.config import FairMOTConfig

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("fairmot_*.yaml"))


def test_the_three_configs_exist():
    assert {p.stem for p in CONFIGS} >= {"fairmot_synthetic", "fairmot_pets09",
                                         "fairmot_mot17_half"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_builds(path):
    from finetrack.fairmot.build import build_model

    cfg = load_config(FairMOTConfig, path, ["train.epochs=1", "out_dir=/tmp/y"])
    assert cfg.train.epochs == 1
    model = build_model(cfg)
    assert model.input_size == tuple(cfg.model.input_size)


def test_mot17_half_config_has_fairmots_hyper_parameters():
    cfg = load_config(FairMOTConfig, REPO / "configs" / "fairmot_mot17_half.yaml")
    t, m = cfg.train, cfg.model
    assert (t.optimizer, t.lr, t.epochs, t.lr_steps, t.batch_size) == ("adam", 1e-4, 30, [20], 12)
    assert (m.backbone, m.deformable, m.head_conv, m.emb_dim) == ("dla34", True, 256, 128)
    assert m.input_size == [608, 1088] and m.conf_thresh == 0.4 and m.max_objs == 500


@pytest.mark.parametrize("override, message", [
    ("model.backbon=dla34", "unknown key"),
    ("model.backbone=resnet", "one of"),
    ("aug.flip=1.5", "aug.flip"),
    ("model.input_size=[600,1088]", "multiples of 32"),
    ("aug.scale=[1.2,0.5]", "aug.scale"),
    ("train.select_frac=1.0", "select_frac"),
])
def test_bad_values_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(FairMOTConfig, REPO / "configs" / "fairmot_pets09.yaml", [override])
