"""The Re-ID head's inference form (ReIDHead.fuse): BN folded, batched MPMG, same outputs."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from finetrack.models.build import build_reid_head
from finetrack.models.fafpn import ResBlock, fold_bn, fuse_conv_bn
from finetrack.models.mpmg import MPMG, BatchedMPMG

CHANNELS = (8, 16, 32)
STRIDES = (4, 8, 16)
ROI_SIZES = ((8, 4), (4, 2), (2, 1))


def _perturb_bn(module: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine parameters (fresh BNs fold to the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                m.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.4 * torch.rand(c, generator=gen) - 0.2)
            if hasattr(m, "flow_conv"):  # trained FAMs predict non-zero flows
                m.flow_conv.weight.normal_(0.0, 0.05, generator=gen)


def _inputs(seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    feats = [torch.randn(2, c, 64 // s, 96 // s, generator=gen) for c, s in zip(CHANNELS, STRIDES)]
    boxes = [torch.tensor([[2.0, 3.0, 20.0, 50.0], [30.0, 5.0, 60.0, 63.0], [70.0, 10.0, 95.0, 40.0]]),
             torch.tensor([[10.0, 10.0, 40.0, 60.0]])]
    return feats, boxes


def test_fold_bn_hand_values():
    conv = nn.Conv2d(1, 1, 1, bias=True)
    bn = nn.BatchNorm2d(1, eps=0.0).eval()
    with torch.no_grad():
        conv.weight.fill_(3.0)
        conv.bias.fill_(1.0)
        bn.running_mean.fill_(2.0)
        bn.running_var.fill_(4.0)
        bn.weight.fill_(0.5)
        bn.bias.fill_(0.25)
    fused = fold_bn(conv, bn)
    # scale = 0.5 / sqrt(4) = 0.25: W' = 0.75, b' = (1 - 2) * 0.25 + 0.25 = 0
    assert fused.weight.item() == pytest.approx(0.75)
    assert fused.bias.item() == pytest.approx(0.0)
    x = torch.tensor([[[[2.0]]]])
    # bn(conv(2)) = (3 * 2 + 1 - 2) / 2 * 0.5 + 0.25 = 1.5 = 0.75 * 2
    assert fused(x).item() == pytest.approx(1.5)
    assert bn(conv(x)).item() == pytest.approx(1.5)


def test_fuse_conv_bn_removes_every_bn_and_keeps_the_function():
    block = ResBlock(8, 16)
    _perturb_bn(block)
    block.eval()
    fused = fuse_conv_bn(block)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in block.modules())  # original untouched
    x = torch.randn(3, 8, 6, 4)
    torch.testing.assert_close(fused(x), block(x), atol=1e-5, rtol=0)


def test_batched_mpmg_equals_the_k_branches_with_unequal_blocks():
    mpmg = MPMG(16, 3)  # blocks 6, 5, 5 -> inner widths 3, 2, 2 (zero-padded to 3)
    assert mpmg.sizes == (6, 5, 5)
    assert [b.inner_channels for b in mpmg.branches] == [3, 2, 2]
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in mpmg.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    batched = BatchedMPMG.from_mpmg(mpmg)
    assert batched.width == 3
    # the query rows carry the 1/sqrt(d_k) of each branch
    q0 = batched.qkv.weight[0:3, 0:6]
    torch.testing.assert_close(q0, mpmg.branches[0].query.weight[:, :, 0, 0] / math.sqrt(3))
    x = torch.randn(4, 16, 8, 4, generator=gen)
    with torch.inference_mode():
        ref_parts, ref_global = mpmg(x)
        parts, glob = batched(x)
        parts_cl, _ = batched(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(parts, ref_parts, atol=1e-5, rtol=0)
    torch.testing.assert_close(glob, ref_global, atol=1e-5, rtol=0)
    torch.testing.assert_close(parts_cl, ref_parts, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "neck,pooling,per_part_fc",
    [("fafpn", "mpmg", False), ("fafpn", "mpmg", True), ("fpn", "gap", False),
     ("fafpn_nofam", "mpmg", False), ("fpn", "center", False)],
)
@pytest.mark.parametrize("channels_last", [True, False])
def test_fused_head_equals_the_eval_head(neck, pooling, per_part_fc, channels_last):
    torch.manual_seed(0)
    head = build_reid_head(in_channels=CHANNELS, strides=STRIDES, roi_sizes=ROI_SIZES, neck=neck,
                           pooling=pooling, channels=16, num_parts=3, global_dim=12, part_dim=8,
                           per_part_fc=per_part_fc)
    _perturb_bn(head)
    head.eval()
    feats, boxes = _inputs()
    with torch.inference_mode():
        ref = head(feats, boxes)
        head.fuse(channels_last=channels_last)
        assert head.fused
        out = head(feats, boxes)
    assert out.keys() == ref.keys()
    for key in ref:
        torch.testing.assert_close(out[key], ref[key], atol=1e-5, rtol=0, msg=key)


def test_fuse_never_changes_the_weights_and_training_drops_it():
    torch.manual_seed(0)
    head = build_reid_head(in_channels=CHANNELS, strides=STRIDES, roi_sizes=ROI_SIZES,
                           channels=16, num_parts=3, global_dim=12, part_dim=8)
    _perturb_bn(head)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    head.fuse()
    after = head.state_dict()
    assert after.keys() == before.keys()  # the fused copies are not in the checkpoint
    assert all(torch.equal(after[k], before[k]) for k in before)
    head.eval()  # eval keeps it
    assert head.fused
    head.train()
    assert not head.fused
    head.fuse()
    head.load_state_dict(before)  # new weights: the fused copies would be stale
    assert not head.fused


def test_fused_head_follows_new_weights_only_after_fuse_again():
    torch.manual_seed(0)
    kw = dict(in_channels=CHANNELS, strides=STRIDES, roi_sizes=ROI_SIZES, channels=16,
              num_parts=3, global_dim=12, part_dim=8)
    a, b = build_reid_head(**kw), build_reid_head(**kw)
    _perturb_bn(b, seed=5)
    feats, boxes = _inputs()
    a.fuse()
    a.load_state_dict(b.state_dict())
    a.eval().fuse()
    b.eval()
    with torch.inference_mode():
        torch.testing.assert_close(a(feats, boxes)["embedding"], b(feats, boxes)["embedding"],
                                   atol=1e-5, rtol=0)
