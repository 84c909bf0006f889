"""FairMOT losses against hand-computed values."""
import math

import pytest
import torch

from finetrack.fairmot.loss import (S_DET_INIT, S_ID_INIT, FairMOTLoss, embeddings_at_centres,
                                      focal_loss, reg_l1_loss)


def test_focal_loss_on_a_3x3_example():
    pred = torch.tensor([[0.1, 0.2, 0.1], [0.2, 0.8, 0.2], [0.1, 0.2, 0.1]])
    gt = torch.tensor([[0.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 0.0]])
    # one positive (centre): (1 - 0.8)^2 log 0.8; corners: (1 - 0)^4 0.1^2 log 0.9;
    # edges: (1 - 0.5)^4 0.2^2 log 0.8; divided by the 1 positive
    expected = -(0.2 ** 2 * math.log(0.8) + 4 * 0.1 ** 2 * math.log(0.9)
                 + 4 * 0.5 ** 4 * 0.2 ** 2 * math.log(0.8))
    assert expected == pytest.approx(0.0153716, abs=1e-6)
    assert float(focal_loss(pred, gt)) == pytest.approx(expected, rel=1e-5)
    # no positive: the negative sum, not divided
    p0 = torch.full((3, 3), 0.1)
    assert float(focal_loss(p0, torch.zeros(3, 3))) == pytest.approx(
        -9 * 0.1 ** 2 * math.log(0.9), rel=1e-5)


def test_reg_l1_reads_the_centre_cells():
    out = torch.zeros(1, 2, 3, 4)
    out[0, :, 1, 2] = torch.tensor([1.0, 2.0])  # flat index 1 * 4 + 2 = 6
    ind = torch.tensor([[6, 0]])
    mask = torch.tensor([[1.0, 0.0]])
    target = torch.tensor([[[1.5, 1.0], [9.0, 9.0]]])
    # |1 - 1.5| + |2 - 1| = 1.5 over 2 masked entries (+1e-4); the padded row is ignored
    assert float(reg_l1_loss(out, mask, ind, target)) == pytest.approx(1.5 / (2 + 1e-4), rel=1e-6)


def test_identity_loss_reads_embeddings_at_the_gt_centres():
    torch.manual_seed(0)
    id_map = torch.randn(2, 3, 4, 5)
    id_map[0, :, 2, 3] = torch.tensor([2.0, 0.0, 0.0])  # image 0, cell (x 3, y 2): index 13
    id_map[1, :, 0, 1] = torch.tensor([0.0, 0.0, 5.0])  # image 1, cell (x 1, y 0): index 1
    ind = torch.tensor([[13, 0], [1, 0]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    ids = torch.tensor([[0, -1], [2, -1]])
    emb = embeddings_at_centres(id_map, ind, mask)
    torch.testing.assert_close(emb, torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0]]))
    loss = FairMOTLoss(num_ids=3, emb_dim=3)
    with torch.no_grad():
        loss.classifier.weight.copy_(torch.eye(3))
        loss.classifier.bias.zero_()
    s = math.sqrt(2) * math.log(3 - 1)  # FairMOT's emb_scale
    assert loss.emb_scale == pytest.approx(s)
    # both rows: logits (s, 0, 0) / (0, 0, s) with the right class -> -log(e^s / (e^s + 2))
    expected = -math.log(math.exp(s) / (math.exp(s) + 2))
    assert float(loss.id_loss(id_map, ind, mask, ids).detach()) == pytest.approx(expected, rel=1e-5)
    wrong = loss.id_loss(id_map, torch.tensor([[12, 0], [2, 0]]), mask, ids)
    assert float(wrong.detach()) != pytest.approx(expected, rel=1e-3)


def test_uncertainty_weighting_total():
    loss = FairMOTLoss(num_ids=4, emb_dim=8)
    assert float(loss.s_det.detach()) == pytest.approx(S_DET_INIT)
    assert float(loss.s_id.detach()) == pytest.approx(S_ID_INIT)
    out = {"hm": torch.zeros(1, 1, 4, 4), "wh": torch.zeros(1, 4, 4, 4),
           "reg": torch.zeros(1, 2, 4, 4), "id": torch.randn(1, 8, 4, 4)}
    hm = torch.zeros(1, 1, 4, 4)
    hm[0, 0, 1, 1] = 1.0
    batch = {"hm": hm, "wh": torch.ones(1, 2, 4), "reg": torch.zeros(1, 2, 2),
             "ind": torch.tensor([[5, 0]]), "mask": torch.tensor([[1.0, 0.0]]),
             "ids": torch.tensor([[1, -1]])}
    d = loss(out, batch)
    det = d["hm"] + 0.1 * d["wh"] + d["off"]
    det = det.detach()
    assert float(d["det"].detach()) == pytest.approx(float(det), rel=1e-6)
    assert float(d["wh"]) == pytest.approx(4 / (4 + 1e-4), rel=1e-6)
    expected = 0.5 * (math.exp(1.85) * float(det) + math.exp(1.05) * float(d["id"].detach())
                      - 1.85 - 1.05)
    assert float(d["total"].detach()) == pytest.approx(expected, rel=1e-5)
    d["total"].backward()
    assert loss.s_det.grad is not None and loss.s_id.grad is not None
