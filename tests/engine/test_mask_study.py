"""finetrack/studies/mask_study.py: the part-mask variants train with their loss switches, the report holds
the mask correlation of every variant, and a folder made with another config is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import load_script, tiny_overrides

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study():
    return load_script("mask_study")


def test_variant_overrides_follow_the_config(study):
    base = {"train": {"epochs": 7, "lr_step_epoch": 5}}
    assert study.variant_overrides("paper", base, 2.0) == []
    assert study.variant_overrides("mask_div", base, 2.0) == ["loss.mask_div=2.0"]
    assert study.variant_overrides("mask_overlap", base, 0.5) == ["loss.mask_overlap=0.5"]
    assert study.variant_overrides("longer", base, 2.0) == ["train.epochs=14", "train.lr_step_epoch=10"]


def test_outcome_names_the_most_diverse_variant_and_the_map_change(study):
    def row(name, r, m):
        return {"variant": name, "final": {"mask_abs_corr": r, "mAP": m}}
    text = study.outcome([row("paper", 0.66, 55.0), row("mask_div", 0.20, 57.5), row("longer", 0.70, 50.0)])
    assert "mask_div: |r| 0.200 (-0.460), mAP 57.5 (+2.5)" in text
    assert "longer: |r| 0.700 (+0.040), mAP 50.0 (-5.0)" in text
    assert text.endswith("Most diverse masks: mask_div.")


def test_two_variants_train_report_and_a_stale_folder_is_refused(study, tiny_mot_root, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("name: tiny\n")
    over = [o for o in tiny_overrides(tiny_mot_root, tmp_path) if not o.startswith("out_dir=")]
    over = [o for o in over if not o.startswith("train.epochs=")] + ["train.epochs=1"]
    out = tmp_path / "study"
    argv = ["-c", str(cfg), "--out", str(out), "--variants", "paper", "mask_div", "--jobs", "2", *over]
    assert study.main(argv) == 0
    report = json.loads((out / "mask_study.json").read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    assert set(rows) == {"paper", "mask_div"}
    for r in rows.values():
        assert 0.0 <= r["final"]["mask_abs_corr"] <= 1.0  # K = 2 masks, measured on the eval half
        assert 0.0 <= r["final"]["mask_border"] <= 1.0   # stored by the run: no re-scoring
        assert len(r["per_epoch_select_mask_abs_corr"]) == 1
    assert "mask_div" in rows["mask_div"]["last_epoch_losses"]      # the switch reached the loss
    assert "mask_div" not in rows["paper"]["last_epoch_losses"]
    saved = yaml.safe_load((out / "mask_div" / "config.yaml").read_text())
    assert saved["loss"]["mask_div"] == 2.0 and saved["train"]["threads"] == 1
    assert "| mask_div | loss.mask_div=2.0 |" in (out / "mask_study.md").read_text()
    # the same request again trains nothing; another weight is refused, naming the key
    assert study.main(argv + ["--report-only"]) == 0
    capsys.readouterr()
    assert study.main(argv + ["--weight", "3"]) == 2
    assert "loss.mask_div: 2.0 -> 3.0" in capsys.readouterr().err
