"""DLA-34 encoder-decoder (deep layer aggregation) with one stride-4 output: FairMOT's backbone.

The structure follows CenterNet's / FairMOT's ``pose_dla_dcn.py`` ("DLASeg" with ``down_ratio=4``):

* **encoder** ``DLA`` (Yu et al., "Deep Layer Aggregation"): a 7x7 stem, ``level0``/``level1``
  plain convs, then ``level2..level5`` hierarchical aggregation trees of BasicBlocks (levels
  ``[1, 1, 1, 2, 2, 1]``, channels ``[16, 32, 64, 128, 256, 512]``); outputs at strides 1..32.
* **decoder** ``DLAUp`` (iterative aggregation of the stride 4..32 maps, coarse to fine) and a final
  ``IDAUp`` onto stride 4, where every projection / aggregation node is a 3x3 (deformable) conv +
  BN + ReLU and up-sampling is a bilinear-initialised grouped transposed conv.

Deformable convs (DCNv2, modulated) come from :func:`torchvision.ops.deform_conv2d` when
``deformable=True``; with ``False`` (the default here: faster on CPU) they are plain 3x3 convs.
No ImageNet weights are downloaded: the network starts from random initialisation.

Shapes: input (B, 3, H, W) with H, W multiples of 32 -> output (B, 64, H / 4, W / 4).
"""
from __future__ import annotations

import math
from typing import List, Sequence

import torch
import torch.nn as nn
from torchvision.ops import deform_conv2d

BN_MOMENTUM = 0.1
#: DLA-34 (``dla34`` of the DLA paper): levels and channels of the six stages.
DLA34_LEVELS = (1, 1, 1, 2, 2, 1)
DLA34_CHANNELS = (16, 32, 64, 128, 256, 512)


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs); ``residual`` is given by the caller (DLA's trees)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor, residual: torch.Tensor = None) -> torch.Tensor:
        if residual is None:
            residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Root(nn.Module):
    """Aggregation node of a tree: 1x1 conv over the concatenated children (+ first child)."""

    def __init__(self, in_channels: int, out_channels: int, residual: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.residual = residual

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        children = x
        out = self.bn(self.conv(torch.cat(x, 1)))
        if self.residual:
            out = out + children[0]
        return self.relu(out)


class Tree(nn.Module):
    """Hierarchical deep aggregation tree of DLA (recursive, ``levels`` deep)."""

    def __init__(self, levels: int, in_channels: int, out_channels: int, stride: int = 1,
                 level_root: bool = False, root_dim: int = 0, root_residual: bool = False) -> None:
        super().__init__()
        if root_dim == 0:
            root_dim = 2 * out_channels
        if level_root:
            root_dim += in_channels
        if levels == 1:
            self.tree1 = BasicBlock(in_channels, out_channels, stride)
            self.tree2 = BasicBlock(out_channels, out_channels, 1)
        else:
            self.tree1 = Tree(levels - 1, in_channels, out_channels, stride, root_dim=0,
                              root_residual=root_residual)
            self.tree2 = Tree(levels - 1, out_channels, out_channels,
                              root_dim=root_dim + out_channels, root_residual=root_residual)
        if levels == 1:
            self.root = Root(root_dim, out_channels, root_residual)
        self.level_root = level_root
        self.root_dim = root_dim
        self.levels = levels
        self.downsample = nn.MaxPool2d(stride, stride=stride) if stride > 1 else None
        self.project = None
        if in_channels != out_channels:
            self.project = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, 1, bias=False),
                nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
            )

    def forward(self, x: torch.Tensor, residual=None, children=None) -> torch.Tensor:
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample is not None else x
        residual = self.project(bottom) if self.project is not None else bottom
        if self.level_root:
            children.append(bottom)
        x1 = self.tree1(x, residual)
        if self.levels == 1:
            x2 = self.tree2(x1)
            return self.root(x2, x1, *children)
        children.append(x1)
        return self.tree2(x1, children=children)


def _conv_level(inplanes: int, planes: int, convs: int, stride: int = 1) -> nn.Sequential:
    mods: List[nn.Module] = []
    for i in range(convs):
        mods += [
            nn.Conv2d(inplanes, planes, 3, stride if i == 0 else 1, 1, bias=False),
            nn.BatchNorm2d(planes, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        inplanes = planes
    return nn.Sequential(*mods)


class DLA(nn.Module):
    """DLA encoder; ``forward`` returns the six stage outputs (strides 1, 2, 4, 8, 16, 32)."""

    def __init__(self, levels: Sequence[int] = DLA34_LEVELS,
                 channels: Sequence[int] = DLA34_CHANNELS) -> None:
        super().__init__()
        self.channels = list(channels)
        self.base_layer = nn.Sequential(
            nn.Conv2d(3, channels[0], 7, 1, 3, bias=False),
            nn.BatchNorm2d(channels[0], momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
        )
        self.level0 = _conv_level(channels[0], channels[0], levels[0])
        self.level1 = _conv_level(channels[0], channels[1], levels[1], stride=2)
        self.level2 = Tree(levels[2], channels[1], channels[2], 2, level_root=False)
        self.level3 = Tree(levels[3], channels[2], channels[3], 2, level_root=True)
        self.level4 = Tree(levels[4], channels[3], channels[4], 2, level_root=True)
        self.level5 = Tree(levels[5], channels[4], channels[5], 2, level_root=True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        y = []
        x = self.base_layer(x)
        for i in range(6):
            x = getattr(self, f"level{i}")(x)
            y.append(x)
        return y


class DeformConv(nn.Module):
    """3x3 modulated deformable conv (DCNv2) + BN + ReLU; offsets/masks from a zero-init conv.

    With ``deformable=False`` a plain 3x3 conv + BN + ReLU (same interface).
    """

    def __init__(self, chi: int, cho: int, deformable: bool = True) -> None:
        super().__init__()
        self.deformable = deformable
        self.weight = nn.Parameter(torch.empty(cho, chi, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cho))
        nn.init.kaiming_uniform_(self.weight, a=1)
        if deformable:
            self.offset_mask = nn.Conv2d(chi, 27, 3, 1, 1, bias=True)  # 18 offsets + 9 masks
            nn.init.zeros_(self.offset_mask.weight)
            nn.init.zeros_(self.offset_mask.bias)
        self.actf = nn.Sequential(nn.BatchNorm2d(cho, momentum=BN_MOMENTUM), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.deformable:
            return self.actf(nn.functional.conv2d(x, self.weight, self.bias, 1, 1))
        om = self.offset_mask(x)
        offset, mask = om[:, :18], torch.sigmoid(om[:, 18:])
        y = deform_conv2d(x, offset, self.weight, self.bias, padding=(1, 1), mask=mask)
        return self.actf(y)


def _fill_up_weights(up: nn.ConvTranspose2d) -> None:
    """Bilinear-interpolation initialisation of a grouped transposed conv (CenterNet)."""
    w = up.weight.data
    f = math.ceil(w.size(2) / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    for i in range(w.size(2)):
        for j in range(w.size(3)):
            w[0, 0, i, j] = (1 - math.fabs(i / f - c)) * (1 - math.fabs(j / f - c))
    for ch in range(1, w.size(0)):
        w[ch, 0] = w[0, 0]


class IDAUp(nn.Module):
    """Iterative deep aggregation: project ``layers[i]`` to ``o`` channels, up-sample by
    ``up_f[i]`` and merge with the previous (finer) one through a node conv, in place."""

    def __init__(self, o: int, channels: Sequence[int], up_f: Sequence[int],
                 deformable: bool) -> None:
        super().__init__()
        for i in range(1, len(channels)):
            c, f = int(channels[i]), int(up_f[i])
            setattr(self, f"proj_{i}", DeformConv(c, o, deformable))
            up = nn.ConvTranspose2d(o, o, f * 2, stride=f, padding=f // 2, output_padding=0,
                                    groups=o, bias=False)
            _fill_up_weights(up)
            setattr(self, f"up_{i}", up)
            setattr(self, f"node_{i}", DeformConv(o, o, deformable))

    def forward(self, layers: List[torch.Tensor], startp: int, endp: int) -> None:
        for i in range(startp + 1, endp):
            up = getattr(self, f"up_{i - startp}")
            project = getattr(self, f"proj_{i - startp}")
            layers[i] = up(project(layers[i]))
            node = getattr(self, f"node_{i - startp}")
            layers[i] = node(layers[i] + layers[i - 1])


class DLAUp(nn.Module):
    """Coarse-to-fine aggregation of the encoder maps from ``startp`` on (CenterNet's DLAUp)."""

    def __init__(self, startp: int, channels: Sequence[int], scales: Sequence[int],
                 deformable: bool) -> None:
        super().__init__()
        self.startp = startp
        channels, scales = list(channels), list(scales)
        in_channels = list(channels)
        scales_arr = list(scales)
        for i in range(len(channels) - 1):
            j = -i - 2
            setattr(self, f"ida_{i}", IDAUp(channels[j], in_channels[j:],
                                             [s // scales_arr[j] for s in scales_arr[j:]],
                                             deformable))
            for k in range(j + 1, 0):
                scales_arr[k] = scales_arr[j]
                in_channels[k] = channels[j]

    def forward(self, layers: List[torch.Tensor]) -> List[torch.Tensor]:
        out = [layers[-1]]
        for i in range(len(layers) - self.startp - 1):
            ida = getattr(self, f"ida_{i}")
            ida(layers, len(layers) - i - 2, len(layers))
            out.insert(0, layers[-1])
        return out


class DLASeg(nn.Module):
    """DLA-34 + DLAUp + IDAUp: one stride-4 map of ``out_channels`` (64) channels.

    Args:
        deformable: DCNv2 in the up-sampling path (FairMOT) or plain 3x3 convs.
    """

    down_ratio = 4

    def __init__(self, deformable: bool = False) -> None:
        super().__init__()
        self.first_level = int(math.log2(self.down_ratio))  # 2
        self.last_level = 5
        self.base = DLA()
        channels = self.base.channels
        scales = [2 ** i for i in range(len(channels[self.first_level:]))]
        self.dla_up = DLAUp(self.first_level, channels[self.first_level:], scales, deformable)
        out = channels[self.first_level]
        self.ida_up = IDAUp(out, channels[self.first_level:self.last_level],
                            [2 ** i for i in range(self.last_level - self.first_level)], deformable)
        self.out_channels = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 64, H / 4, W / 4)."""
        x = self.base(x)
        x = self.dla_up(x)
        y = [x[i].clone() for i in range(self.last_level - self.first_level)]
        self.ida_up(y, 0, len(y))
        return y[-1]
