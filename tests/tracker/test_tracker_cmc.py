"""Camera motion compensation: known warps recovered, Kalman warp by hand, a scripted pan."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from finetrack.synthetic.generate import SceneRenderer, SyntheticConfig, simulate_scene
from finetrack.tracker import KalmanFilter, Tracker
from finetrack.tracker.cmc import CMC_METHODS, build_cmc, compose_scale

CORNERS = np.array([[0, 0], [640, 0], [0, 480], [640, 480], [320, 240]], dtype=np.float64)


def textured_image(seed: int = 0, size=(480, 640)) -> np.ndarray:
    """A (H, W, 3) BGR image of random filled rectangles and discs on a smooth noise floor."""
    rng = np.random.default_rng(seed)
    h, w = size
    low = cv2.resize(rng.standard_normal((h // 16, w // 16)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    img = np.clip(128 + 30 * low, 0, 255).astype(np.uint8)
    img = np.repeat(img[..., None], 3, axis=2)
    for _ in range(150):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(5, 40)), y + int(rng.integers(5, 40))),
                          c, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(3, 20)), c, -1)
    return cv2.GaussianBlur(img, (3, 3), 0.8)


def rigid(angle_deg: float, tx: float, ty: float, centre=(320.0, 240.0)) -> np.ndarray:
    """(2, 3) rotation by ``angle_deg`` about ``centre`` followed by a shift ``(tx, ty)``."""
    a = np.deg2rad(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = np.asarray(centre)
    return np.column_stack([r, c - r @ c + [tx, ty]])


def corner_error(est: np.ndarray, true: np.ndarray) -> float:
    """Largest displacement error (px) over the image corners and centre."""
    return float(np.abs(CORNERS @ (est[:, :2] - true[:, :2]).T + est[:, 2] - true[:, 2]).max())


@pytest.mark.parametrize("method", CMC_METHODS)
@pytest.mark.parametrize("warp", [rigid(0.0, 7.0, -3.0), rigid(1.5, -9.4, 5.7)],
                         ids=["shift", "rotation"])
def test_estimators_recover_a_known_warp_within_a_pixel(method, warp):
    prev = textured_image()
    cur = cv2.warpAffine(prev, warp, (640, 480), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    est = build_cmc(method, downscale=2.0).estimate(prev, cur)
    assert est.shape == (2, 3) and est.dtype == np.float64
    assert corner_error(est, warp) < 1.0, (method, est)


@pytest.mark.parametrize("method", CMC_METHODS)
def test_masked_moving_box_does_not_pull_the_estimate(method):
    """A big box moves 25 px right while the background is still: masked, the warp is identity."""
    prev = textured_image(1)
    cur = prev.copy()
    patch = textured_image(2)[100:400, 200:420]
    prev[100:400, 200:420] = patch
    cur[100:400, 225:445] = patch
    boxes_prev = np.array([[200.0, 100.0, 420.0, 400.0]])
    boxes_cur = np.array([[225.0, 100.0, 445.0, 400.0]])
    est = build_cmc(method).estimate(prev, cur, boxes_prev, boxes_cur)
    assert corner_error(est, np.eye(2, 3)) < 0.5, (method, est)


def test_mask_zeroes_border_and_boxes_in_small_pixels():
    est = build_cmc("sof", downscale=2.0)
    m = est.mask((240, 320), (640, 480), np.array([[100.0, 50.0, 141.0, 90.0]]))
    assert m.shape == (240, 320) and m.dtype == np.uint8
    # 2% border: round(0.02 * 240) = 5 rows, round(0.02 * 320) = 6 columns
    assert m[:5].max() == 0 and m[-5:].max() == 0 and m[:, :6].max() == 0 and m[:, -6:].max() == 0
    assert m[5, 6] == 255
    # box [100, 141) x [50, 90) -> small [50, 71) x [25, 45) (floor / ceil)
    assert m[25:45, 50:71].max() == 0
    assert m[24, 60] == 255 and m[45, 60] == 255 and m[30, 49] == 255 and m[30, 71] == 255


def test_compose_scale_back_to_original_pixels():
    # translation (3, -2) on images halved in size is (6, -4) in the originals
    w = compose_scale(np.array([[1.0, 0, 3.0], [0, 1.0, -2.0]]), (640, 480), (320, 240))
    np.testing.assert_allclose(w, [[1, 0, 6], [0, 1, -4]], atol=1e-12)
    # any warp: small-image points x_s = a x + (a - 1) / 2 map consistently
    ws = rigid(2.0, 1.5, -0.5, centre=(160, 120))
    w = compose_scale(ws, (640, 480), (320, 240))
    p = np.array([37.0, 401.0])
    to_small = lambda q: 0.5 * q - 0.25  # noqa: E731
    np.testing.assert_allclose(to_small(w[:, :2] @ p + w[:, 2]), ws[:, :2] @ to_small(p) + ws[:, 2])


def test_build_cmc_lists_valid_methods():
    with pytest.raises(ValueError, match="valid: sof, ecc, orb"):
        build_cmc("homography")


# ---------------------------------------------------------------------------------- Kalman
def test_warp_affine_by_hand():
    kf = KalmanFilter()
    mean = np.array([[100.0, 50.0, 0.5, 80.0, 2.0, -1.0, 0.0, 0.5]])
    cov = np.diag(np.arange(1.0, 9.0))[None]
    # pure translation: centre moves, velocities and covariance do not
    m, c = kf.warp_affine(mean, cov, [[1, 0, 10], [0, 1, -4]])
    np.testing.assert_allclose(m, [[110, 46, 0.5, 80, 2, -1, 0, 0.5]])
    np.testing.assert_allclose(c, cov)
    # 90 degrees x 2 about the origin: (x, y) -> (-2y, 2x); h and vh double, a is kept
    m, c = kf.warp_affine(mean, cov, [[0, -2, 0], [2, 0, 0]])
    np.testing.assert_allclose(m, [[-100, 200, 0.5, 160, 2, 4, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(np.diag(c[0]), [8, 4, 3, 16, 24, 20, 7, 32], atol=1e-12)
    assert mean[0, 0] == 100.0  # input untouched


def test_apply_camera_motion_moves_tracked_and_lost_tracks():
    tr = Tracker(mode="byte", min_box_area=0)
    tr.update(np.array([[10.0, 10, 50, 110], [200, 10, 240, 110]]), np.array([0.9, 0.9]))
    tr.update(np.array([[10.0, 10, 50, 110]]), np.array([0.9]))  # second one is lost now
    assert len(tr.tracked_tracks) == 1 and len(tr.lost_tracks) == 1
    before = [t.mean.copy() for t in tr.tracked_tracks + tr.lost_tracks]
    tr.apply_camera_motion(np.array([[1.0, 0, -30], [0, 1.0, 5]]))
    for b, t in zip(before, tr.tracked_tracks + tr.lost_tracks):
        np.testing.assert_allclose(t.mean[:2], b[:2] + [-30, 5])
        np.testing.assert_allclose(t.mean[2:], b[2:])


# ---------------------------------------------------------------------------------- pan
#: two people standing still side by side; the camera waits, pans 30 px/frame to the right on
#: frames 6-9, then stops
PEOPLE_X = (250.0, 300.0)
PERSON_W, PERSON_H, PERSON_Y = 40.0, 100.0, 200.0


def pan_offsets(n: int = 16, start: int = 6, stop: int = 9, step: float = 30.0) -> np.ndarray:
    """(n,) camera pan in pixels per frame index: 0 before ``start``, then ``step`` more per
    frame up to ``stop``, then still."""
    f = np.arange(1, n + 1)
    return np.clip(f - start + 1, 0, stop - start + 1) * step


def render_pan_scene(pan: np.ndarray):
    """Frames of the synthetic generator's background seen by a camera panning by ``pan`` px,
    with two still people drawn on top. Returns [(image, boxes (2, 4), gt ids)] per frame."""
    cfg = SyntheticConfig(num_seqs=1, frames=len(pan), width=640, height=360, people=0,
                          entry_rate=0.0, crossing_rate=0.0, pan_fraction=0.0)
    scene = dataclasses.replace(simulate_scene(cfg, 0), pan=np.asarray(pan, float), has_pan=True)
    renderer = SceneRenderer(scene, bg_texture=cfg.bg_texture, brightness_noise=0.0,
                             pixel_noise=cfg.pixel_noise)
    out = []
    for f in range(1, len(pan) + 1):
        img = renderer.render(f)
        boxes = []
        for k, x in enumerate(PEOPLE_X):
            x1 = x - pan[f - 1]
            box = [x1, PERSON_Y, x1 + PERSON_W, PERSON_Y + PERSON_H]
            cv2.rectangle(img, (int(x1), int(PERSON_Y)),
                          (int(x1 + PERSON_W) - 1, int(PERSON_Y + PERSON_H) - 1),
                          ((60, 60, 220), (220, 90, 40))[k], -1)
            boxes.append(box)
        out.append((img, np.array(boxes), np.array([0, 1])))
    return out


def run_pan(frames, method=None):
    """{gt id: track id} per frame for byte, with camera motion from ``method`` (None: off)."""
    tracker = Tracker(mode="byte", min_box_area=0)
    est = None if method is None else build_cmc(method)
    res, prev = [], None
    for img, boxes, gt in frames:
        warp = None
        if est is not None and prev is not None:
            warp = est.estimate(prev[0], img, prev[1], boxes)
        o = tracker.update(boxes, np.full(len(boxes), 0.9), warp=warp)
        res.append({int(gt[d]): int(i) for d, i in zip(o.det_indices, o.ids)})
        prev = (img, boxes)
    return res


def test_pan_switches_ids_without_cmc_and_keeps_them_with_cmc():
    frames = render_pan_scene(pan_offsets())
    byte = run_pan(frames)
    assert byte[4] == {0: 1, 1: 2}  # still camera: both tracked
    # the 30 px jump: left person's predicted box overlaps the right person's new box best
    assert byte[5] == {1: 1}
    # while the camera moves nothing is tracked; once it stops both people get new ids
    assert byte[6] == {} and len(byte[-1]) == 2 and set(byte[-1].values()).isdisjoint({1, 2})
    for method in CMC_METHODS:
        res = run_pan(frames, method)
        assert all(m == {0: 1, 1: 2} for m in res), (method, res)


def test_track_pipeline_uses_and_caches_cmc(tmp_path, caplog):
    """run_tracking (tools/track.py's library call) on the pan written as a MOT sequence."""
    import logging

    from finetrack.config import Config
    from finetrack.configlib import freeze, load_config
    from finetrack.data.mot import SeqInfo, write_seqinfo
    from finetrack.data.results import read_results
    from finetrack.inference.app import run_tracking

    frames = render_pan_scene(pan_offsets())
    d = tmp_path / "train" / "PAN-01"
    (d / "img1").mkdir(parents=True)
    (d / "det").mkdir()
    det = []
    for f, (img, boxes, _) in enumerate(frames, start=1):
        cv2.imwrite(str(d / "img1" / f"{f:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        det += [f"{f},-1,{b[0]},{b[1]},{b[2] - b[0]},{b[3] - b[1]},0.9,-1,-1,-1" for b in boxes]
    (d / "det" / "det.txt").write_text("\n".join(det) + "\n")
    write_seqinfo(d, SeqInfo("PAN-01", d, "img1", 10, len(frames), 640, 360, ".jpg"))

    def track(cmc, out):
        cfg = freeze(load_config(Config, None, [f"tracker.cmc={cmc}", "tracker.min_box_area=0"]))
        run_tracking(cfg, str(tmp_path), "train", str(out), det="public", mode="byte",
                     progress=False)
        return read_results(out / "PAN-01.txt")

    off = track("none", tmp_path / "off")
    assert len(set(off.ids.tolist())) > 2 and len(off.ids) < 2 * len(frames)
    on = track("sof", tmp_path / "on")
    assert sorted(set(on.ids.tolist())) == [1, 2] and len(on.ids) == 2 * len(frames)
    cache = tmp_path / "on" / "cmc" / "PAN-01.sof.txt"
    assert len(cache.read_text().splitlines()) == 2 + len(frames) - 1
    with caplog.at_level(logging.INFO, logger="finetrack.inference.app"):
        again = track("sof", tmp_path / "on")
    assert f"camera motion (sof) 0 computed, {len(frames) - 1} cached" in caplog.text
    np.testing.assert_array_equal(again.tlwh, on.tlwh)
