"""Re-ID frame dataset: SPEC section 3 filters, labels, boxes in network-input pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finetrack.data.identities import GTFilter, IdentityTable
from finetrack.data.mot import read_gt
from finetrack.data.reid_dataset import ReIDFrameDataset, collate_frames


def test_pets09_train_half_labels_and_scaled_boxes(pets09_dir):
    ds = ReIDFrameDataset([pets09_dir], half="train", input_size=(192, 256))
    gt = read_gt(pets09_dir / "gt" / "gt.txt")
    keep = (gt.frames <= 795 // 2) & (gt.flags != 0)
    assert ds.num_boxes == int(keep.sum())
    assert ds.num_identities == len(np.unique(gt.ids[keep]))
    assert sum(ds.seq_lengths) == len(ds) and ds.first_frames == {0: 1}
    item = ds[0]
    seq, frame = ds.frame_ref(0)
    assert item["frame"] == frame and item["image"].shape == (3, 192, 256)
    ratio = min(192 / 576, 256 / 768)
    assert item["ratio"] == pytest.approx(ratio)
    rows = keep & (gt.frames == frame)
    want = gt.xyxy()[rows] * ratio
    order = np.argsort(gt.ids[rows])
    got_order = np.argsort(item["track_ids"].numpy())
    assert np.allclose(item["boxes"].numpy()[got_order], want[order], atol=1e-3)
    labels = item["labels"].numpy()
    assert labels.min() >= 0 and labels.max() < ds.num_identities
    assert len(set(labels.tolist())) == len(labels)  # one box per identity in a frame


def test_val_half_uses_the_train_table(pets09_dir):
    train = ReIDFrameDataset([pets09_dir], half="train", input_size=(96, 128))
    val = ReIDFrameDataset(
        [pets09_dir], half="val", identities=train.identities, input_size=(96, 128), max_frames=20
    )
    assert val.first_frames == {0: 795 // 2 + 1}
    assert len(val) == 20
    t = val.targets(0)
    known = [train.identities.labels("PETS09-S2L1", [i])[0] for i in t["track_ids"]]
    assert t["labels"].tolist() == known


def test_mot17_filters_classes_visibility_and_flags(mot17_mini_dir):
    seq_dir = mot17_mini_dir / "MOT17-02-FRCNN"
    f = GTFilter(classes=(1,), min_visibility=0.1, drop_zero_flag=True)
    ds = ReIDFrameDataset([seq_dir], half="all", gt_filter=f, input_size=(96, 160))
    gt = read_gt(seq_dir / "gt" / "gt.txt")
    frames = set(range(1, ds.sequences[0].info.seq_length + 1))
    m = (gt.classes == 1) & (gt.visibility >= 0.1) & (gt.flags != 0)
    m &= np.isin(gt.frames, list(frames))
    assert 0 < ds.num_boxes == int(m.sum()) < len(gt)
    batch = collate_frames([ds[0], ds[1]])
    n0, n1 = len(batch["boxes"][0]), len(batch["boxes"][1])
    assert batch["images"].shape[0] == 2 and batch["labels"].shape == (n0 + n1,)
    assert batch["frame"].tolist() == [ds.frame_ref(0)[1]] * n0 + [ds.frame_ref(1)[1]] * n1
    assert torch.all(batch["seq_index"] == 0)


def test_unknown_identity_gets_minus_one(pets09_dir):
    ds = ReIDFrameDataset(
        [pets09_dir],
        half="train",
        identities=IdentityTable([("X", 1)]),
        input_size=(96, 128),
        max_frames=2,
    )
    assert (ds.targets(0)["labels"] == -1).all()


def test_tail_split_frames_by_hand():
    from finetrack.data.mot import tail_split_frames

    # PETS09 train half 1..397: a 10% tail is ceil(39.7) = 40 frames, 358..397
    assert tail_split_frames(1, 397, 0.1, "tail") == (358, 397)
    assert tail_split_frames(1, 397, 0.1, "head") == (1, 357)
    assert tail_split_frames(1, 397, 0.1, "whole") == (1, 397)
    assert tail_split_frames(1, 8, 0.5, "tail") == (5, 8)
    assert tail_split_frames(1, 10, 0.1, "tail") == (10, 10)  # exactly 1.0 frame, not 2
    assert tail_split_frames(1, 8, 0.0, "head") == (1, 8)
    with pytest.raises(ValueError, match="leaves no head"):
        tail_split_frames(1, 1, 0.5, "head")
    with pytest.raises(ValueError, match="portion"):
        tail_split_frames(1, 8, 0.5, "middle")


def test_head_and_tail_are_disjoint_and_hold_out_the_same_identities(pets09_dir):
    kw = dict(half="train", input_size=(96, 128), tail_frac=0.1, holdout_frac=0.25)
    head = ReIDFrameDataset([pets09_dir], portion="head", **kw)
    tail = ReIDFrameDataset([pets09_dir], portion="tail", identities=IdentityTable([]), **kw)
    head_frames = {head.frame_ref(i)[1] for i in range(len(head))}
    tail_frames = {tail.frame_ref(i)[1] for i in range(len(tail))}
    assert max(head_frames) <= 357 and min(tail_frames) >= 358 and max(tail_frames) <= 397
    assert tail.first_frames == {0: 358} and tail.frame_ranges == {0: (358, 397)}
    assert head.heldout_identities == tail.heldout_identities
    gt = read_gt(pets09_dir / "gt" / "gt.txt")
    ids = np.unique(gt.ids[(gt.frames <= 397) & (gt.flags != 0)])
    assert len(head.heldout_identities) == round(0.25 * len(ids)) > 0
    held = {t for _, t in head.heldout_identities}
    for ds in (head, tail):
        seen = set()
        for i in range(len(ds)):
            seen |= set(ds.targets(i)["track_ids"].tolist())
        assert not seen & held  # held-out boxes are gone from both parts
    assert {t for _, t in head.identities.keys}.isdisjoint(held)
    assert head.frame_rates == {0: 7.0}
