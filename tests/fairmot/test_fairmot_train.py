"""FairMOT training on a tiny scripted sequence: every loss term falls, checkpoints resume exactly,
and the checkpoint tracks through ``tools/track.py --det fairmot --mode jde``."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from finetrack.configlib import ConfigError, freeze, load_config
from finetrack.fairmot.dataset import FairMOTDataset, fairmot_records
from finetrack.data.identities import GTFilter
from finetrack.data.mot import SeqInfo, write_seqinfo
from finetrack.data.results import read_results
from finetrack.fairmot.config import FairMOTConfig
from finetrack.fairmot.trainer import FairMOTTrainer
from finetrack.fairmot.loss import FairMOTLoss
from finetrack.cli.track import main as track_main
from finetrack.fairmot.model import FairMOT
from finetrack.utils.cli import run_cli

TINY_MODEL = {"backbone": "yolox_nano", "neck_channels": 16, "head_conv": 16, "emb_dim": 16,
              "input_size": [96, 128]}
TERMS = ("hm", "wh", "off", "id")


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_walkers(root: Path, name: str = "SEQ-A", n_frames: int = 20, size=(160, 240)) -> Path:
    """Three coloured people walking; gt.txt with identities 1..3."""
    d = root / "train" / name
    (d / "img1").mkdir(parents=True)
    (d / "gt").mkdir()
    h, w = size
    gt = []
    for f in range(1, n_frames + 1):
        img = np.full((h, w, 3), 90, np.uint8)
        for tid, y, colour in ((1, 20, (40, 200, 255)), (2, 90, (255, 60, 40)),
                               (3, 50, (60, 255, 60))):
            x = (10 + 6 * f + 60 * (tid - 1)) % (w - 30)
            cv2.rectangle(img, (x, y), (x + 20, y + 50), colour, -1)
            gt.append(f"{f},{tid},{x},{y},20,50,1,1,1")
        cv2.imwrite(str(d / "img1" / f"{f:06d}.jpg"), img)
    (d / "gt" / "gt.txt").write_text("\n".join(gt) + "\n")
    write_seqinfo(d, SeqInfo(name, d, "img1", 10, n_frames, w, h, ".jpg"))
    return d


@pytest.fixture(scope="module")
def walkers(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("walkers")
    make_walkers(root)
    return root


def _train(walkers: Path, iters: int, lr: float = 3e-3):
    torch.manual_seed(0)
    records, ids = fairmot_records(walkers / "train", half="train", gt_filter=GTFilter(),
                                   mot17_detector=None)
    ds = FairMOTDataset(records[:4], (96, 128), augment=False, max_objs=8)
    model = FairMOT(**{**TINY_MODEL, "input_size": (96, 128)})
    crit = FairMOTLoss(len(ids), 16)
    trainer = FairMOTTrainer(model, crit, ds, walkers / "run_unused", epochs=iters, batch_size=4,
                             lr=lr, lr_steps=[], progress=False, log_every=10 ** 6)
    history = []
    batch = next(iter(trainer.epoch_batches(0)[0]))
    for _ in range(iters):
        history.append(trainer.train_step(batch))
    return history, len(ids)


def _falls(history, n=3):
    first = {k: np.mean([h[k] for h in history[:n]]) for k in TERMS}
    last = {k: np.mean([h[k] for h in history[-n:]]) for k in TERMS}
    return first, last


def test_a_few_iterations_lower_every_loss_term(walkers):
    history, n_ids = _train(walkers, 25)
    assert n_ids == 3
    first, last = _falls(history)
    for k in TERMS:
        assert last[k] < first[k], (k, first[k], last[k])


@pytest.mark.slow
def test_a_few_hundred_iterations_lower_every_loss_term_a_lot(walkers):
    history, _ = _train(walkers, 300)
    first, last = _falls(history, 10)
    for k in TERMS:
        assert last[k] < 0.5 * first[k], (k, first[k], last[k])


def _config(tmp_path: Path, walkers: Path, overrides=()) -> FairMOTConfig:
    text = {
        "name": "fairmot_test",
        "data": {"root": str(walkers), "split": "train", "mot17_detector": None,
                 "max_objs": 8, "num_workers": 0},
        "model": {**TINY_MODEL, "deformable": False},
        "aug": {"degrees": 2.0, "hsv": 0.2},
        "train": {"epochs": 2, "batch_size": 4, "lr": 2e-3, "lr_steps": [1],
                  "max_iters_per_epoch": 2, "progress": False, "log_every": 1},
        "eval": {"batch_size": 4},
    }
    path = tmp_path / "fairmot_test.yaml"
    path.write_text(yaml.safe_dump(text))
    return freeze(load_config(FairMOTConfig, path, list(overrides)))


def test_train_resume_and_track_with_jde(tmp_path, walkers, capsys):
    from finetrack.fairmot.build import train_from_config

    full = tmp_path / "full"
    m = train_from_config(_config(tmp_path, walkers, [f"out_dir={full}"]))
    assert m["selected_on"] == "train_tail_10pct" and m["epochs_done"] == 2
    assert m["AP50"] is not None and m["eval"].startswith("data.val_half=val")
    assert (full / "best.pth").is_file() and (full / "tb").is_dir()
    assert json.loads((full / "metrics.json").read_text())["identities"] == 3
    saved = yaml.safe_load((full / "config.yaml").read_text())
    assert saved["model"]["backbone"] == "yolox_nano"

    part = tmp_path / "part"
    quick = [f"out_dir={part}", "train.final_full_eval=false"]
    train_from_config(_config(tmp_path, walkers, quick + ["train.epochs=1"]))
    train_from_config(_config(tmp_path, walkers, quick + ["resume=true"]))
    a = torch.load(full / "last.pth", weights_only=False)
    b = torch.load(part / "last.pth", weights_only=False)
    assert a["epoch"] == b["epoch"] == 2 and a["iter"] == b["iter"] == 4
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], msg=k)
    torch.testing.assert_close(a["criterion"]["s_det"], b["criterion"]["s_det"])
    assert b["optimizer"]["param_groups"][0]["lr"] == pytest.approx(2e-4)  # x0.1 after epoch 1

    with pytest.raises(ConfigError, match="already holds"):
        train_from_config(_config(tmp_path, walkers, quick))

    out = tmp_path / "track"
    code = run_cli(track_main, [
        "--data-root", str(walkers), "--split", "train", "--half", "val", "--det", "fairmot",
        "--det-ckpt", str(full / "best.pth"), "--mode", "jde", "--out", str(out), "--no-progress",
        "tracker.track_thresh=0.4", "tracker.new_track_thresh=0.4", "tracker.min_box_area=0"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "[jde/fairmot, joint, torch]" in printed.out
    res = read_results(out / "SEQ-A.txt")  # parses (possibly empty: the model is barely trained)
    assert len(res) == 0 or res.frames.max() <= 10
    summary = json.loads((out / "track_summary.json").read_text())
    assert summary["pipeline"] == "joint" and summary["sequences"]["SEQ-A"]["frames"] == 10

    code = run_cli(track_main, ["--data-root", str(walkers), "--split", "train", "--det",
                                "fairmot", "--mode", "jde", "--out", str(tmp_path / "x"),
                                "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--det fairmot needs --det-ckpt" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    yolox_like = tmp_path / "yolox.pth"
    torch.save({"model": {}}, yolox_like)
    code = run_cli(track_main, ["--data-root", str(walkers), "--split", "train", "--det",
                                "fairmot", "--det-ckpt", str(yolox_like), "--mode", "jde",
                                "--out", str(tmp_path / "y"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "not a FairMOT checkpoint" in err and str(yolox_like) in err


def test_from_checkpoint_refuses_other_files(tmp_path):
    p = tmp_path / "yolox.pth"
    torch.save({"model": {}}, p)
    with pytest.raises(ValueError, match="not a FairMOT checkpoint"):
        FairMOT.from_checkpoint(p)


def test_decoded_embeddings_are_unit_length():
    torch.manual_seed(0)
    model = FairMOT(**{**TINY_MODEL, "input_size": (96, 128), "conf_thresh": 0.0,
                       "max_objs": 7}).eval()
    img = np.random.default_rng(0).integers(0, 255, (100, 150, 3), dtype=np.uint8)
    t, ratio = model.preprocess(img)
    xyxy, scores, emb = model.detect_and_embed(t[None], [ratio], [img.shape[:2]])[0]
    assert xyxy.shape == (7, 4) and emb.shape == (7, 16)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    assert (xyxy[:, 0::2] <= 150).all() and (xyxy[:, 1::2] <= 100).all()
    assert float(model.hm[-1].bias.detach()) == pytest.approx(-2.19)
