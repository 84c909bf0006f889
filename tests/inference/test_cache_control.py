"""The cache's shuffled-embeddings control (scripts/robust_grid.py --shuffle-embeddings)."""
from __future__ import annotations

import numpy as np
import pytest


def test_shuffle_embeddings_permutes_within_each_frame():
    from finetrack.inference.cache import CachedFrames, shuffle_embeddings

    rng = np.random.default_rng(0)
    counts = [0, 1, 5, 3]
    emb = [rng.normal(size=(n, 8)).astype(np.float32) for n in counts]
    boxes = [rng.uniform(size=(n, 4)) for n in counts]
    cache = CachedFrames(np.arange(1, 5), boxes, [np.ones(n) for n in counts], emb, {"sequence": "X"})
    a, b = shuffle_embeddings(cache, 3), shuffle_embeddings(cache, 3)
    moved = 0
    for orig, sa, sb, box, box_a in zip(emb, a.emb, b.emb, boxes, a.xyxy):
        np.testing.assert_array_equal(sa, sb)  # seeded
        np.testing.assert_array_equal(box, box_a)  # boxes untouched
        # the same rows, in another order
        assert sorted(map(tuple, orig.tolist())) == sorted(map(tuple, sa.tolist()))
        moved += int((sa != orig).any(axis=1).sum())
    assert moved >= 3 and a.meta["control"].startswith("shuffled") and "control" not in cache.meta
    with pytest.raises(ValueError, match="no embeddings"):
        shuffle_embeddings(CachedFrames(cache.frames, boxes, cache.scores, None, {}))
