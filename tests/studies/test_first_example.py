"""scripts/time_first_example.py: the clip it times, and bad input."""
import cv2

from finetrack.studies.first_example import main, write_clip
from tests.inference.tiny_model import tiny_frames, write_mot_seq


def test_clip_holds_the_first_frames_at_the_sequence_rate(tmp_path):
    seq = write_mot_seq(tmp_path, "SEQ", tiny_frames(6), fps=10, ext=".jpg")
    images = write_clip(seq, 4, tmp_path / "out" / "clip.mp4")
    assert len(images) == 4
    cap = cv2.VideoCapture(str(tmp_path / "out" / "clip.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == 10.0
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 4 and (images[0].shape[1], images[0].shape[0]) == (
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))


def test_a_folder_without_img1_is_one_line(tmp_path, capsys):
    assert main(["--seq", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "img1" in err[0]
    assert not (tmp_path / "out").exists()
