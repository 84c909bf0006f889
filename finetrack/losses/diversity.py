"""Diversity loss, eq. (6): mean pairwise cosine similarity between the K parts of a target.

Two optional terms on the K part masks (issue 13 item 6, off in the paper's loss):
:func:`mask_diversity_loss` applies eq. (6) to the flattened masks, :func:`mask_overlap_loss`
penalises pixels that more than one part claims.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

#: Epsilon of the L2 normalisation (cosine of a zero vector is 0).
L2_EPS: float = 1e-12


def diversity_loss(part_features: torch.Tensor) -> torch.Tensor:
    """``1 / (N K (K-1)) * sum_n sum_{i != j} cos(f_p^{n,i}, f_p^{n,j})``.

    Args:
        part_features: (N, K, D) part features of N targets.

    Returns:
        Scalar in [-1, 1]; 1 when all parts of every target point the same way, 0 when they are
        orthogonal. A zero with gradient when N = 0 or K < 2.
    """
    n, k, _ = part_features.shape
    if n == 0 or k < 2:
        return part_features.sum() * 0.0
    unit = F.normalize(part_features, dim=2, eps=L2_EPS)
    gram = unit @ unit.transpose(1, 2)  # (N, K, K)
    off_diag = gram.sum() - gram.diagonal(dim1=1, dim2=2).sum()
    return off_diag / (n * k * (k - 1))


def mask_diversity_loss(part_masks: torch.Tensor) -> torch.Tensor:
    """Eq. (6) on the masks: mean pairwise cosine similarity of the K flattened part masks.

    Masks are in (0, 1), so the cosine of two masks is in [0, 1]: 1 for copies (or masks that
    differ by a scale), 0 for masks with disjoint support. Unlike the features' term it cannot
    be lowered by a mask and its inverse both marking the same boundary: their product is small,
    but so is every other pair that splits the box, which is the point.

    Args:
        part_masks: (N, K, h, w) part masks.

    Returns:
        Scalar in [0, 1]; a zero with gradient when N = 0 or K < 2.
    """
    n, k = part_masks.shape[:2]
    return diversity_loss(part_masks.reshape(n, k, -1))


def mask_overlap_loss(part_masks: torch.Tensor) -> torch.Tensor:
    """Mean over crops and pixels of ``relu(sum_k m_k - 1)``: the K parts should share out a pixel.

    0 when no pixel's masks sum above 1 (a soft partition, or masks that are all small);
    ``K - 1`` when every mask is 1 everywhere.

    Args:
        part_masks: (N, K, h, w) part masks in [0, 1].

    Returns:
        Scalar >= 0; a zero with gradient when N = 0 or K < 2.
    """
    n, k = part_masks.shape[:2]
    if n == 0 or k < 2:
        return part_masks.sum() * 0.0
    return F.relu(part_masks.sum(dim=1) - 1.0).mean()
