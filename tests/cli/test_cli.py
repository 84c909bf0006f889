"""The `finetrack` command: every subcommand starts, prints its help with a working example."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from finetrack.cli import COMMANDS, command_main, main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_subcommand_prints_help_with_an_example(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: finetrack {name}")
    example = out.split("example:", 1)[1]
    assert f"finetrack {name} " in example  # the example runs this very subcommand


#: tools/ scripts whose name is not their module's (kept so that documented commands still run).
TOOL_NAMES = {"adapt": "adapt_reid"}


def test_tools_scripts_are_the_same_code():
    for name, (module, _) in COMMANDS.items():
        text = (REPO / "tools" / f"{TOOL_NAMES.get(module, module)}.py").read_text()
        assert f"from finetrack.cli.{module} import main" in text, module
        assert command_main(name).__module__ == f"finetrack.cli.{module}"


def test_module_entry_point_and_unknown_command(capsys):
    assert main([]) == 2
    assert "track" in capsys.readouterr().out
    assert main(["bogus"]) == 2
    assert "unknown command 'bogus'" in capsys.readouterr().err
    r = subprocess.run([sys.executable, "-m", "finetrack.cli", "--help"], capture_output=True,
                       text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "train-reid" in r.stdout and "finetrack track --source" in r.stdout
    r = subprocess.run([sys.executable, str(REPO / "tools" / "prepare_data.py"), "--help"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and r.stdout.startswith("usage: finetrack prepare-data")


def test_setup_declares_the_console_script():
    assert '"finetrack=finetrack.cli:main"' in (REPO / "setup.py").read_text()


def test_old_flag_spellings_still_parse():
    from finetrack.cli import eval as eval_cli
    from finetrack.cli import eval_det, make_synthetic

    a = eval_cli.parse_args(["--gt-root", "G", "--results", "R", "--split", "val_half"])
    assert a.half == "val" and a.gt_root == "G"
    a = eval_cli.parse_args(["--data-root", "D", "--split", "test", "--results", "R"])
    assert a.gt_root == str(Path("D") / "test") and a.half is None
    assert eval_det.parse_args(["--public", "-c", "x.yaml", "--out", "m.json"]).out == "m.json"
    assert eval_det.parse_args(["--public", "-c", "x.yaml", "--json", "m.json"]).out == "m.json"
    assert make_synthetic.parse_args(["--out", "o", "--quiet"]).quiet
    assert make_synthetic.parse_args(["--out", "o", "--no-progress"]).quiet


def _walkers(root: Path, name: str = "SEQ-A", n: int = 10) -> Path:
    from finetrack.data.mot import SeqInfo, write_seqinfo

    d = root / name
    (d / "gt").mkdir(parents=True)
    (d / "img1").mkdir()
    rows = [f"{f},{t},{10 + 5 * f},{20 + 60 * t},20,50,1,1,1"
            for f in range(1, n + 1) for t in (1, 2)]
    (d / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    write_seqinfo(d, SeqInfo(name, d, "img1", 10, n, 240, 200, ".jpg"))
    return d


def test_eval_reads_the_half_from_track_summary(tmp_path, capsys):
    import json

    from finetrack.cli import eval as eval_cli

    _walkers(tmp_path / "train")
    res = tmp_path / "res"
    res.mkdir()
    # the val half of 10 frames = frames 6..10 renumbered 1..5: a perfect tracker on that half
    rows = [f"{f - 5},{t},{10 + 5 * f},{20 + 60 * t},20,50,1,-1,-1,-1" for f in range(6, 11)
            for t in (1, 2)]
    (res / "SEQ-A.txt").write_text("\n".join(rows) + "\n")
    (res / "track_summary.json").write_text(json.dumps({"half": "val"}))
    js = tmp_path / "e.json"
    rc = eval_cli.main(["--data-root", str(tmp_path), "--split", "train", "--results", str(res),
                        "--evaluator", "motmetrics", "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0 and "GT half: val_half" in out
    assert json.loads(js.read_text())["COMBINED"]["MOTA"] == pytest.approx(100.0)
    rc = eval_cli.main(["--data-root", str(tmp_path), "--results", str(res), "--half", "all"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "contradicts" in err[-1] and "track_summary.json" in err[-1]


def test_prepare_data_accepts_data_root_and_root(tmp_path, capsys):
    from finetrack.cli import prepare_data

    _walkers(tmp_path / "train")
    assert prepare_data.main(["--data-root", str(tmp_path), "--split", "train"]) == 0
    out = capsys.readouterr().out
    assert "gt_val_half.txt" in out and "half-split files:" in out
    assert prepare_data.main(["--root", str(tmp_path), "--overwrite"]) == 0
