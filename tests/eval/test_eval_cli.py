"""tools/eval.py: output contract, ablation table + plot, exit 2 with file:line on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _eval_helpers import TUD_SEQS, run_cli, tud_folders

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def tud(tmp_path):
    return tud_folders(tmp_path)


def _bad_input(gt_root, res, *extra):
    out = run_cli(["--gt-root", gt_root, "--results", res, *extra])
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stdout.strip() == ""  # no table, no partial score
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_json_contract_and_both_evaluators(tud, tmp_path):
    gt_root, res = tud
    js, cs = tmp_path / "out.json", tmp_path / "out.csv"
    out = run_cli(
        ["--gt-root", gt_root, "--results", res, "--evaluator", "both", "--json", js, "--csv", cs]
    )
    assert out.returncode == 0, out.stderr
    for name in list(TUD_SEQS) + ["COMBINED", "trackeval", "motmetrics", "HOTA", "IDF1"]:
        assert name in out.stdout
    doc = json.loads(js.read_text())
    assert doc["evaluator"] == "both"
    comb = doc["COMBINED"]
    for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1"):
        assert isinstance(comb[k], float) and 0.0 <= comb[k] <= 100.0, k
    for k in ("IDs", "FP", "FN"):
        assert isinstance(comb[k], int), k
    # motmetrics' published TUD overall numbers (percent)
    assert comb["MOTA"] == pytest.approx(55.5116, abs=1e-2)
    assert comb["IDF1"] == pytest.approx(62.4296, abs=1e-2)
    assert (comb["IDs"], comb["FP"], comb["FN"]) == (14, 58, 602)
    assert set(doc["per_sequence"]) == set(TUD_SEQS)
    assert doc["sources"]["HOTA"] == "trackeval"
    mm = doc["by_evaluator"]["motmetrics"]["COMBINED"]
    assert mm["HOTA"] is None and mm["MOTA"] == pytest.approx(comb["MOTA"], abs=1e-9)
    rows = cs.read_text().splitlines()
    assert rows[0].startswith("evaluator,sequence,HOTA") and len(rows) == 1 + 2 * 3


def test_motmetrics_only_json(tud, tmp_path):
    gt_root, res = tud
    js = tmp_path / "mm.json"
    out = run_cli(
        [
            "--gt-root",
            gt_root,
            "--results",
            res,
            "--evaluator",
            "motmetrics",
            "--seqs",
            "TUD-Campus",
            "--json",
            js,
        ]
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(js.read_text())
    assert doc["evaluator"] == "motmetrics" and doc["COMBINED"]["HOTA"] is None
    assert doc["COMBINED"]["MOTA"] == pytest.approx(52.6462, abs=1e-2)
    assert list(doc["per_sequence"]) == ["TUD-Campus"]


def test_compare_table_and_plot(tud, tmp_path):
    gt_root, res = tud
    worse = tmp_path / "worse"
    worse.mkdir()
    for s in TUD_SEQS:  # drop every 3rd line: more misses
        lines = (res / f"{s}.txt").read_text().splitlines()
        (worse / f"{s}.txt").write_text("\n".join(lines[::3]) + "\n")
    js = tmp_path / "cmp.json"
    out = run_cli(
        ["--gt-root", gt_root, "--compare", f"baseline={worse}", f"full={res}", "--json", js]
    )
    assert out.returncode == 0, out.stderr
    assert "| Method | MOTA↑ | IDF1↑ | IDs↓ | HOTA↑ | AssA↑ |" in out.stdout
    assert "| full | 55.51 | 62.43 | 14 |" in out.stdout
    png = tmp_path / "cmp.png"  # default: beside --json
    assert png.read_bytes()[:8] == PNG_MAGIC
    doc = json.loads(js.read_text())
    assert list(doc["table"]) == ["baseline", "full"]
    assert doc["table"]["baseline"]["MOTA"] < doc["table"]["full"]["MOTA"]
    explicit = tmp_path / "plots" / "bars.png"
    out = run_cli(["--gt-root", gt_root, "--compare", f"a={res}", "--plot", explicit])
    assert out.returncode == 0 and explicit.read_bytes()[:8] == PNG_MAGIC


def test_missing_sequence_file_is_an_error(tud):
    gt_root, res = tud
    (res / "TUD-Stadtmitte.txt").unlink()
    msg = _bad_input(gt_root, res)
    assert str(res / "TUD-Stadtmitte.txt") in msg


@pytest.mark.parametrize(
    "bad_line, what",
    [
        ("3,7,10.0,abc,20,40,1,-1,-1,-1", "non-numeric"),
        ("3,7,10.0,20", "columns"),
    ],
)
def test_bad_column_is_an_error_naming_file_and_line(tud, bad_line, what):
    gt_root, res = tud
    path = res / "TUD-Campus.txt"
    lines = path.read_text().splitlines()
    lines.insert(4, bad_line)  # becomes line 5
    path.write_text("\n".join(lines) + "\n")
    msg = _bad_input(gt_root, res)
    assert f"{path}:5:" in msg and what in msg


def test_duplicate_id_in_a_frame_is_an_error(tud):
    gt_root, res = tud
    path = res / "TUD-Stadtmitte.txt"
    lines = path.read_text().splitlines()
    first = lines[0].split(",")
    lines.insert(2, ",".join(first[:2] + ["5", "5", "30", "60"] + first[6:]))  # same frame and id
    path.write_text("\n".join(lines) + "\n")
    msg = _bad_input(gt_root, res, "--workers", "2")  # error crosses the process pool
    assert f"{path}:3:" in msg and "used twice" in msg


def test_frame_outside_sequence_is_an_error(tud):
    gt_root, res = tud
    path = res / "TUD-Campus.txt"
    path.write_text(path.read_text() + "999,1,10,10,20,40,1,-1,-1,-1\n")
    n = len(path.read_text().splitlines())
    msg = _bad_input(gt_root, res)
    assert f"{path}:{n}:" in msg and "outside" in msg


def test_val_half_reads_a_read_only_gt_root_without_writing(pets09_dir, tmp_path):
    before = sorted(p.name for p in (pets09_dir / "gt").iterdir())
    gt = np.loadtxt(pets09_dir / "gt" / "gt.txt", delimiter=",", ndmin=2)
    n = int(pets09_dir.joinpath("seqinfo.ini").read_text().split("seqLength=")[1].split()[0])
    first = n // 2 + 1
    val = gt[(gt[:, 0] >= first) & (gt[:, 6] != 0)]  # scored rows of the val half
    res = tmp_path / "res"
    res.mkdir()
    (res / f"{pets09_dir.name}.txt").write_text(
        "".join(
            f"{int(r[0]) - first + 1},{int(r[1])},{r[2]},{r[3]},{r[4]},{r[5]},1,-1,-1,-1\n"
            for r in val
        )
    )
    js = tmp_path / "v.json"
    out = run_cli(
        [
            "--gt-root",
            pets09_dir.parent,
            "--results",
            res,
            "--seqs",
            pets09_dir.name,
            "--split",
            "val_half",
            "--json",
            js,
        ]
    )
    assert out.returncode == 0, out.stderr
    comb = json.loads(js.read_text())["COMBINED"]
    assert comb["MOTA"] == pytest.approx(100.0) and comb["HOTA"] == pytest.approx(100.0)
    assert (comb["FP"], comb["FN"], comb["IDs"]) == (0, 0, 0)
    assert sorted(p.name for p in (pets09_dir / "gt").iterdir()) == before
