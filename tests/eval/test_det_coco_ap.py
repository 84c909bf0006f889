"""Person AP with pycocotools on hand-made predictions (values derived by hand)."""
import cv2
import numpy as np
import pytest

from finetrack.eval.coco_ap import ImageGT, coco_ap

#: COCO's 101-point interpolation: recall points 0, 0.01, ..., 1.
N_RECALL = 101


def _two_gt():
    return ImageGT(np.array([[0, 0, 100, 100], [200, 0, 300, 100]], float), np.zeros((0, 4)), 100, 300)


def test_ap_two_gt_three_predictions():
    # A (0.9) IoU 0.82 with GT1; B (0.8) IoU 0.30 with GT2 (always FP); C (0.7) IoU 0.62 with GT2.
    dets = (np.array([[0, 0, 100, 82], [200, 0, 300, 30], [200, 0, 300, 62]], float),
            np.array([0.9, 0.8, 0.7]))
    m = coco_ap([_two_gt()], [dets])
    # IoU 0.5: TP, FP, TP -> precision envelope 1 up to recall 0.5 (51 points), 2/3 above (50 points)
    ap_low = (51 + 50 * 2 / 3) / N_RECALL
    # IoU 0.65..0.80 (4 thresholds): only A -> recall 0.5 at precision 1 -> 51 points
    ap_mid = 51 / N_RECALL
    # IoU 0.85..0.95 (3 thresholds): nothing matches -> 0
    assert m["AP50"] == pytest.approx(100 * ap_low, abs=1e-6)
    assert m["AP75"] == pytest.approx(100 * ap_mid, abs=1e-6)
    assert m["AP"] == pytest.approx(100 * (3 * ap_low + 4 * ap_mid) / 10, abs=1e-6)
    assert (m["num_gt"], m["num_dets"], m["num_images"]) == (2, 3, 1)


def test_perfect_and_order_of_scores():
    gt = _two_gt()
    perfect = (gt.boxes_xyxy.copy(), np.array([0.9, 0.8]))
    assert coco_ap([gt], [perfect])["AP"] == pytest.approx(100.0)
    # a higher-scored FP first: TP at rank 2 and 3 -> precision 1/2 then 2/3 over the whole recall
    fp_first = (np.vstack([[400, 0, 450, 50], gt.boxes_xyxy]), np.array([0.95, 0.9, 0.8]))
    # the envelope (max precision at recall >= r) is 2/3 at every recall point: recall 1 is
    # reached with precision 2/3, which beats the 1/2 at recall 0.5
    expected = 2 / 3
    assert coco_ap([gt], [fp_first])["AP50"] == pytest.approx(100 * expected, abs=1e-6)


def test_ignore_regions_are_neither_tp_nor_fp():
    gt = ImageGT(np.array([[0, 0, 100, 100]], float), np.array([[300, 0, 400, 100]], float), 100, 500)
    # a high-scored detection on the ignore region would be an FP without the crowd rule
    dets = (np.array([[300, 0, 400, 100], [0, 0, 100, 100]], float), np.array([0.95, 0.5]))
    assert coco_ap([gt], [dets])["AP50"] == pytest.approx(100.0)
    no_ignore = ImageGT(gt.boxes_xyxy, np.zeros((0, 4)), 100, 500)
    assert coco_ap([no_ignore], [dets])["AP50"] == pytest.approx(50.0)  # TP at rank 2: precision 1/2


def test_empty_image_detections_are_false_positives():
    empty = ImageGT(np.zeros((0, 4)), np.zeros((0, 4)), 100, 100)
    gt = ImageGT(np.array([[0, 0, 50, 50]], float), np.zeros((0, 4)), 100, 100)
    dets = [(np.array([[10, 10, 60, 60]], float), np.array([0.9])),
            (np.array([[0, 0, 50, 50]], float), np.array([0.8]))]
    assert coco_ap([empty, gt], dets)["AP50"] == pytest.approx(50.0)
    assert coco_ap([empty], [dets[0]])["AP50"] == -1.0  # no GT at all: COCO's -1
    assert coco_ap([gt], [(np.zeros((0, 4)), np.zeros(0))])["AP"] == 0.0


def test_public_det_txt_is_scored_against_the_same_records(tmp_path):
    """det.txt = the gt boxes of frames 1-2 at 0.9, frame 3 missed, one FP at 0.5 in frame 1."""
    from finetrack.data.mot import SeqInfo, write_seqinfo
    from finetrack.eval.coco_ap import public_detections
    from finetrack.data.det_dataset import mot_records

    seq = tmp_path / "train" / "SEQ-A"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    (seq / "det").mkdir()
    gt = [f"{f},{i},{10 + 50 * i},{20},30,60,1,1,1" for f in (1, 2, 3) for i in (1, 2)]
    det = [f"{f},-1,{10 + 50 * i},{20},30,60,0.9" for f in (1, 2) for i in (1, 2)]
    det.append("1,-1,150,100,30,60,0.5")
    (seq / "gt" / "gt.txt").write_text("\n".join(gt) + "\n")
    (seq / "det" / "det.txt").write_text("\n".join(det) + "\n")
    write_seqinfo(seq, SeqInfo("SEQ-A", seq, "img1", 10, 3, 240, 160, ".jpg"))
    for f in (1, 2, 3):  # seqLength must match the images present
        cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"), np.zeros((160, 240, 3), np.uint8))
    records = mot_records(tmp_path / "train", half="all")
    assert [r.frame for r in records] == [1, 2, 3]
    gts, dets = public_detections(records)
    assert [len(d[0]) for d in dets] == [3, 2, 0]
    m = coco_ap(gts, dets)
    # 4 TPs at 0.9 give recall 4/6 at precision 1; the FP comes after them: AP = 67 / 101 points
    assert m["AP50"] == pytest.approx(100 * 67 / N_RECALL, abs=1e-6)
    assert m["num_dets"] == 5 and m["num_gt"] == 6
