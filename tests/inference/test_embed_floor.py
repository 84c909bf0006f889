"""The Re-ID head embeds only the boxes the association reads (``Tracker.embedding_floor``).

Boxes at or below the floor get zero rows; byte/finetrack/jde never read them, so the result
files are byte-identical to embedding every box (``tracker.embed_all_boxes=true``), in the joint
pipeline and with two networks, while the head sees fewer ROIs. ``robust`` reads every box.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from finetrack.cli import track as track_cli
from finetrack.models.reid_head import embed_mask, scatter_rows
from finetrack.tracker import Tracker
from tests.inference.tiny_model import (
    save_det_ckpt, save_reid_ckpt, tiny_frames, tiny_model, write_mot_seq,
)

N_FRAMES = 6


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("floor")
    model = tiny_model(tiny_frames(N_FRAMES))
    save_reid_ckpt(model, d / "reid.pth")
    save_det_ckpt(model, d / "det.pth")
    write_mot_seq(d / "data" / "train", "SEQ", tiny_frames(N_FRAMES))
    return d


class _CountROIs:
    """Boxes passed to every ReIDHead.forward inside the block."""

    def __enter__(self):
        from finetrack.models import reid_head

        self.boxes = 0
        self._orig = orig = reid_head.ReIDHead.forward

        def forward(head, feats, boxes):
            self.boxes += sum(len(b) for b in boxes)
            return orig(head, feats, boxes)

        reid_head.ReIDHead.forward = forward
        return self

    def __exit__(self, *exc):
        from finetrack.models import reid_head

        reid_head.ReIDHead.forward = self._orig


def _run(setup: Path, out: Path, mode: str, extra=(), overrides=()):
    # --det-ckpt (the same weights: still the joint path) so model.conf_thresh=0.02 applies and
    # many boxes score below tracker.low_thresh=0.1
    args = ["--data-root", str(setup / "data"), "--det", "yolox", "--reid-ckpt",
            str(setup / "reid.pth"), "--det-ckpt", str(setup / "det.pth"), "--mode", mode,
            "--out", str(out), "--no-progress", *extra, "tracker.min_box_area=0",
            "train.device=cpu", "model.conf_thresh=0.02", "tracker.track_thresh=0.3", *overrides]
    with _CountROIs() as c:
        assert track_cli.main(args) == 0
    return (out / "SEQ.txt").read_text(), json.loads((out / "track_summary.json").read_text()), c.boxes


@pytest.mark.parametrize("extra, pipeline", [([], "joint"), (["--two-networks"], "two-networks")])
@pytest.mark.parametrize("mode", ["finetrack", "jde"])
def test_skipping_unread_boxes_changes_no_result(setup, tmp_path, extra, pipeline, mode):
    txt_all, s_all, n_all = _run(setup, tmp_path / "all", mode, extra,
                                 ["tracker.embed_all_boxes=true"])
    txt, s, n = _run(setup, tmp_path / "floor", mode, extra)
    assert s["pipeline"] == s_all["pipeline"] == pipeline
    assert s_all["embed_floor"] is None and s["embed_floor"] == (0.1 if mode == "finetrack" else 0.3)
    assert txt == txt_all and len(txt) > 0
    det = s["sequences"]["SEQ"]["detections"]
    assert det == s_all["sequences"]["SEQ"]["detections"]
    assert n < n_all <= det  # fewer ROIs through the head (two networks: frames with boxes)
    assert s_all["sequences"]["SEQ"]["embedded"] == det
    if pipeline == "joint":
        assert s["sequences"]["SEQ"]["embedded"] == n


def test_robust_embeds_every_box(setup, tmp_path):
    _, s, _ = _run(setup, tmp_path / "robust", "robust")
    assert s["embed_floor"] is None


def test_embedding_floor_per_mode():
    kw = dict(track_thresh=0.6, low_thresh=0.1)
    assert Tracker(mode="byte", **kw).embedding_floor == 0.1
    assert Tracker(mode="finetrack", **kw).embedding_floor == 0.1
    assert Tracker(mode="jde", **kw).embedding_floor == 0.6
    assert Tracker(mode="robust", **kw).embedding_floor is None
    assert Tracker(mode="finetrack", track_thresh=0.05, low_thresh=0.1).embedding_floor == 0.05


def test_scatter_rows_puts_zeros_where_not_embedded():
    keep = embed_mask(np.array([0.5, 0.05, 0.1, 0.9]), 0.1)
    assert keep.tolist() == [True, False, False, True]
    out = scatter_rows(np.ones((2, 3), np.float32), keep, 3)
    assert out.shape == (4, 3) and out[keep].all() and not out[~keep].any()
    assert embed_mask(np.array([0.0, 0.2]), None).all()


def test_default_mode_appearance_skips_unread_boxes(setup, tmp_path):
    """The default mode's training-free cues (color+imagenet) run only on the boxes botsort reads:
    the same result file as embedding every box, fewer crops through the ImageNet network."""
    from finetrack.inference import imagenet

    seen = []
    orig = imagenet.ImageNetEmbedder.__call__

    def counting(self, image, xyxy):
        seen.append(len(xyxy))
        return orig(self, image, xyxy)

    runs = {}
    imagenet.ImageNetEmbedder.__call__ = counting
    try:
        for name, extra in (("all", ["tracker.embed_all_boxes=true"]), ("floor", [])):
            seen.clear()
            out = tmp_path / name
            args = ["--data-root", str(setup / "data"), "--det", "yolox", "--det-ckpt",
                    str(setup / "det.pth"), "--out", str(out), "--no-progress",
                    "tracker.min_box_area=0", "train.device=cpu", "model.conf_thresh=0.02",
                    "tracker.track_thresh=0.3", *extra]
            assert track_cli.main(args) == 0
            s = json.loads((out / "track_summary.json").read_text())
            runs[name] = ((out / "SEQ.txt").read_text(), s, sum(seen))
    finally:
        imagenet.ImageNetEmbedder.__call__ = orig
    (txt_all, s_all, n_all), (txt, s, n) = runs["all"], runs["floor"]
    assert s["mode"] == "botsort" and s["appearance"] == "color+imagenet"
    assert txt == txt_all and len(txt) > 0
    det = s["sequences"]["SEQ"]["detections"]
    assert n_all == det and s_all["embed_floor"] is None
    assert s["embed_floor"] == Tracker(mode="botsort", track_thresh=0.3).embedding_floor
    assert n == s["sequences"]["SEQ"]["embedded"] < det
