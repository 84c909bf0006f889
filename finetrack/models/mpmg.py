"""Multi-head Part Mask Generator (paper Sec. 3.3, Fig. 5) and the pooling functions.

:class:`MPMG` splits F_mask's channels into K blocks; block k goes through its own
:class:`PartMaskGenerator` (a Non-Local block followed by 1x1 conv + sigmoid) and gives part mask
k in (0, 1). The global mask is the max over the K part masks. Pooling turns F_reid and masks into
vectors: :func:`masked_pool` (FineTrack), :func:`gap_pool` (GAP baseline) and :func:`center_pool`
(FairMOT-style centre point baseline).
"""
from __future__ import annotations

import logging
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

logger = logging.getLogger(__name__)

#: Added to the mask mass in :func:`masked_pool` so an all-zero mask gives zeros, not NaN.
MASK_POOL_EPS: float = 1e-6


def split_sizes(channels: int, parts: int) -> List[int]:
    """Channel block sizes when ``channels`` are cut into ``parts`` contiguous blocks.

    Blocks differ by at most one channel (the first ``channels % parts`` get one more), e.g.
    128 channels into 6 parts -> [22, 22, 21, 21, 21, 21].
    """
    if parts < 1 or channels < parts:
        raise ValueError(f"cannot split {channels} channels into {parts} parts")
    base, extra = divmod(channels, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class PartMaskGenerator(nn.Module):
    """PMG: Non-Local self-attention on one channel block, then 1x1 conv + sigmoid.

    ``z = W(softmax(q^T k / sqrt(d)) v) + x`` with q, k, v 1x1 convs to d channels and W a 1x1
    conv back to the block's channels; the attention runs over the h*w spatial positions of each
    crop separately. ``mask = sigmoid(conv1x1(z))``.

    Args:
        in_channels: channels of the block.
        inner_channels: d; default ``max(1, in_channels // 2)`` (Non-Local's reduction of 2).
    """

    def __init__(self, in_channels: int, inner_channels: Optional[int] = None) -> None:
        super().__init__()
        inner = max(1, in_channels // 2) if inner_channels is None else int(inner_channels)
        self.inner_channels = inner
        self.query = nn.Conv2d(in_channels, inner, 1)
        self.key = nn.Conv2d(in_channels, inner, 1)
        self.value = nn.Conv2d(in_channels, inner, 1)
        self.out = nn.Conv2d(inner, in_channels, 1)
        self.mask = nn.Conv2d(in_channels, 1, 1)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        """Non-Local block: (N, C, h, w) -> (N, C, h, w) = W(attention(v)) + x."""
        n, _, h, w = x.shape
        # (N, L, d), contiguous: strided inputs send SDPA to its slow math path on CPU.
        q = self.query(x).flatten(2).transpose(1, 2).contiguous()
        k = self.key(x).flatten(2).transpose(1, 2).contiguous()
        v = self.value(x).flatten(2).transpose(1, 2).contiguous()
        # softmax(q k^T / sqrt(d)) v over the L = h*w positions (fused kernel, same math).
        y = F.scaled_dot_product_attention(q, k, v, scale=1.0 / math.sqrt(self.inner_channels))
        y = y.transpose(1, 2).reshape(n, self.inner_channels, h, w)
        return self.out(y) + x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) block -> (N, 1, h, w) part mask in (0, 1)."""
        return torch.sigmoid(self.mask(self.attend(x)))


class MPMG(nn.Module):
    """K unshared PMG branches on K channel blocks of F_mask.

    Args:
        in_channels: channels of F_mask (split with :func:`split_sizes`).
        num_parts: K.
    """

    def __init__(self, in_channels: int = 128, num_parts: int = 6) -> None:
        super().__init__()
        self.sizes = tuple(split_sizes(int(in_channels), int(num_parts)))
        self.branches = nn.ModuleList(PartMaskGenerator(c) for c in self.sizes)

    @property
    def num_parts(self) -> int:
        """K."""
        return len(self.branches)

    def forward(self, f_mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Generate the masks.

        Args:
            f_mask: (N, C, h, w).

        Returns:
            ``(part_masks (N, K, h, w), global_mask (N, 1, h, w))``, values in (0, 1); the global
            mask is the per-pixel max over the parts.
        """
        blocks = torch.split(f_mask, list(self.sizes), dim=1)
        part_masks = torch.cat([pmg(b) for pmg, b in zip(self.branches, blocks)], dim=1)
        global_mask = part_masks.max(dim=1, keepdim=True).values
        return part_masks, global_mask


def masked_pool(
    feat: torch.Tensor, masks: torch.Tensor, eps: float = MASK_POOL_EPS
) -> torch.Tensor:
    """Mask-weighted average: ``sum(F * M_k) / (sum(M_k) + eps)`` per mask.

    Args:
        feat: (N, C, h, w) F_reid.
        masks: (N, K, h, w) non-negative weights.
        eps: added to each mask's mass.

    Returns:
        (N, K, C) pooled features.
    """
    weighted = torch.einsum("nchw,nkhw->nkc", feat, masks)
    return weighted / (masks.sum(dim=(2, 3)).unsqueeze(-1) + eps)


def gap_pool(feat: torch.Tensor) -> torch.Tensor:
    """Global average pooling: (N, C, h, w) -> (N, C)."""
    return feat.mean(dim=(2, 3))


def center_index(height: int, width: int) -> Tuple[int, int]:
    """Cell of a (height, width) crop holding the box centre: (height // 2, width // 2).

    The centre of the box lies at (height / 2, width / 2) in cell-edge coordinates; for even sizes
    that is a cell corner and the cell below-right of it is taken (integer flooring of the centre,
    as FairMOT's heat-map peak).
    """
    return height // 2, width // 2


def center_pool(feat: torch.Tensor) -> torch.Tensor:
    """FairMOT-style centre point feature: (N, C, h, w) -> (N, C) at :func:`center_index`."""
    cy, cx = center_index(feat.shape[-2], feat.shape[-1])
    return feat[:, :, cy, cx]


def center_mask(
    n: int, height: int, width: int, device=None, dtype=torch.float32
) -> torch.Tensor:
    """One-hot (N, 1, h, w) mask at :func:`center_index` (what :func:`center_pool` weights)."""
    mask = torch.zeros(n, 1, height, width, device=device, dtype=dtype)
    cy, cx = center_index(height, width)
    mask[:, :, cy, cx] = 1.0
    return mask
