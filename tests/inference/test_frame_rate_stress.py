"""The stress rows' cut (cache.every_kth, data.splits.write_cut_gt): a cached row and its ground truth
cut to every k-th frame."""
import numpy as np

from finetrack.data.mot import MOTSequence, SeqInfo, write_seqinfo
from finetrack.data.splits import write_cut_gt
from finetrack.inference.cache import CachedFrames, every_kth


def test_every_kth_frame_of_cache_and_gt(tmp_path):
    boxes = [np.full((1, 4), float(f)) for f in range(1, 8)]
    cache = CachedFrames(np.arange(1, 8), boxes, [np.full(1, 0.9)] * 7, [np.full((1, 2), f) for f in range(7)],
                         {"sequence": "S", "frame_rate": 9.0})
    sub = every_kth(cache, 3)  # frames 1, 4, 7
    assert sub.frames.tolist() == [1, 2, 3] and sub.meta["frame_rate"] == 3.0
    assert [b[0, 0] for b in sub.xyxy] == [1.0, 4.0, 7.0] and [e[0, 0] for e in sub.emb] == [0, 3, 6]
    seq = tmp_path / "src" / "S"
    (seq / "gt").mkdir(parents=True)
    (seq / "gt" / "gt.txt").write_text("".join(f"{f},1,{f},0,10,20,1,1,1\n" for f in range(1, 8)) + "\n")
    write_seqinfo(seq, SeqInfo("S", seq, "img1", 9, 7, 100, 100, ".jpg"))
    name = write_cut_gt(seq, 3, tmp_path / "gt").name
    assert name == "S-every3"
    cut = MOTSequence(tmp_path / "gt" / name, require_images=False)
    assert cut.info.frame_rate == 3 and cut.info.seq_length == 3
    assert (tmp_path / "gt" / name / "gt" / "gt.txt").read_text().split() == [
        "1,1,1,0,10,20,1,1,1", "2,1,4,0,10,20,1,1,1", "3,1,7,0,10,20,1,1,1"]
    assert (seq / "gt" / "gt.txt").read_text().count("\n") == 8  # the source is only read
