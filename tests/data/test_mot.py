"""MOTChallenge data layer: readers, formats, filters, half split, identities, writers, bad input."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from finetrack.data.identities import GTFilter, IdentityTable
from finetrack.data.mot import half_split_frames, list_sequences, MOTFormatError, MOTSequence, read_gt, read_seqinfo, SeqInfo, write_seqinfo
from finetrack.data.results import read_results, write_results
from finetrack.data.splits import write_half_split

MOT17_ROWS = [
    # frame,id,x,y,w,h,flag,class,vis
    "1,1,10,20,30,60,1,1,1.0",
    "1,2,100,20,30,60,1,1,0.05",  # too occluded
    "2,1,12,20,30,60,1,1,0.8",
    "2,3,200,50,40,80,0,1,1.0",  # ignore flag
    "3,1,14,20,30,60,1,7,1.0",  # static person (distractor)
    "3,4,300,50,40,80,1,1,0.5",
    "4,4,302,50,40,80,1,1,0.5",
    "5,4,304,50,40,80,1,1,0.5",
]
MOT15_ROWS = [
    # frame,id,x,y,w,h,conf,wx,wy,wz
    "1,1,10,20,30,60,1,-1,-1,-1",
    "1,2,100,20,30,60,0,-1,-1,-1",
    "2,1,12,20,30,60,1,-1,-1,-1",
    "3,1,14,20,30,60,1,-1,-1,-1",
]


def make_seq(root: Path, name: str, rows, n_frames: int = 5, images: bool = True, det_rows=None) -> Path:
    d = root / name
    (d / "gt").mkdir(parents=True)
    if images:
        (d / "img1").mkdir()
        for f in range(1, n_frames + 1):
            (d / "img1" / f"{f:06d}.jpg").write_bytes(b"")
    write_seqinfo(d, SeqInfo(name, d, "img1", 30, n_frames, 640, 480, ".jpg"))
    (d / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    if det_rows is not None:
        (d / "det").mkdir()
        (d / "det" / "det.txt").write_text("\n".join(det_rows) + "\n")
    return d


def test_mot17_round_trip_and_format(tmp_path):
    d = make_seq(tmp_path, "MOT17-99-FRCNN", MOT17_ROWS)
    seq = MOTSequence(d)
    assert seq.format == "mot17"
    gt = seq.gt()
    assert len(gt) == len(MOT17_ROWS)
    np.testing.assert_array_equal(gt.frames, [1, 1, 2, 2, 3, 3, 4, 5])
    np.testing.assert_array_equal(gt.classes, [1, 1, 1, 1, 7, 1, 1, 1])
    np.testing.assert_allclose(gt.visibility[:2], [1.0, 0.05])
    np.testing.assert_allclose(gt.xyxy()[0], [10, 20, 40, 80])
    assert gt.line_no.tolist() == list(range(1, 9))
    # default filter: class 1, flag != 0, visibility >= 0.1
    kept = GTFilter().apply(gt)
    assert sorted(zip(kept.frames.tolist(), kept.ids.tolist())) == [
        (1, 1), (2, 1), (3, 4), (4, 4), (5, 4)
    ]
    # configurable
    loose = GTFilter(classes=(1, 7), min_visibility=0.0, drop_zero_flag=False).apply(gt)
    assert len(loose) == len(MOT17_ROWS)


def test_mot15_format_has_no_class_columns(tmp_path):
    d = make_seq(tmp_path, "PETS-LIKE", MOT15_ROWS)
    seq = MOTSequence(d)
    assert seq.format == "mot15"
    gt = seq.gt()
    assert gt.classes.tolist() == [1, 1, 1, 1]
    assert gt.visibility.tolist() == [1.0] * 4
    kept = GTFilter().apply(gt)  # conf 0 acts as the ignore flag
    assert kept.ids.tolist() == [1, 1, 1]


def test_dancetrack_named(tmp_path):
    d = make_seq(tmp_path, "dancetrack0001", ["1,1,10,20,30,60,1,1,1"])
    assert MOTSequence(d).format == "dancetrack"


def test_frame_paths_are_one_based(tmp_path):
    d = make_seq(tmp_path, "S", MOT17_ROWS, n_frames=5)
    seq = MOTSequence(d)
    assert seq.frame_path(1).name == "000001.jpg"
    assert seq.frame_path(5).name == "000005.jpg"
    with pytest.raises(IndexError):
        seq.frame_path(0)
    with pytest.raises(IndexError):
        seq.frame_path(6)
    assert list(seq.frames("all")) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "n,train,val", [(10, (1, 5), (6, 10)), (11, (1, 5), (6, 11)), (1, None, (1, 1)), (2, (1, 1), (2, 2))]
)
def test_half_split_frames(n, train, val):
    if train is None:
        with pytest.raises(ValueError):
            half_split_frames(n, "train")
    else:
        assert half_split_frames(n, "train") == train
    assert half_split_frames(n, "val") == val
    assert half_split_frames(n, "all") == (1, n)


@pytest.mark.parametrize("n_frames", [5, 6])
def test_write_half_split_renumbers_val(tmp_path, n_frames):
    rows = [f"{f},1,{10 + f},20,30,60,1,1,1" for f in range(1, n_frames + 1)]
    d = make_seq(tmp_path, "S", rows, n_frames=n_frames)
    out = write_half_split(d)
    mid = n_frames // 2
    tr = read_gt(out["train"])
    va = read_gt(out["val"])
    assert tr.frames.tolist() == list(range(1, mid + 1))
    assert va.frames.tolist() == list(range(1, n_frames - mid + 1))
    # val frame 1 is original frame mid+1 (x = 10 + frame)
    assert va.tlwh[0, 0] == 10 + mid + 1
    # the text of the other columns is kept
    assert out["val"].read_text().splitlines()[0] == f"1,1,{10 + mid + 1},20,30,60,1,1,1"


def test_identity_table_deterministic():
    from finetrack.data.mot import Annotations

    def ann(ids):
        n = len(ids)
        return Annotations(
            np.ones(n, np.int64), np.asarray(ids), np.zeros((n, 4)), np.ones(n, np.int64),
            np.ones(n, np.int64), np.ones(n), np.arange(n), "mot17",
        )

    table = IdentityTable.build({"B": ann([5, 2, 5]), "A": ann([7, 1])})
    assert table.keys == [("A", 1), ("A", 7), ("B", 2), ("B", 5)]
    assert table.label("B", 5) == 3
    assert table.labels("A", [7, 1, 99]).tolist() == [1, 0, -1]
    assert IdentityTable.from_json(table.to_json()).keys == table.keys
    with pytest.raises(KeyError):
        table.label("C", 1)


def test_results_round_trip(tmp_path):
    p = tmp_path / "out" / "SEQ.txt"
    write_results(p, [2, 1, 1], [1, 2, 1], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], [0.5, 0.6, 0.7])
    lines = p.read_text().splitlines()
    assert lines[0] == "1,1,9.00,10.00,11.00,12.00,0.7000,-1,-1,-1"  # sorted by frame, id
    r = read_results(p)
    assert r.frames.tolist() == [1, 1, 2]
    assert r.ids.tolist() == [1, 2, 1]
    np.testing.assert_allclose(r.scores, [0.7, 0.6, 0.5])
    assert not [f for f in os.listdir(p.parent) if f.endswith(".tmp")]


def test_writer_leaves_nothing_half_written(tmp_path):
    p = tmp_path / "SEQ.txt"
    p.write_text("old\n")
    with pytest.raises(ValueError):
        write_results(p, [1, 2], [1], [[1, 2, 3, 4]])
    assert p.read_text() == "old\n"

    class Boom(Exception):
        pass

    from finetrack.utils.io import atomic_open

    with pytest.raises(Boom):
        with atomic_open(p, "w") as f:
            f.write("partial")
            raise Boom()
    assert p.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["SEQ.txt"]


@pytest.mark.parametrize(
    "bad_line,needle",
    [
        ("3,1,10,20,30", "columns"),  # wrong column count
        ("3,1,10,abc,30,60,1,1,1", "non-numeric"),
        ("3,1,10,20,-30,60,1,1,1", "negative box size"),
        ("3,1,10,20,nan,60,1,1,1", "NaN"),
        ("3,1,10,20,30,60,1,1,1,5", "columns"),  # inconsistent count
        ("0,1,10,20,30,60,1,1,1", "frame"),
        ("3,1,10,20,30,60,1,1,1.5", "visibility"),
    ],
)
def test_bad_gt_line_names_file_and_line(tmp_path, bad_line, needle):
    rows = ["1,1,10,20,30,60,1,1,1", "", bad_line]  # blank line 2 still counts
    d = make_seq(tmp_path, "S", rows)
    with pytest.raises(MOTFormatError) as e:
        read_gt(d / "gt" / "gt.txt")
    msg = str(e.value)
    assert "gt.txt:3:" in msg and needle in msg


def test_bad_det_line(tmp_path):
    d = make_seq(tmp_path, "S", MOT17_ROWS, det_rows=["1,-1,1,2,3,4,0.9", "2,-1,1,2,3,x,0.9"])
    with pytest.raises(MOTFormatError, match=r"det.txt:2: non-numeric"):
        MOTSequence(d).det()


def test_duplicate_id_in_results(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("1,1,0,0,5,5,1,-1,-1,-1\n1,2,0,0,5,5,1,-1,-1,-1\n2,1,0,0,5,5,1,-1,-1,-1\n1,1,3,3,5,5,1,-1,-1,-1\n")
    with pytest.raises(MOTFormatError, match=r"r.txt:4: id 1 used twice in frame 1 \(first at line 1\)"):
        read_results(p)


def test_missing_pieces_are_named(tmp_path):
    d = make_seq(tmp_path, "S", MOT17_ROWS, images=False)
    with pytest.raises(FileNotFoundError, match=r"missing image folder: .*S/img1"):
        MOTSequence(d)
    assert MOTSequence(d, require_images=False).info.seq_length == 5
    (d / "seqinfo.ini").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing seqinfo.ini: .*S/seqinfo.ini"):
        MOTSequence(d, require_images=False)
    (d / "seqinfo.ini").write_text("[Sequence]\nname=S\nframeRate=30\n")
    with pytest.raises(MOTFormatError, match="missing key 'seqLength'"):
        read_seqinfo(d)


def test_list_sequences_mot17_copies(tmp_path):
    for det in ("DPM", "FRCNN", "SDP"):
        make_seq(tmp_path, f"MOT17-02-{det}", MOT17_ROWS)
    make_seq(tmp_path, "OTHER", MOT17_ROWS)
    names = [p.name for p in list_sequences(tmp_path)]
    assert names == ["MOT17-02-FRCNN", "OTHER"]
    assert len(list_sequences(tmp_path, mot17_detector=None)) == 4
    with pytest.raises(FileNotFoundError, match="NOPE"):
        list_sequences(tmp_path, seqs=["NOPE"])


def test_reads_real_pets09(pets09_dir):
    seq = MOTSequence(pets09_dir)
    assert seq.format == "mot15"
    assert len(seq) == 795
    assert (seq.info.im_width, seq.info.im_height) == (768, 576)
    gt = seq.gt()
    assert len(gt) == 4650
    assert len(np.unique(gt.ids)) == 19
    assert len(GTFilter().apply(gt)) == 4476  # 174 conf-0 rows ignored
    assert len(seq.det()) == 4359
    img = seq.read_frame(1)
    assert img.shape == (576, 768, 3)


def test_reads_real_mot17_mini(mot17_mini_dir):
    seqs = list_sequences(mot17_mini_dir)
    assert len(seqs) == 7
    for d in seqs:
        s = MOTSequence(d)
        assert s.format == "mot17"
        gt = s.gt()
        kept = GTFilter().apply(gt)
        assert 0 < len(kept) < len(gt)  # distractors / ignore flags present and removed
        assert set(np.unique(kept.classes)) == {1}
        assert (kept.visibility >= 0.1).all()


def test_dancetrack_eight_digit_frames(tmp_path):
    d = make_seq(tmp_path, "dancetrack0002", ["1,1,10,20,30,60,1,1,1"], images=False, n_frames=3)
    (d / "img1").mkdir()
    for f in range(1, 4):
        (d / "img1" / f"{f:08d}.jpg").write_bytes(b"")
    seq = MOTSequence(d)
    assert seq.frame_path(3).name == "00000003.jpg"
    assert seq.frame_path(3).exists()
