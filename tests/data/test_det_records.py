"""Detection records: CrowdHuman odgt parsing, MOT half split and ignore regions (PETS09)."""
import json

import numpy as np
import pytest

from finetrack.data.identities import GTFilter
from finetrack.data.det_dataset import DetDataset, crowdhuman_records, mot_records


def test_crowdhuman_odgt(tmp_path):
    lines = [
        {"ID": "a,1", "gtboxes": [
            {"tag": "person", "fbox": [10, 20, 30, 60], "extra": {"ignore": 0}},
            {"tag": "person", "fbox": [100, 20, 30, 60], "extra": {"ignore": 1}},
            {"tag": "mask", "fbox": [200, 0, 50, 50]},
            {"tag": "person", "fbox": [5, 5, 1, 40]},  # thinner than min_box_size: dropped
        ]},
        {"ID": "b,2", "gtboxes": []},
    ]
    (tmp_path / "ann.odgt").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    recs = crowdhuman_records(tmp_path, "ann.odgt", "Images", min_box_size=2.0)
    assert [r.image_path.name for r in recs] == ["a,1.jpg", "b,2.jpg"]
    np.testing.assert_array_equal(recs[0].boxes_xyxy, [[10, 20, 40, 80]])
    np.testing.assert_array_equal(recs[0].ignore_xyxy, [[100, 20, 130, 80], [200, 0, 250, 50]])
    assert recs[1].boxes_xyxy.shape == (0, 4)
    labels = DetDataset(recs, (64, 64)).load_anno(0)
    np.testing.assert_array_equal(labels, [[10, 20, 40, 80, 0]])

    (tmp_path / "bad.odgt").write_text('{"ID": "x", "gtboxes": [{"tag": "person"}]}\n')
    with pytest.raises(ValueError, match="bad.odgt:1"):
        crowdhuman_records(tmp_path, "bad.odgt")


def test_pets09_halves_and_ignored_rows(pets09_dir):
    split = pets09_dir.parent
    flt = GTFilter(min_visibility=0.0)
    train = mot_records(split, ["PETS09-S2L1"], "train", flt)
    val = mot_records(split, ["PETS09-S2L1"], "val", flt, frame_step=2)
    assert len(train) == 795 // 2 and train[0].name.endswith("000001")
    assert len(val) == 199 and val[0].name.endswith("000398") and val[1].name.endswith("000400")
    n_pos = sum(len(r.boxes_xyxy) for r in train) + sum(
        len(r.boxes_xyxy) for r in mot_records(split, ["PETS09-S2L1"], "val", flt))
    n_ign = sum(len(r.ignore_xyxy) for r in train) + sum(
        len(r.ignore_xyxy) for r in mot_records(split, ["PETS09-S2L1"], "val", flt))
    assert (n_pos, n_ign) == (4476, 174)  # data README: 174 conf-0 rows, 4476 scored boxes
