"""FairMOT targets and decoding, values derived by hand (CenterNet's radius rule, ltrb, offsets)."""
import math

import numpy as np
import pytest
import torch

from finetrack.fairmot.targets import (build_targets, draw_gaussian, gaussian_radius,
                                            render_dense)
from finetrack.fairmot.model import decode, heatmap_nms


def test_gaussian_radius_hand_values():
    # h = 20, w = 10 cells, min_overlap 0.7; the third (both-corners-inside) case is the smallest:
    # a = 2.8, b = -42, c = -60: r3 = (-42 + sqrt(42^2 + 4 * 2.8 * 60)) / 2 = (-42 + sqrt(2436)) / 2
    r3 = (-42 + math.sqrt(2436.0)) / 2
    assert r3 == pytest.approx(3.6780, abs=1e-4)
    assert gaussian_radius((20, 10)) == pytest.approx(r3, rel=1e-9)
    # r1 = (30 + sqrt(900 - 4 * 200 * 0.3 / 1.7)) / 2 and r2 = (60 + sqrt(3600 - 16 * 60)) / 2
    # are larger
    assert (30 + math.sqrt(900 - 4 * 200 * 0.3 / 1.7)) / 2 > r3
    assert (60 + math.sqrt(3600 - 16 * 60)) / 2 > r3


def test_heatmap_peaks_at_one_with_the_radius_spread():
    # input box (40, 40)-(80, 120) = output cells (10, 10)-(20, 30): centre (15, 20), radius 3
    t = build_targets(np.array([[40.0, 40.0, 80.0, 120.0]]), np.array([7]), (40, 32), max_objs=4)
    hm = t["hm"][0]
    assert hm.shape == (40, 32)
    assert hm[20, 15] == 1.0 and hm.max() == 1.0 and (hm == 1).sum() == 1
    sigma = 7 / 6  # diameter 2r + 1 = 7, sigma = diameter / 6
    for dx, dy in ((1, 0), (0, 1), (-2, 0), (2, 2), (3, 0), (-3, -3)):
        expected = math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
        assert hm[20 + dy, 15 + dx] == pytest.approx(expected, rel=1e-6), (dx, dy)
    assert hm[20, 15 + 1] == pytest.approx(0.6926, abs=1e-4)  # exp(-1 / (2 * (7/6)^2))
    # nothing beyond the radius: the square of side 7 holds all the mass
    assert hm[20, 15 + 4] == 0 and hm[20 - 4, 15] == 0 and hm[24, 19] == 0
    assert np.count_nonzero(hm) == 49
    np.testing.assert_allclose(t["wh"][0], [5, 10, 5, 10])  # ltrb to the box sides
    np.testing.assert_allclose(t["reg"][0], [0, 0])
    assert t["ind"][0] == 20 * 32 + 15 and t["mask"].tolist() == [1, 0, 0, 0]
    assert t["ids"].tolist() == [7, -1, -1, -1]


def test_overlapping_gaussians_take_the_max_not_the_sum():
    hm = np.zeros((9, 9), np.float32)
    draw_gaussian(hm, (3, 4), 2)
    draw_gaussian(hm, (5, 4), 2)
    assert hm[4, 3] == 1.0 and hm[4, 5] == 1.0
    sigma = 5 / 6
    assert hm[4, 4] == pytest.approx(math.exp(-1 / (2 * sigma * sigma)), rel=1e-6)


def test_centre_offset_and_amodal_ltrb():
    # output box (2.5, 3.25)-(9.5, 11.75): centre (6, 7.5) -> cell (6, 7), offset (0, 0.5)
    t = build_targets(np.array([[10.0, 13.0, 38.0, 47.0]]), np.array([0]), (16, 16), max_objs=2)
    np.testing.assert_allclose(t["reg"][0], [0.0, 0.5])
    np.testing.assert_allclose(t["wh"][0], [3.5, 4.25, 3.5, 4.25])
    assert t["ind"][0] == 7 * 16 + 6
    # a box leaving the grid: the centre is the clipped box's, ltrb reaches the real sides
    t = build_targets(np.array([[-20.0, 8.0, 20.0, 40.0]]), np.array([1]), (16, 16), max_objs=1)
    ct_x = (0 + 5.0) / 2
    np.testing.assert_allclose(t["wh"][0], [ct_x + 5.0, 6.0 - 2.0, 5.0 - ct_x, 10.0 - 6.0])


def _decode_rendered(boxes, ratio, out_hw):
    t = build_targets(boxes * ratio, np.arange(len(boxes)), out_hw, max_objs=8)
    dense = render_dense(t, out_hw)
    out = {k: torch.from_numpy(v)[None] for k, v in dense.items()}
    out["id"] = torch.zeros(1, 4, *out_hw)
    return decode(out, [ratio], None, conf_thresh=0.5, heat_is_prob=True)[0]


def test_decoding_a_rendered_target_gives_back_the_boxes():
    # original-image boxes; the letterbox scale 0.5 maps them to the input, /4 to the grid
    boxes = np.array([[101.0, 60.5, 163.0, 213.0], [300.25, 10.0, 351.0, 170.75],
                      [20.0, 200.0, 60.0, 290.0]])
    xyxy, scores, emb = _decode_rendered(boxes, 0.5, (48, 64))
    order = np.argsort(xyxy[:, 0])
    np.testing.assert_allclose(xyxy[order], boxes[np.argsort(boxes[:, 0])], atol=1e-4)
    assert scores.tolist() == [1.0, 1.0, 1.0] and emb.shape == (3, 4)


def test_nms_keeps_local_maxima_only():
    heat = torch.tensor([[[[0.1, 0.9, 0.8], [0.2, 0.3, 0.1], [0.0, 0.1, 0.7]]]])
    kept = heatmap_nms(heat)
    assert (kept > 0).sum() == 2 and kept[0, 0, 0, 1] == 0.9 and kept[0, 0, 2, 2] == 0.7


def test_decode_maps_through_the_letterbox_and_clips():
    out = {"hm": torch.full((1, 1, 8, 8), -10.0), "wh": torch.zeros(1, 4, 8, 8),
           "reg": torch.zeros(1, 2, 8, 8), "id": torch.zeros(1, 3, 8, 8)}
    out["hm"][0, 0, 2, 3] = 10.0  # centre cell (x 3, y 2)
    out["wh"][0, :, 2, 3] = torch.tensor([1.0, 1.0, 9.0, 1.0])
    out["reg"][0, :, 2, 3] = torch.tensor([0.5, 0.25])
    out["id"][0, :, 2, 3] = torch.tensor([3.0, 0.0, 4.0])
    xyxy, scores, emb = decode(out, [0.25], [(100, 60)], conf_thresh=0.4)[0]
    # centre (3.5, 2.25) cells -> box (2.5, 1.25)-(12.5, 3.25) cells -> x16 (4 / 0.25) px
    np.testing.assert_allclose(xyxy, [[40.0, 20.0, 60.0, 52.0]])  # x2 200 clipped to w = 60
    np.testing.assert_allclose(emb, [[0.6, 0.0, 0.8]], atol=1e-6)
    assert scores[0] == pytest.approx(1 / (1 + math.exp(-10)), rel=1e-6)
