"""ID losses and the combined FineTrack loss with hand-derived values."""
import math

import pytest
import torch
import torch.nn.functional as F

from finetrack.losses import FineTrackLoss, global_id_loss, part_id_loss


def test_part_id_loss_averages_over_parts_and_targets():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 5)
    labels = torch.tensor([0, 4, 2, 2])
    per_part = [F.cross_entropy(logits[:, k], labels) for k in range(3)]
    assert torch.allclose(part_id_loss(logits, labels), torch.stack(per_part).mean())
    assert abs(global_id_loss(torch.zeros(4, 5), labels).item() - math.log(5)) < 1e-6


def test_combined_weights():
    n, k, m = 3, 6, 5
    f_global = torch.tensor([[2.0, 0.0], [0.6, 0.8], [0.0, 3.0]])
    labels = torch.tensor([0, 0, 1])
    tri = 0.5 * (
        math.log1p(math.exp(math.sqrt(0.8) - math.sqrt(2.0)))
        + math.log1p(math.exp(math.sqrt(0.8) - math.sqrt(0.4)))
    )
    outputs = {
        "f_global": f_global,
        "f_part": f_global[:, None, :].expand(n, k, 2),  # identical parts: div = 1, tri_p = tri
        "logits_global": torch.zeros(n, m),
        "logits_part": torch.zeros(n, k, m),
    }
    terms = FineTrackLoss(alpha=3.0, beta=0.3, gamma=2.0)(outputs, labels)
    assert abs(terms["cls_p"].item() - math.log(m)) < 1e-5
    assert abs(terms["cls_g"].item() - math.log(m)) < 1e-5
    assert abs(terms["tri_p"].item() - tri) < 1e-5 and abs(terms["tri_g"].item() - tri) < 1e-5
    assert abs(terms["div"].item() - 1.0) < 1e-5
    expected = 3.0 * (math.log(m) + tri) + 0.3 * (math.log(m) + tri) + 2.0 * 1.0
    assert abs(terms["total"].item() - expected) < 1e-4


def test_missing_logits_is_an_error():
    with pytest.raises(KeyError, match="num_classes"):
        FineTrackLoss()({"f_global": torch.zeros(2, 4), "f_part": torch.zeros(2, 0, 4)},
                        torch.tensor([0, 1]))


def test_mask_terms_are_off_by_default_and_add_with_their_weights():
    n, k, m = 2, 3, 4
    torch.manual_seed(0)
    outputs = {
        "f_global": torch.randn(n, 8), "f_part": torch.randn(n, k, 8),
        "logits_global": torch.randn(n, m), "logits_part": torch.randn(n, k, m),
        "part_masks": torch.ones(n, k, 2, 2),                   # copies, all 1: div 1, overlap 2
    }
    labels = torch.tensor([0, 1])
    paper = FineTrackLoss()(outputs, labels)
    assert "mask_div" not in paper and "mask_overlap" not in paper
    both = FineTrackLoss(mask_div=0.5, mask_overlap=0.25)(outputs, labels)
    assert abs(both["mask_div"].item() - 1.0) < 1e-6
    assert abs(both["mask_overlap"].item() - (k - 1)) < 1e-6
    assert abs(both["total"].item() - (paper["total"].item() + 0.5 * 1.0 + 0.25 * 2.0)) < 1e-5
    del outputs["part_masks"]
    with pytest.raises(KeyError, match="part_masks"):
        FineTrackLoss(mask_div=1.0)(outputs, labels)


def test_mask_weights_come_from_the_config_and_are_range_checked():
    from finetrack.config import Config
    from finetrack.configlib import ConfigError, load_config

    cfg = load_config(Config, overrides=["loss.mask_div=2", "loss.mask_overlap=0.5"])
    assert (cfg.loss.mask_div, cfg.loss.mask_overlap) == (2.0, 0.5)
    with pytest.raises(ConfigError, match="mask_overlap"):
        load_config(Config, overrides=["loss.mask_overlap=-1"])
