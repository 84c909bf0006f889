"""finetrack/studies/decision_audit.py: hand-counted decisions on a scripted two-person sequence."""
from pathlib import Path

import numpy as np

from finetrack.inference.cache import CachedFrames, save_frames, load_frames
from finetrack.studies import decision_audit as audit


def _sequence(tmp_path: Path, n: int = 12):
    """Two people 300 px apart walking right; person 2's detection is missing in frames 5-6."""
    seq = tmp_path / "TWO-01"
    (seq / "gt").mkdir(parents=True)
    (seq / "img1").mkdir()
    (seq / "seqinfo.ini").write_text(
        "[Sequence]\nname=TWO-01\nimDir=img1\nframeRate=10\nseqLength=%d\nimWidth=1000\n"
        "imHeight=600\nimExt=.jpg\n" % n)
    rows, xyxy, scores, emb = [], [], [], []
    for f in range(1, n + 1):
        boxes = []
        for pid, x0 in ((1, 100.0), (2, 400.0)):
            x = x0 + 4 * f
            rows.append(f"{f},{pid},{x},100,50,120,1,-1,-1,-1")
            if not (pid == 2 and f in (5, 6)):
                boxes.append((pid, [x, 100, x + 50, 220]))
        xyxy.append(np.array([b for _, b in boxes], float))
        scores.append(np.full(len(boxes), 0.9))
        emb.append(np.array([[1.0, 0.0] if p == 1 else [0.0, 1.0] for p, _ in boxes], np.float32))
    (seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    cache = CachedFrames(np.arange(1, n + 1), xyxy, scores, emb,
                         {"sequence": "TWO-01", "half": "all", "frame_rate": 10})
    return seq, load_frames(save_frames(cache, tmp_path / "TWO-01.all.npz"))


def test_byte_counts_on_a_scripted_gap(tmp_path):
    from finetrack.config import Config
    from finetrack.configlib import freeze, load_config

    seq, cache = _sequence(tmp_path)
    labels = audit.gt_labels(cache, seq / "gt" / "gt.txt")
    assert [list(x) for x in labels[:5]] == [[1, 2]] * 4 + [[1]]
    stats = audit.audit(cache, labels, "byte", freeze(load_config(Config, None, [])))
    # frame 1: two new tracks; person 1 continues in frames 2-12 (11), person 2 in 2-4 and
    # 8-12 (3 + 5) after being found again once in frame 7: no wrong identity anywhere
    assert stats == {"new_gt": 2, "cont_right": 11 + 3 + 5, "refound_right": 1}
