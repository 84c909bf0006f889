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
