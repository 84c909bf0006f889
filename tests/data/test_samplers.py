"""SGS / sequential / shuffle batch samplers (SPEC section 3)."""

from __future__ import annotations

import pytest

from finetrack.data.samplers import (
    SGSBatchSampler,
    SequentialBatchSampler,
    ShuffleBatchSampler,
    build_batch_sampler,
)

LENGTHS = [20, 13, 7]  # three sequences: indices 0..19, 20..32, 33..39
OFFSETS = [0, 20, 33]


def _seq_of(i: int) -> int:
    return max(s for s, off in enumerate(OFFSETS) if i >= off)


def _epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_sgs_batches_are_consecutive_frames_of_one_sequence():
    s = SGSBatchSampler(LENGTHS, batch_size=4, seed=3)
    batches = _epoch(s, 0)
    # 20/4=5 + ceil(13/4)=4 + ceil(7/4)=2 groups, each frame exactly once
    assert len(batches) == len(s) == 11
    assert sorted(i for b in batches for i in b) == list(range(40))
    for b in batches:
        assert len({_seq_of(i) for i in b}) == 1
        assert b == list(range(b[0], b[0] + len(b)))
    # groups start at multiples of G inside their sequence
    assert sorted(b[0] for b in batches) == [0, 4, 8, 12, 16, 20, 24, 28, 32, 33, 37]


def test_sgs_group_order_changes_between_epochs_and_is_reproducible():
    a = SGSBatchSampler(LENGTHS, batch_size=4, seed=7)
    b = SGSBatchSampler(LENGTHS, batch_size=4, seed=7)
    e0, e1 = _epoch(a, 0), _epoch(a, 1)
    assert e0 != e1
    assert sorted(map(tuple, e0)) == sorted(map(tuple, e1))  # same groups, other order
    assert _epoch(b, 1) == e1 and _epoch(b, 0) == e0  # depends only on (seed, epoch)
    assert _epoch(SGSBatchSampler(LENGTHS, batch_size=4, seed=8), 0) != e0
    # groups of different sequences are interleaved (shuffled across all sequences)
    seqs = [_seq_of(bb[0]) for bb in e0]
    assert seqs != sorted(seqs)


def test_sequential_is_video_order_and_drop_last():
    s = SequentialBatchSampler(LENGTHS, batch_size=4)
    assert _epoch(s, 0) == _epoch(s, 5)
    assert [i for b in _epoch(s, 0) for i in b] == list(range(40))
    d = SequentialBatchSampler(LENGTHS, batch_size=4, drop_last=True)
    assert len(d) == len(_epoch(d, 0)) == 5 + 3 + 1
    assert all(len(b) == 4 for b in _epoch(d, 0))


def test_shuffle_mixes_sequences_and_is_seeded():
    s = ShuffleBatchSampler(LENGTHS, batch_size=8, seed=1)
    e0 = _epoch(s, 0)
    assert len(e0) == len(s) == 5
    assert sorted(i for b in e0 for i in b) == list(range(40))
    assert any(len({_seq_of(i) for i in b}) > 1 for b in e0)
    assert _epoch(ShuffleBatchSampler(LENGTHS, batch_size=8, seed=1), 0) == e0
    assert _epoch(s, 1) != e0


def test_distributed_split_is_disjoint_and_even():
    ranks = [SGSBatchSampler(LENGTHS, batch_size=4, seed=2, rank=r, world_size=2) for r in (0, 1)]
    full = _epoch(SGSBatchSampler(LENGTHS, batch_size=4, seed=2), 0)
    parts = [_epoch(r, 0) for r in ranks]
    assert len(parts[0]) == len(parts[1]) == len(ranks[0]) == 6  # 11 groups padded to 12
    assert parts[0] + parts[1] != full
    merged = [b for pair in zip(parts[0], parts[1]) for b in pair]
    assert merged[:11] == full and merged[11] == full[0]


def test_build_by_name_and_group_size():
    assert isinstance(build_batch_sampler("sgs", LENGTHS, 8), SGSBatchSampler)
    s = build_batch_sampler("sgs", LENGTHS, batch_size=8, group_size=2)
    assert all(len(b) <= 2 for b in s)
    with pytest.raises(ValueError, match="valid"):
        build_batch_sampler("random", LENGTHS)


def test_positives_per_anchor_by_hand():
    from finetrack.data.samplers import positives_per_anchor

    # frames: 0 -> ids {1, 2}; 1 -> {1, 3}; 2 -> {4}; 3 -> {1, -1 (unlabelled)}
    labels = [[1, 2], [1, 3], [4], [1, -1]]
    # batch [0, 1]: anchors 1, 2, 1, 3 -> positives 1, 0, 1, 0 -> 0.5, half with a positive
    # batch [2, 3]: anchors 4, 1 -> 0, 0; batch [0, 1, 3]: 1 (x3) -> 2 each, 2 -> 0, 3 -> 0
    out = positives_per_anchor([[0, 1], [2, 3], [0, 1, 3]], labels)
    assert out["batches"] == 3
    assert out["positives_per_anchor"] == pytest.approx((0.5 + 0.0 + 6 / 5) / 3)
    assert out["anchors_with_positive"] == pytest.approx((0.5 + 0.0 + 3 / 5) / 3)
    assert positives_per_anchor([[3]], [[-1]] * 4)["batches"] == 0


def test_sgs_batches_hold_more_positives_than_shuffle_on_the_mot17like_preset():
    """The MOT17-like preset (GT simulated, nothing rendered): >= 7 sequences, >= 300 training
    identities; a shuffled batch of 8 frames rarely shares an identity, an SGS batch does."""
    import numpy as np

    from finetrack.data.samplers import sampler_positives
    from finetrack.synthetic.generate import MOT17LIKE, SyntheticConfig, scene_ground_truth, simulate_scene

    cfg = SyntheticConfig(**MOT17LIKE)
    assert cfg.num_seqs >= 7
    labels, seq_lengths, keys = [], [], {}
    for i in range(cfg.num_seqs):
        gt = scene_ground_truth(simulate_scene(cfg, i))
        n = 0
        for f in range(1, cfg.frames // 2 + 1):  # the training half
            ids = gt.ids[(gt.frames == f) & (gt.visibility >= 0.1)]
            if len(ids):
                labels.append([keys.setdefault((i, int(t)), len(keys)) for t in ids])
                n += 1
        seq_lengths.append(n)
    assert len(keys) >= 300
    assert np.mean([len(l) for l in labels]) >= 15  # crowded frames
    res = sampler_positives(seq_lengths, labels, batch_size=8, seed=0, epochs=2)
    sgs, shuffle = res["sgs"]["positives_per_anchor"], res["shuffle"]["positives_per_anchor"]
    assert sgs > 3 * shuffle, res
    assert res["shuffle"]["anchors_with_positive"] < res["sgs"]["anchors_with_positive"]
