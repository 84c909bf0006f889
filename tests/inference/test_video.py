"""The rendered video: trails only for ids in the frame, spread colours, codec fallback, abort."""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np

from finetrack.inference import video
from finetrack.inference.video import CODECS, VideoWriter, id_color, pick_codec


def _out(ids, x0=10):
    ids = np.asarray(ids, np.int64)
    xyxy = np.array([[x0 + 30 * i, 10, x0 + 30 * i + 20, 50] for i in range(len(ids))], float)
    return SimpleNamespace(ids=ids, xyxy=xyxy.reshape(-1, 4))


def test_trails_only_for_ids_present_and_file_complete(tmp_path):
    w = VideoWriter(tmp_path / "v.mp4", fps=10, trail=5)
    img = np.zeros((80, 160, 3), np.uint8)
    w(1, img, _out([1, 2]))
    w(2, img, _out([1, 2], x0=12))
    assert w.trail_ids() == [1, 2]
    w(3, img, _out([2, 3], x0=14))  # id 1 left: its trail goes
    assert w.trail_ids() == [2, 3]
    assert len(w._trails[2]) == 3 and len(w._trails[3]) == 1
    assert not (tmp_path / "v.mp4").exists()  # written to a temp name until close()
    assert w.close() == tmp_path / "v.mp4"
    assert w.codec in CODECS
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_abort_leaves_nothing(tmp_path):
    w = VideoWriter(tmp_path / "v.mp4", fps=10)
    w(1, np.zeros((48, 64, 3), np.uint8), _out([1]))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_golden_ratio_colours_spread_neighbouring_ids():
    def hue(c):
        return cv2.cvtColor(np.uint8([[c]]), cv2.COLOR_BGR2HSV)[0, 0, 0] * 2.0  # degrees

    for i in range(1, 40):
        d = abs(hue(id_color(i)) - hue(id_color(i + 1))) % 360
        assert min(d, 360 - d) > 100  # 0.382 of the circle = 137.5 degrees, minus rounding
    assert id_color(7) == id_color(7)


def test_codec_falls_back_to_mp4v(monkeypatch):
    monkeypatch.setattr(video, "_CODEC_CACHE", {})
    assert pick_codec((64, 48), ("zzzz", "mp4v")) == "mp4v"
    assert pick_codec((64, 48)) in CODECS
