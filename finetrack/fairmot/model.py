"""FairMOT one-shot tracker network: joint centre detection + centre-point Re-ID in one pass.

Zhang et al., "FairMOT: On the Fairness of Detection and Re-Identification in Multiple Object
Tracking" (IJCV 2021; arXiv "A Simple Baseline for Multi-Object Tracking"). One encoder-decoder
gives ONE stride-4 map; four parallel heads (each 3x3 conv ``head_conv`` + ReLU + 1x1 conv) read it:

==========  ========  ==================================================================
head        channels  meaning (at each stride-4 cell)
==========  ========  ==================================================================
``hm``      1         centre heatmap logits (sigmoid = centre probability); bias -2.19
``wh``      4         box sides ``(l, t, r, b)`` from the centre, stride-4 pixels (FairMOT's
                      ``ltrb``)
``reg``     2         sub-cell centre offset ``(dx, dy)`` in [0, 1)
``id``      emb_dim   identity embedding (128-d); L2-normalised for matching
==========  ========  ==================================================================

Backbones (:data:`BACKBONES`):

* ``yolox_<variant>`` (CPU-light): YOLOX's CSPDarknet (built through
  :class:`finetrack.models.detector.YOLOXDetector`, the project's only yolox import) +
  :class:`UpAggregation`, an up-sampling aggregation neck that merges dark5 -> dark2 into one
  stride-4 map (each level projected to ``neck_channels``, bilinear x2 up-sampling, sum, 3x3 conv).
* ``dla34``: FairMOT's DLA-34 with DLAUp/IDAUp (:mod:`finetrack.fairmot.dla`); ``deformable=True``
  uses DCNv2 in the up-sampling path as the paper does.

Pre-processing is the project's letterbox (:func:`finetrack.utils.letterbox.preprocess_image`:
top-left, keep aspect ratio), so boxes map back to the original image by ``/ ratio``.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from finetrack.utils.letterbox import preprocess_image

logger = logging.getLogger(__name__)

#: Output stride of every backbone (the heads run at 1/4 of the input).
DOWN_RATIO = 4
#: FairMOT's heatmap-head bias: sigmoid(-2.19) = 0.1 (CenterNet's focal-loss prior).
HM_BIAS_INIT = -2.19
#: ``yolox_<variant>`` for every YOLOX variant, and FairMOT's ``dla34``.
BACKBONES = ("yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x", "dla34")
#: Head names and their output channels (``id``'s is ``emb_dim``).
HEADS = ("hm", "wh", "reg", "id")
_CSP_LEVELS = ("dark2", "dark3", "dark4", "dark5")


class UpAggregation(nn.Module):
    """Up-sampling aggregation neck: maps at strides 4, 8, 16, 32 -> one stride-4 map.

    ``x = proj(c5)``; for the finer levels ``x = node(up2(x) + proj(c_l))``; every proj is a 1x1
    conv + BN + ReLU to ``channels``, every node a 3x3 conv + BN + ReLU.

    Args:
        in_channels: channels of the input maps, finest first.
        channels: output channels.
    """

    def __init__(self, in_channels: Sequence[int], channels: int) -> None:
        super().__init__()

        def cbr(ci: int, co: int, k: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(ci, co, k, 1, k // 2, bias=False),
                                 nn.BatchNorm2d(co), nn.ReLU(inplace=True))

        self.proj = nn.ModuleList(cbr(int(c), channels, 1) for c in in_channels)
        self.node = nn.ModuleList(cbr(channels, channels, 3) for _ in in_channels[:-1])
        self.out_channels = int(channels)

    def forward(self, feats: List[torch.Tensor]) -> torch.Tensor:
        """``feats``: (B, C_l, H / s_l, W / s_l), finest first -> (B, channels, H / 4, W / 4)."""
        x = self.proj[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            lat = self.proj[i](feats[i])
            x = F.interpolate(x, size=lat.shape[-2:], mode="bilinear", align_corners=False)
            x = self.node[i](x + lat)
        return x


class CSPDarknetUp(nn.Module):
    """YOLOX CSPDarknet (dark2..dark5) + :class:`UpAggregation`: (B, 3, H, W) -> stride 4."""

    down_ratio = DOWN_RATIO

    def __init__(self, variant: str = "tiny", neck_channels: int = 64) -> None:
        super().__init__()
        from finetrack.models.detector import YOLOXDetector

        det = YOLOXDetector(variant, feature_levels=_CSP_LEVELS)
        self.body = det.model.backbone.backbone  # yolox CSPDarknet (YOLOX's BN settings)
        self.body.out_features = _CSP_LEVELS
        self.neck = UpAggregation(det.feature_channels, neck_channels)
        self.out_channels = self.neck.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return self.neck([out[k] for k in _CSP_LEVELS])


def _head(in_ch: int, out_ch: int, head_conv: int, bias: float = 0.0) -> nn.Sequential:
    """3x3 conv (head_conv) + ReLU + 1x1 conv; the last bias is ``bias``."""
    h = nn.Sequential(nn.Conv2d(in_ch, head_conv, 3, padding=1, bias=True), nn.ReLU(inplace=True),
                      nn.Conv2d(head_conv, out_ch, 1, bias=True))
    for m in h.modules():  # FairMOT's fill_fc_weights: zero biases
        if isinstance(m, nn.Conv2d):
            nn.init.zeros_(m.bias)
    h[-1].bias.data.fill_(bias)
    return h


class FairMOT(nn.Module):
    """Backbone + the four FairMOT heads.

    Args:
        backbone: one of :data:`BACKBONES`.
        head_conv: channels of every head's 3x3 conv (FairMOT: 256).
        emb_dim: identity embedding size (FairMOT: 128).
        neck_channels: channels of the YOLOX up-sampling neck (DLA-34 always gives 64).
        deformable: DLA-34 only: DCNv2 in its up-sampling path.
        input_size: network input (H, W), multiples of 32 (FairMOT: 608 x 1088).
        conf_thresh: centre score kept by :meth:`detect` (FairMOT: 0.4).
        max_objs: top-K centres per image (FairMOT: 500).
    """

    def __init__(
        self,
        backbone: str = "yolox_tiny",
        head_conv: int = 256,
        emb_dim: int = 128,
        neck_channels: int = 64,
        deformable: bool = False,
        input_size: Tuple[int, int] = (608, 1088),
        conf_thresh: float = 0.4,
        max_objs: int = 500,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise KeyError(f"unknown FairMOT backbone {backbone!r}; valid: {list(BACKBONES)}")
        if any(int(s) % 32 for s in input_size):
            raise ValueError(f"input_size must be multiples of 32, got {tuple(input_size)}")
        self.backbone_name = backbone
        self.head_conv = int(head_conv)
        self.emb_dim = int(emb_dim)
        self.neck_channels = int(neck_channels)
        self.deformable = bool(deformable)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.conf_thresh = float(conf_thresh)
        self.max_objs = int(max_objs)
        if backbone == "dla34":
            from finetrack.fairmot.dla import DLASeg

            self.backbone = DLASeg(deformable=deformable)
        else:
            self.backbone = CSPDarknetUp(backbone[len("yolox_"):], neck_channels)
        c = self.backbone.out_channels
        self.hm = _head(c, 1, head_conv, HM_BIAS_INIT)
        self.wh = _head(c, 4, head_conv)
        self.reg = _head(c, 2, head_conv)
        self.id = _head(c, emb_dim, head_conv)

    # ------------------------------------------------------------------ description
    @property
    def model_args(self) -> Dict[str, Any]:
        """Constructor kwargs: enough to rebuild the network from a checkpoint."""
        return {"backbone": self.backbone_name, "head_conv": self.head_conv,
                "emb_dim": self.emb_dim, "neck_channels": self.neck_channels,
                "deformable": self.deformable, "input_size": list(self.input_size),
                "conf_thresh": self.conf_thresh, "max_objs": self.max_objs}

    @classmethod
    def from_checkpoint(cls, path, map_location="cpu", obj: Optional[Dict[str, Any]] = None,
                        **overrides) -> "FairMOT":
        """A model from a ``tools/train_fairmot.py`` checkpoint (``model`` + ``model_args``).

        Raises:
            ValueError: the file is not a FairMOT checkpoint (e.g. a YOLOX or Re-ID one).
        """
        from finetrack.utils.checkpoint import check_finite_state, load_checkpoint

        obj = load_checkpoint(path, map_location) if obj is None else obj
        args = obj.get("model_args") if isinstance(obj, dict) else None
        if not isinstance(args, dict) or obj.get("kind") != "fairmot":
            raise ValueError(f"{path}: not a FairMOT checkpoint (tools/train_fairmot.py best.pth)")
        check_finite_state(obj["model"], path)
        model = cls(**{**args, **overrides})
        model.load_state_dict(obj["model"])
        return model

    # ------------------------------------------------------------------ network
    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Raw head outputs.

        Args:
            images: (B, 3, H, W) letterboxed, normalised images.

        Returns:
            ``{"hm": (B, 1, h, w) logits, "wh": (B, 4, h, w), "reg": (B, 2, h, w),
            "id": (B, emb_dim, h, w) unnormalised}`` with ``h, w = H / 4, W / 4``.
        """
        x = self.backbone(images)
        return {"hm": self.hm(x), "wh": self.wh(x), "reg": self.reg(x), "id": self.id(x)}

    def preprocess(self, img_bgr: np.ndarray) -> Tuple[torch.Tensor, float]:
        """Letterbox one BGR image: ``(Tensor (3, H, W), ratio)`` (original -> input scale)."""
        chw, ratio = preprocess_image(img_bgr, self.input_size)
        return torch.from_numpy(chw), ratio

    @torch.no_grad()
    def detect_and_embed(
        self,
        images: torch.Tensor,
        ratios: Sequence[float],
        image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    ) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """One forward: per image ``(xyxy (N, 4) original pixels, scores (N,), emb (N, D))``."""
        out = self.forward(images)
        return decode(out, ratios, image_sizes, self.conf_thresh, self.max_objs)

    @torch.no_grad()
    def detect(self, images: torch.Tensor, ratios: Sequence[float],
               image_sizes: Optional[Sequence[Tuple[int, int]]] = None):
        """Boxes only, as :meth:`finetrack.models.detector.YOLOXDetector.detect` returns them
        (so :func:`finetrack.eval.coco_ap.evaluate_detector` scores this model)."""
        return [(b, s) for b, s, _ in self.detect_and_embed(images, ratios, image_sizes)]


def heatmap_nms(heat: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Keep only the local maxima of a (B, C, h, w) probability map (3x3 max-pool), zero else."""
    hmax = F.max_pool2d(heat, kernel, stride=1, padding=(kernel - 1) // 2)
    return heat * (hmax == heat).float()


def gather_feat(feat: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """Values of a (B, C, h, w) map at flat indices ``ind`` (B, K) (= y * w + x): (B, K, C)."""
    b, c = feat.shape[:2]
    flat = feat.view(b, c, -1).permute(0, 2, 1)  # (B, h*w, C)
    return flat.gather(1, ind.long().unsqueeze(2).expand(-1, -1, c))


def decode(
    out: Dict[str, torch.Tensor],
    ratios: Sequence[float],
    image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    conf_thresh: float = 0.4,
    max_objs: int = 500,
    heat_is_prob: bool = False,
) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """FairMOT's decoding: heatmap NMS, top-K centres above ``conf_thresh``, ltrb boxes.

    ``cx = x + dx``, ``cy = y + dy`` (stride-4 cells), box ``(cx - l, cy - t, cx + r, cy + b)``,
    times :data:`DOWN_RATIO` (input pixels), divided by the letterbox ``ratio`` (original pixels),
    clipped to the image when ``image_sizes`` is given. Embeddings are read at the centre cells
    and L2-normalised.

    Args:
        out: :meth:`FairMOT.forward` outputs (``hm`` logits unless ``heat_is_prob``).
        ratios: per image, original -> input scale of the letterbox.
        image_sizes: per image original ``(h, w)``; None = no clipping.
        heat_is_prob: ``hm`` already holds probabilities (rendered targets in tests).

    Returns:
        Per image ``(xyxy (N, 4) float32, scores (N,) float32, emb (N, D) float32)``, by score.
    """
    heat = out["hm"] if heat_is_prob else out["hm"].sigmoid()
    heat = heatmap_nms(heat)
    b, _, h, w = heat.shape
    k = min(int(max_objs), h * w)
    scores, inds = heat.view(b, -1).topk(k)
    ys = torch.div(inds, w, rounding_mode="floor").float()
    xs = (inds % w).float()
    reg = gather_feat(out["reg"], inds)
    ltrb = gather_feat(out["wh"], inds)
    cx, cy = xs + reg[..., 0], ys + reg[..., 1]
    boxes = torch.stack([cx - ltrb[..., 0], cy - ltrb[..., 1], cx + ltrb[..., 2],
                         cy + ltrb[..., 3]], dim=-1) * DOWN_RATIO
    emb = F.normalize(gather_feat(out["id"], inds), dim=-1) if "id" in out else None
    results = []
    for i in range(b):
        keep = scores[i] > conf_thresh
        bx = boxes[i][keep] / float(ratios[i])
        if image_sizes is not None:
            ih, iw = image_sizes[i]
            bx[:, 0::2] = bx[:, 0::2].clamp(0, float(iw))
            bx[:, 1::2] = bx[:, 1::2].clamp(0, float(ih))
        e = emb[i][keep] if emb is not None else torch.zeros(int(keep.sum()), 0)
        results.append((bx.cpu().numpy().astype(np.float32),
                        scores[i][keep].cpu().numpy().astype(np.float32),
                        e.cpu().numpy().astype(np.float32)))
    return results


def build_fairmot(**kwargs) -> FairMOT:
    """``FairMOT(**kwargs)`` (the one builder of this module)."""
    return FairMOT(**kwargs)


def num_parameters(model: nn.Module) -> float:
    """Millions of parameters."""
    return sum(p.numel() for p in model.parameters()) / 1e6


__all__ = ["FairMOT", "UpAggregation", "CSPDarknetUp", "decode", "heatmap_nms", "gather_feat",
           "build_fairmot", "BACKBONES", "DOWN_RATIO", "HM_BIAS_INIT"]
