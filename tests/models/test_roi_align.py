"""Multi-level ROIAlign: sizes, frame order and sampled positions."""
import torch

from finetrack.models.roi import MultiLevelRoIAlign, default_roi_sizes


def test_default_sizes():
    assert default_roi_sizes((4, 8, 16)) == ((32, 16), (16, 8), (8, 4))


def test_shapes_and_frame_order():
    roi = MultiLevelRoIAlign((4, 8, 16))
    feats = [
        torch.arange(3, dtype=torch.float32).reshape(3, 1, 1, 1).expand(3, c, 64 // s, 96 // s)
        for c, s in ((2, 4), (3, 8), (5, 16))
    ]
    boxes = [
        torch.tensor([[8.0, 8.0, 40.0, 60.0], [50.0, 4.0, 90.0, 60.0]]),
        torch.zeros(0, 4),
        torch.tensor([[10.0, 10.0, 30.0, 50.0]]),
    ]
    out = roi(feats, boxes)
    assert [tuple(o.shape) for o in out] == [(3, 2, 32, 16), (3, 3, 16, 8), (3, 5, 8, 4)]
    # Constant maps (value = frame index): rows come frame by frame, box by box.
    for o in out:
        assert torch.allclose(o.mean(dim=(1, 2, 3)), torch.tensor([0.0, 0.0, 2.0]))


def test_samples_at_aligned_bin_centres():
    # A map whose value is its x index: bilinear sampling returns the sampled x coordinate.
    stride, (oh, ow) = 4, (8, 4)
    roi = MultiLevelRoIAlign((stride,), ((oh, ow),))
    h, w = 32, 40
    feat = torch.arange(w, dtype=torch.float32).expand(1, 1, h, w).contiguous()
    x1, y1, x2, y2 = 20.0, 16.0, 84.0, 96.0
    (out,) = roi([feat], [torch.tensor([[x1, y1, x2, y2]])])
    bin_w = (x2 - x1) / stride / ow
    expected_x = torch.tensor([x1 / stride - 0.5 + (j + 0.5) * bin_w for j in range(ow)])
    assert torch.allclose(out[0, 0], expected_x.expand(oh, ow), atol=1e-4)
