"""scripts/bench_appearance.py (finetrack/studies/cue_speed.py): bad flags are one stderr line, exit 2."""
import pytest

from finetrack.studies.cue_speed import main


@pytest.mark.parametrize("crops", [["192"], ["192x0"], ["axb"], ["192x96x2"]])
def test_bad_crop_is_one_line_exit_2(crops, capsys):
    assert main(["--crops", *crops, "-c", "none", "--frames", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --crops") and crops[0] in err[0]


def test_missing_sequence_is_one_line_exit_2(tmp_path, capsys):
    assert main(["--seq", str(tmp_path / "nope"), "-c", "none", "--crops", "64x32", "--frames", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
