"""The package-top API: ``finetrack.Tracker``, ``finetrack.load_detector``, ``finetrack.track_video``
(imported lazily: ``import finetrack`` loads no torch)."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import finetrack
from finetrack.data.results import read_results
from finetrack.models import zoo
from finetrack.models.detector import YOLOXDetector
from finetrack.models.random_detector import make_detector_respond
from tests.inference.test_source_options import N, _dets, _frames, _video, _walkers

RUN = ["--mode", "byte", "--no-progress", "tracker.min_box_area=0", "train.device=cpu"]


def test_import_is_cheap_and_the_api_lazy():
    code = ("import sys, finetrack; a = [m in sys.modules for m in ('torch', 'finetrack.api')]; "
            "finetrack.Tracker; print(a[0], a[1], 'finetrack.api' in sys.modules, "
            "sorted(set(finetrack.__all__) & set(dir(finetrack))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(" ", 3)[:3] == ["False", "False", "True"]
    assert "track_video" in out.stdout and "load_detector" in out.stdout
    with pytest.raises(AttributeError):
        finetrack.no_such_thing


def test_tracker_keeps_ids_through_a_crossing():
    """Two people cross (x swapped over 20 frames, one passing in front of the other): ByteTrack's
    Kalman motion keeps each id on its own walker."""
    t = finetrack.Tracker(frame_rate=30, min_box_area=0)
    ids_a, ids_b = set(), set()
    for f in range(20):
        a = [20 + 6 * f, 40, 60 + 6 * f, 140]  # left to right
        b = [140 - 6 * f, 50, 180 - 6 * f, 150]  # right to left, 10 px lower
        out = t.update(np.array([a, b], float), np.array([0.9, 0.8]))
        for tid, box in zip(out.ids, out.xyxy):
            (ids_a if abs(box[1] - a[1]) < abs(box[1] - b[1]) else ids_b).add(int(tid))
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def test_tracker_takes_optional_embeddings():
    t = finetrack.Tracker(mode="jde", frame_rate=30, min_box_area=0)
    emb = np.eye(2, 8)
    for f in range(5):
        boxes = np.array([[10 + 3 * f, 10, 40 + 3 * f, 90], [100, 10, 130, 90]], float)
        out = t.update(boxes, np.array([0.9, 0.9]), emb)
    assert sorted(out.ids.tolist()) == [1, 2]
    with pytest.raises(ValueError, match="needs embeddings"):
        t.update(boxes, np.array([0.9, 0.9]))


@pytest.fixture
def nano_server(tmp_path, monkeypatch):
    """yolox_nano.pth (random, made to respond to the walkers, person class) on a file:// folder."""
    torch.manual_seed(0)
    det = YOLOXDetector("nano", num_classes=80, input_size=(416, 416))
    make_detector_respond(det, _frames()[:4], boxes_per_image=8)
    with torch.no_grad():
        for c in det.model.head.cls_preds:
            c.weight.zero_()
            c.bias.fill_(-8.0)
            c.bias[0] = 8.0
    srv = tmp_path / "srv"
    srv.mkdir()
    torch.save({"model": {k: v.detach().cpu() for k, v in det.model.state_dict().items()}},
               srv / "yolox_nano.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv(zoo.WEIGHTS_URL_ENV, srv.as_uri())
    return det.eval()


def test_load_detector_is_called_on_a_bgr_frame(nano_server):
    detector = finetrack.load_detector("yolox-nano", progress=False)
    assert detector.input_size == (416, 416) and detector.classes == (0,)
    frame = _frames()[0]
    boxes, scores = detector(frame)
    assert boxes.dtype == np.float32 and boxes.shape == (len(scores), 4) and len(scores) > 0
    assert detector.conf == 0.01  # model.conf_thresh of the default config
    nano_server.conf_thresh, nano_server.classes = 0.01, (0,)
    tensor, ratio = nano_server.preprocess(frame)  # the served network on the same frame
    want_boxes, want_scores = nano_server.detect(tensor[None], [ratio], [frame.shape[:2]])[0]
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    np.testing.assert_allclose(boxes, want_boxes, atol=1e-3)
    assert (boxes[:, [0, 2]] <= frame.shape[1]).all() and (boxes[:, [1, 3]] <= frame.shape[0]).all()
    assert len(finetrack.load_detector("yolox-nano", classes=[5], progress=False)(frame)[0]) == 0
    with pytest.raises(ValueError, match="uint8 BGR"):
        detector(frame[..., 0])


def test_track_video_returns_tracks_and_writes_nothing(tmp_path):
    video, dets = _video(tmp_path / "clip.mp4"), _dets(tmp_path / "dets.txt")
    before = sorted(tmp_path.rglob("*"))
    res = finetrack.track_video(video, det_file=dets, mode="byte", config=None)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written
    assert sorted(set(res.ids.tolist())) == [1, 2] and res.rows.shape == (2 * N, 7)
    for tid in (1, 2):  # each id stays on its walker (top edge 15 or 60)
        ys = res.tlwh[res.ids == tid][:, 1]
        assert np.allclose(ys, ys[0], atol=1.0)
    # the same rows as the command line
    from finetrack.cli import main

    assert main(["track", "--source", str(video), "--det-file", str(dets), "--out",
                 str(tmp_path / "cli"), *RUN[:3], "train.device=cpu"]) == 0
    cli = read_results(tmp_path / "cli" / "clip.txt")
    np.testing.assert_allclose(res.rows[np.lexsort((res.ids, res.frames))],
                               np.column_stack([cli.frames, cli.ids, cli.tlwh, cli.scores]),
                               atol=0.01)


def test_track_video_default_mode_is_the_commands(tmp_path):
    """No mode: botsort on the training-free colour + ImageNet cues, as ``finetrack track``
    without --mode; the same rows as the command line."""
    video, dets = _video(tmp_path / "clip.mp4"), _dets(tmp_path / "dets.txt")
    res = finetrack.track_video(video, det_file=dets)
    assert sorted(set(res.ids.tolist())) == [1, 2] and "appearance" in res.timer.seconds
    from finetrack.cli import main

    assert main(["track", "--source", str(video), "--det-file", str(dets), "--out",
                 str(tmp_path / "cli"), "--no-progress", "train.device=cpu"]) == 0
    cli = read_results(tmp_path / "cli" / "clip.txt")
    np.testing.assert_allclose(res.rows[np.lexsort((res.ids, res.frames))],
                               np.column_stack([cli.frames, cli.ids, cli.tlwh, cli.scores]),
                               atol=0.01)


def test_track_video_writes_when_asked(tmp_path, nano_server):
    video = _video(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    res = finetrack.track_video(video, detector="yolox-nano", max_frames=4, out=out, video=True,
                                fmt="json")
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.mp4"]
    assert set(res.frames.tolist()) <= {1, 2, 3, 4} and len(res.ids) > 0
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    with pytest.raises(ValueError, match="out=FOLDER"):
        finetrack.track_video(video, det_file=tmp_path / "x.txt", video=True)
    with pytest.raises(ValueError, match="appearance"):
        finetrack.track_video(video, det_file=tmp_path / "x.txt", mode="finetrack")
    assert _walkers(1)  # the walkers the frames show
