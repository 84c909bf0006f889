"""One backbone pass per frame, any source (video / image folder / glob / MOT folder), Ctrl-C.

A tiny FineTrack model (YOLOX-nano at 64x96) with random weights made to respond to the pixels
(:func:`make_detector_respond`: about a dozen confident anchors per frame, placed by the image
content, which is what the identical-results test needs) is saved as a Re-ID checkpoint holding a
trained detector.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch

from finetrack.cli import track as track_cli
from finetrack.data.results import read_results
from finetrack.models.build import build_model
from finetrack.models.detector import DETECTOR_STATE_KEY, detector_head_trained
from tests.inference.tiny_model import (
    FRAME_H, FRAME_W, INPUT, save_det_ckpt, save_reid_ckpt, tiny_frames, tiny_model, write_mot_seq,
)

H, W, N_FRAMES, FPS = FRAME_H, FRAME_W, 8, 10
TRACK_OVERRIDES = ["tracker.min_box_area=0", "train.device=cpu"]


def _model(seed: int = 0):
    return tiny_model(_frames(), seed)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """(Re-ID checkpoint holding the trained detector, the same detector alone, another one)."""
    d = tmp_path_factory.mktemp("ckpts")
    model = _model()
    save_reid_ckpt(model, d / "reid.pth")
    save_det_ckpt(model, d / "det_same.pth")
    save_det_ckpt(_model(seed=1), d / "det_other.pth")
    return d / "reid.pth", d / "det_same.pth", d / "det_other.pth"


def _frames(seed: int = 0):
    return tiny_frames(N_FRAMES, seed)


def _mot_seq(root: Path, name: str, frames, ext: str = ".png") -> Path:
    return write_mot_seq(root, name, frames, FPS, ext)


def _track(*args):
    return track_cli.main([*args, "--no-progress", *TRACK_OVERRIDES])


class _CountForwards:
    """Counts forward calls of every YOLOX backbone (CSPDarknet) built inside the block.

    Each CSPDarknet created meanwhile (the tool builds its models from the checkpoints) gets a
    forward hook; the detector's full pass and the Re-ID head's feature pass both go through it.
    """

    def __init__(self):
        import yolox.models.darknet as darknet

        self.calls = 0
        self._cls = darknet.CSPDarknet
        self._orig_init = darknet.CSPDarknet.__init__
        self._hooks = []

    def _hook(self, *_):
        self.calls += 1

    def __enter__(self):
        orig, hooks, hook = self._orig_init, self._hooks, self._hook

        def init(module, *a, **k):
            orig(module, *a, **k)
            hooks.append(module.register_forward_hook(hook))

        self._cls.__init__ = init
        return self

    def __exit__(self, *exc):
        self._cls.__init__ = self._orig_init
        for h in self._hooks:
            h.remove()


@pytest.mark.parametrize(
    "extra, pipeline, per_frame",
    [([], "joint", 1), (["--det-ckpt", "SAME"], "joint", 1),
     (["--det-ckpt", "OTHER"], "two-networks", 2), (["--two-networks"], "two-networks", 2)],
)
def test_backbone_runs_once_per_frame_in_joint_mode(ckpts, tmp_path, extra, pipeline, per_frame):
    reid, same, other = ckpts
    extra_names = list(extra)
    extra = [{"SAME": str(same), "OTHER": str(other)}.get(a, a) for a in extra]
    seq = _mot_seq(tmp_path / "train", "SEQ", _frames())
    out = tmp_path / "out"
    with _CountForwards() as counter:
        rc = _track("--data-root", str(tmp_path), "--det", "yolox", "--reid-ckpt", str(reid),
                    "--mode", "finetrack", "--out", str(out), *extra)
    assert rc == 0
    summary = json.loads((out / "track_summary.json").read_text())
    assert summary["pipeline"] == pipeline and summary["frames"] == N_FRAMES
    if per_frame == 1:
        assert counter.calls == N_FRAMES  # one backbone pass per frame, boxes and features
    else:  # the detector's pass on every frame + the Re-ID pass on frames with boxes
        assert N_FRAMES < counter.calls <= 2 * N_FRAMES
    assert summary["timing"]["reid"] > 0
    if "OTHER" not in extra_names:  # the other (random) detector may find nothing confident
        assert summary["sequences"]["SEQ"]["detections"] > 0
        assert len(read_results(out / "SEQ.txt")) > 0
    assert seq.is_dir()


def test_video_image_folder_glob_and_mot_folder_give_identical_results(ckpts, tmp_path, capsys):
    reid = ckpts[0]
    video = tmp_path / "clip.avi"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    assert vw.isOpened()
    for img in _frames():
        vw.write(img)
    vw.release()
    # MJPG is lossy: the folders hold the DECODED frames, so all sources see the same pixels
    cap = cv2.VideoCapture(str(video))
    decoded = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        decoded.append(img)
    cap.release()
    assert len(decoded) == N_FRAMES
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, img in enumerate(decoded, 1):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), img)
    seq = _mot_seq(tmp_path / "mot", "clip_mot", decoded)

    texts = {}
    for kind, src, name in (("video", video, "clip"), ("folder", folder, "frames"),
                            ("glob", f"{folder}/*.png", "frames"), ("mot", seq, "clip_mot")):
        out = tmp_path / f"out_{kind}"
        rc = _track("--source", str(src), "--reid-ckpt", str(reid), "--mode", "finetrack",
                    "--out", str(out), "--fps", str(FPS), *(["--video"] if kind == "video" else []))
        assert rc == 0, kind
        texts[kind] = (out / f"{name}.txt").read_text()
        printed = capsys.readouterr().out
        assert f"{name}.txt" in printed and "track_summary.json" in printed  # every file printed
    res = read_results(tmp_path / "out_video" / "clip.txt")
    assert len(res) > 0 and res.frames.min() >= 1 and res.frames.max() <= N_FRAMES  # 1-based
    assert texts["video"] == texts["folder"] == texts["glob"] == texts["mot"]
    # and the boxes do come from the pixels: the frames in reverse order give other results
    rev = tmp_path / "reversed"
    rev.mkdir()
    for i, img in enumerate(decoded[::-1], 1):
        cv2.imwrite(str(rev / f"f{i:03d}.png"), img)
    assert _track("--source", str(rev), "--reid-ckpt", str(reid), "--mode", "finetrack",
                  "--out", str(tmp_path / "out_rev"), "--fps", str(FPS)) == 0
    assert (tmp_path / "out_rev" / "reversed.txt").read_text() != texts["folder"]
    cap = cv2.VideoCapture(str(tmp_path / "out_video" / "clip.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == N_FRAMES


def test_source_errors_are_one_line_exit_2(ckpts, tmp_path, capsys):
    reid = ckpts[0]
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), _frames()[0])
    cases = [
        (["--source", str(folder), "--det", "public", "--mode", "byte"], "no det.txt"),
        (["--source", str(tmp_path / "nope.mp4"), "--reid-ckpt", str(reid)], "nope.mp4"),
        (["--source", str(tmp_path / "empty_dir_missing" / "*.jpg"), "--reid-ckpt", str(reid)],
         "matches no image"),
    ]
    (tmp_path / "notes.txt").write_text("x")
    cases.append((["--source", str(tmp_path / "notes.txt"), "--reid-ckpt", str(reid)],
                  "unsupported file type"))
    for args, needle in cases:
        rc = _track(*args, "--out", str(tmp_path / "o"))
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2, args
        assert err[-1].startswith("error:") and needle in err[-1], err


def test_ctrl_c_exits_130_and_leaves_complete_files(ckpts, tmp_path, capsys, monkeypatch):
    from finetrack.tracker import Tracker

    reid = ckpts[0]
    seq = _mot_seq(tmp_path / "train", "SEQ", _frames())
    orig = Tracker.update
    calls = {"n": 0}

    def update(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == N_FRAMES:
            raise KeyboardInterrupt
        return orig(self, *a, **k)

    monkeypatch.setattr(Tracker, "update", update)
    out = tmp_path / "out"
    rc = _track("--source", str(seq), "--reid-ckpt", str(reid), "--mode", "finetrack",
                "--out", str(out), "--video")
    captured = capsys.readouterr()
    assert rc == 130
    assert [ln for ln in captured.err.splitlines() if ln.startswith("interrupted")][0]
    assert "Traceback" not in captured.err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["SEQ.mp4", "SEQ.txt", "track_config.yaml", "track_summary.json"]  # no temp
    res = read_results(out / "SEQ.txt")
    assert len(res) > 0 and res.frames.max() <= N_FRAMES - 1  # finished before the interrupt
    cap = cv2.VideoCapture(str(out / "SEQ.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == N_FRAMES - 1
    summary = json.loads((out / "track_summary.json").read_text())
    assert summary["interrupted"] == {"sequence": "SEQ", "frames": N_FRAMES - 1}


def test_untrained_detector_head_is_detected_from_marker_config_or_weights():
    model = build_model({"variant": "nano", "input_size": INPUT},
                        {"channels": 12, "roi_sizes": ((8, 4), (4, 2), (2, 1))})
    state = model.checkpoint_state()
    assert detector_head_trained(state) is False  # YOLOX's prior biases, untouched
    assert detector_head_trained(dict(state, **{DETECTOR_STATE_KEY: {"head_trained": True}}))
    assert detector_head_trained(dict(state, config={"model": {"det_ckpt": "d.pth"}})) is True
    assert detector_head_trained(dict(state, config={"model": {"det_ckpt": None}})) is False
    assert detector_head_trained(_model().checkpoint_state()) is True  # biases moved
    assert detector_head_trained({"model": {}}) is None


def test_a_sequence_without_any_box_is_a_warning(tmp_path, caplog):
    model = _model()
    with torch.no_grad():
        for c in model.detector.model.head.obj_preds:
            c.bias.sub_(1e4)  # moved from the prior (so "trained"), but nothing passes
    det = tmp_path / "det_blind.pth"
    save_det_ckpt(model, det)
    seq = _mot_seq(tmp_path / "src", "SEQ", _frames()[:3])
    with caplog.at_level("WARNING"):
        rc = _track("--source", str(seq), "--det-ckpt", str(det), "--mode", "byte",
                    "--out", str(tmp_path / "out"))
    assert rc == 0
    msgs = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("SEQ: the detector found no box in 3 frame(s)" in m for m in msgs), msgs
    assert (tmp_path / "out" / "SEQ.txt").read_text() == ""
