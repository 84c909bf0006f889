"""FAFPN pieces: Res-Block, flow warping, FAM (zero flow == up-sample + sum), the three necks."""
import pytest
import torch
import torch.nn as nn

from finetrack.models.fafpn import (
    FAFPN,
    NECKS,
    RBFPN,
    FlowAlignModule,
    PlainFPN,
    ResBlock,
    build_neck,
    flow_warp,
    flow_warp_gather,
    neck_flow_convs,
    upsample_to,
)


def test_resblock_with_zero_body_is_relu_of_projection():
    torch.manual_seed(0)
    rb = ResBlock(5, 7).eval()
    nn.init.zeros_(rb.body[-1].weight)  # last BN gamma = 0 -> residual branch outputs beta = 0
    x = torch.randn(2, 5, 6, 4)
    assert torch.allclose(rb(x), torch.relu(rb.proj(x)))
    assert rb(x).shape == (2, 7, 6, 4)


@pytest.mark.parametrize("coarse_hw", [(8, 4), (5, 3)])
def test_fam_zero_flow_equals_upsample_plus_sum(coarse_hw):
    torch.manual_seed(0)
    fam = FlowAlignModule(6)
    assert torch.count_nonzero(fam.flow_conv.weight) == 0  # zero init
    coarse = torch.randn(3, 6, *coarse_hw)
    fine = torch.randn(3, 6, 16, 8)
    out = fam(coarse, fine)
    up = nn.functional.interpolate(coarse, size=(16, 8), mode="bilinear", align_corners=False)
    assert torch.allclose(out, up + fine, atol=1e-5)
    flow_up, flow_down = fam.flows(coarse, fine)
    assert flow_up.shape == flow_down.shape == (3, 2, 16, 8)


def test_flow_warp_identity_and_upsample_with_zero_flow():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 7)
    zero = torch.zeros(2, 2, 9, 7)
    assert torch.allclose(flow_warp(x, zero), x, atol=1e-5)
    coarse = torch.randn(2, 3, 4, 3)
    zero_big = torch.zeros(2, 2, 12, 9)
    assert torch.allclose(flow_warp(coarse, zero_big), upsample_to(coarse, (12, 9)), atol=1e-5)


def test_integer_flow_shifts_by_that_many_pixels():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 10, 12)
    dx, dy = 2, -1
    flow = torch.zeros(1, 2, 10, 12)
    flow[:, 0] = dx
    flow[:, 1] = dy
    out = flow_warp(x, flow)
    # out[y, x] = in[y + dy, x + dx] wherever that lies inside the map.
    assert torch.allclose(out[:, :, 1:, : 12 - dx], x[:, :, :-1, dx:], atol=1e-5)
    # A FAM whose conv emits this constant flow for the fine map shifts it the same way.
    fam = FlowAlignModule(2)
    with torch.no_grad():
        fam.flow_conv.bias.copy_(torch.tensor([0.0, 0.0, float(dx), float(dy)]))
    coarse = torch.zeros(1, 2, 5, 6)
    assert torch.allclose(fam(coarse, x), out, atol=1e-5)


def test_gather_warp_equals_grid_sample_also_outside_the_map():
    """The ONNX form of the warp: hand value at a half-pixel shift, and equal to grid_sample for
    large flows (border clipping) and up-sampling sizes."""
    x = torch.tensor([[[[0.0, 10.0, 20.0]]]])                    # (1, 1, 1, 3)
    flow = torch.zeros(1, 2, 1, 3)
    flow[:, 0] = 0.5                                             # half a pixel right
    assert torch.allclose(flow_warp_gather(x, flow), torch.tensor([[[[5.0, 15.0, 20.0]]]]))
    g = torch.Generator().manual_seed(0)
    for h, w, out_h, out_w in ((8, 4, 16, 8), (4, 2, 8, 4), (16, 8, 16, 8), (5, 3, 16, 8)):
        x = torch.randn(3, 5, h, w, generator=g)
        flow = torch.randn(3, 2, out_h, out_w, generator=g) * 6.0  # many taps leave the map
        assert torch.allclose(flow_warp_gather(x, flow), flow_warp(x, flow), atol=1e-5)


def test_fafpn_equals_rbfpn_at_init_and_shapes():
    torch.manual_seed(0)
    in_ch = (8, 16, 32)
    crops = [torch.randn(4, 8, 32, 16), torch.randn(4, 16, 16, 8), torch.randn(4, 32, 8, 4)]
    fa = FAFPN(in_ch, channels=12).eval()
    rb = RBFPN(in_ch, channels=12).eval()
    state = {k: v for k, v in fa.state_dict().items() if "flow_conv" not in k}
    rb.load_state_dict(state, strict=True)
    m_fa, r_fa = fa(crops)
    m_rb, r_rb = rb(crops)
    assert m_fa.shape == r_fa.shape == (4, 12, 32, 16)
    assert torch.allclose(m_fa, m_rb, atol=1e-5) and torch.allclose(r_fa, r_rb, atol=1e-5)
    assert len(neck_flow_convs(fa)) == 2 and len(neck_flow_convs(rb)) == 0


def test_plain_fpn_and_build_neck():
    torch.manual_seed(0)
    crops = [torch.randn(2, 8, 32, 16), torch.randn(2, 16, 16, 8), torch.randn(2, 32, 8, 4)]
    for head in ("conv", "rb"):
        f_mask, f_reid = PlainFPN((8, 16, 32), 10, head=head)(crops)
        assert f_mask.shape == f_reid.shape == (2, 10, 32, 16)
    f_mask, f_reid = build_neck("fafpn", (8, 16, 32), 10, mask_head=False)(crops)
    assert f_mask is None and f_reid.shape == (2, 10, 32, 16)
    assert set(NECKS) == {"fpn", "fafpn", "fafpn_nofam"}
    with pytest.raises(KeyError, match="fafpn_nofam"):
        build_neck("bifpn", (8,))
