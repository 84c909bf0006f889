"""train_reid.py, eval.py --reid (= eval_reid.py) and vis_masks.py end to end; resume after a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from finetrack.utils.checkpoint import load_checkpoint

from .conftest import tiny_overrides

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
QUICK = ["train.max_iters_per_epoch=2", "reid_eval.max_frames=5"]


def _train_cmd(root: Path, out: Path, extra=()):
    return [
        PY,
        str(REPO / "tools" / "train_reid.py"),
        "-c",
        str(REPO / "configs" / "synthetic_reid.yaml"),
        *tiny_overrides(root, out),
        *QUICK,
        *extra,
    ]


@pytest.mark.slow
def test_cli_train_eval_and_vis(tiny_mot_root, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        _train_cmd(tiny_mot_root, out, ["train.epochs=1"]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == {"selected_on", "best", "final", "train_seconds"}
    assert summary["selected_on"] == "train_tail_50pct"
    ev = subprocess.run(
        [PY, str(REPO / "tools" / "eval.py"), "--reid", "--ckpt", str(out / "best.pth")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert ev.returncode == 0, ev.stderr[-2000:]
    res = json.loads(ev.stdout.strip().splitlines()[-1])
    assert res["rank1"] == pytest.approx(summary["final"]["rank1"], abs=1e-6)
    vis = subprocess.run(
        [
            PY,
            str(REPO / "tools" / "vis_masks.py"),
            "--ckpt",
            str(out / "best.pth"),
            "--seq",
            str(tiny_mot_root / "train" / "TINY-01"),
            "--frames",
            "3",
            "--out",
            str(tmp_path / "masks"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert vis.returncode == 0, vis.stderr[-2000:]
    assert (tmp_path / "masks" / "TINY-01_000003.png").is_file()
    bad = subprocess.run(
        _train_cmd(tiny_mot_root, out, ["model.neck=nope"]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert bad.returncode != 0 and "nope" in bad.stderr


@pytest.mark.slow
def test_sigkill_during_training_then_resume(tiny_mot_root, tmp_path):
    epochs = ["train.epochs=3"]
    ref = subprocess.run(
        _train_cmd(tiny_mot_root, tmp_path / "ref", epochs),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert ref.returncode == 0, ref.stderr[-2000:]
    run = tmp_path / "killed"
    proc = subprocess.Popen(
        _train_cmd(tiny_mot_root, run, epochs),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            if (run / "last.pth").is_file():
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        proc.wait(timeout=60)
    assert load_checkpoint(run / "last.pth")["epoch"] < 3
    res = subprocess.run(
        _train_cmd(tiny_mot_root, run, epochs + ["train.resume=true"]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    a, b = load_checkpoint(tmp_path / "ref" / "last.pth"), load_checkpoint(run / "last.pth")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    ma = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    mb = json.loads((run / "metrics.json").read_text())
    assert ma["best"] == mb["best"] and ma["final"] == mb["final"]


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny_mot_root, tmp_path):
    torchrun = Path(PY).parent / "torchrun"
    cmd = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        *_train_cmd(tiny_mot_root, tmp_path, ["train.batch_size=2"])[1:],
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["finished"] and metrics["best"]["epoch"] >= 1
    assert "world size 2" in (tmp_path / "train.log").read_text()
