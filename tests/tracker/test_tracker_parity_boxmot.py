"""Our byte mode equals boxmot's ByteTrack when run with boxmot's conventions (skipped without
boxmot, which is a peer for comparison, not a dependency: see scripts/parity_boxmot.py)."""
import numpy as np
import pytest

from finetrack.tracker import Tracker
from finetrack.synthetic.crowd import synthetic_crowd


def test_byte_matches_boxmot_bytetrack_on_synthetic_crowd():
    boxmot = pytest.importorskip("boxmot")
    crowd = synthetic_crowd(n_frames=60, n_targets=30, emb_dim=4, seed=3)
    ours = Tracker(mode="byte", new_track_thresh=0.6, min_box_area=None, max_aspect_ratio=None)
    theirs = boxmot.ByteTrack(min_conf=0.1, track_thresh=0.6, match_thresh=0.8, track_buffer=30,
                              frame_rate=30)
    for f in crowd:
        dets = np.c_[f.xyxy, f.scores, np.zeros(len(f.scores))].astype(np.float32)
        o = ours.update(dets[:, :4].astype(np.float64), dets[:, 4].astype(np.float64))
        b = theirs.update(dets, None)
        order = np.argsort(b[:, 4])
        assert sorted(o.ids.tolist()) == (b[order, 4].astype(int) + 1).tolist()
        np.testing.assert_allclose(o.xyxy[np.argsort(o.ids)], b[order, :4], atol=1e-2)
