"""Necks that fuse the S ROI-aligned crops of a box into F_mask and F_reid (finest crop size).

- :class:`FAFPN` (paper Sec. 3.2, Fig. 3-4): Res-Block (RB) on every level to C channels, top-down
  Flow Alignment Modules (FAM) merging each coarse map into the next finer one, two RB heads.
- :class:`RBFPN`: FAFPN with every FAM replaced by bilinear up-sample + sum (Table 5 "without FAM").
- :class:`PlainFPN`: the classic FPN baseline (1x1 lateral conv, up-sample + sum) with
  conv3x3-BN-ReLU output heads (FPN's 3x3 output convs; ``head="rb"`` switches to RB heads).

Every neck maps ``crops`` (S tensors (N, C_s, h_s, w_s), finest first) to ``(F_mask, F_reid)``,
both (N, C, h_0, w_0). Up-sampling is always bilinear with ``align_corners=False``, so that a FAM
with zero flow equals the RBFPN merge exactly.
"""
from __future__ import annotations

import copy
import logging
from typing import Callable, Dict, List, Sequence, Tuple, Type

import torch
import torch.nn as nn
import torch.nn.functional as F

logger = logging.getLogger(__name__)

#: Output channels of each FAM flow conv: (dx, dy) for the coarse map + (dx, dy) for the fine one.
FLOW_CHANNELS: int = 4


class ResBlock(nn.Module):
    """RB: 1x1 conv + BN projection, then conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU.

    Args:
        in_channels: input channels.
        out_channels: output channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
        )
        self.body = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, h, w) -> (N, C_out, h, w)."""
        x = self.proj(x)
        return F.relu(x + self.body(x))


def upsample_to(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (align_corners=False) of (N, C, h, w) to (N, C, *size)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def flow_warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` at the output pixel centres displaced by ``flow``.

    ``out[n, :, i, j] = x(p + flow[n, :, i, j])`` where ``p`` is the centre of output pixel (i, j)
    mapped into ``x``'s frame (the mapping of bilinear resizing with align_corners=False) and the
    flow (dx, dy) is in OUTPUT pixels. With zero flow and ``x`` smaller than the output this equals
    :func:`upsample_to`; with zero flow and equal sizes it is the identity. Outside the map the
    border value is used (``padding_mode="border"``, which is also how resizing treats edges).

    Args:
        x: (N, C, h, w) map to warp.
        flow: (N, 2, H, W) displacement (dx, dy) in output pixels.

    Returns:
        (N, C, H, W) warped map.
    """
    if torch.onnx.is_in_onnx_export():
        # onnxruntime's CPU GridSample kernel is slow: the same bilinear sampling as gathers
        return flow_warp_gather(x, flow)
    n, _, out_h, out_w = flow.shape
    ys = (torch.arange(out_h, device=flow.device, dtype=flow.dtype) + 0.5) * (2.0 / out_h) - 1.0
    xs = (torch.arange(out_w, device=flow.device, dtype=flow.dtype) + 0.5) * (2.0 / out_w) - 1.0
    base_y, base_x = torch.meshgrid(ys, xs, indexing="ij")
    grid_x = base_x.unsqueeze(0) + flow[:, 0] * (2.0 / out_w)
    grid_y = base_y.unsqueeze(0) + flow[:, 1] * (2.0 / out_h)
    grid = torch.stack([grid_x, grid_y], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def flow_warp_gather(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """:func:`flow_warp` written with row gathers instead of ``grid_sample`` (same values within
    float rounding; what the ONNX export traces).

    Output pixel (i, j) samples ``x`` at ``(i + 0.5 + dy) h / H - 0.5``, ``(j + 0.5 + dx) w / W
    - 0.5`` (grid_sample's align_corners=False un-normalisation), clipped to the map (border
    padding), bilinearly from its four neighbours. ``x`` is laid out as (N h w, C) rows, so each
    tap gathers whole C-channel rows (ONNX ``Gather``), which onnxruntime runs faster than
    per-element ``GatherElements``. Arguments and result as :func:`flow_warp`.
    """
    n, c, h, w = x.shape
    out_h, out_w = flow.shape[-2:]
    jj = torch.arange(out_w, device=flow.device, dtype=flow.dtype).view(1, 1, out_w)
    ii = torch.arange(out_h, device=flow.device, dtype=flow.dtype).view(1, out_h, 1)
    sx = ((jj + 0.5 + flow[:, 0]) * (w / out_w) - 0.5).clamp(0.0, w - 1.0)  # (N, H, W)
    sy = ((ii + 0.5 + flow[:, 1]) * (h / out_h) - 0.5).clamp(0.0, h - 1.0)
    x0f, y0f = torch.floor(sx), torch.floor(sy)
    wx, wy = (sx - x0f).reshape(-1, 1), (sy - y0f).reshape(-1, 1)  # (N H W, 1)
    x0, y0 = x0f.long(), y0f.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    base = torch.arange(n, device=x.device).view(n, 1, 1) * (h * w)
    rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)

    def tap(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return rows[(base + yi * w + xi).reshape(-1)]  # (N H W, C)

    top = tap(y0, x0) * (1.0 - wx) + tap(y0, x1) * wx
    bottom = tap(y1, x0) * (1.0 - wx) + tap(y1, x1) * wx
    out = top * (1.0 - wy) + bottom * wy
    return out.view(n, out_h, out_w, c).permute(0, 3, 1, 2)


class FlowAlignModule(nn.Module):
    """FAM: learn semantic flows between a coarse and a fine map, warp both, sum.

    The coarse map is up-sampled to the fine size and concatenated with the fine map; a 3x3 conv
    predicts 4 channels: ``flow_up`` (dx, dy for the coarse map) and ``flow_down`` (for the fine
    map), in fine-map pixels. The coarse map is warped directly from its own resolution (one
    interpolation), the fine map in place; the result is their sum. The flow conv starts at zero,
    so an untrained FAM is exactly up-sample + sum.

    Args:
        channels: channels of both inputs (and of the output).
        kernel_size: flow conv kernel size.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.flow_conv = nn.Conv2d(
            2 * channels, FLOW_CHANNELS, kernel_size, padding=kernel_size // 2
        )
        nn.init.zeros_(self.flow_conv.weight)
        nn.init.zeros_(self.flow_conv.bias)

    def flows(self, coarse: torch.Tensor, fine: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predict ``(flow_up, flow_down)``, each (N, 2, H_fine, W_fine) in fine pixels."""
        coarse_up = upsample_to(coarse, fine.shape[-2:])
        flow = self.flow_conv(torch.cat([coarse_up, fine], dim=1))
        return flow[:, :2], flow[:, 2:]

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """Fuse (N, C, h, w) ``coarse`` into (N, C, H, W) ``fine`` -> (N, C, H, W)."""
        flow_up, flow_down = self.flows(coarse, fine)
        return flow_warp(coarse, flow_up) + flow_warp(fine, flow_down)


class UpsampleSum(nn.Module):
    """The FPN merge: bilinear up-sample of the coarse map + sum (no parameters)."""

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """Fuse (N, C, h, w) ``coarse`` into (N, C, H, W) ``fine`` -> (N, C, H, W)."""
        return upsample_to(coarse, fine.shape[-2:]) + fine


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


#: Output heads of :class:`PlainFPN`.
FPN_HEADS: Dict[str, Callable[[int, int], nn.Module]] = {"conv": _conv_bn_relu, "rb": ResBlock}


class _TopDownNeck(nn.Module):
    """Laterals per level, top-down merges (coarsest into finest), two output heads."""

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        lateral: Callable[[int, int], nn.Module],
        merge: Callable[[int], nn.Module],
        head: Callable[[int, int], nn.Module],
        mask_head: bool = True,
    ) -> None:
        super().__init__()
        if len(in_channels) < 1:
            raise ValueError("a neck needs at least one level")
        self.in_channels = tuple(int(c) for c in in_channels)
        self.channels = int(channels)
        self.laterals = nn.ModuleList(lateral(c, self.channels) for c in self.in_channels)
        self.merges = nn.ModuleList(merge(self.channels) for _ in self.in_channels[1:])
        self.mask_head = head(self.channels, self.channels) if mask_head else None
        self.reid_head = head(self.channels, self.channels)

    def forward(self, crops: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fuse the crops of every box.

        Args:
            crops: S tensors (N, C_s, h_s, w_s), finest first.

        Returns:
            ``(F_mask, F_reid)``, each (N, channels, h_0, w_0); F_mask is None when the neck was
            built with ``mask_head=False`` (poolings without masks need no F_mask).
        """
        if len(crops) != len(self.laterals):
            raise ValueError(f"{len(crops)} crops for a neck of {len(self.laterals)} levels")
        x = self.laterals[-1](crops[-1])
        for level in range(len(crops) - 2, -1, -1):
            x = self.merges[level](x, self.laterals[level](crops[level]))
        f_mask = self.mask_head(x) if self.mask_head is not None else None
        return f_mask, self.reid_head(x)


class FAFPN(_TopDownNeck):
    """Flow Alignment FPN: RB laterals, FAM merges, RB heads.

    Args:
        in_channels: channels of every level, finest first.
        channels: common channel count C (SPEC: 128).
        mask_head: build the F_mask head (False when the pooling uses no masks).
    """

    def __init__(
        self, in_channels: Sequence[int], channels: int = 128, mask_head: bool = True
    ) -> None:
        super().__init__(in_channels, channels, ResBlock, FlowAlignModule, ResBlock, mask_head)


class RBFPN(_TopDownNeck):
    """FAFPN without FAM (Table 5 ablation): RB laterals, up-sample + sum, RB heads.

    Args:
        in_channels: channels of every level, finest first.
        channels: common channel count C.
        mask_head: build the F_mask head.
    """

    def __init__(
        self, in_channels: Sequence[int], channels: int = 128, mask_head: bool = True
    ) -> None:
        super().__init__(
            in_channels, channels, ResBlock, lambda _c: UpsampleSum(), ResBlock, mask_head
        )


class PlainFPN(_TopDownNeck):
    """Classic FPN baseline (Table 4): 1x1 lateral convs, up-sample + sum, two output heads.

    Args:
        in_channels: channels of every level, finest first.
        channels: common channel count C.
        head: ``"conv"`` (default; FPN's output conv as conv3x3-BN-ReLU) or ``"rb"`` (the RB
            heads of FAFPN, to isolate the laterals + merges).
        mask_head: build the F_mask head.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int = 128,
        mask_head: bool = True,
        head: str = "conv",
    ) -> None:
        if head not in FPN_HEADS:
            raise KeyError(f"unknown FPN head {head!r}; valid: {sorted(FPN_HEADS)}")
        super().__init__(
            in_channels,
            channels,
            lambda c_in, c_out: nn.Conv2d(c_in, c_out, 1),
            lambda _c: UpsampleSum(),
            FPN_HEADS[head],
            mask_head,
        )


#: Neck names used by configs and :func:`build_neck`.
NECKS: Dict[str, Type[nn.Module]] = {"fpn": PlainFPN, "fafpn": FAFPN, "fafpn_nofam": RBFPN}


def build_neck(
    name: str, in_channels: Sequence[int], channels: int = 128, mask_head: bool = True
) -> nn.Module:
    """Build a neck by name (fails listing the valid names).

    Args:
        name: one of :data:`NECKS` (``fpn``, ``fafpn``, ``fafpn_nofam``).
        in_channels: channels of every level, finest first.
        channels: common channel count C.
        mask_head: build the F_mask head.
    """
    if name not in NECKS:
        raise KeyError(f"unknown neck {name!r}; valid necks: {sorted(NECKS)}")
    return NECKS[name](in_channels, channels, mask_head=mask_head)


def neck_flow_convs(neck: nn.Module) -> List[nn.Conv2d]:
    """The flow convs of every FAM in a neck (empty for necks without FAM)."""
    return [m.flow_conv for m in neck.modules() if isinstance(m, FlowAlignModule)]


# --------------------------------------------------------------------------------------------
# inference: BatchNorm folded into the convolutions
# --------------------------------------------------------------------------------------------
def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv computing ``bn(conv(x))`` with ``bn``'s running statistics (eval mode).

    ``W' = W * g / sqrt(var + eps)`` per output channel and
    ``b' = (b - mean) * g / sqrt(var + eps) + beta`` (b = 0 for a conv without bias).
    """
    if conv.out_channels != bn.num_features:
        raise ValueError(f"conv gives {conv.out_channels} channels, BN has {bn.num_features}")
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    fused.requires_grad_(False)
    return fused


def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` (eval mode) with every Conv2d -> BatchNorm2d pair folded.

    Pairs are found inside ``nn.Sequential`` containers (how :class:`ResBlock` and the conv
    heads are built); the BN is replaced by ``nn.Identity``. The copy computes the same function
    as ``module.eval()`` up to float rounding; the original is left untouched.
    """
    fused = copy.deepcopy(module).eval()
    for seq in [m for m in fused.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq._modules[a] = fold_bn(conv, bn)
                seq._modules[b] = nn.Identity()
    fused.requires_grad_(False)
    return fused
