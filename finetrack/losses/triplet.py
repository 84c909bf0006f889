"""Batch-hard triplet loss with soft margin (Hermans et al. 2017, the paper's [13])."""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

#: Squared distances are clamped to this before the square root (finite gradient at 0).
SQDIST_EPS: float = 1e-12
#: Epsilon of the L2 normalisation.
L2_EPS: float = 1e-12


def pairwise_euclidean(features: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, N) Euclidean distances, with a finite gradient at zero distance."""
    sq = features.pow(2).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * features @ features.t()
    return d2.clamp(min=SQDIST_EPS).sqrt()


def batch_hard_triplet_loss(
    features: torch.Tensor, labels: torch.Tensor, normalize: bool = True
) -> torch.Tensor:
    """Soft-margin batch-hard triplet loss.

    For every anchor a: ``d_ap`` = distance to its farthest positive (same label, other sample),
    ``d_an`` = distance to its closest negative; loss = ``log(1 + exp(d_ap - d_an))`` averaged over
    the anchors that have at least one positive AND one negative. Anchors without either are
    skipped; if none is left the result is a zero that still depends on ``features`` (so
    ``backward`` works and gives zero gradients), never NaN.

    Args:
        features: (N, D) float features.
        labels: (N,) int identity labels.
        normalize: L2-normalise the features first (SPEC: Euclidean on L2-normalised features).

    Returns:
        Scalar loss.
    """
    if features.ndim != 2 or labels.ndim != 1 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"features must be (N, D) and labels (N,), got {tuple(features.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if normalize:
        features = F.normalize(features, dim=1, eps=L2_EPS)
    n = features.shape[0]
    zero = features.sum() * 0.0
    if n < 2:
        return zero
    dist = pairwise_euclidean(features)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(n, dtype=torch.bool, device=features.device)
    pos_mask = same & ~eye
    neg_mask = ~same
    valid = pos_mask.any(dim=1) & neg_mask.any(dim=1)
    if not bool(valid.any()):
        return zero
    d_ap = dist.masked_fill(~pos_mask, float("-inf")).max(dim=1).values
    d_an = dist.masked_fill(~neg_mask, float("inf")).min(dim=1).values
    return F.softplus(d_ap[valid] - d_an[valid]).mean()


def part_triplet_loss(
    part_features: torch.Tensor, labels: torch.Tensor, normalize: bool = True
) -> torch.Tensor:
    """Eq. (1): the triplet loss of every part, averaged over the K parts.

    Args:
        part_features: (N, K, D) part features.
        labels: (N,) identity labels.
        normalize: L2-normalise each part feature first.

    Returns:
        Scalar loss (a zero with gradient when K = 0).
    """
    k = part_features.shape[1]
    if k == 0:
        return part_features.sum() * 0.0
    losses = [batch_hard_triplet_loss(part_features[:, i], labels, normalize) for i in range(k)]
    return torch.stack(losses).mean()
