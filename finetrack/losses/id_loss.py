"""Identity classification losses, eq. (3)-(5): cross-entropy over the M training identities."""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)


def global_id_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. (5): mean cross-entropy of the global classifier.

    Args:
        logits: (N, M) global logits.
        labels: (N,) identities in [0, M).

    Returns:
        Scalar loss (a zero with gradient when N = 0).
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels)


def part_id_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. (4): cross-entropy of the K part classifiers, averaged over the K * N terms.

    Args:
        logits: (N, K, M) part logits.
        labels: (N,) identities in [0, M).

    Returns:
        Scalar loss (a zero with gradient when N = 0 or K = 0).
    """
    n, k, m = logits.shape
    if n == 0 or k == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits.reshape(n * k, m), labels.repeat_interleave(k))
