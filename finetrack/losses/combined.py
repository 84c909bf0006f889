"""FineTrack's training loss: L = alpha (cls_p + tri_p) + beta (cls_g + tri_g) + gamma div.

Plus, when their weights are above 0 (not in the paper), ``mask_div * mask_div_term +
mask_overlap * mask_overlap_term`` on the MPMG part masks.
"""
from __future__ import annotations

import logging
from typing import Dict, Mapping

import torch
import torch.nn as nn

from finetrack.losses.diversity import diversity_loss, mask_diversity_loss, mask_overlap_loss
from finetrack.losses.id_loss import global_id_loss, part_id_loss
from finetrack.losses.triplet import batch_hard_triplet_loss, part_triplet_loss

logger = logging.getLogger(__name__)


class FineTrackLoss(nn.Module):
    """Combined loss over the outputs of :class:`finetrack.models.reid_head.ReIDHead`.

    Triplet and diversity terms use the features before the BN-neck (``f_global``, ``f_part``);
    the classification terms use the logits of the classifiers behind the BN-neck. Part terms are
    zero when the head has no parts (GAP / centre pooling).

    Args:
        alpha: weight of the part terms (SPEC: 3 = 0.5 K).
        beta: weight of the global terms (SPEC: 0.3).
        gamma: weight of the diversity term (SPEC: 2).
        normalize_triplet: Euclidean distance on L2-normalised features (SPEC).
        mask_div: weight of eq. (6) on the part masks (:func:`mask_diversity_loss`); 0 = the
            paper's loss.
        mask_overlap: weight of the mask-overlap penalty (:func:`mask_overlap_loss`); 0 = off.
    """

    def __init__(
        self,
        alpha: float = 3.0,
        beta: float = 0.3,
        gamma: float = 2.0,
        normalize_triplet: bool = True,
        mask_div: float = 0.0,
        mask_overlap: float = 0.0,
    ) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.normalize_triplet = bool(normalize_triplet)
        self.mask_div = float(mask_div)
        self.mask_overlap = float(mask_overlap)

    def forward(
        self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        """Compute every term.

        Args:
            outputs: head outputs with ``f_global`` (N, Dg), ``f_part`` (N, K, Dp),
                ``logits_global`` (N, M) and ``logits_part`` (N, K, M); ``part_masks``
                (N, K, h, w) when a mask weight is above 0.
            labels: (N,) int64 identities in [0, M).

        Returns:
            ``{"cls_p", "tri_p", "cls_g", "tri_g", "div", "total"}`` scalar tensors, plus
            ``"mask_div"`` / ``"mask_overlap"`` when their weight is above 0.

        Raises:
            KeyError: the head was built without classifiers (``num_classes=0``).
        """
        if "logits_global" not in outputs:
            raise KeyError(
                "outputs have no logits: build the Re-ID head with num_classes = number of "
                "training identities"
            )
        labels = labels.to(outputs["f_global"].device).long()
        terms = {
            "cls_p": part_id_loss(outputs["logits_part"], labels),
            "tri_p": part_triplet_loss(outputs["f_part"], labels, self.normalize_triplet),
            "cls_g": global_id_loss(outputs["logits_global"], labels),
            "tri_g": batch_hard_triplet_loss(
                outputs["f_global"], labels, self.normalize_triplet
            ),
            "div": diversity_loss(outputs["f_part"]),
        }
        terms["total"] = (
            self.alpha * (terms["cls_p"] + terms["tri_p"])
            + self.beta * (terms["cls_g"] + terms["tri_g"])
            + self.gamma * terms["div"]
        )
        for name, weight, fn in (("mask_div", self.mask_div, mask_diversity_loss),
                                 ("mask_overlap", self.mask_overlap, mask_overlap_loss)):
            if weight > 0:
                if "part_masks" not in outputs:
                    raise KeyError(f"loss.{name} > 0 needs the head's part_masks output")
                terms[name] = fn(outputs["part_masks"])
                terms["total"] = terms["total"] + weight * terms[name]
        return terms

    def extra_repr(self) -> str:
        extra = "".join(f", {n}={w}" for n, w in (("mask_div", self.mask_div),
                                                    ("mask_overlap", self.mask_overlap)) if w > 0)
        return f"alpha={self.alpha}, beta={self.beta}, gamma={self.gamma}{extra}"
