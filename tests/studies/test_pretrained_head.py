"""The pretrained-head study (issue 27 item 5): each model leaves its scene out; the ``reid`` cue
is the checkpoint's embeddings of the cached boxes; the tracking rows read the cue they name."""
import numpy as np
import pytest
import torch

from finetrack.inference.cache import CachedFrames
from finetrack.studies import pretrained_head
from finetrack.studies.cross_scene import SYN
from finetrack.studies.scenes import SHARED_SCENES

from tests.studies.test_nested_loso import make_scene


def test_each_model_trains_without_its_scene():
    scenes = list(SHARED_SCENES)
    specs = pretrained_head.loso_specs("imagenet-head", scenes)
    assert sorted(s["left_out"] for s in specs.values()) == sorted(scenes)
    for name, spec in specs.items():
        seqs = spec["overrides"][0].split("=", 1)[1].strip("[]").split(",")
        assert spec["left_out"] not in seqs and name.endswith(spec["left_out"])
        assert sorted(seqs) == sorted(SYN + [s for s in scenes if s != spec["left_out"]])
        assert spec["config"] == "configs/transfer_imagenet.yaml"


def test_reid_cue_is_the_checkpoints_embedding_of_the_cached_boxes(tmp_path, monkeypatch):
    from finetrack.inference.embedder import Embedder
    from finetrack.models.build import build_model
    from finetrack.studies.nested_loso import build_scene_cache, split_cue

    from tests.inference.test_color import write_bounce_sequence
    from tests.tracker.test_tracker_crossing import bounce_scene

    seq_dir = write_bounce_sequence(tmp_path, bounce_scene(n=6, occluded=()))
    torch.manual_seed(0)
    model = build_model({"backbone": "mobilenetv2_imagenet", "input_size": (64, 96)},
                        {"channels": 8, "num_parts": 2, "global_dim": 8, "part_dim": 4,
                         "roi_sizes": ((8, 4), (4, 2), (2, 1))})
    ckpt = tmp_path / "m.pth"
    model.save(ckpt)
    free = build_scene_cache(seq_dir, tmp_path / "free.npz")
    cache = pretrained_head.add_reid(free, seq_dir, ckpt, tmp_path / "head.npz")
    cols = cache.meta["cues"]
    assert cols["reid"] == [free.emb[0].shape[1], free.emb[0].shape[1] + 8 + 2 * 4]
    emb = Embedder.from_checkpoint(ckpt)
    from finetrack.data.mot import MOTSequence

    seq = MOTSequence(seq_dir)
    for i in (0, 5):
        np.testing.assert_allclose(split_cue(cache, "reid").emb[i],
                                   emb(seq.read_frame(int(cache.frames[i])), cache.xyxy[i]), atol=1e-5)
        np.testing.assert_array_equal(split_cue(cache, "color+imagenet").emb[i],
                                      split_cue(free, "color+imagenet").emb[i])
    # a second call reuses the file: no model is run
    monkeypatch.setattr(Embedder, "from_checkpoint", lambda *a, **k: pytest.fail("recomputed"))
    again = pretrained_head.add_reid(free, seq_dir, ckpt, tmp_path / "head.npz")
    np.testing.assert_array_equal(np.concatenate(again.emb), np.concatenate(cache.emb))


def test_tracking_rows_read_the_cue_they_name(tmp_path):
    """With the ``reid`` columns a copy of the colour columns, every rule scores ``reid`` as it
    scores ``color`` (and ``reid+imagenet`` as ``color+imagenet``); ``byte`` and the ceiling are
    there once."""
    dirs, caches = {}, {}
    for name, args in {"A": (24, 8.0, 0.1, 0), "B": (30, 6.0, 0.3, 1)}.items():
        d, c = make_scene(tmp_path / "data", name, *args)
        emb = [np.concatenate([e, e[:, :4]], axis=1) for e in c.emb]
        dirs[name] = d
        caches[name] = CachedFrames(c.frames, c.xyxy, c.scores, emb,
                                    dict(c.meta, cues=dict(c.meta["cues"], reid=[8, 12])))
    res = pretrained_head.tracking(caches, dirs, tmp_path / "work")
    for scene, row in res.items():
        assert set(row) == {"byte", "ceiling"} | {f"{r}/{c}" for r in ("finetrack", "botsort")
                                                   for c in pretrained_head.CUES}
        for rule in ("finetrack", "botsort"):
            assert row[f"{rule}/reid"] == row[f"{rule}/color"]
            assert row[f"{rule}/reid+imagenet"] == row[f"{rule}/color+imagenet"]
        assert row["ceiling"]["IDF1"] >= row["byte"]["IDF1"]


def test_frame_map_control_pools_each_box_on_its_own():
    from finetrack.models.imagenet_backbone import ImageNetBackbone

    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[10, 20, 90, 200], [150, 30, 230, 230], [240, 0, 320, 240]], np.float64)
    emb = pretrained_head.FrameMapEmbedder(input_size=(128, 160))
    f = emb(img, boxes)
    assert f.shape == (3, 640)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emb(img, boxes[[2, 0]]), f[[2, 0]], atol=1e-5)  # order, subsets
    # the map is the frozen backbone's stride-32 output: a box over the whole letterboxed frame
    # pooled to one cell per half is the mean of the map's upper / lower half rows
    net = ImageNetBackbone((128, 160), levels=(17,)).eval()
    x, ratio = net.preprocess(img)
    with torch.no_grad():
        fmap = net.features(x[None])[0][0]  # (320, 4, 5): 240x320 -> 120x160 content, 4x5 cells
    assert ratio == 0.5
    emb.roi_hw = (2, 5)
    whole = emb(img, np.array([[0, 0, 320, 256]]))  # 128x160 input px = the 4x5 map exactly
    top, bottom = fmap[:, :2].mean((1, 2)), fmap[:, 2:].mean((1, 2))
    want = torch.cat([top, bottom]).numpy()
    np.testing.assert_allclose(whole[0], want / np.linalg.norm(want), atol=2e-2)
