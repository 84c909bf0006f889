"""Every Re-ID config loads, takes the documented overrides and builds (no checkpoint, tiny)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetrack.config import Config
from finetrack.configlib import ConfigError, load_config
from finetrack.engine.context import resolve_data_root
from finetrack.engine.reid_build import model_kwargs

REPO = Path(__file__).resolve().parents[2]
REID_CONFIGS = sorted(
    [p for p in (REPO / "configs").glob("*.yaml")
     if "det" not in p.stem and not p.stem.startswith("fairmot")
     and "crop" not in p.stem]  # crop-network configs: tests/engine/test_crop_reid.py
    + list((REPO / "configs" / "ablations").glob("*.yaml"))
)
#: The overrides that ablations and external checks drive (issue 5, item 4).
OVERRIDES = [
    "model.neck=fpn",
    "model.pooling=gap",
    "data.sampler=shuffle",
    "data.root=/tmp/x",
    "data.train_seqs=[A,B]",
    "data.val_seqs=[B]",
    "data.split=full",
    "train.epochs=1",
    "seed=3",
    "out_dir=/tmp/y",
    "train.resume=true",
    "resume=true",
]


def test_configs_exist():
    names = {p.stem for p in REID_CONFIGS}
    assert {
        "mot17_half_finetrack",
        "mot20_finetrack",
        "dancetrack_finetrack",
        "synthetic_reid",
        "pets09",
        "t3_sequential",
        "t4_fpn_gap",
        "t5_nofam_mpmg",
    } <= names


@pytest.mark.parametrize("path", REID_CONFIGS, ids=lambda p: p.stem)
def test_config_loads_overrides_and_builds(path):
    from finetrack.models.build import build_model

    cfg = load_config(Config, path, OVERRIDES)
    assert (cfg.model.neck, cfg.model.pooling, cfg.data.sampler) == ("fpn", "gap", "shuffle")
    assert cfg.data.train_seqs == ["A", "B"] and cfg.train.epochs == 1 and cfg.seed == 3
    for key, value in (
        ("model.neck", "fafpn"), ("model.neck", "fafpn_nofam"), ("model.pooling", "mpmg"),
        ("model.pooling", "center"), ("data.sampler", "sgs"), ("data.sampler", "sequential"),
        ("data.split", "half"),
    ):
        section, name = key.split(".")
        got = getattr(getattr(load_config(Config, path, [f"{key}={value}"]), section), name)
        assert got == value, (path, key)
    if path.parent.name == "ablations":
        return  # same model code as their base, only neck/pooling/sampler differ (loaded above)
    cfg = load_config(Config, path, ["model.det_ckpt=null", "model.detector=yolox_nano"])
    kwargs = model_kwargs(cfg, num_classes=5)
    model = build_model(**kwargs)
    assert model.head.num_classes == 5


def test_pets09_root_is_read_from_the_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)  # relative data paths of a config are read from the current folder
    cfg = load_config(Config, REPO / "configs" / "pets09.yaml")
    assert resolve_data_root(cfg.data.root) == (REPO / ".." / "shared" / "data" / "MOT15").resolve()


@pytest.mark.parametrize(
    "override", ["model.neck=fpnn", "model.pooling=max", "data.sampler=random", "data.split=third",
                 "model.detector=yolox_q", "tracker.mode=sort"],
)
def test_a_bad_choice_fails_when_the_config_loads(override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + ".*is not one of"):
        load_config(Config, REPO / "configs" / "synthetic_reid.yaml", [override])


def test_detector_choices_are_the_wrappers_variants():
    """config.DetectorName (checked at load time) and the detector wrapper name the same models."""
    import typing

    from finetrack.config import DetectorName
    from finetrack.models.detector import YOLOX_VARIANTS

    assert set(typing.get_args(DetectorName)) == {f"yolox_{v}" for v in YOLOX_VARIANTS}
