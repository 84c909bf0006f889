"""Re-ID head outputs, gradients into every PMG branch and both flows, model build/checkpoint."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from finetrack.losses import FineTrackLoss
from finetrack.models.build import build_model, build_reid_head, model_from_checkpoint
from finetrack.models.fafpn import neck_flow_convs
from finetrack.models.reid_head import FineTrackModel, ReIDHead


IN_CH, STRIDES, IMG = (8, 16, 32), (4, 8, 16), (64, 96)


def _feats(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, c, IMG[0] // s, IMG[1] // s, generator=g) for c, s in zip(IN_CH, STRIDES)
    ]


BOXES = [
    torch.tensor([[4.0, 4.0, 30.0, 60.0], [40.0, 2.0, 70.0, 62.0], [60.0, 10.0, 90.0, 50.0]]),
    torch.tensor([[5.0, 6.0, 33.0, 58.0], [42.0, 4.0, 71.0, 60.0], [10.0, 20.0, 20.0, 40.0]]),
]
LABELS = torch.tensor([0, 1, 2, 0, 1, 3])


def _head(**kw):
    torch.manual_seed(0)
    args = dict(in_channels=IN_CH, strides=STRIDES, channels=24, num_classes=4)
    args.update(kw)
    return ReIDHead(**args)


def test_outputs_and_tracking_embedding():
    head = _head().train()
    out = head(_feats(), BOXES)
    n, k = 6, 6
    shapes = {
        "f_global": (n, 256), "f_part": (n, k, 128), "emb_global": (n, 256),
        "emb_part": (n, k, 128), "logits_global": (n, 4), "logits_part": (n, k, 4),
        "part_masks": (n, k, 32, 16), "global_mask": (n, 1, 32, 16), "embedding": (n, 1024),
    }
    assert {key: tuple(v.shape) for key, v in out.items()} == shapes
    expected = F.normalize(
        torch.cat([F.normalize(out["emb_global"], dim=1),
                   F.normalize(out["emb_part"], dim=2).reshape(n, -1)], dim=1), dim=1)
    assert torch.allclose(out["embedding"], expected, atol=1e-6)
    assert torch.allclose(out["global_mask"], out["part_masks"].max(1, keepdim=True).values)
    assert head.embedding_dim == 1024


@pytest.mark.parametrize("pooling", ["gap", "center"])
def test_no_part_poolings(pooling):
    head = _head(pooling=pooling, neck="fpn").eval()
    out = head(_feats(), BOXES)
    assert out["f_part"].shape == (6, 0, 128) and out["part_masks"].shape == (6, 0, 32, 16)
    assert out["logits_part"].shape == (6, 0, 4) and head.embedding_dim == 256
    assert torch.allclose(out["embedding"], F.normalize(out["emb_global"], dim=1), atol=1e-6)
    assert head.neck.mask_head is None and head.mpmg is None
    if pooling == "gap":
        assert torch.equal(out["global_mask"], torch.ones(6, 1, 32, 16))
    else:
        assert out["global_mask"].sum() == 6 and out["global_mask"][:, 0, 16, 8].sum() == 6
    loss = FineTrackLoss()(out, LABELS)
    assert loss["cls_p"] == 0 and loss["tri_p"] == 0 and loss["div"] == 0


def test_empty_batch_and_per_part_fc():
    head = _head(per_part_fc=True).eval()
    out = head(_feats(), [torch.zeros(0, 4), torch.zeros(0, 4)])
    assert out["embedding"].shape == (0, 1024) and out["logits_part"].shape == (0, 6, 4)
    assert len(head.part_fc) == 6
    assert head(_feats(), BOXES)["f_part"].shape == (6, 6, 128)


def test_gradients_reach_every_pmg_branch_and_both_flows():
    head = _head().train()
    loss_fn = FineTrackLoss()
    opt = torch.optim.Adam([p for p in head.parameters() if p.requires_grad], lr=1e-3)
    flow_convs = neck_flow_convs(head.neck)
    assert len(flow_convs) == 2
    for step in range(2):  # at init (zero flow) and after one optimiser step
        opt.zero_grad()
        total = loss_fn(head(_feats(seed=step), BOXES), LABELS)["total"]
        assert torch.isfinite(total)
        total.backward()
        for branch in head.mpmg.branches:
            for conv in (branch.query, branch.key, branch.value, branch.out, branch.mask):
                assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
        for conv in flow_convs:
            grad = conv.weight.grad
            assert grad[:2].abs().sum() > 0, "flow_up gets no gradient"
            assert grad[2:].abs().sum() > 0, "flow_down gets no gradient"
        opt.step()
    assert all(conv.weight.abs().sum() > 0 for conv in flow_convs)  # flows moved off zero


def test_build_names_fail_listing_valid_ones():
    with pytest.raises(KeyError, match="fafpn_nofam"):
        build_reid_head(in_channels=IN_CH, strides=STRIDES, neck="nope")
    with pytest.raises(KeyError, match="center"):
        build_reid_head(in_channels=IN_CH, strides=STRIDES, pooling="nope")
    with pytest.raises(KeyError, match="nano"):
        build_model({"variant": "huge"})


def test_model_freeze_extract_and_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model(
        {"variant": "nano", "input_size": IMG}, {"channels": 16, "num_classes": 5}
    )
    assert isinstance(model, FineTrackModel)
    model.train()
    assert not model.detector.training and model.head.training
    assert all(not p.requires_grad for p in model.detector.parameters())
    images = torch.randn(2, 3, *IMG)
    out = model(images, BOXES)
    out["embedding"].sum().backward()
    assert all(p.grad is None for p in model.detector.parameters())
    emb = model.extract(images, [b.numpy() for b in BOXES])
    assert model.training  # mode restored
    assert emb.shape == (6, 1024) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    path = tmp_path / "finetrack.pth"
    model.save(path)
    rebuilt = model_from_checkpoint(path)
    assert rebuilt.model_args == model.model_args
    assert np.allclose(rebuilt.extract(images, BOXES), emb, atol=1e-6)
    # The detector alone loads from the full model checkpoint (prefix detector.model.).
    det = build_model({"variant": "nano", "input_size": IMG}).detector
    det.load_checkpoint(path)
    x = torch.randn(1, 3, *IMG)
    assert torch.equal(det(x)[0], model.detector(x)[0])


def test_detect_and_embed_runs_one_pass():
    torch.manual_seed(0)
    model = build_model(
        {"variant": "nano", "input_size": IMG, "conf_thresh": 0.0},
        {"channels": 12, "roi_sizes": ((8, 4), (4, 2), (2, 1))},
    )
    images = torch.randn(1, 3, *IMG)
    ((xyxy, scores, emb),) = model.detect_and_embed(images, [0.5], [(128, 192)])
    assert len(xyxy) == len(scores) == len(emb) > 0
    assert xyxy.max() <= 192 and emb.shape[1] == 1024
    assert xyxy.min() >= 0
    ratio_boxes = [torch.from_numpy(xyxy * 0.5)]
    assert np.allclose(model.extract(images, ratio_boxes), emb, atol=1e-5)


def test_inference_calls_walk_the_modules_only_when_something_is_training(monkeypatch):
    """detect_and_embed / extract on an eval model never call Module.train (a walk over ~800
    modules per frame); on a training model they run in eval mode and restore it."""
    from finetrack.models.reid_head import eval_mode

    torch.manual_seed(0)
    model = build_model(
        {"variant": "nano", "input_size": IMG, "conf_thresh": 0.0},
        {"channels": 12, "roi_sizes": ((8, 4), (4, 2), (2, 1))},
    )
    images = torch.randn(1, 3, *IMG)
    model.train()
    seen = []
    head_forward = model.head.forward

    def spy(feats, boxes):
        seen.append(model.head.training)
        return head_forward(feats, boxes)

    monkeypatch.setattr(model.head, "forward", spy)
    ((_, _, emb_train),) = model.detect_and_embed(images, [0.5], [(128, 192)])
    assert seen == [False] and model.training and model.head.training  # eval inside, restored
    model.eval()
    calls = []
    real_train = torch.nn.Module.train
    monkeypatch.setattr(torch.nn.Module, "train", lambda self, mode=True: calls.append(mode) or real_train(self, mode))
    ((_, _, emb_eval),) = model.detect_and_embed(images, [0.5], [(128, 192)])
    model.extract(images, [torch.zeros(1, 4) + torch.tensor([2.0, 2.0, 30.0, 60.0])])
    assert calls == []                                   # nothing switched
    assert np.allclose(emb_eval, emb_train, atol=1e-6)   # same eval-mode embeddings either way
    with eval_mode(model):
        pass
    assert calls == [] and not model.training
