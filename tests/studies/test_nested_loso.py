"""The nested leave-one-scene-out study on tiny scripted scenes: the stress-aware selection never
reads the left-out scene's ground truth and gives way to the runner-up when the best mean fails a
training stress cut; the ceiling; the replay is the user's tracking loop."""
import shutil

import numpy as np
import pytest

from finetrack.data.mot import SeqInfo, write_seqinfo
from finetrack.data.splits import write_cut_gt
from finetrack.inference.cache import CachedFrames, every_kth, replay_sequence
from finetrack.structures import xyxy_to_tlwh
from finetrack.studies import nested_loso
from finetrack.tracker import Tracker

W, H = 40.0, 100.0
RULES = {
    "byte": ("byte", [()]),
    "finetrack": ("finetrack", [("tracker.finetrack.match_thresh=0.5",), ("tracker.finetrack.match_thresh=0.3",)]),
    "botsort": ("botsort", [("tracker.botsort.proximity_thresh=0.5",), ("tracker.botsort.proximity_thresh=0.8",)]),
}


def crossing(n, speed, noise, seed):
    """Two people crossing (A rightwards, B leftwards, B 10 px lower) and turning back at n // 2.

    Returns per frame (xyxy (2, 4), ids (2,), embeddings (2, 8): 4 'colour' + 4 'imagenet'
    columns, identity-bearing with ``noise``).
    """
    rng = np.random.default_rng(seed)
    turn = n // 2
    out = []
    for f in range(1, n + 1):
        t = f if f <= turn else 2 * turn - f
        xa, xb = 200 - speed * turn + speed * t, 200 + speed * turn - speed * t
        boxes = np.array([[xa, 300, xa + W, 300 + H], [xb, 310, xb + W, 310 + H]])
        emb = np.concatenate([np.eye(2, 4), np.eye(2, 4)], axis=1) + noise * rng.standard_normal((2, 8))
        out.append((boxes, np.array([1, 2]), emb.astype(np.float32)))
    return out


def make_scene(root, name, n, speed, noise, seed):
    """A sequence folder (seqinfo.ini, gt/gt.txt) and its cache (detections = GT boxes)."""
    frames = crossing(n, speed, noise, seed)
    d = root / name
    (d / "gt").mkdir(parents=True)
    lines = [f"{f},{i},{b[0]:.1f},{b[1]:.1f},{W},{H},1,-1,-1,-1"
             for f, (boxes, ids, _) in enumerate(frames, 1) for b, i in zip(boxes, ids)]
    (d / "gt" / "gt.txt").write_text("\n".join(lines) + "\n")
    write_seqinfo(d, SeqInfo(name, d, "img1", 10.0, n, 640, 480, ".jpg"))
    cache = CachedFrames(np.arange(1, n + 1), [b for b, _, _ in frames],
                         [np.full(2, 0.9) for _ in frames], [e for _, _, e in frames],
                         {"sequence": name, "frame_rate": 10.0,
                          "cues": {"color": [0, 4], "imagenet": [4, 8]}})
    return d, cache


@pytest.fixture
def scenes(tmp_path):
    root = tmp_path / "data"
    spec = {"A": (24, 8.0, 0.1, 0), "B": (30, 6.0, 0.3, 1), "C": (20, 7.0, 0.2, 2)}
    dirs, caches = {}, {}
    for name, args in spec.items():
        dirs[name], caches[name] = make_scene(root, name, *args)
    return dirs, caches


def test_selection_never_reads_the_left_out_ground_truth(scenes, tmp_path):
    dirs, caches = scenes
    full = nested_loso.NestedStudy(caches, dirs, tmp_path / "full", RULES, cues=("color",), store=False)
    for left in dirs:
        train = [s for s in dirs if s != left]
        chosen = full.select(train)
        overall = full.select_overall(train)
        # the same selection with the left-out scene's gt.txt gone
        hidden = dict(dirs)
        hidden[left] = tmp_path / "hidden" / left
        shutil.copytree(dirs[left], hidden[left])
        (hidden[left] / "gt" / "gt.txt").unlink()
        blind = nested_loso.NestedStudy(caches, hidden, tmp_path / f"blind-{left}", RULES,
                                        cues=("color",), store=False)
        assert blind.select(train) == chosen
        assert blind.select_overall(train) == overall
        assert blind.failures(train) == full.failures(train)
        assert left not in blind.scored_scenes
        # the training scenes' stress cuts were read for the check, the left-out scene's were not
        cut = {p.name for p in (blind.work / "gt").iterdir()}
        assert cut == {f"{s}-every{k}" for s in train for k in (2, 3)}
        with pytest.raises(FileNotFoundError):  # its GT really is gone
            blind.score(("byte", None, 0), left)


GRID = {"byte": ("byte", [()]),
        "finetrack": ("finetrack", [("tracker.finetrack.match_thresh=0.5",), ("tracker.finetrack.match_thresh=0.4",),
                                    ("tracker.finetrack.match_thresh=0.6",)])}


def table_study(tmp_path, idf1):
    """A study whose scores are a hand-built table {(rule, cue, i): {row: IDF1}}: nothing is tracked
    (no caches: reading any other row fails)."""
    study = nested_loso.NestedStudy({}, {}, tmp_path / "table", GRID, cues=("color",), store=False)
    for cand, rows in idf1.items():
        for row, v in rows.items():
            study.scores[study._key(cand, row)] = {"IDF1": v}
    return study


BYTE, FT = ("byte", None, 0), ("finetrack", "color")


def test_best_mean_setting_failing_a_training_stress_cut_gives_way_to_the_runner_up(tmp_path):
    byte = {"A": 60.0, "B": 70.0, "A-every2": 50.0, "A-every3": 40.0, "B-every2": 65.0, "B-every3": 55.0}
    table = {BYTE: byte,
             # best mean (70.0) but 0.6 below byte on A every 3rd frame
             FT + (0,): {"A": 66.0, "B": 74.0, "A-every2": 55.0, "A-every3": 39.4, "B-every2": 66.0,
                         "B-every3": 56.0},
             # runner-up (69.0), exactly byte - 0.5 on A every 3rd frame: qualifies
             FT + (1,): {"A": 65.0, "B": 73.0, "A-every2": 51.0, "A-every3": 39.5, "B-every2": 64.6,
                         "B-every3": 55.0},
             FT + (2,): {"A": 64.0, "B": 72.0, "A-every2": 51.0, "A-every3": 41.0, "B-every2": 66.0,
                         "B-every3": 56.0}}
    study = table_study(tmp_path, table)
    train = ["A", "B"]  # the left-out scene C has no entry: reading it would fail
    assert study.stress_failures(FT + (0,), train) == ["A-every3"]
    assert study.stress_failures(FT + (1,), train) == []
    assert study.select(train) == {("byte", None): 0, FT: 1}
    assert study.select_overall(train) == FT + (1,)
    assert study.failures(train) == {FT + (0,): ["A-every3"]}
    # without the check (no stress steps) today's rule: the best mean
    assert study.select(train, steps=()) == {("byte", None): 0, FT: 0}
    # every setting failing: the best mean (a fallback); the nested choice falls to byte
    table[FT + (1,)]["B-every2"] = table[FT + (2,)]["B-every3"] = 54.0
    table[FT + (1,)]["B-every3"] = 50.0
    study = table_study(tmp_path, table)
    assert set(study.failures(train)) == {FT + (0,), FT + (1,), FT + (2,)}
    assert study.select(train) == {("byte", None): 0, FT: 0}
    assert study.select_overall(train) == BYTE


def test_ceiling_gives_each_detection_its_gt_id(scenes, tmp_path):
    dirs, caches = scenes
    rows = nested_loso.ceiling_rows(caches["A"], dirs["A"])
    assert len(rows) == 2 * 24
    assert set(rows[rows[:, 2] < 150, 1].tolist()) >= {1.0}  # ids are the GT ids
    m = nested_loso.score_rows(rows, dirs["A"], tmp_path / "res")
    assert m["IDF1"] == pytest.approx(100.0) and m["IDs"] == 0


def test_byte_swaps_and_appearance_keeps_ids_in_the_table(scenes, tmp_path):
    dirs, caches = scenes
    study = nested_loso.NestedStudy(caches, dirs, tmp_path / "s", RULES, cues=("color",), store=False)
    byte = study.score(("byte", None, 0), "A")
    fine = study.score(("finetrack", "color", 0), "A")
    assert fine["IDF1"] > byte["IDF1"]
    assert study.ceiling("A")["IDF1"] >= fine["IDF1"]


def test_replay_goes_through_the_tracking_loop_with_the_same_rows(scenes):
    _, caches = scenes
    cache = nested_loso.split_cue(caches["B"], "color+imagenet")
    assert cache.emb[0].shape == (2, 8)
    np.testing.assert_allclose(np.linalg.norm(cache.emb[0], axis=1), 1.0, atol=1e-6)
    a = replay_sequence(cache, Tracker(mode="finetrack", frame_rate=10))
    tracker, rows = Tracker(mode="finetrack", frame_rate=10), []  # the cache fed by hand
    for i, frame in enumerate(cache.frames):
        out = tracker.update(cache.xyxy[i], cache.scores[i], cache.emb[i])
        rows += [[frame, t, *tlwh, s] for t, tlwh, s in zip(out.ids, xyxy_to_tlwh(out.xyxy), out.scores)]
    assert len(rows) > 0
    np.testing.assert_array_equal(a, np.asarray(rows, dtype=float))


def test_every_kth_and_cut_gt(scenes, tmp_path):
    dirs, caches = scenes
    sub = every_kth(caches["A"], 3)
    assert sub.frames.tolist() == list(range(1, 9)) and sub.meta["frame_rate"] == pytest.approx(10 / 3)
    np.testing.assert_array_equal(sub.xyxy[1], caches["A"].xyxy[3])
    d = write_cut_gt(dirs["A"], 3, tmp_path / "gt")
    lines = (d / "gt" / "gt.txt").read_text().split()
    assert d.name == "A-every3" and len(lines) == 16 and lines[2].startswith("2,1,")
