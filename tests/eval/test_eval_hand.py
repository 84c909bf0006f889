"""Hand-derived metric values on tiny constructed sequences (both evaluators)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _eval_helpers import make_gt, make_results

from finetrack.eval.mot_metrics import eval_motmetrics, iou_distances, summarize_motmetrics
from finetrack.eval.preprocess import box_iou_tlwh, prepare_sequence
from finetrack.eval.trackeval_metrics import eval_trackeval, summarize_trackeval

BOX = (100.0, 100.0, 50.0, 100.0)
FAR = (600.0, 100.0, 50.0, 100.0)


def scores(gt, res, n):
    prep = prepare_sequence(gt, res, n, name="hand")
    te = summarize_trackeval(eval_trackeval(prep))
    mm = summarize_motmetrics(eval_motmetrics(prep))
    return prep, te, mm


def test_perfect_track():
    gt = make_gt([(f, 1, *BOX, 1, 1, 1) for f in range(1, 5)])
    res = make_results([(f, 7, *BOX) for f in range(1, 5)])
    _, te, mm = scores(gt, res, 4)
    for k in ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1"):
        assert te[k] == pytest.approx(100.0), k
    for r in (te, mm):
        assert (r["IDs"], r["FP"], r["FN"], r["Frag"], r["MT"], r["ML"]) == (0, 0, 0, 0, 1, 0)
        assert r["MOTA"] == pytest.approx(100.0) and r["IDF1"] == pytest.approx(100.0)


def test_id_switch():
    # GT id 1 on frames 1-4; tracker id 1 on frames 1-2, id 2 on frames 3-4, boxes exact.
    gt = make_gt([(f, 1, *BOX, 1, 1, 1) for f in range(1, 5)])
    res = make_results([(f, 1 if f <= 2 else 2, *BOX) for f in range(1, 5)])
    _, te, mm = scores(gt, res, 4)
    for r in (te, mm):
        assert r["IDs"] == 1 and r["FP"] == 0 and r["FN"] == 0 and r["Frag"] == 0
        assert r["MOTA"] == pytest.approx(75.0)  # (TP 4 - FP 0 - IDSW 1) / GT 4
        assert r["IDF1"] == pytest.approx(50.0)  # IDTP 2, IDFP 2, IDFN 2 -> 2*2 / (8)
        assert r["IDP"] == pytest.approx(50.0) and r["IDR"] == pytest.approx(50.0)
    # DetA 1 (every box matched with IoU 1); each TP pair has TPA 2, FNA 2, FPA 0 -> AssA 0.5.
    assert te["DetA"] == pytest.approx(100.0)
    assert te["AssA"] == pytest.approx(50.0)
    assert te["HOTA"] == pytest.approx(100.0 * math.sqrt(0.5))


def test_fragmentation():
    # GT id 1 on frames 1-5; the tracker loses it on frame 3 (where it only has a box on nothing).
    gt = make_gt([(f, 1, *BOX, 1, 1, 1) for f in range(1, 6)])
    res = make_results(
        [(f, 3, *BOX) for f in (1, 2)] + [(3, 4, *FAR)] + [(f, 3, *BOX) for f in (4, 5)]
    )
    _, te, mm = scores(gt, res, 5)
    for r in (te, mm):
        assert (r["IDs"], r["FP"], r["FN"], r["Frag"]) == (0, 1, 1, 1)
        assert r["MOTA"] == pytest.approx(60.0)  # (TP 4 - FP 1 - IDSW 0) / GT 5
        assert r["IDF1"] == pytest.approx(80.0)  # IDTP 4, IDFN 1, IDFP 1 -> 8 / (8 + 1 + 1)
    assert te["DetA"] == pytest.approx(100.0 * 4 / 6)  # 4 / (4 + 1 + 1)
    assert te["AssA"] == pytest.approx(80.0)  # TPA 4, FNA 1, FPA 0 (the FP is another track id)
    assert te["HOTA"] == pytest.approx(100.0 * math.sqrt(4 / 6 * 0.8))


def test_documented_evaluator_differences():
    # Documented evaluator difference: TrackEval's CLEAR skips frames without any tracker box, so a
    # gap made of empty frames is not a fragmentation there; motmetrics counts it.
    gt = make_gt([(f, 1, *BOX, 1, 1, 1) for f in range(1, 6)])
    res = make_results([(f, 3, *BOX) for f in (1, 2, 4, 5)])
    _, te, mm = scores(gt, res, 5)
    assert (te["Frag"], mm["Frag"]) == (0, 1)
    # tracked 4/5 = 0.8 of its frames: TrackEval's MT needs > 0.8, motmetrics' >= 0.8
    assert (te["MT"], mm["MT"]) == (0, 1)
    assert te["MOTA"] == pytest.approx(80.0) and mm["MOTA"] == pytest.approx(80.0)


def test_false_positive_on_distractor_is_removed():
    # Per frame: pedestrian (id 1), static person (class 7, distractor, flag 0), tracker boxes on
    # both plus one box on nothing. The distractor match is removed; the box on nothing stays an FP.
    gt_rows, res_rows = [], []
    other = (300.0, 100.0, 50.0, 100.0)
    for f in (1, 2):
        gt_rows += [(f, 1, *BOX, 1, 1, 1.0), (f, 2, *other, 0, 7, 1.0)]
        res_rows += [(f, 1, *BOX), (f, 2, *other), (f, 3, *FAR)]
    prep, te, mm = scores(make_gt(gt_rows), make_results(res_rows), 2)
    assert prep.num_distractor_removed == 2 and prep.num_gt_dets == 2
    for r in (te, mm):
        assert (r["FP"], r["FN"], r["IDs"]) == (2, 0, 0)
        assert r["MOTA"] == pytest.approx(0.0)  # (2 - 2 - 0) / 2
        assert r["IDF1"] == pytest.approx(100.0 * 4 / 6)  # IDTP 2, IDFP 2 -> 4 / (4 + 2)
    assert te["DetA"] == pytest.approx(50.0)  # 2 / (2 + 0 + 2)
    assert te["AssA"] == pytest.approx(100.0)
    assert te["HOTA"] == pytest.approx(100.0 * math.sqrt(0.5))


def test_zero_flag_pedestrian_is_ignored_but_not_a_distractor():
    # A zero-flag pedestrian row is not scored (no FN); a box on it is not removed (class 1 is not a
    # distractor class), so it is an FP, exactly as TrackEval's MOTChallenge preprocessing does.
    gt = make_gt([(1, 1, *BOX, 0, 1, 1.0)])
    res = make_results([(1, 1, *BOX)])
    prep, te, mm = scores(gt, res, 1)
    assert prep.num_gt_dets == 0 and prep.num_gt_ignored == 1 and prep.num_distractor_removed == 0
    assert te["FP"] == 1 and te["FN"] == 0 and mm["FP"] == 1


def test_mot15_has_no_distractor_removal():
    # MOT15 rows have no classes: nothing is removed, only conf 0 rows are ignored.
    gt = make_gt([(1, 1, *BOX, 1), (1, 2, *FAR, 0)], fmt="mot15")
    res = make_results([(1, 5, *BOX), (1, 6, *FAR)])
    prep, te, _ = scores(gt, res, 1)
    assert prep.num_distractor_removed == 0
    assert (te["FP"], te["FN"]) == (1, 0)


def test_partial_overlap_hota_alphas():
    # IoU 0.62: matched for the 12 alphas 0.05..0.60, unmatched for 0.65..0.95.
    gt = make_gt([(1, 1, 0, 0, 100, 100, 1, 1, 1.0)])
    res = make_results([(1, 1, 0, 0, 100, 62)])
    _, te, mm = scores(gt, res, 1)
    assert box_iou_tlwh(gt.tlwh, res.tlwh)[0, 0] == pytest.approx(0.62)
    assert te["DetA"] == pytest.approx(100.0 * 12 / 19)
    assert te["HOTA"] == pytest.approx(100.0 * 12 / 19)  # sqrt(1 * 1) on 12 alphas, 0 on 7
    assert te["LocA"] == pytest.approx(100.0 * (12 * 0.62 + 7 * 1.0) / 19)  # empty alphas count 1
    assert te["MOTA"] == pytest.approx(100.0) and te["MOTP"] == pytest.approx(62.0)
    assert mm["MOTP"] == pytest.approx(62.0)


def test_iou_distances_nan_below_half():
    sim = np.array([[0.5, 0.49, 1.0]])
    d = iou_distances(None, None, sim)
    assert d[0, 0] == pytest.approx(0.5) and np.isnan(d[0, 1]) and d[0, 2] == 0.0


def test_prepare_does_not_edit_inputs():
    gt = make_gt([(1, 5, *BOX, 1, 1, 1.0), (2, 9, *BOX, 1, 1, 1.0)])
    res = make_results([(1, 40, *BOX), (2, 41, *BOX)])
    before = (gt.ids.copy(), res.ids.copy(), res.tlwh.copy())
    prep = prepare_sequence(gt, res, 2)
    assert np.array_equal(gt.ids, before[0]) and np.array_equal(res.ids, before[1])
    assert np.array_equal(res.tlwh, before[2])
    assert [x.tolist() for x in prep.gt_ids] == [[0], [1]]  # relabelled 5 -> 0, 9 -> 1
    assert prep.gt_id_values.tolist() == [5, 9] and prep.tracker_id_values.tolist() == [40, 41]
