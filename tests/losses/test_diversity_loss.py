"""Diversity loss, eq. (6)."""
import math

import torch

from finetrack.losses.diversity import diversity_loss


def test_identical_parts_give_one():
    f = torch.randn(3, 1, 8).expand(3, 6, 8) * torch.arange(1, 7.0)[None, :, None]
    assert abs(diversity_loss(f).item() - 1.0) < 1e-5


def test_orthogonal_parts_give_zero():
    f = torch.eye(4)[None].repeat(2, 1, 1) * 3.0  # 4 orthogonal parts per target
    assert abs(diversity_loss(f).item()) < 1e-6


def test_hand_value_and_grad():
    # Two parts at 60 degrees (cos 0.5) for target 0, opposite (cos -1) for target 1.
    f = torch.tensor(
        [[[1.0, 0.0], [0.5, math.sqrt(3) / 2]], [[0.0, 2.0], [0.0, -1.0]]], requires_grad=True
    )
    loss = diversity_loss(f)
    assert abs(loss.item() - (2 * 0.5 + 2 * -1.0) / (2 * 2 * 1)) < 1e-6
    loss.backward()
    assert torch.isfinite(f.grad).all()
    one = torch.randn(4, 1, 3, requires_grad=True)
    loss = diversity_loss(one)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(one.grad).all()


def test_mask_diversity_copies_one_disjoint_zero_and_gradient():
    from finetrack.losses.diversity import mask_diversity_loss

    top = torch.zeros(4, 2)
    top[:2] = 0.9
    bottom = 1.0 - top - 0.1                                    # 0.9 on rows 2-3, 0 elsewhere
    copies = torch.stack([top, top * 0.5])[None]               # (1, 2, 4, 2): cos 1
    assert abs(mask_diversity_loss(copies).item() - 1.0) < 1e-6
    disjoint = torch.stack([top, bottom])[None]                # no shared pixel: cos 0
    assert abs(mask_diversity_loss(disjoint).item()) < 1e-6
    # hand value: masks a = (1, 1, 0, 0), b = (1, 0, 0, 0) -> cos = 1 / sqrt(2)
    m = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]]], requires_grad=True)
    loss = mask_diversity_loss(m)
    assert abs(loss.item() - 1 / math.sqrt(2)) < 1e-6
    loss.backward()
    assert m.grad.abs().sum() > 0
    assert mask_diversity_loss(torch.rand(3, 1, 4, 2)).item() == 0.0  # K = 1: nothing to compare


def test_mask_overlap_hand_value_and_gradient_only_where_parts_share_a_pixel():
    from finetrack.losses.diversity import mask_overlap_loss

    # 2 pixels, 3 parts: pixel 0 sums to 1.5 (excess 0.5), pixel 1 to 0.6 (no excess)
    m = torch.tensor([[[[0.5, 0.2]], [[0.5, 0.2]], [[0.5, 0.2]]]], requires_grad=True)
    loss = mask_overlap_loss(m)
    assert abs(loss.item() - 0.25) < 1e-6                       # mean over the 2 pixels
    loss.backward()
    assert torch.allclose(m.grad[0, :, 0, 0], torch.full((3,), 0.5))  # d mean / d m at pixel 0
    assert torch.all(m.grad[0, :, 0, 1] == 0)                   # pixel 1 is already shared out
    assert abs(mask_overlap_loss(torch.ones(2, 4, 3, 3)).item() - 3.0) < 1e-6  # K - 1
