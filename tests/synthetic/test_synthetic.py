"""Synthetic MOT generator: determinism, pixels vs gt, occlusion, entries/exits, dets, groups."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from finetrack.data.mot import MOTSequence, list_sequences, read_det, read_gt
from finetrack.synthetic.appearance import CLOTHES, PARTS, TORSO_PROBE, Appearance, parts_differing
from finetrack.synthetic.detections import visibility_far_to_near
from finetrack.synthetic.generate import (
    TINY,
    SceneRenderer,
    SyntheticConfig,
    dataset_statistics,
    format_statistics,
    generate_dataset,
    scene_ground_truth,
    scripted_crossing,
    simulate_scene,
)

TINY_CFG = SyntheticConfig(**TINY)


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate_dataset(TINY_CFG, out)
    return out


@pytest.fixture(scope="module")
def medium(tmp_path_factory) -> Path:
    """2 sequences x 60 frames at 320x240: long enough for entries, exits and crossings."""
    out = tmp_path_factory.mktemp("medium")
    generate_dataset(SyntheticConfig(num_seqs=2, frames=60, width=320, height=240, seed=3), out)
    return out


# ------------------------------------------------------------------------------------------
def test_same_seed_same_bytes_different_seed_differs(tiny, tmp_path):
    again = tmp_path / "again"
    generate_dataset(TINY_CFG, again)
    a, b = _files(tiny), _files(again)
    assert sorted(a) == sorted(b)
    assert any(k.endswith(".jpg") for k in a) and "train/SYN-01/gt/gt.txt" in a
    for k in a:
        assert a[k] == b[k], f"{k} differs between two runs with the same seed"
    other = tmp_path / "other"
    generate_dataset(SyntheticConfig(**{**TINY, "seed": 1}), other)
    c = _files(other)
    for k in ("train/SYN-00/gt/gt.txt", "train/SYN-00/det/det.txt", "train/SYN-00/img1/000001.jpg"):
        assert a[k] != c[k], f"{k} identical for seeds 0 and 1"
    assert a["train/SYN-00/seqinfo.ini"] == c["train/SYN-00/seqinfo.ini"]  # same size/length/fps


def test_reads_back_with_mot_reader(tiny):
    seqs = list_sequences(tiny / "train")
    assert [s.name for s in seqs] == ["SYN-00", "SYN-01"]
    for s in seqs:
        seq = MOTSequence(s)
        assert seq.format == "mot17"
        info = seq.info
        assert (info.frame_rate, info.seq_length, info.im_width, info.im_height, info.im_ext) == (
            TINY_CFG.fps, TINY_CFG.frames, TINY_CFG.width, TINY_CFG.height, ".jpg")
        assert len(list(seq.img_dir.glob("*.jpg"))) == TINY_CFG.frames
        assert seq.read_frame(TINY_CFG.frames).shape == (TINY_CFG.height, TINY_CFG.width, 3)
        gt = seq.gt()
        assert len(gt) > 0 and set(np.unique(gt.frames)) <= set(range(1, TINY_CFG.frames + 1))
        assert np.all(gt.flags == 1) and np.all(gt.classes == 1)
        assert np.all((gt.visibility >= 0) & (gt.visibility <= 1))
        assert np.all(gt.tlwh == np.round(gt.tlwh))  # integer pixel boxes
        det = seq.det()
        assert len(det) > 0 and np.all((det.scores > 0) & (det.scores < 1))
        b = det.tlwh
        assert np.all(b[:, 0] >= 0) and np.all(b[:, 0] + b[:, 2] <= TINY_CFG.width + 1e-6)
        # no id appears twice in a frame
        key = gt.frames * 1000 + gt.ids
        assert len(np.unique(key)) == len(key)
    # nothing else (temporary folders) left beside the sequences
    assert sorted(p.name for p in (tiny / "train").iterdir()) == ["SYN-00", "SYN-01"]


def test_gt_matches_rendered_pixels(tmp_path):
    cfg = SyntheticConfig(num_seqs=1, frames=12, width=320, height=240, seed=5,
                          brightness_noise=0.0, pan_fraction=1.0)
    scene = simulate_scene(cfg, 0)
    from finetrack.synthetic.generate import write_scene

    seq_dir = write_scene(scene, tmp_path / "SYN-00", cfg, 0)
    gt = read_gt(seq_dir / "gt" / "gt.txt")
    meta = json.loads((seq_dir / "synth.json").read_text())
    renderer = SceneRenderer(scene, cfg.bg_texture, 0.0, cfg.pixel_noise)
    checked = 0
    for frame in (1, 6, 12):
        img = cv2.imread(str(seq_dir / "img1" / f"{frame:06d}.jpg")).astype(np.float64)
        rows = gt.for_frame(frame)
        boxes = rows.xyxy().astype(int)
        for tid, (x1, y1, x2, y2), v in zip(rows.ids, boxes, rows.visibility):
            if v < 1.0 or (y2 - y1) < 50:
                continue
            shirt = CLOTHES[meta["identities"][str(tid)]["appearance"]["torso"][0]]
            fx1, fy1, fx2, fy2 = TORSO_PROBE
            w, h = x2 - x1, y2 - y1
            rows_ = slice(int(y1 + fy1 * h), int(np.ceil(y1 + fy2 * h)))
            cols_ = slice(int(x1 + fx1 * w), int(np.ceil(x1 + fx2 * w)))
            probe = img[rows_, cols_]
            med = np.median(probe.reshape(-1, 3), axis=0)
            assert np.all(np.abs(med - shirt) < 30), (frame, tid, med, shirt)
            # the row just above the head and the column left of the box are background
            bg = renderer.background_at(frame).astype(np.float64)
            cx = (x1 + x2) // 2
            if y1 >= 2 and not _covered(boxes, cx, y1 - 2):
                assert np.all(np.abs(img[y1 - 2, cx] - bg[y1 - 2, cx]) < 25)
            checked += 1
        # everything outside every box is the background (plus mild noise and JPEG)
        outside = np.ones(img.shape[:2], bool)
        for x1, y1, x2, y2 in boxes:
            outside[max(y1 - 2, 0):y2 + 2, max(x1 - 2, 0):x2 + 2] = False
        bg = renderer.background_at(frame).astype(np.float64)
        diff = np.abs(img - bg)[outside]
        assert diff.mean() < 4.0 and np.percentile(diff, 99) < 15
        # and the background is not a flat colour (light texture)
        assert bg[outside].std() > 3.0
    assert checked >= 3 and scene.has_pan and np.ptp(scene.pan) > 5


def _covered(boxes, x, y) -> bool:
    return any(x1 <= x < x2 and y1 <= y < y2 for x1, y1, x2, y2 in boxes)


def test_visibility_hand_values():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 0, 110, 20]])  # far to near
    v = visibility_far_to_near(boxes, width=105, height=100)
    np.testing.assert_allclose(v, [0.5, 1.0, 0.5])  # covered half; on top; half outside
    v = visibility_far_to_near(np.array([[0, 0, 10, 10], [2, 2, 8, 8], [0, 0, 5, 10]]), 50, 50)
    np.testing.assert_allclose(v, [(100 - 36 - 50 + 18) / 100, 0.5, 1.0])


@pytest.mark.parametrize("behaviour", ["reverse", "stop", "pass"])
def test_scripted_crossing_occlusion(tmp_path, behaviour):
    res = scripted_crossing(tmp_path / "SYN-CROSS", behaviour=behaviour, frames=40)
    gt = read_gt(res.seq_dir / "gt" / "gt.txt")
    near, far = gt.ids == res.near_id, gt.ids == res.far_id
    assert set(np.unique(gt.ids)) == {res.near_id, res.far_id}
    assert np.all(gt.frames[near] == np.arange(1, 41))
    assert np.all(gt.frames[far] == np.arange(1, 41))
    assert np.all(gt.visibility[near] == 1.0)
    vf = gt.visibility[far]
    occluded = np.flatnonzero(vf < 1.0) + 1
    assert len(occluded) >= 3 and vf.min() < 0.3
    assert np.all(np.diff(occluded) == 1), "one contiguous occlusion"
    assert occluded[0] > 1 and occluded[-1] < 40 and vf[-1] == 1.0  # visible again afterwards
    assert res.spec.meet_frame in set(occluded.tolist())
    # the hidden person is missed when barely visible, both are detected when fully visible
    det = read_det(res.seq_dir / "det" / "det.txt")
    per_frame = np.bincount(det.frames, minlength=41)[1:]
    assert np.all(per_frame[vf < 0.15] == 1) and np.all(per_frame[vf == 1.0] == 2)
    # it moved the scripted way after the meeting
    x_far = gt.tlwh[far, 0]
    m = res.spec.meet_frame
    if behaviour == "reverse":  # came from the right, goes back to the right
        assert x_far[m + 10] > x_far[m] and x_far[0] > x_far[m]
    else:  # keeps walking left (after waiting, for "stop")
        assert x_far[m + 10] < x_far[m]
    # same clothing group: the two differ in exactly one part
    meta = json.loads((res.seq_dir / "synth.json").read_text())
    apps = [_app(meta["identities"][str(i)]["appearance"]) for i in (res.near_id, res.far_id)]
    assert len(parts_differing(*apps)) == 1


def _app(d: dict) -> Appearance:
    return Appearance(**{p: tuple(d[p]) for p in PARTS}, group=d["group"], varying=d["varying"])


def test_groups_differ_in_exactly_one_part(medium):
    n_pairs = 0
    for seq in list_sequences(medium / "train"):
        ids = json.loads((seq / "synth.json").read_text())["identities"]
        apps = {int(k): _app(v["appearance"]) for k, v in ids.items()}
        for (i, a), (j, b) in itertools.combinations(apps.items(), 2):
            diff = parts_differing(a, b)
            assert diff, f"{seq.name}: ids {i} and {j} look identical"
            if a.group == b.group:
                assert diff == [a.varying], (seq.name, i, j, diff)
                n_pairs += 1
    assert n_pairs >= 2


def test_entries_exits_and_contiguous_tracks(medium):
    n_frames = 60
    entries = exits = 0
    for seq in list_sequences(medium / "train"):
        gt = read_gt(seq / "gt" / "gt.txt")
        for tid in np.unique(gt.ids):
            f = np.sort(gt.frames[gt.ids == tid])
            assert np.all(np.diff(f) == 1), f"{seq.name} id {tid} has a gap"
            entries += f[0] > 1
            exits += f[-1] < n_frames
    assert entries >= 2 and exits >= 2


def test_detections_noisy_but_close(medium):
    stats = dataset_statistics(medium)
    assert stats["sequences"] == 2 and stats["frames"] == 120
    cfg = SyntheticConfig()
    assert 0.65 <= stats["det_recall"] <= 1 - cfg.det_miss_rate / 2
    assert 0.85 <= stats["det_precision"] <= 0.995
    assert 0.6 < stats["mean_visibility"] < 0.97
    # misses concentrate on occluded people; boxes are jittered, not copies of gt
    from finetrack.structures import box_iou_xyxy

    hit_vis, miss_vis, ious = [], [], []
    for seq in list_sequences(medium / "train"):
        gt, det = read_gt(seq / "gt" / "gt.txt"), read_det(seq / "det" / "det.txt")
        for f in range(1, 61):
            g = gt.for_frame(f)
            d, _ = det.for_frame(f)
            iou = box_iou_xyxy(g.xyxy(), d)
            best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(g))
            hit_vis += g.visibility[best >= 0.5].tolist()
            miss_vis += g.visibility[best < 0.5].tolist()
            ious += best[best >= 0.5].tolist()
    assert np.mean(miss_vis) < np.mean(hit_vis) - 0.2
    assert 0.75 < np.mean(ious) < 0.97
    assert "total (2)" in format_statistics(stats)


def test_noise_free_detector_hits_every_visible_person(tmp_path):
    cfg = SyntheticConfig(num_seqs=1, frames=15, width=320, height=240, det_jitter=0.0,
                          det_miss_rate=0.0, det_fp_rate=0.0)
    generate_dataset(cfg, tmp_path)
    seq = tmp_path / "train" / "SYN-00"
    gt, det = read_gt(seq / "gt" / "gt.txt"), read_det(seq / "det" / "det.txt")
    visible = gt.visibility >= cfg.det_vis_full
    b = gt.tlwh
    inside = (b[:, 0] >= 0) & (b[:, 0] + b[:, 2] <= cfg.width) & (b[:, 1] >= 0)
    want = {(f, tuple(b)) for f, b in zip(gt.frames[visible & inside], gt.tlwh[visible & inside])}
    got = {(f, tuple(np.round(b, 2))) for f, b in zip(det.frames, det.tlwh)}
    assert want and want <= got
    assert len(det) <= int(np.sum(gt.visibility > cfg.det_vis_zero))


def test_scene_ground_truth_matches_file(tiny):
    scene = simulate_scene(TINY_CFG, 1)
    gt_mem = scene_ground_truth(scene)
    gt = read_gt(tiny / "train" / "SYN-01" / "gt" / "gt.txt")
    np.testing.assert_array_equal(gt.ids, gt_mem.ids)
    np.testing.assert_array_equal(gt.xyxy(), gt_mem.xyxy)
    np.testing.assert_allclose(gt.visibility, gt_mem.visibility, atol=1e-4)


def test_existing_sequences_kept_or_refused(tiny, tmp_path, monkeypatch):
    out = tmp_path / "d"
    generate_dataset(TINY_CFG, out)
    gt = out / "train" / "SYN-00" / "gt" / "gt.txt"
    mtime = gt.stat().st_mtime_ns
    generate_dataset(TINY_CFG, out)  # same config: kept
    assert gt.stat().st_mtime_ns == mtime
    changed = SyntheticConfig(**{**TINY, "seed": 7})
    with pytest.raises(FileExistsError):
        generate_dataset(changed, out)
    generate_dataset(changed, out, overwrite=True)
    assert gt.read_bytes() != (tiny / "train" / "SYN-00" / "gt" / "gt.txt").read_bytes()
    # an error half-way leaves nothing behind
    import finetrack.synthetic.generate as synthetic

    calls = {"n": 0}
    real = cv2.imwrite

    def failing(path, img, params=None):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(path, img, params)

    monkeypatch.setattr(synthetic.cv2, "imwrite", failing)
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(TINY_CFG, fresh)
    assert list((fresh / "train").iterdir()) == []


def test_config_validation_and_cli(tmp_path, capsys, monkeypatch):
    with pytest.raises(ValueError, match="crossing_behaviours"):
        SyntheticConfig(crossing_behaviours=("dance",))
    with pytest.raises(ValueError, match="unknown SyntheticConfig keys"):
        SyntheticConfig.from_dict({"frams": 3})
    assert SyntheticConfig.from_dict(SyntheticConfig().to_dict()) == SyntheticConfig()
    import importlib.util

    tools = Path(__file__).resolve().parents[2] / "tools"
    monkeypatch.syspath_prepend(str(tools))
    spec = importlib.util.spec_from_file_location("make_synthetic", tools / "make_synthetic.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    js = tmp_path / "stats.json"
    rc = tool.main(["--out", str(tmp_path / "cli"), "--preset", "tiny", "--frames", "6",
                    "--crossing-behaviours", "reverse,stop", "--json", str(js), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "recall" in printed and "SYN-01" in printed
    stats = json.loads(js.read_text())
    assert stats["frames"] == 12 and stats["config"]["crossing_behaviours"] == ["reverse", "stop"]
