"""SequenceCMC: per-frame warps, the cache file (reuse, box digests, settings), frame reads."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from finetrack.inference.camera_motion import SequenceCMC, boxes_digest, cache_path
from finetrack.tracker.cmc import build_cmc

W, H = 320, 240
SHIFT = 6  # the camera pans 6 px per frame: the content moves left


def panorama(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((H, W + 100, 3), 120, np.uint8)
    for _ in range(120):
        x, y = int(rng.integers(0, W + 100)), int(rng.integers(0, H))
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        dx, dy = (int(v) for v in rng.integers(4, 25, 2))
        cv2.rectangle(img, (x, y), (x + dx, y + dy), c, -1)
    return img


class Frames:
    """``read_frame`` of a 5-frame pan that counts the frames it is asked for."""

    def __init__(self):
        self.pano = panorama()
        self.reads = []

    def __call__(self, frame: int) -> np.ndarray:
        self.reads.append(frame)
        off = SHIFT * (frame - 1)
        return self.pano[:, off:off + W].copy()


BOXES = {f: np.array([[100.0 - SHIFT * f, 50.0, 130.0 - SHIFT * f, 120.0]]) for f in range(1, 6)}


def run(cmc, boxes=BOXES):
    return [cmc(f, boxes[f]) for f in range(1, 6)]


def make(tmp_path, frames, downscale=2.0):
    return SequenceCMC(build_cmc("sof", downscale=downscale), frames, (W, H),
                       cache_path(tmp_path, "SEQ", "sof"), name="SEQ")


def test_warps_cache_and_reuse(tmp_path):
    frames = Frames()
    cmc = make(tmp_path, frames)
    warps = run(cmc)
    np.testing.assert_array_equal(warps[0], np.eye(2, 3))  # first frame of a run
    pts = np.array([[0.0, 0.0], [W, H], [W / 2, H / 2]])
    for w in warps[1:]:  # every point moves SHIFT px left (within half a pixel)
        np.testing.assert_allclose(pts @ w[:, :2].T + w[:, 2], pts - [SHIFT, 0], atol=0.5)
    assert cmc.computed == 4 and cmc.reused == 0
    assert sorted(set(frames.reads)) == [1, 2, 3, 4, 5] and len(frames.reads) == 5  # once each
    path = cmc.save()
    assert path == tmp_path / "cmc" / "SEQ.sof.txt"
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# finetrack-cmc v1 | sof ") and lines[0].endswith(" | 320x240")
    assert " downscale=2.0 " in lines[0] and " maxCorners=1000 " in lines[0]
    assert lines[1] == "frame,boxes,h11,h12,h13,h21,h22,h23"
    assert [int(r.split(",")[0]) for r in lines[2:]] == [2, 3, 4, 5]
    assert lines[2].split(",")[1] == boxes_digest(BOXES[1], BOXES[2])

    # a second run (another mode, same detections): every warp from the file, no frame read
    frames2 = Frames()
    cmc2 = make(tmp_path, frames2)
    warps2 = run(cmc2)
    assert cmc2.reused == 4 and cmc2.computed == 0 and frames2.reads == []
    for a, b in zip(warps, warps2):
        np.testing.assert_array_equal(a, b)  # %.17g round-trips exactly
    assert cmc2.save() is None  # nothing new

    # other boxes on frame 3: the warps 2->3 and 3->4 are recomputed, frames 2, 3, 4 read
    boxes = dict(BOXES)
    boxes[3] = boxes[3] + 1.0
    frames3 = Frames()
    cmc3 = make(tmp_path, frames3)
    run(cmc3, boxes)
    assert cmc3.computed == 2 and cmc3.reused == 2 and frames3.reads == [2, 3, 4]

    # other settings: the file is ignored and recomputed
    cmc4 = make(tmp_path, Frames(), downscale=1.0)
    run(cmc4)
    assert cmc4.computed == 4 and cmc4.reused == 0


def test_given_images_are_not_read_again_and_a_jump_restarts(tmp_path):
    frames = Frames()
    cmc = SequenceCMC(build_cmc("ecc"), frames, (W, H), None)
    for f in (1, 2):
        cmc(f, BOXES[f], Frames()(f))
    assert frames.reads == [] and cmc.computed == 1
    np.testing.assert_array_equal(cmc(4, BOXES[4]), np.eye(2, 3))  # frame 3 skipped
    assert cmc.save() is None  # no cache file given


def test_unreadable_cache_row_is_recomputed_with_a_warning(tmp_path, caplog):
    cmc = make(tmp_path, Frames())
    run(cmc)
    path = cmc.save()
    lines = path.read_text().splitlines()
    lines[3] = "3,abc,1,0"
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        cmc2 = make(tmp_path, Frames())
    assert f"{path}:4: unreadable CMC row (4 fields, expected 8)" in caplog.text
    run(cmc2)
    assert cmc2.computed == 4


def test_frame_size_must_match_seqinfo():
    cmc = SequenceCMC(build_cmc("sof"), lambda f: np.zeros((100, 100, 3), np.uint8), (W, H), None,
                      name="SEQ-X")
    cmc(1, BOXES[1])
    with pytest.raises(ValueError, match=r"SEQ-X: frame 1 is 100x100, seqinfo.ini says 320x240"):
        cmc(2, BOXES[2])
