"""FairMOT's losses: heatmap focal loss, L1 on size and offset, identity cross-entropy, and the
uncertainty weighting of detection vs identity (Kendall et al.) with learned ``s_det``, ``s_id``.

With ``hm``, ``wh``, ``reg``, ``id`` the head outputs (:class:`finetrack.fairmot.model.FairMOT`)
and the targets of :func:`finetrack.fairmot.targets.build_targets` batched (B, ...):

* ``L_hm``: CenterNet's pixel-wise focal loss (alpha 2, beta 4) on ``clamp(sigmoid(hm), 1e-4,
  1 - 1e-4)``, normalised by the number of centres (:func:`focal_loss`);
* ``L_wh``, ``L_off``: L1 at the centre cells, summed over rows and channels and divided by the
  number of (row, channel) entries (:func:`reg_l1_loss`);
* ``L_id``: the embedding at every GT centre, L2-normalised and scaled by
  ``emb_scale = sqrt(2) * log(M - 1)``, through a linear classifier over all M training identities,
  cross-entropy (rows with id -1 ignored) (:class:`FairMOTLoss`);
* ``L_det = w_hm L_hm + w_wh L_wh + w_off L_off`` (FairMOT: 1, 0.1, 1) and
  ``L = 0.5 * (exp(-s_det) L_det + exp(-s_id) L_id + s_det + s_id)``, s_det/s_id learned
  (initialised -1.85 / -1.05 as in FairMOT's code).

No config inside: plain keyword arguments.
"""
from __future__ import annotations

import math
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from finetrack.fairmot.model import gather_feat

#: FairMOT's initial uncertainty parameters (``MotLoss``: s_det -1.85, s_id -1.05).
S_DET_INIT = -1.85
S_ID_INIT = -1.05


def clamped_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``clamp(sigmoid(x), 1e-4, 1 - 1e-4)`` (CenterNet's ``_sigmoid``)."""
    return torch.clamp(x.sigmoid(), min=1e-4, max=1 - 1e-4)


def focal_loss(pred: torch.Tensor, gt: torch.Tensor, alpha: float = 2.0,
               beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel-wise focal loss.

    ``-1/N sum_{gt=1} (1-p)^alpha log p  -1/N sum_{gt<1} (1-gt)^beta p^alpha log(1-p)``, N = number
    of pixels with gt == 1 (no division when N = 0).

    Args:
        pred: probabilities in (0, 1), any shape.
        gt: targets of the same shape (Gaussian heatmaps, exactly 1 at centres).
    """
    pos = gt.eq(1).float()
    neg = gt.lt(1).float()
    neg_weights = torch.pow(1 - gt, beta)
    pos_loss = (torch.log(pred) * torch.pow(1 - pred, alpha) * pos).sum()
    neg_loss = (torch.log(1 - pred) * torch.pow(pred, alpha) * neg_weights * neg).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def reg_l1_loss(output: torch.Tensor, mask: torch.Tensor, ind: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
    """L1 between ``output`` (B, C, h, w) read at ``ind`` (B, K) and ``target`` (B, K, C), over the
    rows with ``mask`` (B, K) = 1; divided by (number of masked entries + 1e-4) (FairMOT)."""
    pred = gather_feat(output, ind)
    m = mask.unsqueeze(2).expand_as(pred).float()
    loss = F.l1_loss(pred * m, target * m, reduction="sum")
    return loss / (m.sum() + 1e-4)


def embeddings_at_centres(id_map: torch.Tensor, ind: torch.Tensor,
                          mask: torch.Tensor) -> torch.Tensor:
    """(R, D) embeddings of ``id_map`` (B, D, h, w) at the masked centre cells, row-major over
    (image, object)."""
    feats = gather_feat(id_map, ind)  # (B, K, D)
    return feats[mask > 0]


class FairMOTLoss(nn.Module):
    """The full FairMOT objective; holds the identity classifier and ``s_det``/``s_id``.

    Args:
        num_ids: M, identities of the training split (classifier width). 0 disables L_id.
        emb_dim: embedding size.
        hm_weight, wh_weight, off_weight: detection-loss weights (FairMOT: 1, 0.1, 1).
        id_weight: weight of L_id inside the uncertainty weighting (FairMOT: 1).
        uncertainty: learned s_det/s_id weighting; False = ``L_det + id_weight * L_id``.
    """

    def __init__(self, num_ids: int, emb_dim: int = 128, hm_weight: float = 1.0,
                 wh_weight: float = 0.1, off_weight: float = 1.0, id_weight: float = 1.0,
                 uncertainty: bool = True) -> None:
        super().__init__()
        self.num_ids = int(num_ids)
        self.emb_dim = int(emb_dim)
        self.hm_weight, self.wh_weight, self.off_weight = hm_weight, wh_weight, off_weight
        self.id_weight = id_weight
        self.uncertainty = bool(uncertainty)
        self.classifier = nn.Linear(emb_dim, max(self.num_ids, 1))
        self.emb_scale = math.sqrt(2) * math.log(self.num_ids - 1) if self.num_ids > 2 else 1.0
        self.s_det = nn.Parameter(torch.tensor([S_DET_INIT]))
        self.s_id = nn.Parameter(torch.tensor([S_ID_INIT]))

    def id_loss(self, id_map: torch.Tensor, ind: torch.Tensor, mask: torch.Tensor,
                ids: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the classifier on ``emb_scale * L2(embedding at each GT centre)``."""
        emb = embeddings_at_centres(id_map, ind, mask)
        target = ids[mask > 0]
        if emb.numel() == 0 or self.num_ids == 0 or not bool((target >= 0).any()):
            return id_map.sum() * 0.0
        logits = self.classifier(self.emb_scale * F.normalize(emb, dim=1))
        return F.cross_entropy(logits, target, ignore_index=-1)

    def forward(self, out: Dict[str, torch.Tensor],
                batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Loss terms; ``total`` is what is minimised.

        Args:
            out: head outputs (``hm`` logits (B, 1, h, w), ``wh``, ``reg``, ``id``).
            batch: ``hm`` (B, 1, h, w), ``wh`` (B, K, 4), ``reg`` (B, K, 2), ``ind`` (B, K),
                ``mask`` (B, K), ``ids`` (B, K).

        Returns:
            ``{"total", "det", "hm", "wh", "off", "id", "s_det", "s_id"}`` (0-d tensors).
        """
        hm = focal_loss(clamped_sigmoid(out["hm"]), batch["hm"])
        wh = reg_l1_loss(out["wh"], batch["mask"], batch["ind"], batch["wh"])
        off = reg_l1_loss(out["reg"], batch["mask"], batch["ind"], batch["reg"])
        det = self.hm_weight * hm + self.wh_weight * wh + self.off_weight * off
        idl = self.id_loss(out["id"], batch["ind"], batch["mask"], batch["ids"])
        if self.uncertainty:
            total = 0.5 * (torch.exp(-self.s_det) * det + torch.exp(-self.s_id) * self.id_weight
                           * idl + self.s_det + self.s_id).squeeze()
        else:
            total = det + self.id_weight * idl
        return {"total": total, "det": det, "hm": hm, "wh": wh, "off": off, "id": idl,
                "s_det": self.s_det.detach().squeeze(), "s_id": self.s_id.detach().squeeze()}
