"""MPMG masks and the three poolings."""
import math

import torch

from finetrack.models.mpmg import (
    MPMG,
    PartMaskGenerator,
    center_mask,
    center_pool,
    gap_pool,
    masked_pool,
    split_sizes,
)


def test_split_sizes():
    assert split_sizes(128, 6) == [22, 22, 21, 21, 21, 21]
    assert split_sizes(12, 6) == [2] * 6


def test_pmg_attention_is_non_local_softmax():
    torch.manual_seed(0)
    pmg = PartMaskGenerator(6)
    x = torch.randn(2, 6, 4, 3)
    d = pmg.inner_channels
    q = pmg.query(x).flatten(2)  # (N, d, L)
    k = pmg.key(x).flatten(2)
    v = pmg.value(x).flatten(2)
    attn = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(d), dim=-1)  # (N, L, L)
    y = (v @ attn.transpose(1, 2)).reshape(2, d, 4, 3)
    expected = pmg.out(y) + x
    assert torch.allclose(pmg.attend(x), expected, atol=1e-5)
    assert torch.allclose(pmg(x), torch.sigmoid(pmg.mask(expected)), atol=1e-5)


def test_masks_in_unit_interval_and_global_is_max():
    torch.manual_seed(0)
    mpmg = MPMG(20, 6)
    assert len(mpmg.branches) == 6 and mpmg.num_parts == 6
    parts, glob = mpmg(torch.randn(3, 20, 8, 4) * 5)
    assert parts.shape == (3, 6, 8, 4) and glob.shape == (3, 1, 8, 4)
    assert bool((parts > 0).all() and (parts < 1).all())
    assert torch.equal(glob, parts.max(dim=1, keepdim=True).values)
    # Unshared branches: no parameter tensor is shared between two PMGs.
    ids = [id(p) for b in mpmg.branches for p in b.parameters()]
    assert len(ids) == len(set(ids))


def test_masked_pool_hand_value_and_all_ones_equals_gap():
    feat = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert torch.allclose(masked_pool(feat, mask), torch.tensor([[[2.5]]]), atol=1e-5)
    torch.manual_seed(0)
    f = torch.randn(4, 7, 32, 16)
    ones = torch.ones(4, 3, 32, 16)
    pooled = masked_pool(f, ones)
    assert pooled.shape == (4, 3, 7)
    assert torch.allclose(pooled, gap_pool(f)[:, None].expand(4, 3, 7), atol=1e-5)
    # An all-zero mask gives zeros, not NaN.
    assert torch.equal(masked_pool(f, torch.zeros(4, 1, 32, 16)), torch.zeros(4, 1, 7))


def test_center_pool_picks_the_centre_vector():
    h, w = 32, 16
    f = torch.arange(2 * 3 * h * w, dtype=torch.float32).reshape(2, 3, h, w)
    out = center_pool(f)
    assert torch.equal(out, f[:, :, 16, 8])
    assert torch.allclose(masked_pool(f, center_mask(2, h, w))[:, 0], out)
