"""Nothing lost (issue 29): one test per item, each asserting the exit code, the message and that no
input or earlier result changed (sha1 of every file before and after).

1. ``--overwrite`` replaces only what a FineTrack run wrote; an ``--out`` that is, holds or lies
   inside an input, ``.`` or a filesystem root is refused before anything is touched.
2. An interrupted (real SIGINT: before the frame loop, mid-video, after tracking) or failed run
   leaves the earlier results byte-identical.
3. Every frame reader treats a decode error alike (file and frame named; a webcam skips).
4. Any unreadable checkpoint is one line naming the file (the issue's ``random.seed(7)`` bytes).
5. An empty result ends with a warning that says why, recorded in ``track_summary.json``.
6. ``track_summary.json`` lists the final paths.
7. The small ones: train-reid stopped before any ``last.pth``; config paths read from the current
   folder; a detector checkpoint as ``--reid-ckpt``; an unquoted glob; plain progress lines.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import random
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from finetrack.cli import track as track_cli
from finetrack.utils.cli import run_cli
from tests.inference.tiny_model import (
    FRAME_H, FRAME_W, save_det_ckpt, save_reid_ckpt, tiny_frames, tiny_model, write_mot_seq,
)

N_FRAMES, FPS = 8, 10
OVERRIDES = ["tracker.min_box_area=0", "train.device=cpu"]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def snapshot(*roots: Path) -> dict:
    """{path: sha1} of every file under the roots (hidden ones included; a file root itself)."""
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            out[str(p)] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def leftovers(folder: Path) -> list:
    return sorted(str(p) for p in folder.rglob("*")
                  if ".tmp" in p.name or ".staging-" in p.name or p.name.endswith(".lock"))


def track(*args, progress: bool = False, overrides: bool = True):
    """``finetrack track ARGS`` in-process as its console script runs it; code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    argv = ([] if progress else ["--no-progress"]) + [str(a) for a in args] + (
        OVERRIDES if overrides else [])  # key=value ones follow ARGS' own (one positional run)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(track_cli.main, argv)
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue())


def one_line(r, *needles) -> str:
    """stderr holds exactly one error/interrupted line, no traceback, with every needle."""
    lines = [ln for ln in r.err.splitlines()
             if ln.startswith(("error:", "interrupted", "terminated"))]
    assert len(lines) == 1 and "Traceback" not in r.err, r.err[-3000:]
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


def write_video(path: Path, frames) -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (FRAME_W, FRAME_H))
    assert vw.isOpened()
    for img in frames:
        vw.write(img)
    vw.release()
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs (a tiny Re-ID checkpoint holding its detector, the same detector alone, an 8-frame
    MJPG clip, its frames as a JPEG folder and a MOT folder) and one finished run's results."""
    d = tmp_path_factory.mktemp("world")
    frames = tiny_frames(N_FRAMES)
    model = tiny_model(frames)
    save_reid_ckpt(model, d / "reid.pth")
    save_det_ckpt(model, d / "det.pth")
    clip = write_video(d / "clip.avi", frames)
    folder = d / "frames"
    folder.mkdir()
    for i, img in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"{i:06d}.jpg"), img)
    mot = write_mot_seq(d / "mot", "SEQ", frames, FPS, ".jpg")
    earlier = d / "earlier"
    r = track("--source", clip, "--reid-ckpt", d / "reid.pth", "--mode", "finetrack", "--out",
              earlier, "--video")
    assert r.code == 0, r.err[-2000:]
    return SimpleNamespace(dir=d, reid=d / "reid.pth", det=d / "det.pth", clip=clip,
                           folder=folder, mot=mot, earlier=earlier)


def earlier_results(world, tmp_path) -> Path:
    """A copy of a finished run's folder (its manifest still matches)."""
    out = tmp_path / "out"
    shutil.copytree(world.earlier, out)
    return out


@pytest.fixture
def sigint_raises():
    """SIGINT raises KeyboardInterrupt in this process (as in a terminal; a test run started in
    the background may have inherited SIG_IGN)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------------------------
# 1. --overwrite replaces only what a FineTrack run wrote
# --------------------------------------------------------------------------------------------
def test_out_holding_the_input_video_is_refused_and_nothing_touched(world, tmp_path):
    """The issue's case: --source DIR/clip.mp4 --out DIR --overwrite --video."""
    d = tmp_path / "DIR"
    d.mkdir()
    shutil.copy(world.clip, d / "clip.avi")
    (d / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path, world.dir)
    r = track("--source", d / "clip.avi", "--reid-ckpt", world.reid, "--mode", "finetrack",
              "--out", d, "--overwrite", "--video")
    assert r.code == 2
    one_line(r, f"--out {d} contains the input {d / 'clip.avi'}")
    assert snapshot(tmp_path, world.dir) == before and leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["image folder", "inside image folder", "glob folder",
                                  "checkpoint folder", "inside MOT folder", "data split",
                                  "dot", "holds cwd", "root"])
def test_out_that_is_holds_or_is_inside_an_input_is_refused(world, tmp_path, monkeypatch, case):
    src = ["--source", world.folder]
    out = {"image folder": world.folder, "inside image folder": world.folder / "res",
           "glob folder": world.folder, "checkpoint folder": world.dir,
           "inside MOT folder": world.mot / "res", "data split": world.mot.parent,
           "dot": Path("."), "holds cwd": tmp_path, "root": Path("/")}[case]
    if case == "glob folder":
        src = ["--source", f"{world.folder}/*.jpg"]
    if case in ("inside MOT folder", "data split"):
        src = ["--data-root", world.dir, "--split", "mot", "--det", "yolox"]
    if case in ("dot", "holds cwd"):
        (tmp_path / "cwd").mkdir()
        (tmp_path / "cwd" / "notes.txt").write_text("mine\n")
        monkeypatch.chdir(tmp_path / "cwd")
    before = snapshot(tmp_path, world.dir)
    r = track(*src, "--reid-ckpt", world.reid, "--mode", "finetrack", "--out", out, "--overwrite")
    assert r.code == 2
    needle = {"dot": "is the current folder", "holds cwd": "holds the current folder",
              "root": "is a filesystem root", "checkpoint folder": "contains the input",
              "image folder": "is the input", "glob folder": "is the input",
              "data split": "is the input"}.get(case, "is inside the input")
    one_line(r, f"--out {out}", needle)
    assert snapshot(tmp_path, world.dir) == before and leftovers(tmp_path) == []
    assert not (world.folder / "res").exists() and not (world.mot / "res").exists()


def test_overwrite_replaces_only_files_a_run_wrote(world, tmp_path):
    out = earlier_results(world, tmp_path)
    manifest = json.loads((out / "track_summary.json").read_text())["manifest"]
    assert sorted(manifest) == ["clip.mp4", "clip.txt", "track_config.yaml"]
    args = ("--source", world.clip, "--reid-ckpt", world.reid, "--mode", "finetrack", "--out",
            out, "--overwrite")
    # a file no run wrote
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out, world.dir)
    r = track(*args)
    assert r.code == 2
    one_line(r, str(out), "no run wrote", "notes.txt")
    assert snapshot(out, world.dir) == before and leftovers(tmp_path) == []
    # a result the user edited since
    (out / "notes.txt").unlink()
    with open(out / "clip.txt", "a") as f:
        f.write("9,9,1,1,5,5,1,-1,-1,-1\n")
    before = snapshot(out, world.dir)
    r = track(*args)
    assert r.code == 2
    one_line(r, "changed since", "clip.txt")
    assert snapshot(out, world.dir) == before
    # a folder with no record of a run
    other = tmp_path / "other"
    other.mkdir()
    (other / "clip.txt").write_text("1,1,1,1,5,5,1,-1,-1,-1\n")
    before = snapshot(other)
    r = track(*args[:-2], other, "--overwrite")
    assert r.code == 2
    one_line(r, str(other), "no record of one", "track_summary.json")
    assert snapshot(other) == before
    # the run's own files go
    shutil.rmtree(out)
    shutil.copytree(world.earlier, out)
    r = track(*args)
    assert r.code == 0, r.err[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["clip.txt", "track_config.yaml",
                                                      "track_summary.json"]  # no video this time
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# 2. an interrupted or failed run leaves the earlier results as they were
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("point", ["loading the model", "mid-video", "after tracking"])
def test_sigint_keeps_the_earlier_results_byte_identical(world, tmp_path, monkeypatch,
                                                         sigint_raises, point):
    import finetrack.utils.checkpoint as checkpoint
    import finetrack.utils.io as io_mod
    from finetrack.tracker import Tracker

    out = earlier_results(world, tmp_path)
    before = snapshot(out, world.dir)
    sent = {"n": 0}

    def sigint():
        sent["n"] += 1
        os.kill(os.getpid(), signal.SIGINT)

    if point == "loading the model":
        orig_load = checkpoint.load_checkpoint

        def load(*a, **k):
            sigint()
            return orig_load(*a, **k)

        monkeypatch.setattr(checkpoint, "load_checkpoint", load)
    elif point == "mid-video":
        orig_update, calls = Tracker.update, {"n": 0}

        def update(self, *a, **k):
            calls["n"] += 1
            if calls["n"] == N_FRAMES // 2:
                sigint()
            return orig_update(self, *a, **k)

        monkeypatch.setattr(Tracker, "update", update)
    else:  # every frame tracked and the video closed: the signal comes while the files are listed
        orig_manifest = io_mod.file_manifest

        def manifest(*a, **k):
            sigint()
            return orig_manifest(*a, **k)

        monkeypatch.setattr(io_mod, "file_manifest", manifest)
    r = track("--source", world.clip, "--reid-ckpt", world.reid, "--mode", "finetrack", "--out",
              out, "--overwrite", "--video")
    assert sent["n"] == 1 and r.code == 130
    line = one_line(r, "interrupted")
    if point == "mid-video":
        assert f"stopped after {N_FRAMES // 2 - 1} frame(s)" in line and "earlier results" in line
    else:
        assert "earlier results kept" in line
    assert snapshot(out, world.dir) == before and leftovers(tmp_path) == []


def test_a_run_failing_on_a_bad_frame_keeps_the_earlier_results(world, tmp_path):
    folder = tmp_path / "frames"
    shutil.copytree(world.folder, folder)
    bad = folder / "000005.jpg"
    bad.write_bytes(bad.read_bytes()[:300])  # truncated mid-frame
    out = tmp_path / "out"
    assert track("--source", world.folder, "--reid-ckpt", world.reid, "--mode", "finetrack",
                 "--out", out).code == 0
    before = snapshot(out, folder, world.dir)
    r = track("--source", folder, "--reid-ckpt", world.reid, "--mode", "finetrack", "--out", out,
              "--overwrite")
    assert r.code == 2
    one_line(r, "cannot decode frame 5", str(bad), "truncated JPEG")
    assert snapshot(out, folder, world.dir) == before and leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# 3. decode errors: every reader the same way
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["folder", "glob", "mot", "video"])
def test_a_decode_error_names_the_file_and_the_frame(world, tmp_path, kind):
    if kind == "video":
        data = world.clip.read_bytes()
        src = tmp_path / "cut.avi"
        src.write_bytes(data[: len(data) // 2])  # the container still records 8 frames
        inputs = [src]
        needles = [f"of {src}", "records 8 frames", "truncated or corrupt"]
    else:
        base = tmp_path / "in"
        if kind == "mot":
            shutil.copytree(world.mot, base / "SEQ")
            img_dir, src = base / "SEQ" / "img1", base / "SEQ"
        else:
            shutil.copytree(world.folder, base)
            img_dir = base
            src = base if kind == "folder" else f"{base}/*.jpg"
        bad = img_dir / "000003.jpg"
        bad.write_bytes(bad.read_bytes()[:250])
        inputs = [base]
        needles = ["cannot decode frame 3", str(bad), "truncated JPEG"]
    before = snapshot(*inputs, world.dir)
    r = track("--source", src, "--reid-ckpt", world.reid, "--mode", "finetrack", "--out",
              tmp_path / "out")
    assert r.code == 2
    line = one_line(r, *needles)
    if kind == "video":
        m = int(line.split("cannot decode frame ")[1].split()[0])
        assert 1 < m <= N_FRAMES  # the first frame it could not decode
    assert snapshot(*inputs, world.dir) == before
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_a_webcam_frame_that_cannot_be_read_is_skipped_with_a_warning(caplog):
    from finetrack.inference import frames as fr

    img = np.zeros((4, 6, 3), np.uint8)
    script = [True, False, True, True] + [False] * fr.WEBCAM_MAX_MISSES

    class Cap:
        def __init__(self):
            self.i = 0

        def read(self):
            ok = script[self.i] if self.i < len(script) else False
            self.i += 1
            return ok, (img + self.i if ok else None)

        def release(self):
            pass

    cam = fr.WebcamFrames.__new__(fr.WebcamFrames)
    cam.index, cam.name, cam.num_frames, cam.frame_rate = 0, "webcam0", None, 30.0
    cam._open = Cap
    with caplog.at_level(logging.WARNING, logger="finetrack.inference.frames"):
        got = list(cam.iter_frames())
    assert [f for f, _ in got] == [1, 2, 3]
    assert [int(im[0, 0, 0]) for _, im in got] == [1, 3, 4]  # the failed read (2) was skipped
    msgs = [r.getMessage() for r in caplog.records]
    assert "webcam0: could not read the frame after frame 1; skipped" in msgs
    assert any(f"{fr.WEBCAM_MAX_MISSES} reads in a row failed" in m and "after 3 frame(s)" in m
               for m in msgs)


# --------------------------------------------------------------------------------------------
# 4. any unreadable checkpoint: one line naming the file
# --------------------------------------------------------------------------------------------
def _random_bytes(seed: int, n: int = 1000) -> bytes:
    rng = random.Random(seed)  # = random.seed(seed); random.getrandbits(8) ...
    return bytes(rng.getrandbits(8) for _ in range(n))


@pytest.mark.parametrize("flag", ["--reid-ckpt", "--det-ckpt"])
def test_the_issues_random_1000_bytes_are_one_line(world, tmp_path, flag):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(_random_bytes(7))
    before = snapshot(tmp_path, world.dir)
    args = ["--reid-ckpt", bad] if flag == "--reid-ckpt" else ["--det-ckpt", bad, "--mode", "byte"]
    r = track("--source", world.clip, "--mode", "finetrack", *args, "--out", tmp_path / "out")
    assert r.code == 2
    one_line(r, f"cannot read checkpoint {bad}", "truncated or corrupt")
    assert len([ln for ln in r.err.splitlines() if ln.strip()]) == 1, r.err  # no warning either
    assert snapshot(tmp_path, world.dir) == before and not (tmp_path / "out").exists()


def test_random_bytes_of_any_seed_are_a_checkpoint_error(tmp_path):
    from finetrack.utils.checkpoint import load_checkpoint
    from finetrack.utils.cli import CheckpointError

    p = tmp_path / "bad.pth"
    for seed in range(60):
        p.write_bytes(_random_bytes(seed))
        with pytest.raises(CheckpointError, match=f"cannot read checkpoint {p}"):
            load_checkpoint(p)


# --------------------------------------------------------------------------------------------
# 5. an empty result says why
# --------------------------------------------------------------------------------------------
def _det_seq(root: Path) -> Path:
    """A MOT folder of the tiny frames with a det.txt: two boxes per frame, score 0.9."""
    seq = write_mot_seq(root, "SEQ", tiny_frames(N_FRAMES), FPS, ".jpg")
    (seq / "det").mkdir()
    rows = [f"{f},-1,{10 + 9 * (f - 1) + 50 * k},{20 + 10 * k},18,50,0.9,-1,-1,-1"
            for f in range(1, N_FRAMES + 1) for k in (0, 1)]
    (seq / "det" / "det.txt").write_text("\n".join(rows) + "\n")
    return seq


@pytest.mark.parametrize("why", ["no detections", "none tracked"])
def test_an_empty_result_ends_with_a_warning_that_says_why(tmp_path, caplog, why):
    seq = _det_seq(tmp_path / "data")
    before = snapshot(seq)
    extra = (["--min-score", "0.95"] if why == "no detections"
             else ["tracker.track_thresh=0.92", "tracker.new_track_thresh=0.95"])
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        r = track("--source", seq, "--det", "public", "--mode", "byte", "--out", out, *extra)
    assert r.code == 0, r.err[-2000:]
    assert (out / "SEQ.txt").read_text() == ""
    summary = json.loads((out / "track_summary.json").read_text())
    expected = ("no detection above the threshold in 8 frame(s) (public: --min-score 0.95)"
                if why == "no detections" else
                "the tracker kept none of the 16 detection(s) in 8 frame(s) (a track starts "
                "above tracker.new_track_thresh 0.95")
    assert expected in summary["empty_result"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and expected in warnings[-1]  # the run's last warning
    assert snapshot(seq) == before
    # and a run that does keep boxes records no such thing
    r = track("--source", seq, "--det", "public", "--mode", "byte", "--out", tmp_path / "ok")
    assert r.code == 0 and "empty_result" not in json.loads(
        (tmp_path / "ok" / "track_summary.json").read_text())


# --------------------------------------------------------------------------------------------
# 6. track_summary.json lists the final paths
# --------------------------------------------------------------------------------------------
def test_summary_lists_the_final_paths_and_a_manifest_that_matches(world):
    out = world.earlier
    summary = json.loads((out / "track_summary.json").read_text())
    files = [Path(f) for f in summary["files"]]
    assert sorted(f.name for f in files) == ["clip.mp4", "clip.txt", "track_config.yaml",
                                              "track_summary.json"]
    assert all(f.parent == out and f.is_file() and ".staging-" not in str(f) for f in files)
    assert summary["manifest"] == {
        p.name: hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(out.iterdir()) if p.name != "track_summary.json"}


# --------------------------------------------------------------------------------------------
# 7. the smaller items
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("earlier", [False, True])
def test_train_stopped_by_sigterm_before_an_epoch_says_no_checkpoint(tmp_path, capsys, earlier):
    from finetrack.cli.common import run_training
    from finetrack.utils.cli import Terminated

    run = tmp_path / "run"
    run.mkdir()
    if earlier:
        (run / "last.pth").write_bytes(b"an earlier run's checkpoint")
        old = os.stat(run / "last.pth").st_mtime - 60
        os.utime(run / "last.pth", (old, old))
    before = snapshot(run)

    def train(cfg):
        raise Terminated()  # SIGTERM in epoch 1, before any epoch finished

    assert run_training(SimpleNamespace(run_dir=str(run)), train, ["mAP"]) == 143
    err = capsys.readouterr().err.strip()
    assert "holds the last finished epoch" not in err
    if earlier:
        assert err == (f"terminated (SIGTERM) before this run finished an epoch: {run / 'last.pth'}"
                       " is the earlier run's, unchanged (resume=true continues it)")
    else:
        assert err == (f"terminated (SIGTERM) before the first epoch finished: no checkpoint was "
                       f"written in {run} (run again to start over)")
    assert snapshot(run) == before

    def train_one_epoch(cfg):
        (run / "last.pth").write_bytes(b"epoch 1")
        raise KeyboardInterrupt

    assert run_training(SimpleNamespace(run_dir=str(run)), train_one_epoch, ["mAP"]) == 130
    assert capsys.readouterr().err.strip() == (
        f"interrupted: {run / 'last.pth'} holds the last finished epoch (resume=true continues)")


def test_config_data_paths_are_read_from_the_current_folder(tmp_path, monkeypatch, caplog):
    from finetrack.config import Config
    from finetrack.configlib import load_config
    from finetrack.engine.context import REPO_ROOT, resolve_data_root

    repo_cfg = REPO_ROOT / "configs" / "synthetic_reid.yaml"
    root = load_config(Config, repo_cfg).data.root
    assert not Path(root).is_absolute()
    monkeypatch.chdir(REPO_ROOT)  # the configs are written for runs from the repository root
    assert resolve_data_root(root) == (REPO_ROOT / root).resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert resolve_data_root(root) == elsewhere / root  # never the repository's
    (elsewhere / "configs").mkdir()
    assert resolve_data_root("configs") == elsewhere / "configs"
    shutil.rmtree(elsewhere / "configs")
    with caplog.at_level(logging.WARNING):  # missing here, present in the repository: say so
        assert resolve_data_root("configs") == elsewhere / "configs"
    msg = caplog.records[-1].getMessage()
    assert "configs is not in the current folder" in msg and str(REPO_ROOT / "configs") in msg


def test_a_detector_checkpoint_given_as_reid_ckpt_says_what_it_is(world, tmp_path):
    before = snapshot(world.dir)
    r = track("--source", world.clip, "--reid-ckpt", world.det, "--mode", "finetrack", "--out",
              tmp_path / "out")
    assert r.code == 2
    one_line(r, f"{world.det} is a YOLOX detector checkpoint", "give it as --det-ckpt")
    assert "model_args" not in r.err
    assert snapshot(world.dir) == before and not (tmp_path / "out").exists()


def test_an_unquoted_glob_says_to_quote_it(world, tmp_path):
    files = sorted(world.folder.glob("*.jpg"))  # what the shell passes for frames/*.jpg
    before = snapshot(world.dir)
    r = track("--reid-ckpt", world.reid, "--out", tmp_path / "out", "--source", *files)
    assert r.code == 2
    one_line(r, f"--source got {N_FRAMES} paths", "unquoted glob",
             f"--source '{world.folder}/*.jpg'")
    assert "is not key=value" not in r.err
    assert snapshot(world.dir) == before and not (tmp_path / "out").exists()


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(world, tmp_path, monkeypatch):
    import finetrack.utils.progress as progress

    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.0)  # a line per update, to see them all
    r = track("--source", world.clip, "--reid-ckpt", world.reid, "--mode", "finetrack", "--out",
              tmp_path / "out", progress=True)
    assert r.code == 0, r.err[-2000:]
    assert "\r" not in r.err and "\x1b" not in r.err
    lines = [ln for ln in r.err.splitlines() if ln.startswith("clip [all]: ")]
    assert lines[-1].startswith(f"clip [all]: {N_FRAMES}/{N_FRAMES} frame [")
    assert 1 <= len(lines) <= N_FRAMES
    # at the default interval an 8-frame run writes at most its last state and one more
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 5.0)
    r = track("--source", world.clip, "--reid-ckpt", world.reid, "--mode", "finetrack", "--out",
              tmp_path / "out2", progress=True)
    lines = [ln for ln in r.err.splitlines() if ln.startswith("clip [all]: ")]
    assert r.code == 0 and 1 <= len(lines) <= 2 and "\r" not in r.err
