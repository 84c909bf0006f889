"""Agreement with motmetrics' own numbers and with TrackEval's own MotChallenge2DBox pipeline."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from _eval_helpers import MM_DATA, TUD_SEQS, assert_close_metrics, trackeval_direct, tud_folders

from finetrack.data.splits import write_half_split
from finetrack.eval import evaluate
from finetrack.synthetic.eval_sets import write_synthetic_set

# motmetrics' own expected values (motmetrics/tests/test_metrics.py::test_motchallenge_files):
# idf1 idp idr recall precision num_unique_objects MT PT ML FP FN IDs Frag mota motp
MM_EXPECTED = {
    "TUD-Campus": [
        0.557659,
        0.729730,
        0.451253,
        0.582173,
        0.941441,
        8,
        1,
        6,
        1,
        13,
        150,
        7,
        7,
        0.526462,
        0.277201,
    ],
    "TUD-Stadtmitte": [
        0.644619,
        0.819760,
        0.531142,
        0.608997,
        0.939920,
        10,
        5,
        4,
        1,
        45,
        452,
        7,
        6,
        0.564014,
        0.345904,
    ],
    "COMBINED": [
        0.624296,
        0.799176,
        0.512211,
        0.602640,
        0.940268,
        18,
        6,
        10,
        2,
        58,
        602,
        14,
        13,
        0.555116,
        0.330177,
    ],
}
MM_NAMES = [
    "idf1",
    "idp",
    "idr",
    "recall",
    "precision",
    "num_unique_objects",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
    "num_false_positives",
    "num_misses",
    "num_switches",
    "num_fragmentations",
    "mota",
    "motp",
]
CLEAR_ID = ("MOTA", "MOTP", "IDF1", "IDP", "IDR", "IDs", "FP", "FN", "Frag", "MT", "ML")


@pytest.fixture(scope="module")
def tud(tmp_path_factory):
    gt_root, res = tud_folders(tmp_path_factory.mktemp("tud"))
    report = evaluate(gt_root, res, evaluators=("trackeval", "motmetrics"))
    return gt_root, res, report


def test_tud_motmetrics_matches_its_published_values(tud):
    _, _, report = tud
    for seq, expected in MM_EXPECTED.items():
        raw = report.raw["motmetrics"][seq]
        ours = [raw[n] for n in MM_NAMES]
        np.testing.assert_allclose(ours, expected, atol=1e-3, err_msg=seq)


def _motmetrics_own_pipeline(monkeypatch):
    """motmetrics' loadtxt + compare_to_groundtruth + compute_many, with np.asfarray restored."""
    import motmetrics as mm

    if not hasattr(np, "asfarray"):  # numpy 2 removed it; motmetrics 1.4.0 still calls it
        monkeypatch.setattr(
            np, "asfarray", lambda a, dtype=float: np.asarray(a, dtype=dtype), raising=False
        )
    accs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in TUD_SEQS:
            gt = mm.io.loadtxt(str(MM_DATA / s / "gt.txt"))
            dt = mm.io.loadtxt(str(MM_DATA / s / "test.txt"))
            accs.append(mm.utils.compare_to_groundtruth(gt, dt, "iou", distth=0.5))
        mh = mm.metrics.create()
        summary = mh.compute_many(
            accs, metrics=MM_NAMES, names=list(TUD_SEQS), generate_overall=True
        )
    return summary.rename(index={"OVERALL": "COMBINED"})


def test_tud_motmetrics_matches_motmetrics_pipeline(tud, monkeypatch):
    _, _, report = tud
    summary = _motmetrics_own_pipeline(monkeypatch)
    for seq in list(TUD_SEQS) + ["COMBINED"]:
        raw = report.raw["motmetrics"][seq]
        for n in MM_NAMES:
            assert raw[n] == pytest.approx(float(summary.loc[seq, n]), abs=1e-3), (seq, n)


def test_tud_trackeval_matches_trackeval_pipeline(tud):
    gt_root, res, report = tud
    ref = trackeval_direct(gt_root, res, TUD_SEQS, benchmark="MOT15")
    for seq in TUD_SEQS:
        assert_close_metrics(report.per_sequence["trackeval"][seq], ref[seq], 1e-9)
    assert_close_metrics(report.combined["trackeval"], ref["COMBINED"], 1e-9)


def test_tud_evaluators_agree(tud):
    _, _, report = tud
    for seq in TUD_SEQS:
        assert_close_metrics(
            report.per_sequence["trackeval"][seq],
            report.per_sequence["motmetrics"][seq],
            1e-6,
            CLEAR_ID,
        )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    lengths = {"MOT17-02-FRCNN": 80, "MOT17-04-FRCNN": 60, "MOT20-01": 60}
    gt_root, res, _ = write_synthetic_set(
        root,
        lengths,
        seed=3,
        boxes_per_frame=12,
        mean_track_len=30,
        distractor_frac=0.15,
        other_frac=0.15,
    )
    return gt_root, res, lengths


def test_synthetic_mot17_matches_trackeval_pipeline(synthetic):
    """Distractor removal, zero flags and non-pedestrian classes exactly as TrackEval (MOT17)."""
    gt_root, res, _ = synthetic
    seqs = ["MOT17-02-FRCNN", "MOT17-04-FRCNN"]
    report = evaluate(gt_root, res, seqs=seqs, evaluators=("trackeval", "motmetrics"))
    assert sum(report.stats[s]["distractor_removed"] for s in seqs) > 0
    ref = trackeval_direct(gt_root, res, seqs, benchmark="MOT17")
    for seq in seqs:
        assert_close_metrics(report.per_sequence["trackeval"][seq], ref[seq], 1e-9)
    assert_close_metrics(report.combined["trackeval"], ref["COMBINED"], 1e-9)
    # motmetrics on the same preprocessed data: counts and ratios agree closely (the two CLEAR
    # matchers may break rare ties differently)
    te, mm = report.combined["trackeval"], report.combined["motmetrics"]
    for k in ("MOTA", "IDF1", "MOTP"):
        assert abs(te[k] - mm[k]) < 0.5, k


def test_synthetic_mot20_distractors_match_trackeval(synthetic):
    gt_root, res, _ = synthetic
    report = evaluate(gt_root, res, seqs=["MOT20-01"])
    assert report.stats["MOT20-01"]["distractor_removed"] > 0
    ref = trackeval_direct(gt_root, res, ["MOT20-01"], benchmark="MOT20")
    assert_close_metrics(report.combined["trackeval"], ref["COMBINED"], 1e-9)


def test_workers_give_the_same_numbers(synthetic):
    gt_root, res, _ = synthetic
    one = evaluate(gt_root, res, evaluators=("trackeval",), workers=1)
    two = evaluate(gt_root, res, evaluators=("trackeval",), workers=2)
    assert one.combined == two.combined and one.per_sequence == two.per_sequence


def test_mot17_mini_real_gt_matches_trackeval(mot17_mini_dir, tmp_path):
    """Real MOT17 rows (flags, distractor classes): results = every GT box, jittered."""
    rng = np.random.default_rng(0)
    seqs = sorted(p.name for p in mot17_mini_dir.iterdir() if (p / "seqinfo.ini").is_file())
    res = tmp_path / "res"
    res.mkdir()
    for s in seqs:
        rows = np.loadtxt(mot17_mini_dir / s / "gt" / "gt.txt", delimiter=",", ndmin=2)
        rows = rows[rng.random(len(rows)) < 0.85]
        box = rows[:, 2:6] + rng.normal(0, 0.08, (len(rows), 4)) * np.repeat(
            rows[:, 4:6], 2, axis=1
        )
        lines = [
            f"{int(r[0])},{int(r[1])},{b[0]:.2f},{b[1]:.2f},{max(b[2], 1):.2f},{max(b[3], 1):.2f},"
            "1,-1,-1,-1"
            for r, b in zip(rows, box)
        ]
        (res / f"{s}.txt").write_text("\n".join(lines) + "\n")
    report = evaluate(mot17_mini_dir, res, seqs=seqs)
    assert sum(report.stats[s]["distractor_removed"] for s in seqs) > 0
    ref = trackeval_direct(mot17_mini_dir, res, seqs, benchmark="MOT17")
    for seq in seqs:
        assert_close_metrics(report.per_sequence["trackeval"][seq], ref[seq], 1e-9)
    assert_close_metrics(report.combined["trackeval"], ref["COMBINED"], 1e-9)


def test_pets09_val_half_matches_trackeval_on_gt_val_half(pets09_dir, tmp_path):
    """--split val_half (in memory) == TrackEval on the gt_val_half.txt write_half_split writes
    (into a temp copy: the shared GT root is never written)."""
    name = pets09_dir.name
    copy = tmp_path / "gt" / name
    (copy / "gt").mkdir(parents=True)
    shutil.copy(pets09_dir / "seqinfo.ini", copy / "seqinfo.ini")
    shutil.copy(pets09_dir / "gt" / "gt.txt", copy / "gt" / "gt.txt")
    half = write_half_split(copy)["val"]
    n_val = int(max(float(x.split(",")[0]) for x in half.read_text().splitlines()))
    # results: val-half GT boxes with one identity swap and jitter, renumbered from 1
    rng = np.random.default_rng(1)
    rows = np.loadtxt(half, delimiter=",", ndmin=2)
    ids = rows[:, 1].copy()
    swap = rows[:, 0] > n_val // 2
    ids[swap & (rows[:, 1] == 1)], ids[swap & (rows[:, 1] == 2)] = 2, 1
    box = rows[:, 2:6] + rng.normal(0, 0.05, (len(rows), 4)) * np.repeat(rows[:, 4:6], 2, axis=1)
    res = tmp_path / "res"
    res.mkdir()
    (res / f"{name}.txt").write_text(
        "".join(
            f"{int(r[0])},{int(i)},{b[0]:.2f},{b[1]:.2f},{b[2]:.2f},{b[3]:.2f},1,-1,-1,-1\n"
            for r, i, b in zip(rows, ids, box)
        )
    )
    report = evaluate(pets09_dir.parent, res, seqs=[name], split="val_half")
    # TrackEval reads the written gt_val_half.txt; its seqLength must be the half's length
    ini = (copy / "seqinfo.ini").read_text()
    n_full = int(ini.split("seqLength=")[1].split()[0])
    (copy / "seqinfo.ini").write_text(
        ini.replace(f"seqLength={n_full}", f"seqLength={n_full - n_full // 2}")
    )
    ref = trackeval_direct(
        tmp_path / "gt",
        res,
        [name],
        benchmark="MOT15",
        gt_loc_format="{gt_folder}/{seq}/gt/gt_val_half.txt",
    )
    assert report.stats[name]["frames"] == n_full - n_full // 2
    assert_close_metrics(report.combined["trackeval"], ref["COMBINED"], 1e-9)
    assert report.combined["trackeval"]["IDs"] > 0
