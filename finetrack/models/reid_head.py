"""FineTrack's Re-ID head (ROIAlign -> neck -> masks -> pooling -> FC -> BN-neck) and the model.

Output conventions of :meth:`ReIDHead.forward` (N = total boxes of the batch, K = parts):

=================  ===================  ======================================================
key                shape                meaning
=================  ===================  ======================================================
``f_global``       (N, global_dim)      global FC output, before the BN-neck (triplet loss)
``f_part``         (N, K, part_dim)     part FC outputs, before the BN-neck (triplet, div loss)
``emb_global``     (N, global_dim)      ``f_global`` after the BN-neck
``emb_part``       (N, K, part_dim)     ``f_part`` after the BN-neck
``logits_global``  (N, M)               only when ``num_classes = M > 0`` (ID loss)
``logits_part``    (N, K, M)            only when ``num_classes > 0``; one classifier per part
``part_masks``     (N, K, h, w)         MPMG part masks in (0, 1)
``global_mask``    (N, 1, h, w)         the weights that pooled F_global
``embedding``      (N, global_dim +     tracking feature: L2(concat(L2(emb_global),
                   K * part_dim)        L2(emb_part_1), ..., L2(emb_part_K)))
=================  ===================  ======================================================

With ``pooling="gap"`` or ``"center"`` the head has no parts: K = 0, so ``f_part``, ``emb_part``,
``logits_part`` and ``part_masks`` have a zero-sized K axis, ``embedding = L2(emb_global)``
(global_dim wide) and the losses skip every part term. ``global_mask`` is then all ones (GAP) or
one-hot at the centre cell (centre pooling), the masks that reproduce those poolings.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from finetrack.utils.checkpoint import write_checkpoint
from finetrack.models.detector import YOLOXDetector
from finetrack.models.fafpn import build_neck, fuse_conv_bn
from finetrack.models.mpmg import MPMG, BatchedMPMG, center_mask, center_pool, gap_pool, masked_pool
from finetrack.models.roi import MultiLevelRoIAlign

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: Pooling names of :class:`ReIDHead`.
POOLINGS: Tuple[str, ...] = ("mpmg", "gap", "center")
#: Epsilon of the L2 normalisations.
L2_EPS: float = 1e-12


def _unfuse_after_load(module: "ReIDHead", _incompatible_keys) -> None:
    """``load_state_dict`` post-hook: new weights make the fused inference copies stale."""
    module.unfuse()


def _bn_neck(dim: int) -> nn.BatchNorm1d:
    """BNNeck (Luo et al. 2019): BatchNorm1d whose shift is frozen at zero."""
    bn = nn.BatchNorm1d(dim)
    bn.bias.requires_grad_(False)
    return bn


class ReIDHead(nn.Module):
    """FineTrack's Re-ID head.

    Args:
        in_channels: channels of every backbone level, finest first (e.g. (64, 128, 256)).
        strides: stride of every level (e.g. (4, 8, 16)).
        roi_sizes: (H, W) ROIAlign output per level; default 32x16 @4, 16x8 @8, 8x4 @16.
        neck: ``fafpn`` (FAFPN), ``fafpn_nofam`` (RB + up-sample + sum) or ``fpn`` (plain FPN).
        pooling: ``mpmg`` (masks from MPMG, weighted pooling), ``gap`` or ``center``.
        channels: neck channels C.
        num_parts: K part masks (used only with ``pooling="mpmg"``).
        global_dim: width of f_global.
        part_dim: width of each f_part.
        num_classes: M training identities; 0 builds no classifiers (inference).
        per_part_fc: one FC per part instead of one FC shared by the parts.
        sampling_ratio: ROIAlign sampling ratio.
        aligned: ROIAlign half-pixel alignment.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        strides: Sequence[int],
        roi_sizes: Optional[Sequence[Tuple[int, int]]] = None,
        neck: str = "fafpn",
        pooling: str = "mpmg",
        channels: int = 128,
        num_parts: int = 6,
        global_dim: int = 256,
        part_dim: int = 128,
        num_classes: int = 0,
        per_part_fc: bool = False,
        sampling_ratio: int = 2,
        aligned: bool = True,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise KeyError(f"unknown pooling {pooling!r}; valid poolings: {list(POOLINGS)}")
        if len(in_channels) != len(strides):
            raise ValueError(f"{len(in_channels)} in_channels for {len(strides)} strides")
        self.pooling = pooling
        self.num_parts = int(num_parts) if pooling == "mpmg" else 0
        self.global_dim = int(global_dim)
        self.part_dim = int(part_dim)
        self.num_classes = int(num_classes)
        self.per_part_fc = bool(per_part_fc)

        self.roi = MultiLevelRoIAlign(strides, roi_sizes, sampling_ratio, aligned)
        self.neck = build_neck(neck, in_channels, channels, mask_head=self.num_parts > 0)
        self.mpmg = MPMG(channels, self.num_parts) if self.num_parts > 0 else None

        self.global_fc = nn.Linear(channels, self.global_dim)
        self.global_bn = _bn_neck(self.global_dim)
        self.part_fc: Optional[nn.Module] = None
        self.part_bn: Optional[nn.BatchNorm1d] = None
        if self.num_parts > 0:
            if self.per_part_fc:
                self.part_fc = nn.ModuleList(
                    nn.Linear(channels, self.part_dim) for _ in range(self.num_parts)
                )
            else:
                self.part_fc = nn.Linear(channels, self.part_dim)
            # One BN-neck over the K * part_dim concatenation = an independent BN per part.
            self.part_bn = _bn_neck(self.num_parts * self.part_dim)

        self.global_classifier: Optional[nn.Linear] = None
        self.part_classifiers: Optional[nn.ModuleList] = None
        if self.num_classes > 0:
            self.global_classifier = nn.Linear(self.global_dim, self.num_classes, bias=False)
            self.part_classifiers = nn.ModuleList(
                nn.Linear(self.part_dim, self.num_classes, bias=False)
                for _ in range(self.num_parts)
            )
        # inference form (fuse()): plain attributes, so never in state_dict() nor trained
        self.__dict__["_fused"] = None
        self.register_load_state_dict_post_hook(_unfuse_after_load)

    # ------------------------------------------------------------------ inference form
    def fuse(self, channels_last: bool = True) -> "ReIDHead":
        """Switch to the inference form (eval mode): same outputs, faster.

        The neck's BatchNorms are folded into their convolutions (:func:`fuse_conv_bn`), the K
        MPMG branches run as one batched attention (:class:`BatchedMPMG`), and with
        ``channels_last`` the crops are laid out NHWC, which CPU convolutions and the MPMG's
        per-pixel matrices prefer. The fused copies are built from the current weights on the
        current device: call it after ``.to(device)`` and after loading weights. ``train()`` and
        ``load_state_dict`` drop them (:meth:`unfuse`); the parameters are never changed.
        """
        self.eval()
        neck = fuse_conv_bn(self.neck)
        mpmg = BatchedMPMG.from_mpmg(self.mpmg) if self.mpmg is not None else None
        if channels_last:
            neck = neck.to(memory_format=torch.channels_last)
        self.__dict__["_fused"] = {"neck": neck, "mpmg": mpmg, "channels_last": channels_last}
        logger.info(
            "Re-ID head in inference form: BN folded into the neck's convs, %s, %s",
            f"{self.num_parts} MPMG branches in one attention call" if mpmg is not None
            else "no MPMG", "channels_last" if channels_last else "NCHW",
        )
        return self

    def unfuse(self) -> "ReIDHead":
        """Drop the inference form (the training form runs again)."""
        self.__dict__["_fused"] = None
        return self

    @property
    def fused(self) -> bool:
        """Whether :meth:`fuse` is in force."""
        return self.__dict__.get("_fused") is not None

    def train(self, mode: bool = True) -> "ReIDHead":
        """Set the mode; training drops the inference form (its weights would go stale)."""
        if mode:
            self.unfuse()
        return super().train(mode)

    @property
    def embedding_dim(self) -> int:
        """Width of the tracking ``embedding``: global_dim + K * part_dim."""
        return self.global_dim + self.num_parts * self.part_dim

    @property
    def mask_size(self) -> Tuple[int, int]:
        """(h, w) of F_reid and the masks: the finest ROI size."""
        return self.roi.output_sizes[0]

    def _part_features(self, pooled: torch.Tensor) -> torch.Tensor:
        """(N, K, C) pooled part vectors -> (N, K, part_dim)."""
        if self.per_part_fc:
            return torch.stack([fc(pooled[:, k]) for k, fc in enumerate(self.part_fc)], dim=1)
        return self.part_fc(pooled)

    def _empty(self, ref: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Outputs for a batch without boxes (zero rows, correct widths)."""
        h, w = self.mask_size
        k = self.num_parts
        new = ref.new_zeros
        out = {
            "f_global": new(0, self.global_dim),
            "f_part": new(0, k, self.part_dim),
            "emb_global": new(0, self.global_dim),
            "emb_part": new(0, k, self.part_dim),
            "part_masks": new(0, k, h, w),
            "global_mask": new(0, 1, h, w),
            "embedding": new(0, self.embedding_dim),
        }
        if self.num_classes > 0:
            out["logits_global"] = new(0, self.num_classes)
            out["logits_part"] = new(0, k, self.num_classes)
        return out

    def forward(
        self, feats: Sequence[torch.Tensor], boxes: Sequence[torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        """Embed every box.

        Args:
            feats: S backbone maps (B, C_s, H / s, W / s), finest first.
            boxes: B tensors (N_i, 4) xyxy in network-input pixels.

        Returns:
            The dict described in the module docstring; rows follow frame order then box order.
        """
        crops = self.roi(feats, boxes)
        n = crops[0].shape[0]
        if n == 0:
            return self._empty(feats[0])
        fused = self.__dict__.get("_fused") if not self.training else None
        neck, mpmg = (self.neck, self.mpmg) if fused is None else (fused["neck"], fused["mpmg"])
        if fused is not None and fused["channels_last"]:
            crops = [c.contiguous(memory_format=torch.channels_last) for c in crops]
        f_mask, f_reid = neck(crops)
        h, w = f_reid.shape[-2:]
        k = self.num_parts
        if self.pooling == "mpmg":
            part_masks, global_mask = mpmg(f_mask)
            pooled = masked_pool(f_reid, torch.cat([global_mask, part_masks], dim=1))
            g, p = pooled[:, 0], pooled[:, 1:]
        else:
            part_masks = f_reid.new_zeros(n, 0, h, w)
            if self.pooling == "gap":
                global_mask = f_reid.new_ones(n, 1, h, w)
                g = gap_pool(f_reid)
            else:
                global_mask = center_mask(n, h, w, device=f_reid.device, dtype=f_reid.dtype)
                g = center_pool(f_reid)
            p = None

        f_global = self.global_fc(g)
        emb_global = self.global_bn(f_global)
        if k > 0:
            f_part = self._part_features(p)
            emb_part = self.part_bn(f_part.reshape(n, k * self.part_dim)).reshape(
                n, k, self.part_dim
            )
        else:
            f_part = f_global.new_zeros(n, 0, self.part_dim)
            emb_part = f_global.new_zeros(n, 0, self.part_dim)
        embedding = F.normalize(
            torch.cat(
                [
                    F.normalize(emb_global, dim=1, eps=L2_EPS),
                    F.normalize(emb_part, dim=2, eps=L2_EPS).reshape(n, k * self.part_dim),
                ],
                dim=1,
            ),
            dim=1,
            eps=L2_EPS,
        )
        out = {
            "f_global": f_global,
            "f_part": f_part,
            "emb_global": emb_global,
            "emb_part": emb_part,
            "part_masks": part_masks,
            "global_mask": global_mask,
            "embedding": embedding,
        }
        if self.num_classes > 0:
            out["logits_global"] = self.global_classifier(emb_global)
            if k > 0:
                out["logits_part"] = torch.stack(
                    [clf(emb_part[:, i]) for i, clf in enumerate(self.part_classifiers)], dim=1
                )
            else:
                out["logits_part"] = emb_global.new_zeros(n, 0, self.num_classes)
        return out


def embed_mask(scores: np.ndarray, min_score: Optional[float]) -> np.ndarray:
    """(N,) bool: the boxes to embed, those scoring above ``min_score`` (all when None)."""
    scores = np.asarray(scores).reshape(-1)
    if min_score is None:
        return np.ones(len(scores), dtype=bool)
    return scores > float(min_score)


def scatter_rows(emb: np.ndarray, keep: np.ndarray, dim: int) -> np.ndarray:
    """(N, dim) float32: ``emb``'s rows at ``keep``, zeros elsewhere (``emb`` itself when all kept)."""
    if keep.all():
        return np.asarray(emb, dtype=np.float32).reshape(len(keep), dim)
    out = np.zeros((len(keep), dim), dtype=np.float32)
    out[keep] = emb
    return out


def _as_box_tensors(boxes: Sequence[Any], device: torch.device) -> List[torch.Tensor]:
    """Sequence of (N_i, 4) arrays/tensors -> float32 tensors on ``device`` (copies)."""
    return [
        torch.as_tensor(np.asarray(b, dtype=np.float32) if not torch.is_tensor(b) else b)
        .to(device=device, dtype=torch.float32)
        .reshape(-1, 4)
        for b in boxes
    ]


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """The block runs with ``module`` in eval mode, and its mode is restored after.

    The switch happens only when ``module`` or one of its children is training (the modes
    ``train()`` / ``eval()`` set; a YOLOX head left training on its own is refused by
    :meth:`YOLOXDetector.forward`). ``Module.train`` walks every submodule (474 in the
    YOLOX-tiny + FineTrack head of configs/pets09_frozen_det.yaml), so calling ``eval()`` and ``train(False)`` around every
    tracked frame cost milliseconds per frame (``scripts/bench_stages.py``'s torch ``detector``
    row of finetrack against byte's); even checking every submodule's flag is a walk.
    """
    was_training = module.training
    if not (was_training or any(m.training for m in module.children())):
        yield
        return
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class FineTrackModel(nn.Module):
    """YOLOX detector + FineTrack Re-ID head.

    Args:
        detector: the :class:`YOLOXDetector` whose backbone maps feed the head, or a backbone
            without detection head with the same ``features`` / ``preprocess`` interface
            (:class:`finetrack.models.imagenet_backbone.ImageNetBackbone`; its
            :meth:`detect_and_embed` refuses).
        head: the :class:`ReIDHead`.
        freeze_detector: keep the detector in eval mode without gradients (SPEC default).
        model_args: kwargs of :func:`finetrack.models.build.build_model` that rebuild this model;
            stored in checkpoints by :meth:`checkpoint_state` (set by ``build_model``).
    """

    def __init__(
        self,
        detector: YOLOXDetector,
        head: ReIDHead,
        freeze_detector: bool = True,
        model_args: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__()
        self.detector = detector
        self.head = head
        self.freeze_detector = bool(freeze_detector)
        self.model_args = model_args
        if self.freeze_detector:
            for p in self.detector.parameters():
                p.requires_grad_(False)
            self.detector.eval()

    def train(self, mode: bool = True) -> "FineTrackModel":
        """Set the mode; a frozen detector always stays in eval mode."""
        super().train(mode)
        if self.freeze_detector:
            self.detector.eval()
        return self

    def backbone_features(self, images: torch.Tensor) -> List[torch.Tensor]:
        """Backbone maps (B, C_s, H / s, W / s), without gradients when the detector is frozen."""
        if self.freeze_detector:
            with torch.no_grad():
                return self.detector.features(images)
        return self.detector.features(images)

    def forward(
        self, images: torch.Tensor, boxes_input_px: Sequence[torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        """Head outputs for given boxes (training: ground-truth boxes).

        Args:
            images: (B, 3, H, W) preprocessed images.
            boxes_input_px: B tensors (N_i, 4) xyxy in network-input pixels (original * ratio).

        Returns:
            :meth:`ReIDHead.forward`'s dict.
        """
        return self.head(self.backbone_features(images), boxes_input_px)

    @torch.no_grad()
    def extract(self, images: torch.Tensor, boxes_input_px: Sequence[Any]) -> np.ndarray:
        """Tracking embeddings for given boxes, in eval mode (the mode is restored after).

        Args:
            images: (B, 3, H, W) preprocessed images.
            boxes_input_px: B arrays/tensors (N_i, 4) xyxy in network-input pixels.

        Returns:
            (sum N_i, embedding_dim) float32, L2-normalised rows.
        """
        with eval_mode(self):
            out = self(images, _as_box_tensors(boxes_input_px, images.device))
        return out["embedding"].float().cpu().numpy()

    @torch.inference_mode()
    def detect_and_embed(
        self,
        images: torch.Tensor,
        ratios: Sequence[float],
        image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
        timings: Optional[Dict[str, float]] = None,
        min_score: Optional[float] = None,
    ) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Detections and their embeddings from ONE backbone pass (inference).

        Args:
            images: (B, 3, H, W) preprocessed images.
            ratios: B letterbox ratios.
            image_sizes: B original (h, w) for clipping (recommended).
            timings: when given, receives the seconds of ``detector`` (backbone, YOLOX head,
                NMS) and ``reid`` (ROIAlign + Re-ID head) of this call.
            min_score: when given, only boxes scoring above it go through the Re-ID head; the
                others keep their box and score and get a zero embedding row (a tracker that
                never reads them: :attr:`finetrack.tracker.Tracker.embedding_floor`).

        Returns:
            B tuples ``(boxes_xyxy (N, 4) float32 original pixels, scores (N,) float32,
            embeddings (N, embedding_dim) float32)``; the embeddings are computed on the returned
            (clipped) boxes.
        """
        with eval_mode(self):
            t0 = time.perf_counter()
            raw, feats = self.detector(images)
            dets = self.detector.postprocess(raw, ratios, image_sizes)
            t1 = time.perf_counter()
            keep = [embed_mask(scores, min_score) for _, scores in dets]
            boxes = [
                torch.from_numpy(xyxy[k] * np.float32(r)).to(images.device)
                for (xyxy, _), k, r in zip(dets, keep, ratios)
            ]
            emb = self.head(feats, boxes)["embedding"].float().cpu().numpy()
            if timings is not None:
                timings["detector"] = t1 - t0
                timings["reid"] = time.perf_counter() - t1
        results = []
        start = 0
        dim = self.head.embedding_dim
        for (xyxy, scores), k in zip(dets, keep):
            n = int(k.sum())
            results.append((xyxy, scores, scatter_rows(emb[start : start + n], k, dim)))
            start += n
        return results

    def checkpoint_state(self) -> Dict[str, Any]:
        """``{"model": state_dict, "model_args": ...}``; trainers may add their own keys."""
        if self.model_args is None:
            raise ValueError("model_args unknown: build the model with build_model()")
        return {
            "model": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "model_args": self.model_args,
        }

    def save(self, path: PathLike) -> None:
        """Write :meth:`checkpoint_state` atomically."""
        write_checkpoint(path, self.checkpoint_state())
