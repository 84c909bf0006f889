"""``finetrack track --source`` with ``--det-file`` and the flags ByteTrack / boxmot users reach for:
``--conf``, ``--vid-stride``, ``--max-frames``, ``--save-crops``, ``--format``, any video type
OpenCV reads, ``allow_abbrev=False`` everywhere and ``--version``."""
from __future__ import annotations

import csv
import importlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from finetrack.cli import COMMANDS
from finetrack.cli import main as finetrack_main
from finetrack.data.results import read_results
from finetrack.inference.options import SourceOptions, StridedFrames, parse_classes

H, W, N = 120, 200, 12
RUN = ["--mode", "byte", "--no-progress", "tracker.min_box_area=0", "train.device=cpu"]


def _walkers(f: int):
    """Frame f's two boxes (x, y, w, h): both walk right, 2 px a frame."""
    return [(10 + 2 * f, 15, 20, 50), (10 + 2 * f, 60, 20, 50)]


def _frames():
    out = []
    for f in range(1, N + 1):
        img = np.full((H, W, 3), 90, np.uint8)
        for k, (x, y, w, h) in enumerate(_walkers(f)):
            cv2.rectangle(img, (x, y), (x + w, y + h), (40 + 100 * k, 200, 60), -1)
        out.append(img)
    return out


def _video(path: Path, fourcc: str = "mp4v") -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (W, H))
    for img in _frames():
        vw.write(img)
    vw.release()
    return path


def _dets(path: Path, low_second: bool = False) -> Path:
    """The walkers as MOTChallenge det rows (1-based frames); the second one scores 0.4 when
    ``low_second``, else 0.9."""
    rows = []
    for f in range(1, N + 1):
        for k, (x, y, w, h) in enumerate(_walkers(f)):
            rows.append(f"{f},-1,{x},{y},{w},{h},{0.4 if low_second and k else 0.9}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def clip(tmp_path):
    return _video(tmp_path / "clip.mp4"), _dets(tmp_path / "dets.txt")


def _err_line(capsys) -> str:
    """The error line on stderr (log lines of INFO level may be there too when an earlier test
    configured logging); exactly one, and no traceback."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_det_file_with_a_video_keeps_both_walkers(clip, tmp_path):
    video, dets = clip
    out = tmp_path / "out"
    assert finetrack_main(["track", "--source", str(video), "--det-file", str(dets),
                           "--out", str(out), *RUN]) == 0
    res = read_results(out / "clip.txt")
    assert sorted(set(res.ids.tolist())) == [1, 2]
    for tid in (1, 2):  # one id per walker for the whole clip: its top edge never changes
        ys = res.tlwh[res.ids == tid][:, 1]
        assert np.allclose(ys, ys[0], atol=1.0) and len(ys) == N
    summary = json.loads((out / "track_summary.json").read_text())
    assert summary["det"] == "file" and summary["pipeline"] == "boxes"


def test_det_file_row_beyond_the_video_is_one_line(clip, tmp_path, capsys):
    video, dets = clip
    dets.write_text(dets.read_text() + f"{N + 5},-1,1,1,5,5,0.9\n")
    rc = finetrack_main(["track", "--source", str(video), "--det-file", str(dets),
                         "--out", str(tmp_path / "o"), *RUN])
    line = _err_line(capsys)
    assert rc == 2 and f"{dets}:{2 * N + 1}" in line and f"frame {N + 5}" in line
    assert not (tmp_path / "o").exists()


def test_conf_drops_given_boxes_below_it(tmp_path):
    video = _video(tmp_path / "clip.mp4")
    dets = _dets(tmp_path / "d.txt", low_second=True)
    out = tmp_path / "out"
    assert finetrack_main(["track", "--source", str(video), "--det-file", str(dets), "--conf", "0.5",
                           "--out", str(out), *RUN]) == 0
    res = read_results(out / "clip.txt")
    assert len(set(res.ids.tolist())) == 1 and np.allclose(res.tlwh[:, 1], 15, atol=1.0)


def test_stride_and_limit_keep_source_frame_numbers(clip, tmp_path):
    video, dets = clip
    out = tmp_path / "out"
    assert finetrack_main(["track", "--source", str(video), "--det-file", str(dets),
                           "--vid-stride", "3", "--max-frames", "3", "--out", str(out),
                           "--video", *RUN]) == 0
    res = read_results(out / "clip.txt")
    assert sorted(set(res.frames.tolist())) == [1, 4, 7] and sorted(set(res.ids.tolist())) == [1, 2]
    import av

    with av.open(str(out / "clip.mp4")) as c:
        s = c.streams.video[0]
        assert sum(1 for _ in c.decode(s)) == 3
        assert abs(float(s.average_rate) - 10 / 3) < 0.05  # the source's rate over the stride


def test_strided_reader_counts():
    class R:
        name, frame_rate, num_frames = "r", 30.0, 10

        def iter_frames(self, first=1, last=None, read=True):
            for f in range(first, (last or 10) + 1):
                yield f, None

    s = StridedFrames(R(), 4)
    assert s.num_frames == 3 and s.frame_rate == 7.5
    assert [f for f, _ in s.iter_frames()] == [1, 5, 9]
    s = StridedFrames(R(), 1, max_frames=4)
    assert [f for f, _ in s.iter_frames()] == [1, 2, 3, 4] and s.num_frames == 4


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_json_and_csv_hold_the_txt_rows(clip, tmp_path, fmt):
    video, dets = clip
    base = ["track", "--source", str(video), "--det-file", str(dets), *RUN]
    assert finetrack_main([*base, "--out", str(tmp_path / "txt")]) == 0
    assert finetrack_main([*base, "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    ref = read_results(tmp_path / "txt" / "clip.txt")
    path = tmp_path / fmt / f"clip.{fmt}"
    assert not (tmp_path / fmt / "clip.txt").exists()
    if fmt == "json":
        recs = json.loads(path.read_text())
    else:
        with open(path, newline="") as f:
            recs = list(csv.DictReader(f))
        assert list(recs[0]) == ["frame", "id", "x", "y", "w", "h", "score"]
    got = np.array([[float(r[k]) for k in ("frame", "id", "x", "y", "w", "h", "score")] for r in recs])
    want = np.column_stack([ref.frames, ref.ids, ref.tlwh, ref.scores])
    assert got.shape == want.shape and np.allclose(got, want, atol=0.01)


def test_save_crops_one_file_per_tracked_box(clip, tmp_path):
    video, dets = clip
    out = tmp_path / "out"
    assert finetrack_main(["track", "--source", str(video), "--det-file", str(dets),
                           "--save-crops", "--out", str(out), *RUN]) == 0
    res = read_results(out / "clip.txt")
    crops = sorted((out / "crops" / "clip").rglob("*.jpg"))
    assert len(crops) == len(res.ids)
    for fr, tid, box in zip(res.frames, res.ids, res.tlwh):
        img = cv2.imread(str(out / "crops" / "clip" / str(tid) / f"{fr:06d}.jpg"))
        x1, y1 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
        x2 = min(int(np.ceil(box[0] + box[2])), W)
        y2 = min(int(np.ceil(box[1] + box[3])), H)
        # the results file rounds to 0.01 px: the crop's edge may differ by one pixel
        assert abs(img.shape[0] - (y2 - y1)) <= 1 and abs(img.shape[1] - (x2 - x1)) <= 1


def test_any_video_type_opencv_reads(tmp_path, capsys):
    from finetrack.inference.frames import VideoFrames, open_source
    from finetrack.inference.video import VideoWriter

    # a VP9 .webm (written through PyAV) and an mp4 under an ending nobody lists
    vw = VideoWriter(tmp_path / "w.mp4", 10, encoders=("vp9",))
    from types import SimpleNamespace

    for f, img in enumerate(_frames(), 1):
        vw(f, img, SimpleNamespace(ids=np.zeros(0, int), xyxy=np.zeros((0, 4))))
    webm = vw.close()
    assert webm.suffix == ".webm"
    odd = _video(tmp_path / "clip.mp4").rename(tmp_path / "clip.video")
    for p in (webm, odd):
        r = open_source(str(p))
        assert isinstance(r, VideoFrames) and sum(1 for _ in r.iter_frames()) == N
    (tmp_path / "notes.xyz").write_text("not a video\n")
    rc = finetrack_main(["track", "--source", str(tmp_path / "notes.xyz"), "--det-file",
                         str(_dets(tmp_path / "d.txt")), "--out", str(tmp_path / "o"), *RUN])
    assert rc == 2 and "notes.xyz" in _err_line(capsys)


def test_det_file_needs_a_source_and_no_other_det(clip, tmp_path, capsys):
    video, dets = clip
    rc = finetrack_main(["track", "--source", str(video), "--det-file", str(dets), "--det", "gt",
                         "--out", str(tmp_path / "o"), *RUN])
    assert rc == 2 and "--det-file" in _err_line(capsys)


def test_bad_flag_values_are_one_line(clip, tmp_path, capsys):
    video, dets = clip
    for flags, word in ((["--vid-stride", "0"], "--vid-stride"), (["--conf", "1.5"], "--conf"),
                        (["--classes", "person"], "--classes")):
        rc = finetrack_main(["track", "--source", str(video), "--det-file", str(dets), *flags,
                             "--out", str(tmp_path / "o"), *RUN])
        assert rc == 2 and word in _err_line(capsys)
    assert parse_classes("0, 2") == (0, 2) and parse_classes(None) is None
    with pytest.raises(ValueError):
        SourceOptions(fmt="xml")


def test_no_prefix_matching_and_version_in_every_command(capsys):
    """`--conf 0.3` was taken for `--config 0.3`: every parser refuses abbreviations now."""
    import finetrack

    assert finetrack_main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"finetrack {finetrack.__version__}"
    for name, (module, _) in COMMANDS.items():
        mod = importlib.import_module(f"finetrack.cli.{module}")
        parse = getattr(mod, "parse_args", mod.main)
        with pytest.raises(SystemExit) as e:
            parse(["--versio"])  # a prefix of --version: refused, not expanded
        assert e.value.code == 2, name
        assert "--versio" in capsys.readouterr().err, name
        with pytest.raises(SystemExit) as e:
            parse(["--version"])
        assert e.value.code == 0 and finetrack.__version__ in capsys.readouterr().out, name


def test_stride_on_mot_sequences_with_public_detections(tmp_path):
    from finetrack.data.mot import SeqInfo, write_seqinfo

    d = tmp_path / "train" / "SEQ-A"
    (d / "img1").mkdir(parents=True)
    (d / "det").mkdir()
    for f, img in enumerate(_frames(), 1):
        cv2.imwrite(str(d / "img1" / f"{f:06d}.jpg"), img)
    _dets(d / "det" / "det.txt")
    write_seqinfo(d, SeqInfo("SEQ-A", d, "img1", 10, N, W, H, ".jpg"))
    out = tmp_path / "out"
    assert finetrack_main(["track", "--data-root", str(tmp_path), "--split", "train", "--det",
                           "public", "--vid-stride", "2", "--out", str(out), *RUN]) == 0
    res = read_results(out / "SEQ-A.txt")
    assert set(res.frames.tolist()) == set(range(1, N + 1, 2)) and set(res.ids.tolist()) == {1, 2}


def test_train_threads_sets_the_intra_op_threads(clip, tmp_path):
    import torch

    video, dets = clip
    torch.set_num_threads(2)
    assert finetrack_main(["track", "--source", str(video), "--det-file", str(dets),
                           "--out", str(tmp_path / "o"), *RUN, "train.threads=1"]) == 0
    assert torch.get_num_threads() == 1


def test_stride_on_an_image_folder_reads_only_the_kept_files(tmp_path, monkeypatch):
    from finetrack.data import mot
    from finetrack.inference.frames import ImageFrames

    paths = []
    for i, img in enumerate(_frames(), start=1):
        p = tmp_path / f"{i:06d}.jpg"
        cv2.imwrite(str(p), img)
        paths.append(p)
    read = []
    orig = mot.read_image
    monkeypatch.setattr(mot, "read_image", lambda p: read.append(Path(p).name) or orig(p))
    s = StridedFrames(ImageFrames(paths, "imgs"), 5, max_frames=2)
    got = [(f, img.shape) for f, img in s.iter_frames()]
    assert got == [(1, (H, W, 3)), (6, (H, W, 3))]
    assert read == ["000001.jpg", "000006.jpg"]  # frames 2-5 never decoded
