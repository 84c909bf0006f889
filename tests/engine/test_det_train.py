"""A few iterations on a tiny synthetic set: loss goes down, checkpoints load into the wrapper."""
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from finetrack.configlib import ConfigError, freeze, load_config
from finetrack.engine.det_build import train_from_config
from finetrack.det_config import DetConfig
from finetrack.models.detector import build_detector

REPO = Path(__file__).resolve().parents[2]
INPUT_HW = [96, 128]


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    from finetrack.synthetic.generate import TINY, SyntheticConfig, generate_dataset

    root = tmp_path_factory.mktemp("syn")
    generate_dataset(SyntheticConfig(**TINY), root)
    return root


def _config(tmp_path: Path, root: Path, overrides=()) -> DetConfig:
    text = {
        "name": "det_test",
        "data": {
            "train": [{"root": str(root), "split": "train", "half": "train"}],
            "val": {"root": str(root), "split": "train", "half": "val"},
            "num_workers": 0,
        },
        "model": {"detector": "yolox_nano", "input_size": INPUT_HW},
        "aug": {"mosaic": False, "mixup": False, "random_size": None, "no_aug_epochs": 0,
                "hsv_prob": 0.0, "flip_prob": 0.0, "max_labels": 30},
        "train": {"epochs": 3, "batch_size": 4, "basic_lr_per_img": 0.0025, "warmup_epochs": 0,
                  "max_iters_per_epoch": 4, "progress": False, "log_every": 100, "ema": True},
    }
    path = tmp_path / "det_test.yaml"
    path.write_text(yaml.safe_dump(text))
    return freeze(load_config(DetConfig, path, list(overrides)))


def test_train_lowers_loss_and_checkpoint_loads(tmp_path, synthetic_root, caplog):
    out = tmp_path / "run"
    cfg = _config(tmp_path, synthetic_root, [f"out_dir={out}", "seed=3"])
    metrics = train_from_config(cfg)
    hist = metrics["history"]
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert hist[-1]["total_loss"] < hist[0]["total_loss"]
    assert all(np.isfinite(h["total_loss"]) for h in hist)

    on_disk = json.loads((out / "metrics.json").read_text())
    for key in ("AP50", "AP", "epoch", "train_seconds"):
        assert key in on_disk
    assert 0.0 <= on_disk["AP50"] <= 100.0 and 1 <= on_disk["epoch"] <= 3
    assert on_disk["selected_on"] == "train_tail_10pct" and on_disk["selection"]["images"] > 0
    assert on_disk["final"]["label"] == "final epoch" and on_disk["final"]["epoch"] == 3
    assert "selected checkpoint" in on_disk["eval"]
    assert on_disk["track_overrides"] == "model.detector=yolox_nano model.input_size=[96,128]"
    assert (out / "config.yaml").is_file() and (out / "train.log").is_file()

    ckpt = torch.load(out / "best.pth", map_location="cpu", weights_only=True)  # ByteTrack format
    assert ckpt["detector"] == "yolox_nano" and ckpt["input_size"] == INPUT_HW
    assert set(ckpt["model"]) == set(build_detector("nano").model.state_dict())

    det = build_detector("nano", input_size=tuple(INPUT_HW), conf_thresh=0.0)
    with caplog.at_level(logging.WARNING):
        det.load_checkpoint(out / "last.pth")
    assert "weights_only" not in caplog.text
    last = ckpt_last(out)
    for k, v in det.model.state_dict().items():
        torch.testing.assert_close(v, last[k])
    img = np.full((240, 320, 3), 114, np.uint8)
    x, r = det.preprocess(img)
    (boxes, scores), = det.eval().detect(x[None], [r], [img.shape[:2]])
    assert boxes.shape[1] == 4 and len(boxes) == len(scores) > 0
    assert np.all(boxes[:, 2] <= 320) and np.all(boxes[:, 3] <= 240)

    # tools/track.py --det yolox --det-ckpt best.pth: variant and input size come from the file,
    # whatever the tracking config says (its default is yolox_s at 608x1088) ...
    from finetrack.config import Config
    from finetrack.inference.build import build_detector_from_config
    from finetrack.models.detector import CheckpointMismatchError

    tracked = build_detector_from_config(freeze(Config()), str(out / "best.pth"))
    assert tracked.variant == "nano" and tracked.input_size == tuple(INPUT_HW)
    for k, v in tracked.model.state_dict().items():
        torch.testing.assert_close(v, ckpt["model"][k])
    # ... and a model of another variant says which one the file holds.
    with pytest.raises(CheckpointMismatchError, match="model.detector=yolox_nano"):
        build_detector("s").load_checkpoint(out / "best.pth")


def ckpt_last(out: Path):
    return torch.load(out / "last.pth", map_location="cpu", weights_only=True)["model"]


def test_resume_continues_after_last_epoch(tmp_path, synthetic_root):
    out = tmp_path / "run"
    base = [f"out_dir={out}", "train.final_full_eval=false", "train.ema=false"]
    first = train_from_config(_config(tmp_path, synthetic_root, base + ["train.epochs=1"]))
    assert first["epochs_done"] == 1
    raw_after_1 = ckpt_last(out)
    more = base + ["train.epochs=2", "resume=true"]
    second = train_from_config(_config(tmp_path, synthetic_root, more))
    assert [h["epoch"] for h in second["history"]] == [1, 2]
    assert second["history"][0] == first["history"][0]  # epoch 1 not redone
    state = torch.load(out / "last.pth", map_location="cpu", weights_only=True)
    assert state["epoch"] == 2 and state["iter"] == 8
    changed = any(not torch.equal(raw_after_1[k], v) for k, v in state["model"].items())
    assert changed


def test_every_det_config_loads_and_builds_overrides():
    paths = sorted((REPO / "configs").glob("det_*.yaml"))
    assert paths, "no configs/det_*.yaml"
    for path in paths:
        cfg = load_config(DetConfig, path, ["out_dir=/tmp/x", "seed=5"])
        assert cfg.seed == 5 and str(cfg.run_dir) == "/tmp/x"
        h, w = cfg.model.input_size
        assert h % 32 == 0 and w % 32 == 0, path
        build_detector(cfg.model.detector, input_size=(h, w))
    with pytest.raises(ConfigError):
        load_config(DetConfig, paths[0], ["train.epoch=3"])


def test_selection_slice_is_the_training_tail_never_the_val_split(tmp_path, synthetic_root):
    from finetrack.engine.det_build import selection_records, train_records, val_records

    cfg = _config(tmp_path, synthetic_root)
    train = {(r.seq_dir.name, r.frame) for r in train_records(cfg)}
    select = {(r.seq_dir.name, r.frame) for r in selection_records(cfg)}
    val = {(r.seq_dir.name, r.frame) for r in val_records(cfg, full=True)}
    assert train and select and val
    assert not train & select and not select & val and not train & val
    for seq in {s for s, _ in select}:  # the tail: after every training frame of its sequence
        assert min(f for s, f in select if s == seq) > max(f for s, f in train if s == seq)
        assert max(f for s, f in select if s == seq) < min(f for s, f in val if s == seq)
    fe = _config(tmp_path, synthetic_root, ["train.select_on=final_epoch"])
    assert selection_records(fe) == []
    assert {(r.seq_dir.name, r.frame) for r in train_records(fe)} == train | select
    with pytest.raises(ConfigError, match="select_frac"):
        _config(tmp_path, synthetic_root, ["train.select_frac=0"])


def test_tail_selection_needs_a_mot_source(tmp_path):
    from finetrack.engine.det_build import selection_records

    path = tmp_path / "ch.yaml"
    path.write_text(yaml.safe_dump({"data": {"train": [{"root": str(tmp_path), "format": "crowdhuman"}]}}))
    cfg = freeze(load_config(DetConfig, path))
    with pytest.raises(ConfigError, match="train.select_on=final_epoch"):
        selection_records(cfg)
    fe = freeze(load_config(DetConfig, path, ["train.select_on=final_epoch"]))
    assert selection_records(fe) == []
