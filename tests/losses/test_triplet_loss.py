"""Soft-margin batch-hard triplet loss on hand-built batches."""
import math

import torch

from finetrack.losses.triplet import batch_hard_triplet_loss, pairwise_euclidean, part_triplet_loss


def _softplus(x):
    return math.log1p(math.exp(x))


def test_hand_built_batch():
    # a=(1,0), b=(0.6,0.8) are identity 0; c=(0,1) is identity 1 (no positive: skipped).
    # |a-b| = sqrt(0.8), |a-c| = sqrt(2), |b-c| = sqrt(0.4).
    feats = torch.tensor([[2.0, 0.0], [0.6, 0.8], [0.0, 3.0]])  # normalised inside
    labels = torch.tensor([0, 0, 1])
    expected = 0.5 * (
        _softplus(math.sqrt(0.8) - math.sqrt(2.0)) + _softplus(math.sqrt(0.8) - math.sqrt(0.4))
    )
    loss = batch_hard_triplet_loss(feats, labels)
    assert abs(loss.item() - expected) < 1e-5


def test_hardest_positive_and_negative_are_used():
    # Unit vectors at angles (degrees); identity 0: 0, 20, 100; identity 1: 140, 180.
    # Chord between angles a, b: c(|a - b|) = 2 sin(|a - b| / 2).
    angles = [0.0, 20.0, 100.0, 140.0, 180.0]
    feats = torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles])
    labels = torch.tensor([0, 0, 0, 1, 1])

    def c(deg):
        return 2.0 * math.sin(math.radians(deg) / 2.0)

    assert abs(pairwise_euclidean(feats)[0, 4].item() - 2.0) < 1e-5
    # anchor: (farthest positive, closest negative)
    # 0: (100 -> c100, 140 -> c140); 20: (c80, c120); 100: (c100, c40); 140: (c40, c40);
    # 180: (c40, c80)
    pairs = [(100, 140), (80, 120), (100, 40), (40, 40), (40, 80)]
    expected = sum(_softplus(c(ap) - c(an)) for ap, an in pairs) / 5
    assert abs(batch_hard_triplet_loss(feats, labels).item() - expected) < 1e-5


def test_no_valid_anchor_gives_zero_with_finite_grad():
    for labels in (torch.tensor([0, 1, 2, 3]), torch.tensor([5, 5, 5, 5])):
        feats = torch.randn(4, 8, requires_grad=True)
        loss = batch_hard_triplet_loss(feats, labels)
        assert loss.item() == 0.0
        loss.backward()
        assert torch.isfinite(feats.grad).all() and feats.grad.abs().sum() == 0
    single = torch.randn(1, 8, requires_grad=True)
    batch_hard_triplet_loss(single, torch.tensor([0])).backward()
    assert torch.isfinite(single.grad).all()


def test_identical_features_give_finite_grad():
    feats = torch.ones(4, 3, requires_grad=True)
    loss = batch_hard_triplet_loss(feats, torch.tensor([0, 0, 1, 1]))
    assert abs(loss.item() - math.log(2.0)) < 1e-5
    loss.backward()
    assert torch.isfinite(feats.grad).all()


def test_part_loss_is_mean_over_parts():
    torch.manual_seed(0)
    parts = torch.randn(6, 3, 5)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    per_part = [batch_hard_triplet_loss(parts[:, k], labels) for k in range(3)]
    assert torch.allclose(part_triplet_loss(parts, labels), torch.stack(per_part).mean())
    assert part_triplet_loss(torch.zeros(6, 0, 5), labels).item() == 0.0
