"""Detectors by name (``--det-ckpt yolox-nano``, ``bytetrack_x_mot17``), offline.

A YOLOX-nano COCO checkpoint in the official format (``{"model": state_dict}``, 80 classes) is
built from random weights made to respond to the frames (person class forced to win), served from a
``file://`` folder through ``FINETRACK_WEIGHTS_URL``, downloaded into ``$TORCH_HOME`` (a temporary
folder), loaded and used to track a short mp4 end to end.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from finetrack.cli import main as finetrack_main
from finetrack.config import Config
from finetrack.data.results import read_results
from finetrack.inference.build import build_detector_from_config
from finetrack.models import zoo
from finetrack.models.detector import CheckpointMismatchError, YOLOXDetector
from finetrack.models.random_detector import make_detector_respond
from tests.inference.tiny_model import FRAME_H, FRAME_W, tiny_frames

N_FRAMES = 4
RUN = ["--mode", "byte", "--no-progress", "tracker.min_box_area=0", "train.device=cpu"]


def _state(det: YOLOXDetector):
    return {k: v.detach().cpu().clone() for k, v in det.model.state_dict().items()}


@pytest.fixture(scope="module")
def coco_nano():
    """(state dict, frames): a random YOLOX-nano with 80 classes whose boxes are all 'person'."""
    frames = tiny_frames(N_FRAMES)
    torch.manual_seed(0)
    det = YOLOXDetector("nano", num_classes=80, input_size=(416, 416))
    make_detector_respond(det, frames, boxes_per_image=12)
    with torch.no_grad():
        for c in det.model.head.cls_preds:
            c.weight.zero_()
            c.bias.fill_(-8.0)
            c.bias[0] = 8.0  # every anchor's best class is COCO's 0 (person)
    return _state(det), frames


@pytest.fixture
def server(tmp_path, monkeypatch, coco_nano):
    """A file:// weights folder holding yolox_nano.pth; TORCH_HOME an empty temporary folder."""
    srv = tmp_path / "server"
    srv.mkdir()
    torch.save({"model": coco_nano[0]}, srv / "yolox_nano.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv(zoo.WEIGHTS_URL_ENV, srv.as_uri())
    return srv


def _clip(path: Path, frames) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (FRAME_W, FRAME_H))
    for f in frames:
        w.write(f)
    w.release()
    return path


def _one_line_error(capsys) -> str:
    """The error line on stderr (log lines of INFO level may be there too when an earlier test
    configured logging); exactly one, and no traceback."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_names_resolve_to_yolox_release_addresses():
    from yolox.models.build import _CKPT_FULL_PATH

    e = zoo.lookup("yolox-s")
    assert (e.variant, e.num_classes, e.input_size) == ("s", 80, (640, 640))
    assert e.url == _CKPT_FULL_PATH["yolox-s"] and e.default_classes == (0,)
    assert zoo.lookup("YOLOX_TINY").input_size == (416, 416)
    assert zoo.lookup("yolox-nano").input_size == (416, 416)
    bt = zoo.lookup("bytetrack_x_mot17")
    assert (bt.variant, bt.num_classes, bt.input_size, bt.url) == ("x", 1, (800, 1440), None)
    assert zoo.lookup("some/dir/best.pth") is None and zoo.lookup("best.pth") is None


def test_base_address_from_env_and_config_key(monkeypatch):
    e = zoo.lookup("yolox-m")
    monkeypatch.delenv(zoo.WEIGHTS_URL_ENV, raising=False)
    assert zoo.weights_url(e) == e.url
    monkeypatch.setenv(zoo.WEIGHTS_URL_ENV, "https://mirror.example/w/")
    assert zoo.weights_url(e) == "https://mirror.example/w/yolox_m.pth"
    assert zoo.weights_url(e, "file:///srv") == "file:///srv/yolox_m.pth"  # the config key wins


def test_download_cache_load(server, coco_nano, tmp_path):
    """Downloaded once into $TORCH_HOME/hub/checkpoints, then used from there; the loaded
    network holds exactly the served weights, person class only, at nano's 416."""
    det = build_detector_from_config(Config(), "yolox-nano", progress=False)
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / "yolox_nano.pth"
    assert cached.read_bytes() == (server / "yolox_nano.pth").read_bytes()
    assert not list(cached.parent.glob("*.partial"))
    assert det.num_classes == 80 and det.input_size == (416, 416) and det.classes == (0,)
    for k, v in det.model.state_dict().items():
        assert torch.equal(v, coco_nano[0][k]), k
    (server / "yolox_nano.pth").unlink()  # second load: from the cache, no download
    again = build_detector_from_config(Config(), "yolox-nano", classes=[2], conf=0.5,
                                       progress=False)
    assert again.classes == (2,) and again.conf_thresh == 0.5


def test_track_clip_end_to_end(server, coco_nano, tmp_path, capsys):
    clip = _clip(tmp_path / "clip.mp4", coco_nano[1])
    out = tmp_path / "out"
    assert finetrack_main(["track", "--source", str(clip), "--det-ckpt", "yolox-nano",
                           "--out", str(out), *RUN]) == 0
    res = read_results(out / "clip.txt")
    assert len(res.ids) > 0 and set(np.unique(res.frames)) <= set(range(1, N_FRAMES + 1))
    # --classes 2 (COCO car): the same detector keeps no box, so nothing is tracked
    out2 = tmp_path / "out2"
    assert finetrack_main(["track", "--source", str(clip), "--det-ckpt", "yolox-nano",
                           "--classes", "2", "--out", str(out2), *RUN]) == 0
    assert len(read_results(out2 / "clip.txt").ids) == 0


def test_readme_first_command_runs_offline(server, coco_nano, tmp_path):
    """README's first example as written (no --mode, no --reid-ckpt: botsort on the training-free
    colour + ImageNet cues) with the named detector from the file:// server: a results file with
    tracks and an H.264 mp4 with every frame."""
    import json

    import av

    clip = _clip(tmp_path / "clip.mp4", coco_nano[1])
    out = tmp_path / "out"
    assert finetrack_main(["track", "--source", str(clip), "--det-ckpt", "yolox-nano", "--out",
                           str(out), "--video", "--no-progress", "tracker.min_box_area=0"]) == 0
    assert len(read_results(out / "clip.txt").ids) > 0
    summary = json.loads((out / "track_summary.json").read_text())
    assert (summary["mode"], summary["appearance"]) == ("botsort", "color+imagenet")
    with av.open(str(out / "clip.mp4")) as f:
        stream = f.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in f.decode(stream)) == N_FRAMES


def test_wrong_architecture_is_one_line(tmp_path, monkeypatch, capsys):
    """A YOLOX-tiny file served as yolox_nano.pth: exit 2 naming what it holds."""
    srv = tmp_path / "srv"
    srv.mkdir()
    tiny = YOLOXDetector("tiny", num_classes=80, input_size=(416, 416))
    torch.save({"model": _state(tiny)}, srv / "yolox_nano.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv(zoo.WEIGHTS_URL_ENV, srv.as_uri())
    clip = _clip(tmp_path / "c.mp4", tiny_frames(2))
    rc = finetrack_main(["track", "--source", str(clip), "--det-ckpt", "yolox-nano",
                         "--out", str(tmp_path / "o"), *RUN])
    line = _one_line_error(capsys)
    assert rc == 2 and "YOLOX-tiny" in line and "80 classes" in line and "yolox-nano" in line
    assert not (tmp_path / "o").exists()


def test_corrupt_cached_file_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    cached = zoo.cache_dir() / "yolox_nano.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 not a checkpoint")
    clip = _clip(tmp_path / "c.mp4", tiny_frames(2))
    rc = finetrack_main(["track", "--source", str(clip), "--det-ckpt", "yolox-nano",
                         "--out", str(tmp_path / "o"), *RUN])
    line = _one_line_error(capsys)
    assert rc == 2 and str(cached) in line and "delete it" in line


def test_failed_download_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv(zoo.WEIGHTS_URL_ENV, (tmp_path / "nowhere").as_uri())
    clip = _clip(tmp_path / "c.mp4", tiny_frames(2))
    rc = finetrack_main(["track", "--source", str(clip), "--det-ckpt", "yolox-tiny",
                         "--out", str(tmp_path / "o"), *RUN])
    line = _one_line_error(capsys)
    assert rc == 2 and "nowhere/yolox_tiny.pth" in line and zoo.WEIGHTS_URL_ENV in line
    assert not list((tmp_path / "th").rglob("*.pth*"))


def test_bytetrack_weights_from_cache_never_downloaded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv(zoo.WEIGHTS_URL_ENV, (tmp_path / "srv").as_uri())
    clip = _clip(tmp_path / "c.mp4", tiny_frames(2))
    args = ["track", "--source", str(clip), "--det-ckpt", "bytetrack_nano_mot17",
            "--out", str(tmp_path / "o"), *RUN]
    assert finetrack_main(args) == 2
    line = _one_line_error(capsys)
    assert zoo.BYTETRACK_README in line and "bytetrack_nano_mot17.pth.tar" in line
    assert str(zoo.cache_dir()) in line
    # the right architecture in the cache folder (ByteTrack's own .tar spelling) loads
    zoo.cache_dir().mkdir(parents=True)
    one_class = YOLOXDetector("nano", num_classes=1)
    torch.save({"model": _state(one_class), "start_epoch": 80}, zoo.cache_dir() / "bytetrack_nano_mot17.tar")
    det = build_detector_from_config(Config(), "bytetrack_nano_mot17")
    assert det.num_classes == 1 and det.input_size == (608, 1088) and det.classes is None
    # a COCO (80-class) file under that name is refused in one line
    (zoo.cache_dir() / "bytetrack_nano_mot17.tar").unlink()
    torch.save({"model": _state(YOLOXDetector("nano", num_classes=80))},
               zoo.cache_dir() / "bytetrack_nano_mot17.pth.tar")
    with pytest.raises(CheckpointMismatchError, match=r"holds YOLOX-nano .* with 80 classes, "
                                                      r"not the YOLOX-nano with 1 classes"):
        build_detector_from_config(Config(), "bytetrack_nano_mot17")
