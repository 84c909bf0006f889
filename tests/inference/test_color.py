"""The colour-histogram appearance cue (``tracker.appearance``, finetrack/inference/color.py).

- a box's feature has its hand-derived bins (one colour per half of the body);
- clothes swapped between the upper and the lower body give the hand-derived cosine 1/3;
- fused Re-ID + colour vectors have the cosine ``(1 - w) cos_reid + w cos_color``;
- on a rendered crossing that byte swaps, ``robust`` with colour features (no Re-ID checkpoint)
  keeps both identities, in the tracker and end to end through ``run_tracking``;
- bad config values are refused.
"""
import numpy as np
import pytest

from finetrack.inference.color import (ColorAppearance, ColorHistogramEmbedder, color_histogram,
                                       fuse_embeddings)
from finetrack.tracker import Tracker
from finetrack.tracker import RobustSettings

from tests.tracker.test_tracker_crossing import bounce_scene, run_scene

RED, BLUE, GREEN, YELLOW = (0, 0, 255), (255, 0, 0), (0, 255, 0), (0, 255, 255)  # BGR
FAST = RobustSettings(min_samples=5, identity_lag_s=0.1, identity_z=0.0)


def _person(img, box, top, bottom):
    x1, y1, x2, y2 = (int(v) for v in box)
    ym = (y1 + y2) // 2
    img[y1:ym, x1:x2] = top
    img[ym:y2, x1:x2] = bottom


def test_single_colour_halves_hand_value():
    img = np.full((200, 100, 3), 128, np.uint8)
    _person(img, (20, 20, 80, 180), RED, BLUE)
    f = color_histogram(img, (20, 20, 80, 180))
    assert f.shape == (144,) and abs(np.linalg.norm(f) - 1) < 1e-6
    # red: H 0, S 255, V 255 -> hs bin 0 * 4 + 3, v bin 7; blue: H 120 -> hs bin 10 * 4 + 3
    expect = np.zeros(144)
    expect[[3, 64 + 7]] = [1.0, np.sqrt(0.5)]
    expect[[72 + 43, 72 + 64 + 7]] = [1.0, np.sqrt(0.5)]
    np.testing.assert_allclose(f, expect / np.sqrt(3.0), atol=1e-6)


def test_swapped_clothes_hand_cosine():
    img = np.full((200, 300, 3), 128, np.uint8)
    _person(img, (20, 20, 80, 180), RED, BLUE)
    _person(img, (200, 20, 260, 180), BLUE, RED)
    a, b = ColorHistogramEmbedder()(img, np.array([[20, 20, 80, 180], [200, 20, 260, 180.0]]))
    assert abs(float(a @ b) - 1.0 / 3.0) < 1e-6  # only the value bins (both 255) agree
    assert ColorHistogramEmbedder()(img, np.zeros((0, 4))).shape == (0, 144)
    assert not color_histogram(img, (500, 500, 600, 600)).any()  # outside the image


def test_fused_cosine_is_the_weighted_sum():
    rng = np.random.default_rng(0)
    reid, col = rng.normal(size=(5, 16)), np.abs(rng.normal(size=(5, 9)))
    reid[4] = 0.0  # a box the Re-ID head skipped
    w = 0.3
    f = fuse_embeddings(reid, col, w)
    n = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # noqa: E731
    want = (1 - w) * n(reid) @ n(reid).T + w * n(col) @ n(col).T
    np.testing.assert_allclose(f @ f.T, want, atol=1e-5)
    assert not f[4, :16].any()
    np.testing.assert_allclose(fuse_embeddings(None, col, w), n(col), atol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fuse_embeddings(reid, col, 1.5)
    with pytest.raises(ValueError, match="Re-ID rows"):
        fuse_embeddings(reid[:3], col, w)


def _render(frames, size=(480, 640)):
    """The bounce scene drawn: A red over green, B (in front) blue over yellow."""
    images = []
    for boxes, gt in frames:
        img = np.full((*size, 3), 128, np.uint8)
        for g in sorted(gt.tolist()):
            box = boxes[gt.tolist().index(g)]
            _person(img, box, *((RED, GREEN) if g == 0 else (BLUE, YELLOW)))
        images.append(img)
    return images


def write_bounce_sequence(root, frames):
    """``root/train/BOUNCE-01``: the rendered scene as a MOT sequence with its boxes as det.txt."""
    import cv2

    from finetrack.data.mot import SeqInfo, write_seqinfo

    d = root / "train" / "BOUNCE-01"
    (d / "img1").mkdir(parents=True)
    (d / "det").mkdir()
    det = []
    for f, ((boxes, _), img) in enumerate(zip(frames, _render(frames)), start=1):
        cv2.imwrite(str(d / "img1" / f"{f:06d}.png"), img)
        det += [f"{f},-1,{b[0]},{b[1]},{b[2] - b[0]},{b[3] - b[1]},0.9,-1,-1,-1" for b in boxes]
    (d / "det" / "det.txt").write_text("\n".join(det) + "\n")
    write_seqinfo(d, SeqInfo("BOUNCE-01", d, "img1", 30, len(frames), 640, 480, ".png"))
    return d


def test_robust_with_colour_keeps_ids_through_the_bounce():
    frames = bounce_scene(occluded=())
    images = _render(frames)
    emb = ColorHistogramEmbedder()
    class PerFrame:  # run_scene looks embeddings up by gt id: give it this frame's colour features
        def __init__(self):
            self.i = -1

        def __getitem__(self, gt):
            self.i += 1
            return emb(images[self.i], frames[self.i][0])

    byte = run_scene(Tracker(mode="byte"), frames)
    rob = Tracker(mode="robust", robust=FAST)
    robust = run_scene(rob, frames, PerFrame())
    assert byte[-1] == {0: 2, 1: 1}  # motion alone swaps them
    assert robust[-1] == {0: 1, 1: 2}, robust
    assert rob.association.stats["vetoes"] > 0


def test_run_tracking_with_colour_needs_no_reid_checkpoint(tmp_path):

    from finetrack.config import Config
    from finetrack.configlib import freeze, load_config
    from finetrack.data.results import read_results
    from finetrack.inference.app import run_tracking

    frames = bounce_scene(occluded=())
    write_bounce_sequence(tmp_path, frames)
    fast = ["tracker.robust.min_samples=5", "tracker.robust.identity_lag_s=0.1",
            "tracker.robust.identity_z=0", "tracker.min_box_area=0"]

    def track(mode, extra):
        cfg = freeze(load_config(Config, None, fast + extra))
        out = tmp_path / f"{mode}{len(extra)}"
        summary = run_tracking(cfg, str(tmp_path), "train", str(out), det="public", mode=mode,
                               progress=False)
        res = read_results(out / "BOUNCE-01.txt")
        last = res.frames == len(frames)
        left = res.ids[last][np.argmin(res.tlwh[last][:, 0])]  # A ends on the left
        first = res.frames == 1
        return summary, int(res.ids[first][np.argmin(res.tlwh[first][:, 0])]), int(left)

    with pytest.raises(ValueError, match="tracker.appearance=color"):
        track("robust", [])
    _, a0, a1 = track("byte", [])
    assert a0 != a1  # byte swaps
    summary, a0, a1 = track("robust", ["tracker.appearance=color"])
    assert summary["appearance"] == "color" and summary["pipeline"] == "boxes"
    assert a0 == a1


def test_colour_config_is_checked():
    from finetrack.config import Config
    from finetrack.configlib import ConfigError, load_config

    with pytest.raises(ConfigError):
        load_config(Config, None, ["tracker.appearance=colour"])
    with pytest.raises(ValueError, match="color or auto"):
        ColorAppearance("reid")
    with pytest.raises(ValueError, match="no Re-ID"):
        ColorAppearance("auto")(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4)), None)


def test_fuse_color_caches_checks_the_boxes():
    from finetrack.inference.cache import CachedFrames, fuse_color

    boxes = [np.array([[0, 0, 10, 20.0], [30, 0, 40, 20]]), np.zeros((0, 4))]
    scores = [np.array([0.9, 0.8]), np.zeros(0)]
    deep = CachedFrames(np.array([1, 2]), boxes, scores,
                        [np.array([[1.0, 0], [0, 1]], np.float32), np.zeros((0, 2), np.float32)], {})
    col = CachedFrames(np.array([1, 2]), boxes, scores,
                       [np.array([[1.0, 0, 0], [1, 0, 0]], np.float32), np.zeros((0, 3), np.float32)], {})
    f = fuse_color(deep, col, 0.25).emb
    assert f[0].shape == (2, 5) and f[1].shape == (0, 5)
    assert abs(float(f[0][0] @ f[0][1]) - 0.25) < 1e-6  # Re-ID cos 0, colour cos 1, weight 1/4
    moved = CachedFrames(col.frames, [boxes[0] + 1, boxes[1]], scores, col.emb, {})
    with pytest.raises(ValueError, match="other boxes"):
        fuse_color(deep, moved, 0.25)


def test_colour_reid_model_reads_the_letterboxed_frame():
    """The retrieval wrapper undoes the detector's normalisation: same features as on the
    letterboxed BGR frame itself."""
    import torch

    from finetrack.utils.letterbox import letterbox, preprocess_image
    from finetrack.inference.color import color_reid_model

    img = np.full((200, 300, 3), 128, np.uint8)
    _person(img, (20, 20, 80, 180), RED, BLUE)
    _person(img, (200, 20, 260, 180), GREEN, YELLOW)
    chw, r = preprocess_image(img, (256, 320))
    boxes = np.array([[20, 20, 80, 180], [200, 20, 260, 180.0]]) * r
    out = color_reid_model()(torch.from_numpy(chw)[None], [torch.from_numpy(boxes)])["embedding"]
    padded, _ = letterbox(img, (256, 320), 114.0)
    want = ColorHistogramEmbedder()(padded.astype(np.uint8), boxes)
    np.testing.assert_allclose(out.numpy(), want, atol=1e-6)
    assert float(out[0] @ out[1]) < 0.5
