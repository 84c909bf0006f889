"""``model.backbone=mobilenetv2_imagenet``: the paper's head on the shipped ImageNet MobileNetV2 maps."""
import numpy as np
import pytest
import torch

from finetrack.config import Config
from finetrack.configlib import ConfigError, load_config
from finetrack.losses.combined import FineTrackLoss
from finetrack.models.build import build_model, model_from_checkpoint
from finetrack.models.imagenet_backbone import ImageNetBackbone, load_imagenet_features

HEAD = {"channels": 16, "num_parts": 2, "global_dim": 16, "part_dim": 8,
        "roi_sizes": ((8, 4), (4, 2), (2, 1))}


def _images(b=2, h=64, w=96, seed=0):
    return torch.randn(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_maps_are_torchvision_features_of_the_shipped_weights_at_strides_8_16_32():
    bb = ImageNetBackbone(input_size=(64, 96)).eval()
    assert bb.feature_strides == (8, 16, 32) and bb.feature_channels == (32, 96, 320)
    ref = load_imagenet_features()  # the imagenet cue's network (checked against the package)
    x = _images()
    with torch.no_grad():
        maps = bb.features(x)
        y, want = x, {}
        for k, block in enumerate(ref):
            y = block(y)
            want[k] = y
    assert [tuple(m.shape) for m in maps] == [(2, 32, 8, 12), (2, 96, 4, 6), (2, 320, 2, 3)]
    for m, k in zip(maps, (6, 13, 17)):
        torch.testing.assert_close(m, want[k])
    with pytest.raises(ValueError, match="not in"):
        ImageNetBackbone(levels=(6, 12))
    with pytest.raises(ValueError, match="fine to coarse"):
        ImageNetBackbone(levels=(13, 6))


def _model(num_classes=4, freeze=True):
    torch.manual_seed(0)
    return build_model({"backbone": "mobilenetv2_imagenet", "input_size": (64, 96)},
                       dict(HEAD, num_classes=num_classes), freeze_detector=freeze)


def _batch():
    boxes = [torch.tensor([[8.0, 4.0, 40.0, 60.0], [50.0, 2.0, 90.0, 62.0]]),
             torch.tensor([[10.0, 6.0, 42.0, 62.0], [48.0, 0.0, 88.0, 60.0]])]
    return _images(), boxes, torch.tensor([0, 1, 0, 1])


def test_training_steps_lower_the_loss_and_leave_the_frozen_backbone_untouched():
    model = _model()
    assert model.head.roi.strides == (8, 16, 32)
    before = {k: v.clone() for k, v in model.detector.state_dict().items()}  # BN stats too
    crit = FineTrackLoss()
    params = [p for p in model.parameters() if p.requires_grad]
    assert params and all(not p.requires_grad for p in model.detector.parameters())
    opt = torch.optim.SGD(params, lr=0.05)
    images, boxes, labels = _batch()
    model.train()
    assert not model.detector.training  # frozen: BatchNorm statistics stay ImageNet's
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = crit(model(images, boxes), labels)["total"]
        loss.backward()
        losses.append(float(loss.detach()))
        assert model.head.global_fc.weight.grad is not None
        assert float(model.head.global_fc.weight.grad.abs().sum()) > 0
        assert float(next(model.head.neck.parameters()).grad.abs().sum()) > 0
        opt.step()
    assert losses[-1] < losses[0] - 0.1, losses
    assert all(p.grad is None for p in model.detector.parameters())
    for k, v in model.detector.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)


def test_unfrozen_backbone_gets_gradients():
    model = _model(freeze=False).train()
    images, boxes, labels = _batch()
    FineTrackLoss()(model(images, boxes), labels)["total"].backward()
    grads = [p.grad for p in model.detector.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_checkpoint_rebuilds_without_the_package_weights_and_refuses_detection(tmp_path, monkeypatch):
    model = _model(num_classes=0).eval()
    images, boxes, _ = _batch()
    want = model.extract(images, boxes)
    path = tmp_path / "m.pth"
    model.save(path)
    from finetrack.models import imagenet_backbone

    monkeypatch.setattr(imagenet_backbone, "WEIGHTS_RESOURCE", ("no_such_package_xyz", "w.pt"))
    again = model_from_checkpoint(path)  # its weights are the checkpoint's: no package read
    np.testing.assert_allclose(again.extract(images, boxes), want, atol=1e-6)
    assert model.model_args["detector"] == {"backbone": "mobilenetv2_imagenet", "input_size": (64, 96)}
    with pytest.raises(RuntimeError, match="no detection head"):
        again.detect_and_embed(images, [1.0, 1.0])
    with pytest.raises(KeyError, match="unknown backbone"):
        build_model({"backbone": "resnet50"}, HEAD)
    with pytest.raises(ValueError, match="has no detector"):
        build_model({"backbone": "mobilenetv2_imagenet"}, HEAD, detector_checkpoint=path)


def test_config_validates_and_unknown_or_conflicting_values_are_errors():
    cfg = load_config(Config, "configs/transfer_imagenet.yaml")
    base = load_config(Config, "configs/transfer.yaml")
    assert cfg.model.backbone == "mobilenetv2_imagenet" and cfg.model.freeze_detector
    assert base.model.backbone == "yolox"
    assert cfg.data == base.data and cfg.train == base.train and cfg.loss == base.loss
    from finetrack.engine.reid_build import model_kwargs

    kw = model_kwargs(cfg, 3)
    assert kw["detector"] == {"backbone": "mobilenetv2_imagenet", "input_size": (384, 512)}
    with pytest.raises(ConfigError, match="backbone"):
        load_config(Config, "configs/transfer.yaml", ["model.backbone=resnet50"])
    with pytest.raises(ConfigError, match="det_ckpt"):
        load_config(Config, "configs/transfer_imagenet.yaml", ["model.det_ckpt=yolox_nano.pth"])


def test_tracking_with_public_boxes_runs_and_yolox_detection_is_refused(tmp_path):
    """``finetrack track --det public --reid-ckpt`` reads the model's embeddings; ``--det yolox``
    without a detector is one clear error."""
    from finetrack.configlib import freeze
    from finetrack.data.results import read_results
    from finetrack.inference.app import run_tracking
    from finetrack.models.detector import DETECTOR_STATE_KEY

    from tests.inference.test_color import write_bounce_sequence
    from tests.tracker.test_tracker_crossing import bounce_scene

    write_bounce_sequence(tmp_path, bounce_scene(occluded=(12,)))
    model = _model(num_classes=0)
    state = model.checkpoint_state()
    state[DETECTOR_STATE_KEY] = {"head_trained": False, "checkpoint": None, "frozen": True}
    ckpt = tmp_path / "head.pth"
    torch.save(state, ckpt)
    cfg = freeze(load_config(Config, None, ["tracker.min_box_area=0"]))
    summary = run_tracking(cfg, str(tmp_path), "train", str(tmp_path / "out"), det="public",
                           mode="finetrack", reid_ckpt=str(ckpt), progress=False)
    assert summary["pipeline"] == "boxes+reid" and summary["appearance"] == "reid"
    assert len(read_results(tmp_path / "out" / "BOUNCE-01.txt").frames) > 0
    with pytest.raises(ValueError, match="no detection head"):
        run_tracking(cfg, str(tmp_path), "train", str(tmp_path / "out2"), det="yolox",
                     mode="finetrack", reid_ckpt=str(ckpt), progress=False)


def test_export_refuses_a_backbone_without_detection_head(tmp_path, capsys):
    from finetrack.cli.export import main

    path = tmp_path / "head.pth"
    _model(num_classes=0).save(path)
    assert main(["--ckpt", str(path), "--out", str(tmp_path / "onnx")]) == 2
    err = capsys.readouterr().err
    assert "no detection head" in err and "head.pth" in err and "Traceback" not in err
    assert not (tmp_path / "onnx").exists()
