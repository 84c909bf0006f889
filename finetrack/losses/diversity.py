"""Diversity loss, eq. (6): mean pairwise cosine similarity between the K parts of a target."""
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
