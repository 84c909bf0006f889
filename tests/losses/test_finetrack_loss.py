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
