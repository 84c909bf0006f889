"""The rendered video: H.264 MP4 with the index first (decoded back with PyAV), VP9 / mp4v
fallbacks, readable id labels, trails only for ids in the frame, spread colours, abort."""
from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest

from finetrack.inference import video
from finetrack.inference.video import (CODECS, ENCODERS, VideoWriter, draw_label, id_color,
                                       pick_codec, text_color)


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
    assert w.codec == "h264"
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


def _decode(path: Path):
    """(codec name, decoded frame count, width, height) of a video file, read with PyAV."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return s.codec_context.name, n, s.width, s.height


def _write(path: Path, n: int, h: int = 90, w: int = 120, **kw) -> VideoWriter:
    vw = VideoWriter(path, fps=12.5, **kw)
    for f in range(1, n + 1):
        img = np.full((h, w, 3), 40 * (f % 5), np.uint8)
        vw(f, img, _out([1, 2], x0=5 + 2 * f))
    return vw


def test_h264_mp4_index_at_the_front(tmp_path):
    vw = _write(tmp_path / "v.mp4", 17)
    assert vw.close() == tmp_path / "v.mp4" and vw.codec == "h264"
    assert _decode(tmp_path / "v.mp4") == ("h264", 17, 120, 90)
    data = (tmp_path / "v.mp4").read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # +faststart: playable while loading
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_odd_sizes_are_padded_to_even(tmp_path):
    vw = _write(tmp_path / "v.mp4", 3, h=91, w=121)
    vw.close()
    assert _decode(tmp_path / "v.mp4") == ("h264", 3, 122, 92)


def test_falls_back_to_vp9_webm_then_mp4v_with_a_warning(tmp_path, monkeypatch, caplog):
    table = dict(video._PYAV)
    table["h264"] = ("no_such_encoder",) + table["h264"][1:]
    monkeypatch.setattr(video, "_PYAV", table)
    vw = _write(tmp_path / "v.mp4", 5)
    assert vw.close() == tmp_path / "v.webm" and vw.codec == "vp9"
    assert _decode(tmp_path / "v.webm") == ("vp9", 5, 120, 90)
    table["vp9"] = ("no_such_encoder",) + table["vp9"][1:]
    with caplog.at_level(logging.WARNING, logger="finetrack.inference.video"):
        vw = _write(tmp_path / "w.mp4", 4)
        assert vw.close() == tmp_path / "w.mp4" and vw.codec in CODECS
    assert "browsers do not play" in caplog.text
    assert _decode(tmp_path / "w.mp4")[1:] == (4, 120, 90)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.webm", "w.mp4"]


def test_unknown_encoder_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown video encoders"):
        VideoWriter(tmp_path / "v.mp4", 10, encoders=("h265",))
    assert ENCODERS == ("h264", "vp9", "mp4v")


def test_id_label_is_filled_and_readable_on_any_colour():
    assert text_color((255, 255, 255)) == (0, 0, 0) and text_color((0, 0, 0)) == (255, 255, 255)
    assert text_color((40, 200, 40)) == (0, 0, 0)  # green label: black digits
    canvas = np.full((100, 100, 3), (40, 200, 40), np.uint8)  # "grass"
    x1, y1, x2, y2 = draw_label(canvas, "17", 30, 60, (200, 40, 40), 0.7)
    assert y2 < 60 and x1 == 30  # above the box's top-left corner
    patch = canvas[y1:y2 + 1, x1:x2 + 1].reshape(-1, 3)
    colours = {tuple(int(v) for v in c) for c in patch}
    assert (200, 40, 40) in colours and (255, 255, 255) in colours  # filled box, white digits
    assert (40, 200, 40) not in colours  # nothing of the background shows through the label
    # no room above (top edge): the label goes below the corner, inside the image
    x1, y1, x2, y2 = draw_label(canvas, "3", 95, 2, (0, 0, 255), 0.7)
    assert y1 >= 0 and x2 <= 99
