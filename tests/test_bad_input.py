"""Nothing lost, nothing silently wrong (issue 14): one test group per kind of fault.

Every CLI case asserts the exit code, that stderr is one line naming the file (and line), and that
no earlier result was changed and no half-written/temporary file was left behind.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from finetrack.config import Config
from finetrack.configlib import ConfigError, load_config, to_dict
from finetrack.data.mot import MOTFormatError, SeqInfo, read_image, write_seqinfo
from finetrack.utils.cli import CheckpointError, run_cli
from finetrack.utils.io import DirLock, atomic_open, atomic_path, atomic_write_text, staged_dir

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def make_seq(split_dir: Path, name: str, n_frames: int = 6, seq_length=None, size=(64, 96)) -> Path:
    """Two boxes walking right: img1/ (n_frames JPEGs), gt.txt, det.txt (= gt, score 0.9)."""
    d = split_dir / name
    (d / "img1").mkdir(parents=True)
    (d / "gt").mkdir()
    (d / "det").mkdir()
    h, w = size
    gt, det = [], []
    for f in range(1, n_frames + 1):
        img = np.full((h, w, 3), 90, np.uint8)
        for tid, y in ((1, 4), (2, 30)):
            x = 2 + 4 * f
            cv2.rectangle(img, (x, y), (x + 12, y + 24), (40 * tid, 200, 255 - 60 * tid), -1)
            gt.append(f"{f},{tid},{x},{y},12,24,1,1,1")
            det.append(f"{f},-1,{x},{y},12,24,0.9,-1,-1,-1")
        cv2.imwrite(str(d / "img1" / f"{f:06d}.jpg"), img)
    (d / "gt" / "gt.txt").write_text("\n".join(gt) + "\n")
    (d / "det" / "det.txt").write_text("\n".join(det) + "\n")
    write_seqinfo(d, SeqInfo(name, d, "img1", 10, seq_length or n_frames, w, h, ".jpg"))
    return d


def snapshot(root: Path) -> dict:
    """{relative path: (sha1, mode)} of every file under root (hidden ones included)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (hashlib.sha1(p.read_bytes()).hexdigest(), p.stat().st_mode)
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def leftovers(folder: Path) -> list:
    """Temporary / staging / lock files a run may have left (none may remain)."""
    return sorted(
        str(p) for p in folder.rglob("*")
        if ".tmp" in p.name or ".staging-" in p.name or p.name.endswith(".lock")
    )


_TOOLS: dict = {}


def load_tool(name: str):
    """tools/<name>.py as a module (cached): tools run in-process, without a torch import each."""
    if name not in _TOOLS:
        if str(REPO / "tools") not in sys.path:
            sys.path.insert(0, str(REPO / "tools"))
        spec = importlib.util.spec_from_file_location(f"tool_{name}", REPO / "tools" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _TOOLS[name] = mod
    return _TOOLS[name]


def tool(name: str, *args):
    """Run a tool the way its ``__main__`` does (``run_cli(main)``); returns code and output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run_cli(load_tool(name[:-3]).main, [str(a) for a in args])
        except SystemExit as e:  # argparse
            code = e.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def tool_process(name: str, *args, timeout: int = 300):
    """The real command line (a separate process): used where the process matters."""
    return subprocess.run([PY, str(REPO / "tools" / name), *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)


def track(root: Path, out: Path, *extra):
    return tool("track.py", "--data-root", root, "--split", "train", "--det", "gt", "--mode",
                "byte", "--out", out, "--no-progress", "tracker.min_box_area=0", *extra)


def one_line_error(r, *needles) -> str:
    """stderr holds exactly one 'error:' line (no traceback) containing every needle."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("error:", "stopped:", "interrupted"))]
    assert len(errors) == 1, r.stderr[-3000:]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    for n in needles:
        assert str(n) in errors[0], (n, errors[0])
    return errors[0]


# --------------------------------------------------------------------------------------------
# 1. a run folder is never overwritten by another run
# --------------------------------------------------------------------------------------------
def _fake_finished_run(run: Path, cfg_dict: dict) -> None:
    run.mkdir(parents=True)
    torch.save({"model": {"w": torch.ones(2)}, "config": cfg_dict, "epoch": 2}, run / "last.pth")
    torch.save({"model": {"w": torch.ones(2)}, "config": cfg_dict, "epoch": 1}, run / "best.pth")
    (run / "metrics.json").write_text(json.dumps(
        {"best": {"mAP": 61.6, "rank1": 90.0, "epoch": 1}, "finished": True}))
    (run / "config.yaml").write_text("# the config of the finished run\n")


def test_new_reid_run_into_a_finished_run_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    _fake_finished_run(run, to_dict(load_config(Config, None, [f"out_dir={run}"])))
    before = snapshot(run)
    r = tool_process("train_reid.py", "-c", REPO / "configs" / "synthetic_reid.yaml",
                     f"out_dir={run}", f"data.root={tmp_path / 'nodata'}")
    assert r.returncode == 2
    one_line_error(r, str(run), "finished run", "mAP 61.6", "resume=true", "another out_dir",
                   "overwrite=true")
    assert snapshot(run) == before  # best.pth, metrics.json and config.yaml untouched


def test_refused_resume_leaves_config_yaml_untouched(tmp_path):
    run = tmp_path / "run"
    stored = to_dict(load_config(Config, None, [f"out_dir={run}", "train.lr=0.001"]))
    _fake_finished_run(run, stored)
    before = snapshot(run)
    r = tool("train_reid.py", "-c", REPO / "configs" / "synthetic_reid.yaml", f"out_dir={run}",
             "resume=true", "train.lr=0.5")
    assert r.returncode == 2
    one_line_error(r, str(run / "last.pth"), "train.lr")
    assert snapshot(run) == before
    assert not (run / "train.log").exists()


def test_new_det_run_into_a_finished_run_folder_is_refused(tmp_path):
    run = tmp_path / "det"
    run.mkdir()
    torch.save({"model": {}}, run / "best.pth")
    (run / "metrics.json").write_text(json.dumps({"AP50": 70.2, "AP": 30.0}))
    before = snapshot(run)
    r = tool("train_det.py", "-c", REPO / "configs" / "det_pets09.yaml", f"out_dir={run}")
    assert r.returncode == 2
    one_line_error(r, str(run), "AP50 70.2", "resume=true", "overwrite=true")
    assert snapshot(run) == before


def test_overwrite_true_removes_the_old_run_before_training(tmp_path):
    from finetrack.utils.checkpoint import prepare_run_dir

    run = tmp_path / "run"
    _fake_finished_run(run, {})
    (run / "tb").mkdir()
    (run / "tb" / "events.out").write_text("x")
    assert prepare_run_dir(run, {}, resume=False, overwrite=True) is None
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]  # rewritten by the new run
    assert prepare_run_dir(tmp_path / "fresh", {}, resume=False, overwrite=False) is None


# --------------------------------------------------------------------------------------------
# 2. divergence with a finite loss is caught; NaN checkpoints are refused
# --------------------------------------------------------------------------------------------
class _Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
        self.register_buffer("running_var", torch.ones(3))  # diverges silently (like BN stats)

    def forward(self, images, boxes):
        return {"x": self.w * images.mean()}


def _toy_trainer(out: Path, poison_at: int):
    from finetrack.engine.trainer import ReIDTrainer

    model = _Toy()
    calls = {"n": 0}

    def criterion(outputs, labels):
        calls["n"] += 1
        if calls["n"] == poison_at:
            with torch.no_grad():
                model.running_var.fill_(float("nan"))
        return {"total": ((outputs["x"] - 2.0) ** 2).sum()}  # stays finite

    batch = {"images": torch.ones(1, 3, 4, 4), "boxes": [torch.zeros(1, 4)],
             "labels": torch.zeros(1, dtype=torch.long)}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return ReIDTrainer(model, criterion, opt, None, [batch, batch], None, out, epochs=2,
                       device=torch.device("cpu"), progress=False)


def test_nan_weights_with_a_finite_loss_stop_before_the_checkpoint(tmp_path):
    from finetrack.engine.trainer import NonFiniteModelError

    trainer = _toy_trainer(tmp_path, poison_at=3)  # epoch 2, first iteration
    saved = {}
    trainer.on_epoch_end = lambda e, rec: saved.update(snapshot(tmp_path)) if e == 0 else None
    with pytest.raises(NonFiniteModelError) as err:
        trainer.train()
    msg = str(err.value)
    assert "non-finite weights at the end of epoch 2" in msg and "running_var" in msg
    assert f"{tmp_path / 'last.pth'} is kept" in msg
    assert snapshot(tmp_path) == saved  # last.pth / best.pth / metrics.json of epoch 1
    assert torch.load(tmp_path / "last.pth", weights_only=False)["epoch"] == 1
    # and through a tool: exit code 3, one line
    def diverged(argv):
        raise NonFiniteModelError(msg)

    assert run_cli(diverged, []) == 3


def test_nan_weights_are_caught_at_the_interval(tmp_path, monkeypatch):
    import finetrack.engine.base_trainer as tr
    from finetrack.utils.checkpoint import NonFiniteModelError

    monkeypatch.setattr(tr, "FINITE_CHECK_EVERY", 2)
    trainer = _toy_trainer(tmp_path, poison_at=1)
    with pytest.raises(NonFiniteModelError, match="at iteration 2: 1 of 2 tensors"):
        trainer.train()
    assert not (tmp_path / "last.pth").exists()  # nothing NaN was written


def test_tracking_with_a_nan_checkpoint_is_an_error(tmp_path):
    from finetrack.models.detector import YOLOXDetector, save_checkpoint

    det = YOLOXDetector(variant="nano", input_size=(64, 96))
    with torch.no_grad():
        next(det.model.parameters()).fill_(float("nan"))
    ckpt = tmp_path / "nan.pth"
    save_checkpoint(ckpt, det)
    make_seq(tmp_path / "data" / "train", "SEQ-A")
    out = tmp_path / "out"
    r = tool("track.py", "--data-root", tmp_path / "data", "--split", "train", "--det", "yolox",
             "--det-ckpt", ckpt, "--mode", "byte", "--out", out, "--no-progress",
             "model.detector=yolox_nano", "model.input_size=[64,96]")
    assert r.returncode == 2
    one_line_error(r, str(ckpt), "non-finite weights")
    assert not out.exists() and leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# 3. tools/track.py owns its output folder
# --------------------------------------------------------------------------------------------
def test_track_refuses_a_non_empty_out_and_overwrite_replaces_it_whole(tmp_path):
    root = tmp_path / "data"
    make_seq(root / "train", "SEQ-00")
    make_seq(root / "train", "SEQ-01")
    out = tmp_path / "out"
    assert track(root, out).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "SEQ-00.txt", "SEQ-01.txt", "track_config.yaml", "track_summary.json"]
    before = snapshot(out)
    r = tool_process("track.py", "--data-root", root, "--out", out, "--seqs", "SEQ-00")
    assert r.returncode == 2
    one_line_error(r, str(out), "not empty", "--overwrite")
    assert snapshot(out) == before
    r = track(root, out, "--seqs", "SEQ-00", "--overwrite")
    assert r.returncode == 0, r.stderr[-2000:]
    # SEQ-01.txt of the earlier run does not stay behind looking current
    assert sorted(p.name for p in out.iterdir()) == [
        "SEQ-00.txt", "track_config.yaml", "track_summary.json"]
    assert json.loads((out / "track_summary.json").read_text())["sequences"].keys() == {"SEQ-00"}
    assert leftovers(tmp_path) == []


def test_track_failing_midway_keeps_the_earlier_results(tmp_path):
    root = tmp_path / "data"
    make_seq(root / "train", "SEQ-00")
    d = make_seq(root / "train", "SEQ-01")
    out = tmp_path / "out"
    assert track(root, out).returncode == 0
    before = snapshot(out)
    (d / "gt" / "gt.txt").write_text("1,1,1,2,3,4,1,1,1\n2,1,1,2,x,4,1,1,1\n")
    r = track(root, out, "--overwrite")  # SEQ-00 is tracked, then SEQ-01 fails
    assert r.returncode == 2
    one_line_error(r, f"{d / 'gt' / 'gt.txt'}:2")
    assert snapshot(out) == before and leftovers(tmp_path) == []


def test_track_refuses_a_concurrent_run_into_the_same_out(tmp_path):
    root = tmp_path / "data"
    make_seq(root / "train", "SEQ-00")
    out = tmp_path / "out"
    with DirLock(out):  # another run holds the folder
        r = track(root, out)
    assert r.returncode == 2
    one_line_error(r, str(out), "in use by another run")
    assert not out.exists() and leftovers(tmp_path) == []


def test_track_ctrl_c_exits_130_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import finetrack.inference.app as app

    root = tmp_path / "data"
    make_seq(root / "train", "SEQ-00")
    out = tmp_path / "out"
    assert track(root, out).returncode == 0  # earlier results (--overwrite replaces only a run's)
    before = snapshot(out)

    def interrupted(cfg, data_root, split, out_dir, **kw):
        (Path(out_dir) / "SEQ-00.txt").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "run_tracking", interrupted)
    mod = load_tool("track")
    rc = run_cli(mod.main, ["--data-root", str(root), "--out", str(out), "--overwrite",
                            "--no-progress"])
    assert rc == 130 and "interrupted" in capsys.readouterr().err
    assert snapshot(out) == before and leftovers(tmp_path) == []


def test_track_config_written_only_after_the_input_is_validated(tmp_path):
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    out = tmp_path / "out"
    r = track(root, out, "--seqs", "NOPE")
    assert r.returncode == 2
    one_line_error(r, "NOPE")
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# 4. inputs checked against each other
# --------------------------------------------------------------------------------------------
def test_seqlength_larger_than_the_images_is_an_error(tmp_path):
    d = make_seq(tmp_path / "train", "SEQ-A", n_frames=5, seq_length=8)
    r = track(tmp_path, tmp_path / "out")
    assert r.returncode == 2
    one_line_error(r, str(d / "seqinfo.ini"), "seqLength=8", "holds 5", "000006.jpg")
    assert not (tmp_path / "out").exists()


def test_seqlength_smaller_than_the_images_is_an_error(tmp_path):
    d = make_seq(tmp_path / "train", "SEQ-A", n_frames=6, seq_length=4)
    r = track(tmp_path, tmp_path / "out")
    assert r.returncode == 2
    one_line_error(r, str(d / "seqinfo.ini"), "seqLength=4", "holds 6", "cut")


def test_det_and_gt_rows_beyond_seqlength_are_errors(tmp_path):
    d = make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    with open(d / "det" / "det.txt", "a") as f:
        f.write("9,-1,1,1,5,5,0.9,-1,-1,-1\n")
    r = tool("track.py", "--data-root", tmp_path, "--split", "train", "--det", "public",
             "--mode", "byte", "--out", tmp_path / "out", "--no-progress")
    assert r.returncode == 2
    one_line_error(r, f"{d / 'det' / 'det.txt'}:9", "frame 9", "seqLength=4")
    with open(d / "gt" / "gt.txt", "a") as f:
        f.write("7,1,1,1,5,5,1,1,1\n")
    res = tmp_path / "res"
    res.mkdir()
    (res / "SEQ-A.txt").write_text("1,1,6,4,12,24,1,-1,-1,-1\n")
    r = tool("eval.py", "--gt-root", tmp_path / "train", "--results", res)
    assert r.returncode == 2
    one_line_error(r, f"{d / 'gt' / 'gt.txt'}:9", "frame 7")


def test_truncated_jpeg_is_an_error(tmp_path):
    d = make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    img = d / "img1" / "000003.jpg"
    data = img.read_bytes()
    img.write_bytes(data[: len(data) // 2])
    with pytest.raises(MOTFormatError, match="000003.jpg: truncated JPEG"):
        read_image(img)
    r = track(tmp_path, tmp_path / "out", "--video")  # --video reads every frame
    assert r.returncode == 2
    one_line_error(r, str(img), "truncated JPEG")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
    (d / "img1" / "000002.jpg").write_bytes(b"not an image at all \xff\xd9")
    with pytest.raises(MOTFormatError, match="000002.jpg: cannot decode"):
        read_image(d / "img1" / "000002.jpg")


def _results(folder: Path, name: str, frames) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text(
        "".join(f"{f},1,{2 + 4 * f},4,12,24,1,-1,-1,-1\n" for f in frames))


def test_eval_refuses_results_of_another_split(tmp_path):
    make_seq(tmp_path / "train", "SEQ-A", n_frames=10)
    gt_root = tmp_path / "train"
    # val-half results (renumbered 1..5) scored against the full sequence
    _results(tmp_path / "val", "SEQ-A", range(1, 6))
    r = tool("eval.py", "--gt-root", gt_root, "--results", tmp_path / "val", "--split", "full")
    assert r.returncode == 2
    one_line_error(r, str(tmp_path / "val" / "SEQ-A.txt"), "--split val_half")
    # full results scored against the val half: the first row beyond frame 5 is named
    _results(tmp_path / "full", "SEQ-A", range(1, 11))
    r = tool("eval.py", "--gt-root", gt_root, "--results", tmp_path / "full", "--split",
             "val_half")
    assert r.returncode == 2
    one_line_error(r, f"{tmp_path / 'full' / 'SEQ-A.txt'}:6", "frame 6")
    # a track.py folder says which half it holds
    (tmp_path / "full" / "track_summary.json").write_text(json.dumps({"half": "all"}))
    r = tool("eval.py", "--gt-root", gt_root, "--results", tmp_path / "full", "--split",
             "val_half", "--json", tmp_path / "s.json")
    assert r.returncode == 2
    one_line_error(r, "track_summary.json", "--half all")
    assert not (tmp_path / "s.json").exists()


def test_empty_gt_is_an_error_and_empty_det_a_warning(tmp_path, caplog):
    d = make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    (d / "det" / "det.txt").write_text("")
    r = tool("track.py", "--data-root", tmp_path, "--split", "train", "--det", "public",
             "--mode", "byte", "--out", tmp_path / "out", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{d / 'det' / 'det.txt'} is empty" in caplog.text
    (d / "gt" / "gt.txt").write_text("")
    r = tool("eval.py", "--gt-root", tmp_path / "train", "--results", tmp_path / "out")
    assert r.returncode == 2
    one_line_error(r, str(d / "gt" / "gt.txt"), "empty ground truth")


@pytest.mark.parametrize("override, needle", [
    ("tracker.track_thresh=nan", "tracker.track_thresh: 'nan' is not a number"),
    ("tracker.track_thresh=5.0", "tracker.track_thresh: 5.0 is out of range (must be in [0, 1])"),
    ("tracker.track_buffer=-5", "tracker.track_buffer: -5 is out of range (must be >= 0)"),
    ("train.batch_size=0", "train.batch_size: 0 is out of range (must be > 0)"),
    ("model.input_size=[0,64]", "model.input_size[0]: 0 is out of range"),
])
def test_config_values_out_of_range_are_errors(override, needle):
    with pytest.raises(ConfigError) as err:
        load_config(Config, None, [override])
    assert needle in str(err.value)


def test_config_range_error_through_track_and_train(tmp_path):
    make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    r = track(tmp_path, tmp_path / "out", "tracker.track_thresh=5.0")
    assert r.returncode == 2
    one_line_error(r, "tracker.track_thresh", "out of range")
    r = tool("train_reid.py", "-c", REPO / "configs" / "synthetic_reid.yaml",
             f"out_dir={tmp_path / 'run'}", "train.batch_size=0")
    assert r.returncode == 2
    one_line_error(r, "train.batch_size")
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()


def test_frame_rate_zero_names_seqinfo(tmp_path):
    d = make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    ini = d / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("frameRate=10", "frameRate=0"))
    r = track(tmp_path, tmp_path / "out")
    assert r.returncode == 2
    one_line_error(r, str(ini), "frameRate=0 must be > 0")


def test_duplicate_yaml_keys_are_an_error(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text(
        "tracker:\n  track_thresh: 0.5\ntrain:\n  epochs: 2\ntracker:\n  track_buffer: 9\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(Config, p)
    msg = str(err.value)
    assert f"{p}:5" in msg and "'tracker' written twice (lines 1 and 5)" in msg
    assert "\n" not in msg


def test_missing_seqinfo_is_named(tmp_path):
    d = make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    (d / "seqinfo.ini").unlink()
    for extra in ((), ("--seqs", "SEQ-A")):
        r = track(tmp_path, tmp_path / "out", *extra)
        assert r.returncode == 2
        one_line_error(r, f"missing seqinfo.ini: {d / 'seqinfo.ini'}")


# --------------------------------------------------------------------------------------------
# 5. atomic writer: umask permissions, unique temp names, removed on error / Ctrl-C
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writer_keeps_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_path(tmp_path / "b.png") as tmp:
            tmp.write_bytes(b"png")
        with staged_dir(tmp_path / "dir") as stage:
            (stage / "c.txt").write_text("c")
    finally:
        os.umask(old)
    for p in (tmp_path / "a.txt", tmp_path / "b.png"):
        assert p.stat().st_mode & 0o777 == mode, oct(p.stat().st_mode)
    assert (tmp_path / "dir").stat().st_mode & 0o777 == mode | ((mode & 0o444) >> 2)


def test_temp_files_are_unique_and_removed_on_error_and_ctrl_c(tmp_path):
    target = tmp_path / "r.txt"
    target.write_text("old")
    with atomic_open(target) as f1, atomic_open(target) as f2:
        assert f1.name != f2.name  # two writers never share a temp file
        f1.write("one")
        f2.write("two")
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc):
            with atomic_open(target) as f:
                f.write("half")
                raise exc()
        with pytest.raises(exc):
            with atomic_path(tmp_path / "v.mp4") as tmp:
                tmp.write_bytes(b"half")
                raise exc()
    assert target.read_text() == "one" and sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


def test_video_temp_files_are_unique_and_removed_on_abort(tmp_path):
    from finetrack.inference.video import VideoWriter

    a, b = VideoWriter(tmp_path / "SEQ.mp4", 10), VideoWriter(tmp_path / "SEQ.mp4", 10)
    img = np.zeros((32, 48, 3), np.uint8)
    out = SimpleNamespace(ids=[1], xyxy=np.array([[2.0, 2.0, 10.0, 20.0]]))
    a(1, img, out)
    b(1, img, out)
    assert a.tmp != b.tmp and a.tmp.is_file() and b.tmp.is_file()
    b.abort()
    assert a.close() == tmp_path / "SEQ.mp4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SEQ.mp4"]


def test_ablation_plot_uses_the_shared_writer(tmp_path):
    from finetrack.studies import run_reid_ablations as abl

    results = {"fpn_gap": {"history": [{"epoch": 1, "mAP": 10.0}, {"epoch": 2, "mAP": 20.0}]}}
    abl.plot(results, tmp_path / "map.png", "t")
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png"]


# --------------------------------------------------------------------------------------------
# 6. every tool: one line on stderr, exit 2 (130 on Ctrl-C); --debug shows the traceback
# --------------------------------------------------------------------------------------------
def test_out_that_is_a_file_and_json_that_is_a_folder(tmp_path):
    make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    (tmp_path / "file").write_text("keep")
    r = track(tmp_path, tmp_path / "file")
    assert r.returncode == 2
    one_line_error(r, str(tmp_path / "file"), "not a folder")
    assert (tmp_path / "file").read_text() == "keep"
    assert track(tmp_path, tmp_path / "out").returncode == 0
    (tmp_path / "j").mkdir()
    r = tool("eval.py", "--gt-root", tmp_path / "train", "--results", tmp_path / "out",
             "--json", tmp_path / "j")
    assert r.returncode == 2
    one_line_error(r, str(tmp_path / "j"))
    assert list((tmp_path / "j").iterdir()) == []
    r = tool("eval.py", "--gt-root", tmp_path / "train", "--results", tmp_path / "out",
             "--json", tmp_path / "j", "--debug")
    assert r.returncode == 2 and "Traceback" in r.stderr  # --debug: the traceback as well


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_checkpoints_are_one_line(tmp_path, damage):
    from finetrack.utils.checkpoint import load_checkpoint

    ckpt = tmp_path / "best.pth"
    torch.save({"model": {"w": torch.ones(1000)}, "config": {}}, ckpt)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00garbage" * 50)
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*best.pth"):
        load_checkpoint(ckpt)
    r = tool("eval_reid.py", "--ckpt", ckpt)
    assert r.returncode == 2
    one_line_error(r, str(ckpt), "cannot read checkpoint")
    make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    r = tool("track.py", "--data-root", tmp_path, "--split", "train", "--det", "public",
             "--mode", "finetrack", "--reid-ckpt", ckpt, "--out", tmp_path / "out",
             "--no-progress")
    assert r.returncode == 2
    one_line_error(r, str(ckpt))
    assert not (tmp_path / "out").exists()


def test_eval_reid_with_an_unknown_sequence(tmp_path):
    ckpt = tmp_path / "best.pth"
    cfg = to_dict(load_config(Config, None, [f"data.root={tmp_path}", "data.split=full"]))
    torch.save({"model": {}, "model_args": {}, "config": cfg}, ckpt)
    make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    r = tool("eval_reid.py", "--ckpt", ckpt, "data.val_seqs=[NOPE]")
    assert r.returncode == 2
    one_line_error(r, "NOPE", "SEQ-A")


def test_ctrl_c_in_a_tool_is_exit_130_without_traceback(tmp_path):
    """A real SIGINT: a tool stops with one line and code 130, nothing half-written."""
    import time

    make_seq(tmp_path / "train", "SEQ-A", n_frames=4)
    run = tmp_path / "run"
    p = subprocess.Popen(
        [PY, "-c", "import sys, time; "
         "from finetrack.utils.cli import run_cli; "
         "from finetrack.utils.io import atomic_open\n"
         "def main(argv):\n"
         f"    with atomic_open({str(run / 'x.txt')!r}) as f:\n"
         "        f.write('half'); print('ready', flush=True); time.sleep(60)\n"
         "sys.exit(run_cli(main))"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a test run started in the background (nohup, `cmd &` without job control) ignores
        # SIGINT and the child would inherit that; a user's tool in a terminal does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert list(run.iterdir()) == []  # the temporary file was removed
