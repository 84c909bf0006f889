"""YOLOX wrapper: letterbox, postprocess mapping, features, ByteTrack-format checkpoints."""
import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from finetrack.models.detector import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CheckpointMismatchError,
    YOLOXDetector,
    build_detector,
    postprocess_detections,
    preprocess_image,
    save_checkpoint,
)


SMALL = (64, 96)


@pytest.fixture(scope="module")
def nano():
    torch.manual_seed(0)
    return YOLOXDetector(variant="nano", input_size=SMALL).eval()


def test_preprocess_letterbox_top_left_with_114_padding():
    img = np.empty((100, 200, 3), dtype=np.uint8)
    img[:] = (10, 20, 30)  # BGR
    chw, ratio = preprocess_image(img, SMALL)
    assert chw.shape == (3, 64, 96) and chw.dtype == np.float32
    assert ratio == pytest.approx(0.48)  # min(64 / 100, 96 / 200)
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    content = (np.array([30, 20, 10]) / 255.0 - mean) / std  # RGB order after the swap
    pad = (114.0 / 255.0 - mean) / std
    for c in range(3):
        assert np.allclose(chw[c, :48, :96], content[c], atol=1e-5)
        assert np.allclose(chw[c, 48:, :], pad[c], atol=1e-5)
    assert (img == np.array([10, 20, 30], np.uint8)).all()  # input untouched


def _raw(boxes_xyxy, obj, cls):
    b = np.asarray(boxes_xyxy, dtype=np.float32)
    cxcywh = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)
    rows = np.concatenate([cxcywh, np.asarray(obj)[:, None], np.asarray(cls)[:, None]], axis=1)
    return torch.from_numpy(rows[None].astype(np.float32))


def test_postprocess_maps_boxes_back_to_the_original_image():
    img_h, img_w = 100, 200  # non-square original
    ratio = min(SMALL[0] / img_h, SMALL[1] / img_w)  # 0.48
    orig = np.array([[20.0, 10.0, 60.0, 90.0], [120.0, 30.0, 150.0, 80.0]])
    boxes_in = orig * ratio
    dup = boxes_in[0] + [0.5, 0.0, 0.5, 0.0]  # overlaps box 0 (IoU > 0.7), lower score
    low = boxes_in[1] + [5.0, 0.0, 5.0, 0.0]  # score below the threshold
    outside = np.array([180.0, 50.0, 230.0, 120.0]) * ratio  # exceeds the image: clipped
    raw = _raw(
        np.vstack([boxes_in, dup, low, outside]),
        obj=[0.9, 0.8, 0.5, 0.3, 0.7],
        cls=[1.0, 0.5, 1.0, 0.2, 1.0],
    )
    raw_copy = raw.clone()
    (xyxy, scores), = postprocess_detections(
        raw, [ratio], [(img_h, img_w)], conf_thresh=0.1, nms_thresh=0.7
    )
    assert torch.equal(raw, raw_copy)  # caller's tensor untouched
    expected = np.array([orig[0], [180.0, 50.0, 200.0, 100.0], orig[1]])
    assert np.allclose(xyxy, expected, atol=1e-3)
    assert np.allclose(scores, [0.9, 0.7, 0.4], atol=1e-6)  # obj * cls, sorted
    assert xyxy.dtype == np.float32 and scores.dtype == np.float32
    # Round trip through the real preprocessing ratio of a 100x200 frame.
    _, r = preprocess_image(np.zeros((img_h, img_w, 3), np.uint8), SMALL)
    assert r == pytest.approx(ratio)


def test_postprocess_empty():
    raw = _raw([[0.0, 0.0, 10.0, 10.0]], obj=[0.01], cls=[0.5])
    ((xyxy, scores),) = postprocess_detections(raw, [1.0], [(50, 50)], conf_thresh=0.1)
    assert xyxy.shape == (0, 4) and scores.shape == (0,)


def test_forward_features_and_detect(nano):
    x = torch.randn(2, 3, *SMALL)
    raw, feats = nano(x)
    assert raw.shape == (2, (8 * 12 + 4 * 6 + 2 * 3), 6)
    assert nano.feature_strides == (4, 8, 16) and nano.feature_channels == (32, 64, 128)
    assert [tuple(f.shape) for f in feats] == [(2, 32, 16, 24), (2, 64, 8, 12), (2, 128, 4, 6)]
    with torch.no_grad():
        only = nano.features(x)
    for a, b in zip(feats, only):
        assert torch.allclose(a, b, atol=1e-6)
    dets = nano.detect(x, [1.0, 1.0], [SMALL, SMALL])
    assert len(dets) == 2 and dets[0][0].shape[1] == 4


def test_forward_in_train_mode_is_refused():
    det = YOLOXDetector(variant="nano", input_size=SMALL).train()
    with pytest.raises(RuntimeError, match="eval"):
        det(torch.randn(1, 3, *SMALL))


def test_bytetrack_checkpoint_round_trip(tmp_path, nano):
    path = tmp_path / "yolox_nano.pth.tar"
    save_checkpoint(path, nano)
    saved = torch.load(path, weights_only=True)
    assert set(saved) == {"model"} and "backbone.backbone.stem.conv.conv.weight" in saved["model"]
    torch.manual_seed(1)
    other = YOLOXDetector(variant="nano", input_size=SMALL).eval()
    x = torch.randn(1, 3, *SMALL)
    assert not torch.allclose(other(x)[0], nano(x)[0])
    other.load_checkpoint(path)
    assert torch.equal(other(x)[0], nano(x)[0])
    # A plain state dict and a prefixed (FineTrack-model style) one load too.
    plain = tmp_path / "plain.pth"
    torch.save(nano.model.state_dict(), plain)
    prefixed = tmp_path / "ours.pth"
    sd = {f"detector.model.{k}": v for k, v in nano.model.state_dict().items()}
    sd["head.global_fc.weight"] = torch.zeros(2, 2)
    torch.save({"model": sd, "model_args": {"x": 1}, "iter": 3}, prefixed)
    for p in (plain, prefixed):
        fresh = YOLOXDetector(variant="nano", input_size=SMALL).eval()
        fresh.load_checkpoint(p)
        assert torch.equal(fresh(x)[0], nano(x)[0])


def test_checkpoint_mismatch_lists_keys(tmp_path, nano):
    sd = dict(nano.model.state_dict())
    key = "backbone.backbone.stem.conv.conv.weight"
    sd[key + "X"] = sd.pop(key)
    sd["head.cls_preds.0.weight"] = torch.zeros(3, 64, 1, 1)
    path = tmp_path / "bad.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointMismatchError) as err:
        YOLOXDetector(variant="nano", input_size=SMALL).load_checkpoint(path)
    msg = str(err.value)
    assert "missing keys (1): ['backbone.backbone.stem.conv.conv.weight']" in msg
    assert "unexpected keys (1): ['backbone.backbone.stem.conv.conv.weightX']" in msg
    assert "head.cls_preds.0.weight: checkpoint (3, 64, 1, 1)" in msg


def test_untrusted_pickle_is_refused_not_unpickled(tmp_path, nano):
    """A file that needs a full unpickle is reported (named), never silently unpickled."""
    from finetrack.utils.cli import CheckpointError

    path = tmp_path / "with_args.pth"
    torch.save({"model": nano.model.state_dict(), "args": argparse.Namespace(a=1)}, path)
    with pytest.raises(CheckpointError) as err:
        YOLOXDetector(variant="nano", input_size=SMALL).load_checkpoint(path)
    msg = str(err.value)
    assert str(path) in msg and "weights-only" in msg and "argparse.Namespace" in msg
    assert "\n" not in msg


def test_variants_table():
    with pytest.raises(KeyError, match=r"nano.*tiny|valid variants"):
        build_detector("huge")
    with pytest.raises(ValueError):
        YOLOXDetector(variant="s", depth=0.33)
    det = build_detector("tiny", input_size=SMALL)
    assert (det.depth, det.width, det.depthwise) == (0.33, 0.375, False)
    assert build_detector("nano", input_size=SMALL).depthwise is True


def test_postprocess_matches_yolox_postprocess():
    from yolox.utils import postprocess as yolox_postprocess

    g = torch.Generator().manual_seed(0)
    n = 300
    cxcy = torch.rand(2, n, 2, generator=g) * 300
    wh = 10 + torch.rand(2, n, 2, generator=g) * 60
    probs = torch.rand(2, n, 2, generator=g)
    raw = torch.cat([cxcy, wh, probs], dim=2)
    ours = postprocess_detections(raw, [1.0, 1.0], None, conf_thresh=0.3, nms_thresh=0.7)
    ref = yolox_postprocess(raw.clone(), 1, conf_thre=0.3, nms_thre=0.7)
    for (xyxy, scores), r in zip(ours, ref):
        assert np.allclose(xyxy, r[:, :4].clamp(min=0).numpy(), atol=1e-4)
        assert np.allclose(scores, (r[:, 4] * r[:, 5]).numpy(), atol=1e-6)


def test_bytetrack_training_checkpoint_with_optimizer_loads(tmp_path, nano):
    opt = torch.optim.SGD(nano.model.parameters(), lr=0.01, momentum=0.9)
    path = tmp_path / "bytetrack_like.pth.tar"
    ckpt = {"start_epoch": 80, "model": nano.model.state_dict(), "optimizer": opt.state_dict()}
    torch.save(ckpt, path)
    fresh = YOLOXDetector(variant="nano", input_size=SMALL).eval()
    fresh.load_checkpoint(path)
    x = torch.randn(1, 3, *SMALL)
    assert torch.equal(fresh(x)[0], nano(x)[0])


def test_preprocess_real_frame_matches_bytetrack_formula():
    data = Path(__file__).resolve().parents[3] / "shared" / "data"  # <repo>/../shared/data
    frame = data / "MOT15" / "train" / "PETS09-S2L1" / "img1" / "000001.jpg"
    if not frame.exists():
        pytest.skip(f"real data not found at {frame}")
    img = cv2.imread(str(frame))
    chw, ratio = preprocess_image(img, (608, 1088))
    # ByteTrack's preproc written out: float64 pad, resize, BGR->RGB, /255, -mean, /std.
    r = min(608 / img.shape[0], 1088 / img.shape[1])
    padded = np.ones((608, 1088, 3)) * 114.0
    size = (int(img.shape[1] * r), int(img.shape[0] * r))
    resized = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    padded[: int(img.shape[0] * r), : int(img.shape[1] * r)] = resized
    ref = ((padded[:, :, ::-1] / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    assert ratio == pytest.approx(r) and img.shape[:2] == (576, 768)
    assert np.allclose(chw, ref, atol=1e-5)
