"""Rank-1 / mAP on hand-made embeddings (SPEC section 4)."""

from __future__ import annotations

import numpy as np
import pytest

from finetrack.eval.reid_metrics import evaluate_reid, query_mask, rank_and_ap


def test_known_ranking_ap_by_hand():
    # one query (id 1); gallery ranked by distance: [id1, id2, id1, id3, id1]
    dist = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])
    out = rank_and_ap(dist, np.array([1]), np.array([1, 2, 1, 3, 1]))
    # positives at ranks 1, 3, 5 -> AP = (1/1 + 2/3 + 3/5) / 3
    assert out["ap"][0] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert out["cmc"][0, 0] == 1.0
    # shuffled gallery order gives the same ranking through the distances
    out2 = rank_and_ap(
        np.array([[0.4, 0.3, 0.5, 0.1, 0.2]]), np.array([1]), np.array([3, 1, 1, 1, 2])
    )
    assert out2["ap"][0] == pytest.approx(out["ap"][0])


def test_rank1_miss_and_skipped_query_and_exclusion():
    dist = np.array([[0.1, 0.2, 0.9], [0.1, 0.2, 0.3]])
    q = np.array([5, 9])  # id 9 has no positive -> skipped
    g = np.array([7, 5, 5])
    out = rank_and_ap(dist, q, g, max_rank=3)
    assert out["scored"].tolist() == [True, False]
    assert out["cmc"].tolist() == [[0.0, 1.0, 1.0]]
    assert out["ap"][0] == pytest.approx((1 / 2 + 2 / 3) / 2)
    valid = np.array([[False, True, True], [True, True, True]])
    out = rank_and_ap(dist, q, g, valid)
    assert out["ap"][0] == pytest.approx(1.0) and out["cmc"][0, 0] == 1.0


def test_protocol_perfect_embeddings_and_counts():
    # two sequences, identities with one-hot embeddings -> perfect retrieval
    rows = []
    for s in (0, 1):
        for f in range(1, 22):  # frames 1..21 -> query frames 1, 11, 21
            for t in (1, 2, 3):
                rows.append((s, f, t))
    seq, frames, tids = (np.array(c) for c in zip(*rows))
    emb = np.eye(8)[tids + 4 * seq]
    res = evaluate_reid(emb, seq, frames, tids, query_every=10)
    assert res.rank1 == 1.0 and res.mAP == 1.0
    assert res.num_queries == 2 * 3 * 3
    assert res.num_gallery == 2 * 18 * 3
    assert res.as_percent()["rank1"] == 100.0
    # queries never match the other sequence even with identical embeddings
    res = evaluate_reid(np.eye(8)[tids], seq, frames, tids, query_every=10)
    assert res.mAP == 1.0


def test_protocol_known_map():
    # one sequence; query frame 1 has ids A=0, B=1; gallery frames 2, 3.
    frames = np.array([1, 1, 2, 2, 3, 3])
    tids = np.array([0, 1, 0, 1, 0, 1])
    # A's gallery order: B(f2) closest, then A(f2), then A(f3), B(f3) -> AP = (1/2 + 2/3)/2
    emb = np.array([[0, 0], [10, 10], [2, 0], [1, 0], [3, 0], [10, 11]], dtype=float)
    res = evaluate_reid(emb, np.zeros(6), frames, tids, first_frames={0: 1}, query_every=10)
    ap_a = (1 / 2 + 2 / 3) / 2
    # B=(10,10): B(f3)=(10,11) d2=1; A(f3)=(3,0) d2=149; A(f2)=(2,0) d2=164; B(f2)=(1,0) d2=181
    ap_b = (1 / 1 + 2 / 4) / 2
    assert res.rank1 == pytest.approx(0.5)
    assert res.mAP == pytest.approx((ap_a + ap_b) / 2)
    assert res.num_queries == 2 and res.num_gallery == 4


def test_query_mask():
    assert query_mask(np.array([5, 6, 15, 25, 26]), 5, 10).tolist() == [
        True,
        False,
        True,
        True,
        False,
    ]
    with pytest.raises(ValueError):
        query_mask(np.array([1]), 1, 0)


def _v1_v2_case():
    """One sequence, query frame 1 (ids A=0 at (0,0), B=1 at (2.1,0)); gallery frames 2 and 5.

    Frame 2 holds near-duplicates of the query frame: A at (0.1,0), B at (1,0); frame 5:
    A at (3,0), B at (2,0).
    """
    frames = np.array([1, 1, 2, 2, 5, 5])
    tids = np.array([0, 1, 0, 1, 0, 1])
    emb = np.array([[0, 0], [2.1, 0], [0.1, 0], [1, 0], [3, 0], [2, 0]], dtype=float)
    return emb, np.zeros(6, np.int64), frames, tids


def test_v1_and_v2_differ_by_hand():
    emb, seq, frames, tids = _v1_v2_case()
    # v1 (T=0): A ranks A(f2) .01, B(f2) 1, B(f5) 4, A(f5) 9 -> hit, AP (1/1 + 2/4)/2 = 0.75;
    # B ranks B(f5) .01, A(f5) .81, B(f2) 1.21, A(f2) 4 -> hit, AP (1/1 + 2/3)/2 = 5/6
    v1 = evaluate_reid(emb, seq, frames, tids, first_frames={0: 1}, query_every=10)
    assert v1.rank1 == pytest.approx(1.0)
    assert v1.mAP == pytest.approx((0.75 + 5 / 6) / 2)
    assert v1.gallery_per_query == pytest.approx(4.0)
    # v2 with T=2: frame 2 (|2-1| <= 2) leaves the gallery; A ranks B(f5) 4, A(f5) 9 -> miss,
    # AP 1/2; B ranks B(f5), A(f5) -> hit, AP 1
    v2 = evaluate_reid(
        emb, seq, frames, tids, first_frames={0: 1}, query_every=10, exclude_frames=2
    )
    assert v2.rank1 == pytest.approx(0.5)
    assert v2.mAP == pytest.approx(0.75)
    assert v2.num_queries == v1.num_queries == 2
    assert v2.num_gallery == v1.num_gallery == 4  # the gallery is the same; what a query sees is not
    assert v2.gallery_per_query == pytest.approx(2.0)
    # per-sequence windows: sequences missing from the dict use 0 (= v1)
    same = evaluate_reid(
        emb, seq, frames, tids, first_frames={0: 1}, query_every=10, exclude_frames={0: 3}
    )
    assert same.mAP == pytest.approx(0.75)
    as_v1 = evaluate_reid(
        emb, seq, frames, tids, first_frames={0: 1}, query_every=10, exclude_frames={7: 3}
    )
    assert as_v1.mAP == pytest.approx(v1.mAP)
    # T reaching frame 5 too: no query has a positive left
    empty = evaluate_reid(
        emb, seq, frames, tids, first_frames={0: 1}, query_every=10, exclude_frames=4
    )
    assert empty.num_queries == 0 and empty.num_skipped == 2 and empty.mAP == 0.0


def test_open_set_queries_keep_the_gallery():
    emb, seq, frames, tids = _v1_v2_case()
    unseen = tids == 1  # only B was never trained on
    res = evaluate_reid(
        emb, seq, frames, tids, first_frames={0: 1}, query_every=10, exclude_frames=2,
        query_keep=unseen,
    )
    assert res.num_queries == 1 and res.rank1 == 1.0 and res.mAP == 1.0
    assert res.num_gallery == 4
    # A alone: the v2 miss of the test above
    res = evaluate_reid(
        emb, seq, frames, tids, first_frames={0: 1}, query_every=10, exclude_frames=2,
        query_keep=~unseen,
    )
    assert res.num_queries == 1 and res.rank1 == 0.0 and res.mAP == pytest.approx(0.5)
    with pytest.raises(ValueError, match="query_keep"):
        evaluate_reid(emb, seq, frames, tids, query_keep=np.ones(3, bool))
    with pytest.raises(ValueError, match="exclude_frames"):
        evaluate_reid(emb, seq, frames, tids, exclude_frames=-1)


def test_mask_correlation_hand_values():
    from finetrack.eval.reid_metrics import mask_correlation

    a = np.array([[0.0, 1.0], [2.0, 3.0]])
    same, inverse = a, 3.0 - a  # corr(a, a) = 1, corr(a, 3 - a) = -1
    b = np.array([[0.0, 1.0], [1.0, 0.0]])  # centred a = [-1.5, -.5, .5, 1.5], b = [-.5, .5, .5, -.5]: orthogonal
    crops = np.stack([np.stack([a, same, inverse]), np.stack([a, b, b])])  # (2, 3, 2, 2)
    got = mask_correlation(crops)
    # crop 0: pairs (a,same)=1, (a,inv)=-1, (same,inv)=-1 -> -1/3; crop 1: 0, 0, 1 -> 1/3
    assert np.allclose(got, [-1.0 / 3.0, 1.0 / 3.0])
    assert np.allclose(mask_correlation(crops, absolute=True), [1.0, 1.0 / 3.0])  # inverse = no diversity
    const = np.stack([np.stack([a, np.full((2, 2), 0.5), same])])  # constant mask: its pairs left out
    assert np.allclose(mask_correlation(const), [1.0])
    assert np.isnan(mask_correlation(np.full((1, 2, 2, 2), 0.3)))[0]
    with pytest.raises(ValueError, match="K >= 2"):
        mask_correlation(np.zeros((1, 1, 2, 2)))


def test_gt_reid_evaluation_reports_mask_correlation():
    """evaluate_gt_reid carries the mean part-mask correlation of the model's crops."""
    import torch

    from finetrack.engine.evaluator import evaluate_gt_reid

    class TwoMasks(torch.nn.Module):
        def forward(self, images, boxes):
            n = sum(len(b) for b in boxes)
            m = torch.arange(4.0).view(1, 1, 2, 2).expand(n, 1, 2, 2)
            emb = torch.nn.functional.normalize(torch.cat(boxes).float(), dim=1)
            return {"embedding": emb, "part_masks": torch.cat([m, 3.0 - m], 1)}  # corr -1

    boxes = [torch.tensor([[0.0, 0, 10, 20], [50, 0, 60, 20]]), torch.tensor([[1.0, 0, 11, 20], [51, 0, 61, 20]])]
    batch = {"images": torch.zeros(2, 3, 8, 8), "boxes": boxes, "seq_index": torch.tensor([0, 0, 0, 0]),
             "frame": torch.tensor([1, 1, 2, 2]), "track_ids": torch.tensor([1, 2, 1, 2])}
    res = evaluate_gt_reid(TwoMasks(), [batch], torch.device("cpu"), first_frames={0: 1}, query_every=1)
    assert res.mask_corr == pytest.approx(-1.0)
    assert res.as_percent()["mask_corr"] == -1.0 and res.mask_abs_corr == pytest.approx(1.0)
    assert res.mask_border is None  # 2-column masks: no border to measure (w < 3)


def test_mask_border_share_hand_values():
    from finetrack.eval.reid_metrics import border_columns, mask_border_share

    uniform = np.ones((1, 1, 4, 8))                       # b = 1 column a side: 2 / 8 of the mass
    assert border_columns(8) == 1 and border_columns(16) == 2 and border_columns(3) == 1
    assert np.allclose(mask_border_share(uniform), [0.25])
    edges = np.zeros((4, 8))
    edges[:, 0] = edges[:, -1] = 1.0                      # all on the box's two outer columns
    body = np.zeros((4, 8))
    body[:, 3:5] = 1.0                                    # a central stripe: none on the border
    left = np.zeros((4, 8))
    left[:, 0] = 1.0
    left[:, 1:7] = 1.0 / 3.0                              # mass 4 on the border, 8 inside: 1/3
    crops = np.stack([np.stack([edges, body]), np.stack([left, np.zeros((4, 8))])])
    # crop 0: (1 + 0) / 2; crop 1: the empty mask is left out -> 1/3
    assert np.allclose(mask_border_share(crops), [0.5, 1.0 / 3.0])
    assert np.isnan(mask_border_share(np.zeros((1, 2, 4, 8))))[0]
    with pytest.raises(ValueError, match="w >= 3"):
        mask_border_share(np.ones((1, 2, 4, 2)))
