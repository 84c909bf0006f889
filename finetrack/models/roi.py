"""Multi-level ROIAlign: crop every box from S backbone maps at level-dependent output sizes."""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torchvision.ops import roi_align

logger = logging.getLogger(__name__)

#: Crop (H, W) at stride 4; other strides scale inversely: 32x16 @4, 16x8 @8, 8x4 @16.
REFERENCE_ROI_SIZE: Tuple[int, int] = (32, 16)
REFERENCE_ROI_STRIDE: int = 4


def default_roi_sizes(strides: Sequence[int]) -> Tuple[Tuple[int, int], ...]:
    """SPEC crop sizes: (32, 16) at stride 4, halved per doubling of the stride.

    Args:
        strides: feature strides, e.g. (4, 8, 16).

    Returns:
        One (H, W) per stride, e.g. ((32, 16), (16, 8), (8, 4)).
    """
    sizes = []
    for s in strides:
        h = REFERENCE_ROI_SIZE[0] * REFERENCE_ROI_STRIDE // int(s)
        w = REFERENCE_ROI_SIZE[1] * REFERENCE_ROI_STRIDE // int(s)
        if h < 1 or w < 1:
            raise ValueError(f"stride {s} is too coarse for the default ROI sizes; pass roi_sizes")
        sizes.append((h, w))
    return tuple(sizes)


class MultiLevelRoIAlign(nn.Module):
    """``torchvision.ops.roi_align`` on every level, with per-level output sizes (no parameters).

    Args:
        strides: stride of every input level, finest first, e.g. (4, 8, 16).
        output_sizes: (H, W) crop per level; default :func:`default_roi_sizes`.
        sampling_ratio: bilinear samples per bin side (torchvision's ``sampling_ratio``).
        aligned: half-pixel alignment (``aligned=True`` = Detectron2's ROIAlignV2).
    """

    def __init__(
        self,
        strides: Sequence[int],
        output_sizes: Optional[Sequence[Tuple[int, int]]] = None,
        sampling_ratio: int = 2,
        aligned: bool = True,
    ) -> None:
        super().__init__()
        self.strides = tuple(int(s) for s in strides)
        sizes = default_roi_sizes(self.strides) if output_sizes is None else output_sizes
        self.output_sizes = tuple((int(h), int(w)) for h, w in sizes)
        if len(self.output_sizes) != len(self.strides):
            raise ValueError(
                f"{len(self.output_sizes)} output sizes for {len(self.strides)} strides"
            )
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)

    def forward(
        self, feats: Sequence[torch.Tensor], boxes: Sequence[torch.Tensor]
    ) -> List[torch.Tensor]:
        """Crop all boxes of all frames from every level.

        Args:
            feats: S maps (B, C_s, H_in / s, W_in / s), finest first.
            boxes: B tensors (N_i, 4) xyxy in network-input pixels (N_i may be 0).

        Returns:
            S tensors (sum N_i, C_s, h_s, w_s), boxes in frame order then box order.
        """
        if len(feats) != len(self.strides):
            raise ValueError(f"{len(feats)} feature maps for {len(self.strides)} strides")
        batch = feats[0].shape[0]
        if len(boxes) != batch:
            raise ValueError(f"{len(boxes)} box tensors for a batch of {batch} frames")
        ref = feats[0]
        rois = [b.to(device=ref.device, dtype=ref.dtype).reshape(-1, 4) for b in boxes]
        return [
            roi_align(
                f,
                rois,
                output_size=size,
                spatial_scale=1.0 / stride,
                sampling_ratio=self.sampling_ratio,
                aligned=self.aligned,
            )
            for f, stride, size in zip(feats, self.strides, self.output_sizes)
        ]

    def extra_repr(self) -> str:
        return (
            f"strides={self.strides}, output_sizes={self.output_sizes}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}"
        )
