"""The crop Re-ID network baseline: its trainer (the one engine) on the synthetic generator's
data, its tracking embedder and its config schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from finetrack.configlib import ConfigError, load_config
from finetrack.crop_reid.config import CropReIDConfig

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "pets09_crop_osnet.yaml"


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    from finetrack.synthetic.generate import TINY, SyntheticConfig, generate_dataset

    root = tmp_path_factory.mktemp("syn_crop")
    generate_dataset(SyntheticConfig(**TINY), root)
    return root


def _config(root: Path, out_dir: Path, extra=()) -> CropReIDConfig:
    """configs/pets09_crop_osnet.yaml on the synthetic data, ResNet-18 on 64x32 crops (torchvision
    only; OSNet needs torchreid), 2 iterations."""
    return load_config(CropReIDConfig, CONFIG, [
        f"data.root={root}", "data.train_seqs=null", "data.val_seqs=null", "data.num_workers=0",
        "model.arch=resnet18", "model.crop_size=[64,32]", "train.epochs=1",
        "train.max_iters_per_epoch=2", "train.batch_size=4", "train.progress=false",
        "reid_eval.select_frac=0.5", "reid_eval.exclude_seconds=0.1", "reid_eval.query_every=4",
        f"out_dir={out_dir}", *extra,
    ])


def test_config_rejects_unknown_and_bad_model_keys():
    cfg = load_config(CropReIDConfig, CONFIG)
    assert cfg.model.arch == "osnet_x0_25" and list(cfg.model.crop_size) == [256, 128]
    # the same training recipe as the FineTrack head's PETS09 config
    from finetrack.config import Config

    ref = load_config(Config, CONFIG.parent / "pets09.yaml")
    assert (cfg.data, cfg.train, cfg.loss, cfg.reid_eval) == (ref.data, ref.train, ref.loss,
                                                              ref.reid_eval)
    for bad in ("model.neck=fpn", "model.detector=yolox_nano", "model.arch=vit", "model.size=2",
                "model.crop_size=[0,128]"):
        with pytest.raises(ConfigError):
            load_config(CropReIDConfig, CONFIG, [bad])


def test_crop_trainer_two_iterations_on_synthetic_data(synthetic_root, tmp_path):
    from finetrack.utils.checkpoint import load_checkpoint
    from finetrack.crop_reid.build import train_crop_from_config
    from finetrack.crop_reid.model import crop_model_from_state, is_crop_checkpoint

    torch.manual_seed(0)
    cfg = _config(synthetic_root, tmp_path / "run")
    metrics = train_crop_from_config(cfg)
    assert metrics["finished"] and metrics["selected_on"] == "train_tail_50pct"
    assert len(metrics["history"]) == 1
    for key in ("best", "final"):
        assert 0.0 <= metrics[key]["mAP"] <= 100.0 and "open_set" in metrics[key]
    assert metrics["protocol"]["exclude_seconds"] == 0.1  # protocol v2 window
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert on_disk["final"]["mAP"] == metrics["final"]["mAP"]
    ckpt = load_checkpoint(tmp_path / "run" / "best.pth")
    assert is_crop_checkpoint(ckpt) and ckpt["iter"] == 2 and "identities" in ckpt
    model = crop_model_from_state(ckpt)
    assert model.arch == "resnet18" and model.crop_size == (64, 32)


def test_crop_step_lowers_the_loss_and_reaches_the_weights(synthetic_root, tmp_path):
    from finetrack.crop_reid.data import CropFrameDataset, collate_crops
    from finetrack.crop_reid.trainer import CropReIDTrainer
    from finetrack.engine.reid_build import build_reid_datasets
    from finetrack.losses import FineTrackLoss
    from finetrack.crop_reid.model import build_crop_model

    torch.manual_seed(0)
    cfg = _config(synthetic_root, tmp_path / "run")
    train_set, _ = build_reid_datasets(cfg)
    crops = CropFrameDataset(train_set, cfg.model.crop_size)
    batch = collate_crops([crops[i] for i in range(4)])
    assert batch["crops"].shape[1:] == (3, 64, 32) and len(batch["labels"]) >= 2
    model = build_crop_model("resnet18", train_set.num_identities, (64, 32))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = CropReIDTrainer(model, FineTrackLoss(), opt, None, [batch], None, tmp_path / "t",
                              epochs=1, device=torch.device("cpu"), progress=False)
    first_conv = model.backbone.net.conv1.weight
    before = first_conv.detach().clone()
    losses = [trainer.train_step(batch)["total"] for _ in range(2)]
    assert first_conv.grad is not None and float(first_conv.grad.abs().sum()) > 0
    assert not torch.equal(before, first_conv.detach())
    assert losses[1] < losses[0]


def test_crop_embedder_rows_are_unit_and_deterministic():
    from finetrack.crop_reid.embedder import CropEmbedder
    from finetrack.crop_reid.model import build_crop_model

    torch.manual_seed(0)
    emb = CropEmbedder(build_crop_model("resnet18", 0, (64, 32)))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 90], [60, 20, 90, 110], [10, 10, 40, 90], [150, 100, 200, 150]],
                     np.float32)  # the 3rd repeats the 1st; the 4th leaves the frame
    out = emb(frame, boxes)
    assert out.shape == (4, emb.dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out, emb(frame, boxes))
    assert not np.allclose(out[0], out[1])
    assert emb(frame, np.zeros((0, 4), np.float32)).shape == (0, emb.dim)


def test_track_takes_a_crop_checkpoint(synthetic_root, tmp_path):
    from finetrack.config import Config
    from finetrack.crop_reid.build import train_crop_from_config
    from finetrack.inference.app import build_models
    from finetrack.crop_reid.embedder import CropEmbedder

    train_crop_from_config(_config(synthetic_root, tmp_path / "run"))
    ckpt = str(tmp_path / "run" / "best.pth")
    _, _, embedder, pipeline = build_models(Config(), "public", "finetrack", None, ckpt, "cpu", False)
    assert isinstance(embedder, CropEmbedder) and pipeline == "boxes+reid"
    with pytest.raises(ValueError, match="--det-ckpt"):
        build_models(Config(), "yolox", "finetrack", None, ckpt, "cpu", False)


def test_osnet_when_torchreid_is_importable():
    from finetrack.crop_reid.model import build_crop_model, load_torchreid_osnet

    if load_torchreid_osnet() is None:
        pytest.skip("torchreid not importable (pip install --no-deps torchreid==0.2.5)")
    model = build_crop_model("osnet_x0_25", 5, (64, 32)).eval()
    out = model(torch.randn(3, 3, 64, 32))
    assert out["embedding"].shape == (3, 512) and out["logits_global"].shape == (3, 5)


def test_osnet_without_torchreid_is_a_one_line_error(monkeypatch):
    import finetrack.crop_reid.model as crop_reid

    monkeypatch.setattr(crop_reid, "load_torchreid_osnet", lambda: None)
    with pytest.raises(ValueError, match="torchreid"):
        crop_reid.build_crop_model("osnet_x0_25", 3)
