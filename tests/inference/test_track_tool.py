"""tools/track.py pipeline: half renumbering, results files, submission layout, video, errors."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

from finetrack.data.mot import SeqInfo, write_seqinfo
from finetrack.data.results import read_results

REPO = Path(__file__).resolve().parents[2]


def make_walkers(root: Path, name: str, n_frames: int = 10, size=(160, 240)) -> Path:
    """Two boxes walking right; det.txt = gt boxes with score 0.9 (frame 4: one missed)."""
    d = root / name
    (d / "img1").mkdir(parents=True)
    (d / "gt").mkdir()
    (d / "det").mkdir()
    h, w = size
    gt, det = [], []
    for f in range(1, n_frames + 1):
        img = np.full((h, w, 3), 90, np.uint8)
        for tid, y in ((1, 20), (2, 90)):
            x = 10 + 8 * f
            cv2.rectangle(img, (x, y), (x + 20, y + 50), (40 * tid, 200, 255 - 60 * tid), -1)
            gt.append(f"{f},{tid},{x},{y},20,50,1,1,1")
            if not (f == 4 and tid == 2):
                det.append(f"{f},-1,{x},{y},20,50,0.9,-1,-1,-1")
        cv2.imwrite(str(d / "img1" / f"{f:06d}.jpg"), img)
    (d / "gt" / "gt.txt").write_text("\n".join(gt) + "\n")
    (d / "det" / "det.txt").write_text("\n".join(det) + "\n")
    write_seqinfo(d, SeqInfo(name, d, "img1", 10, n_frames, w, h, ".jpg"))
    return d


def run_track(*args):
    return subprocess.run([sys.executable, str(REPO / "tools" / "track.py"), *args, "--no-progress"],
                          capture_output=True, text=True, cwd=REPO)


def test_public_byte_and_val_half_renumbering(tmp_path):
    make_walkers(tmp_path / "train", "SEQ-A", n_frames=11)
    out = tmp_path / "out"
    r = run_track("--data-root", str(tmp_path), "--split", "train", "--det", "public", "--mode", "byte",
                  "--out", str(out), "--half", "val", "tracker.min_box_area=0")
    assert r.returncode == 0, r.stderr
    res = read_results(out / "SEQ-A.txt")
    # val half of 11 frames = frames 6..11 written as 1..6
    assert res.frames.min() == 1 and res.frames.max() == 6
    # the first written frame is original frame 6: x = 10 + 8 * 6 (tracks output from birth frame)
    first = res.tlwh[res.frames == 1]
    assert sorted(first[:, 0].round().tolist()) == [58.0, 58.0]
    assert sorted(set(res.ids.tolist())) == [1, 2]
    assert (out / "track_config.yaml").is_file() and (out / "track_summary.json").is_file()
    assert "FPS" in r.stdout


def test_gt_source_keeps_ids_and_video(tmp_path):
    make_walkers(tmp_path / "train", "SEQ-A", n_frames=8)
    out = tmp_path / "out"
    r = run_track("--data-root", str(tmp_path), "--split", "train", "--det", "gt", "--mode", "byte",
                  "--out", str(out), "--video", "tracker.min_box_area=0")
    assert r.returncode == 0, r.stderr
    res = read_results(out / "SEQ-A.txt")
    assert len(res) == 16 and sorted(set(res.ids.tolist())) == [1, 2]
    cap = cv2.VideoCapture(str(out / "videos" / "SEQ-A.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8


def test_mot17_submission_writes_21_files(tmp_path):
    for s in ("01", "03", "06", "07", "08", "12", "14"):
        make_walkers(tmp_path / "test", f"MOT17-{s}-FRCNN", n_frames=3)
    out = tmp_path / "out"
    r = run_track("--data-root", str(tmp_path), "--split", "test", "--det", "public", "--mode", "byte",
                  "--out", str(out), "--submission", "mot17", "tracker.min_box_area=0")
    assert r.returncode == 0, r.stderr
    sub = out / "submission"
    txts = sorted(p.name for p in sub.glob("*.txt"))
    assert len(txts) == 21
    assert "MOT17-01-DPM.txt" in txts and "MOT17-14-SDP.txt" in txts
    with zipfile.ZipFile(sub / "MOT17-test.zip") as z:
        assert sorted(z.namelist()) == txts
    assert (sub / "MOT17-07-SDP.txt").read_text() == (out / "MOT17-07-FRCNN.txt").read_text()


def test_errors_exit_2(tmp_path):
    d = make_walkers(tmp_path / "train", "SEQ-A", n_frames=3)
    (d / "det" / "det.txt").write_text("1,-1,1,2,3,4,0.9\n2,-1,1,2,x,4,0.9\n")
    r = run_track("--data-root", str(tmp_path), "--split", "train", "--det", "public", "--mode", "byte",
                  "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "det.txt:2" in r.stderr
    r = run_track("--data-root", str(tmp_path), "--split", "train", "--det", "public", "--mode", "finetrack",
                  "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "--reid-ckpt" in r.stderr
    r = run_track("--data-root", str(tmp_path), "--split", "train", "--mode", "byte", "--out",
                  str(tmp_path / "o"), "tracker.bogus=1")
    assert r.returncode == 2 and "tracker.bogus" in r.stderr
