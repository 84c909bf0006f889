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
from typing import List, Optional, Sequence, Tuple

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


class BatchedMPMG(nn.Module):
    """Inference form of :class:`MPMG`: the K branches as ONE attention call (same outputs).

    Branch k's 1x1 convs become blocks of dense matrices over all C channels: q, k and v of every
    branch are computed by one (3 K D, C) matrix (D = the widest inner width; narrower branches
    are zero-padded, which changes no dot product and no output), the K attentions run as one
    (N, K, L, D) batch, and the output and mask convs are block-structured (C, K D) and (K, C)
    matrices. The 1 / sqrt(d_k) scale of each branch is folded into its query rows. Built by
    :meth:`from_mpmg` from a trained MPMG (weights copied; no gradients).

    Args:
        sizes: the K channel block sizes (:func:`split_sizes`).
        inner: the K inner widths d_k.
    """

    def __init__(self, sizes: Sequence[int], inner: Sequence[int]) -> None:
        super().__init__()
        if len(sizes) != len(inner) or not sizes:
            raise ValueError(f"{len(sizes)} channel blocks for {len(inner)} inner widths")
        self.sizes = tuple(int(c) for c in sizes)
        self.inner = tuple(int(d) for d in inner)
        k, c, d = len(self.sizes), sum(self.sizes), max(self.inner)
        self.width = d
        self.qkv = nn.Linear(c, 3 * k * d)
        self.out = nn.Linear(k * d, c)
        self.mask = nn.Linear(c, k)
        for lin in (self.qkv, self.out, self.mask):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.requires_grad_(False)

    @property
    def num_parts(self) -> int:
        """K."""
        return len(self.sizes)

    @classmethod
    def from_mpmg(cls, mpmg: MPMG) -> "BatchedMPMG":
        """Copy the weights of ``mpmg``'s K :class:`PartMaskGenerator` branches."""
        inner = [b.inner_channels for b in mpmg.branches]
        ref = mpmg.branches[0].query.weight
        fused = cls(mpmg.sizes, inner).to(device=ref.device, dtype=ref.dtype)
        k_parts, d = len(inner), fused.width
        with torch.no_grad():
            start = 0
            for k, (pmg, c, dk) in enumerate(zip(mpmg.branches, mpmg.sizes, inner)):
                cols = slice(start, start + c)
                scale = 1.0 / math.sqrt(dk)
                for j, (conv, mult) in enumerate(
                    ((pmg.query, scale), (pmg.key, 1.0), (pmg.value, 1.0))
                ):
                    rows = slice((j * k_parts + k) * d, (j * k_parts + k) * d + dk)
                    fused.qkv.weight[rows, cols] = conv.weight[:, :, 0, 0] * mult
                    fused.qkv.bias[rows] = conv.bias * mult
                fused.out.weight[cols, k * d : k * d + dk] = pmg.out.weight[:, :, 0, 0]
                fused.out.bias[cols] = pmg.out.bias
                fused.mask.weight[k, cols] = pmg.mask.weight[0, :, 0, 0]
                fused.mask.bias[k] = pmg.mask.bias[0]
                start += c
        return fused.eval()

    def forward(self, f_mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Same contract as :meth:`MPMG.forward`: (N, C, h, w) -> ((N, K, h, w), (N, 1, h, w))."""
        n, c, h, w = f_mask.shape
        k, d = self.num_parts, self.width
        x = f_mask.permute(0, 2, 3, 1).reshape(n, h * w, c)  # free for channels_last input
        qkv = self.qkv(x).view(n, h * w, 3, k, d).permute(2, 0, 3, 1, 4)
        # (N, K, L, D) each, queries pre-scaled by 1/sqrt(d_k): softmax(q k^T) v as ONE fused
        # kernel call (contiguous: strided inputs send SDPA to its slow math path on CPU)
        q, key, v = (t.contiguous() for t in qkv.unbind(0))
        y = F.scaled_dot_product_attention(q, key, v, scale=1.0)
        y = y.permute(0, 2, 1, 3).reshape(n, h * w, k * d)
        z = self.out(y) + x
        masks = torch.sigmoid(self.mask(z)).view(n, h, w, k).permute(0, 3, 1, 2)
        return masks, masks.max(dim=1, keepdim=True).values


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
