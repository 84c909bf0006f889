"""finetrack/studies/run_reid_ablations.py: argument handling, refused overrides, tables and orderings."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
# build matplotlib's font cache now: it runs fc-list through subprocess.run, which the tests
# below patch (a fresh machine without the cache failed them)
import matplotlib.font_manager  # noqa: E402,F401
from pathlib import Path

import pytest

from .conftest import load_script

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def abl():
    return load_script("run_reid_ablations")


def _metrics(rank1, mAP, epoch=2):
    return {"best": {"rank1": rank1, "mAP": mAP, "epoch": epoch}, "final": {"rank1": rank1, "mAP": mAP},
            "train_seconds": 10.0}


def test_overrides_after_tables_are_overrides(abl):
    args = abl.parse_args(["-c", "x.yaml", "--tables", "3", "4", "seed=1", "train.epochs=2"])
    assert args.tables == ["3", "4"] and args.overrides == ["seed=1", "train.epochs=2"]


def test_an_override_of_a_varied_key_is_refused(abl, tmp_path, capsys):
    rc = abl.main(["-c", "configs/synthetic_reid.yaml", "--out", str(tmp_path), "model.pooling=gap"])
    assert rc == 2 and "model.pooling" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was trained or written


def test_table_rows_and_ordering_against_the_paper(abl):
    # Table 4 in the paper's mAP order (FAFPN+MPMG > FAFPN+GAP > FPN+MPMG > FPN+GAP) ...
    results = {"fpn_gap": _metrics(80, 50), "fpn_mpmg": _metrics(81, 55), "fafpn_gap": _metrics(82, 58),
               "fafpn_mpmg": _metrics(83, 61)}
    md = abl.markdown("t", results, ["4"], "cmd")
    assert "| FPN + MPMG | 81.0 | 55.0 |" in md
    assert "mAP ordering: same as the paper." in md
    # ... and with FPN + GAP on top, the note names both orderings.
    results["fpn_gap"] = _metrics(90, 70)
    md = abl.markdown("t", results, ["4"], "cmd")
    assert ("differs from the paper** (ours: FPN + GAP > FAFPN + MPMG > FAFPN + GAP > FPN + MPMG; "
            "paper: FAFPN + MPMG > FAFPN + GAP > FPN + MPMG > FPN + GAP)") in md


def _fake_finished_runs(abl, out, names, overrides, epochs_done=None):
    """Write config.yaml + finished metrics.json as train_reid.py would, without training."""
    import json

    import yaml

    for name in names:
        cfg = abl.requested_config(str(REPO / "configs" / "synthetic_reid.yaml"), name, out, overrides)
        run = out / name
        run.mkdir(parents=True)
        (run / "config.yaml").write_text("# resolved config\n" + yaml.safe_dump(cfg))
        m = _metrics(80, 50)
        n = cfg["train"]["epochs"] if epochs_done is None else epochs_done
        m.update({"finished": True, "selected_on": "train_tail_10pct",
                  "history": [{"epoch": e + 1, "select_mAP": 40.0} for e in range(n)]})
        (run / "metrics.json").write_text(json.dumps(m))


def _no_training(*a, **k):
    raise AssertionError("a variant was trained")


def test_a_finished_variant_is_reused_only_with_the_same_config(abl, tmp_path, monkeypatch, capsys):
    names = ["sequential", "shuffle", "fafpn_mpmg"]
    argv = ["-c", str(REPO / "configs" / "synthetic_reid.yaml"), "--out", str(tmp_path),
            "--tables", "3"]
    _fake_finished_runs(abl, tmp_path, names, ["seed=0"])
    monkeypatch.setattr(abl.subprocess, "run", _no_training)
    # same config (plus keys that do not change training): reused, tables written
    assert abl.main(argv + ["seed=0", "train.log_every=5"]) == 0
    assert "| SGS | 80.0 | 50.0 |" in (tmp_path / "ablations.md").read_text()
    assert "selected on train_tail_10pct" in (tmp_path / "ablations.md").read_text()
    capsys.readouterr()
    # another seed into the same folder: the old numbers are not returned under the new label
    assert abl.main(argv + ["seed=1"]) == 2
    err = capsys.readouterr().err
    for name in names:
        assert f"{tmp_path / name} was made with another config: seed: 0 -> 1" in err
    assert "--rerun" in err


def test_a_missing_config_or_fewer_epochs(abl, tmp_path, monkeypatch, capsys):
    import subprocess

    names = ["sequential", "shuffle", "fafpn_mpmg"]
    argv = ["-c", str(REPO / "configs" / "synthetic_reid.yaml"), "--out", str(tmp_path),
            "--tables", "3"]
    _fake_finished_runs(abl, tmp_path, names, ["train.epochs=2"])
    (tmp_path / "shuffle" / "config.yaml").unlink()
    monkeypatch.setattr(abl.subprocess, "run", _no_training)
    assert abl.main(argv + ["train.epochs=2"]) == 2
    assert "shuffle was made with another config: config.yaml is missing" in capsys.readouterr().err
    # more epochs than a finished run has: it is resumed (extended), not reused
    _fake_finished_runs(abl, tmp_path / "b", names, ["train.epochs=2"])
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(abl.subprocess, "run", fake_run)
    argv_b = argv[:3] + [str(tmp_path / "b")] + argv[4:]
    assert abl.main(argv_b + ["train.epochs=3"]) == 0
    assert len(calls) == 3 and all("resume=true" in c and "train.epochs=3" in c for c in calls)
    # fewer epochs than the saved run: stale (resuming cannot shorten it)
    assert abl.main(argv_b + ["train.epochs=1"]) == 2
    assert "train.epochs: 2 -> 1" in capsys.readouterr().err


def test_mean_and_sample_std_by_hand(abl):
    mean, std = abl.mean_std([50.0, 52.0, 57.0])
    assert mean == pytest.approx(53.0)
    assert std == pytest.approx(((9 + 1 + 16) / 2) ** 0.5)  # n - 1
    assert abl.mean_std([4.0]) == (4.0, None)
    assert abl.mean_std([]) == (None, None)


def test_seed_aggregation_and_orderings_by_hand(abl):
    def m(r1, mAP, final_mAP=None, epoch=2):
        return {"best": {"rank1": r1, "mAP": mAP, "epoch": epoch},
                "final": {"rank1": r1, "mAP": mAP if final_mAP is None else final_mAP},
                "train_seconds": 100.0}

    per_seed = {
        0: {"sequential": m(80, 40), "shuffle": m(82, 45), "fafpn_mpmg": m(84, 50)},
        1: {"sequential": m(81, 42), "shuffle": m(83, 47), "fafpn_mpmg": m(85, 46)},
        2: {"sequential": m(79, 44), "shuffle": m(84, 40, final_mAP=49), "fafpn_mpmg": m(83, 54)},
    }
    names = ["sequential", "shuffle", "fafpn_mpmg"]
    agg = abl.aggregate(per_seed, names)
    assert agg["shuffle"]["seeds"] == [0, 1, 2]
    assert agg["shuffle"]["final_mAP"]["values"] == [45, 47, 49]
    assert agg["shuffle"]["final_mAP"]["mean"] == pytest.approx(47.0)
    assert agg["shuffle"]["final_mAP"]["std"] == pytest.approx(2.0)
    assert agg["shuffle"]["selected_mAP"]["mean"] == pytest.approx(44.0)
    assert agg["fafpn_mpmg"]["final_mAP"]["std"] == pytest.approx(4.0)
    o = abl.orderings(agg, per_seed, "3", "final_mAP")
    # means: SGS 50 > shuffle 47 > sequential 42: the paper's order
    assert o["holds"] and o["paper_best_is_best"] and o["ours"] == ["SGS", "shuffle", "sequential"]
    assert [(p["better"], p["holds_in"], p["seeds"]) for p in o["pairs"]] == [
        ("SGS", 2, 3), ("shuffle", 3, 3)]  # seed 1: SGS 46 < shuffle 47
    assert o["pairs"][0]["mean_diff"] == pytest.approx(3.0)
    assert "**holds**" in abl.ordering_sentence(o) and "SGS > shuffle in 2/3 seeds" in abl.ordering_sentence(o)
    # a variant missing in one seed: fewer seeds, and the pair counts only shared seeds
    del per_seed[2]["shuffle"]
    agg = abl.aggregate(per_seed, names)
    assert agg["shuffle"]["seeds"] == [0, 1] and agg["shuffle"]["final_mAP"]["mean"] == pytest.approx(46.0)
    o = abl.orderings(agg, per_seed, "3", "final_mAP")
    assert o["pairs"][0]["seeds"] == 2


def test_seeds_report_only_reports_the_finished_runs(abl, tmp_path, monkeypatch, capsys):
    import json

    names = ["sequential", "shuffle", "fafpn_mpmg"]
    for s in (0, 1):
        _fake_finished_runs(abl, tmp_path / f"seed{s}", names, [f"seed={s}"])
    monkeypatch.setattr(abl.subprocess, "run", _no_training)
    monkeypatch.setattr(abl, "seed_positives", lambda *a: {
        "sequences": 1, "frames": 10, "identities": 3, "batch_size": 8, "epochs": 3, "seeds": [0, 1, 2],
        "samplers": {"shuffle": {"positives_per_anchor": 0.5, "anchors_with_positive": 0.4},
                     "sgs": {"positives_per_anchor": 5.0, "anchors_with_positive": 0.99}}})
    argv = ["-c", str(REPO / "configs" / "synthetic_reid.yaml"), "--out", str(tmp_path), "--tables", "3",
            "--seeds", "0", "1", "2", "--report-only"]
    assert abl.main(argv) == 0
    rep = json.loads((tmp_path / "sgs_report.json").read_text())
    assert rep["variants"]["shuffle"]["seeds"] == [0, 1]
    assert rep["missing"] == ["seed2/sequential", "seed2/shuffle", "seed2/fafpn_mpmg"]
    md = (tmp_path / "sgs_report.md").read_text()
    assert "| SGS | 2 | 80.0 ± 0.0 | 50.0 ± 0.0 |" in md
    assert "| sgs | 5.00 | 99.0% |" in md and "Missing (not finished): seed2/sequential" in md
    # seed= together with --seeds is refused
    assert abl.main(argv[:-1] + ["seed=1"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_final_from_takes_the_final_numbers_from_an_eval_json(abl, tmp_path, monkeypatch):
    import json

    names = ["sequential", "shuffle", "fafpn_mpmg"]
    for s in (0, 1):
        _fake_finished_runs(abl, tmp_path / f"seed{s}", names, [f"seed={s}"])
        for i, name in enumerate(names):
            (tmp_path / f"seed{s}" / name / "eval_120.json").write_text(
                json.dumps({"rank1": 60.0 + i + s, "mAP": 40.0 + 2 * i + 2 * s, "num_queries": 300}))
    (tmp_path / "seed1" / "shuffle" / "eval_120.json").unlink()  # not evaluated: missing
    monkeypatch.setattr(abl.subprocess, "run", _no_training)
    monkeypatch.setattr(abl, "seed_positives", lambda *a: None)
    argv = ["-c", str(REPO / "configs" / "synthetic_reid.yaml"), "--out", str(tmp_path), "--tables", "3",
            "--seeds", "0", "1"]
    assert abl.main(argv + ["--final-from", "eval_120.json"]) == 2  # needs --report-only
    assert abl.main(argv + ["--report-only", "--final-from", "eval_120.json"]) == 0
    rep = json.loads((tmp_path / "sgs_report_eval_120.json").read_text())
    assert rep["variants"]["fafpn_mpmg"]["final_mAP"]["values"] == [44.0, 46.0]
    assert rep["variants"]["fafpn_mpmg"]["selected_mAP"]["values"] == [50, 50]  # metrics.json's
    assert rep["missing"] == ["seed1/shuffle"] and rep["variants"]["shuffle"]["seeds"] == [0]
    assert "--final-from eval_120.json" in rep["command"]
    assert not (tmp_path / "sgs_report.json").exists()
