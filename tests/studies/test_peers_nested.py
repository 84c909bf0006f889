"""boxmot's peers in the nested table: the grid, the cache -> per-frame feed of a stress row with
dense ids (a scripted stand-in for boxmot), the peers' rows scored and chosen left-out like ours;
a real boxmot run only where boxmot is installed (the bench venv)."""
import sys
import types

import numpy as np
import pytest

from finetrack.data.mot import SeqInfo, write_seqinfo
from finetrack.data.results import write_results
from finetrack.studies import nested_loso, peers_boxmot, peers_nested
from finetrack.studies.peers_nested import PEER_RULES, PeerStudy, results_path

W, H = 40.0, 100.0


def make_scene(root, name, n, seed):
    """Two people meeting and turning back at n // 2 (A from the left, B from the right, 10 px
    lower): seqinfo.ini, gt/gt.txt and a cache (detections = GT boxes; 3 'colour' + 2 'imagenet'
    columns, identity-bearing). Returns (folder, cache, per-frame GT ids)."""
    rng = np.random.default_rng(seed)
    turn, boxes, emb = n // 2, [], []
    for f in range(1, n + 1):
        t = f if f <= turn else 2 * turn - f
        xa, xb = 200 - 8 * turn + 8 * t, 200 + 8 * turn - 8 * t
        boxes.append(np.array([[xa, 300, xa + W, 300 + H], [xb, 310, xb + W, 310 + H]]))
        e = np.array([[3, 0, 0, 2, 0], [0, 0, 4, 0, 1]], np.float32)
        emb.append(e + 0.05 * rng.standard_normal(e.shape).astype(np.float32))
    d = root / name
    (d / "gt").mkdir(parents=True)
    (d / "gt" / "gt.txt").write_text("".join(f"{f},{i + 1},{b[0]:.1f},{b[1]:.1f},{W},{H},1,-1,-1,-1\n"
                                             for f, bb in enumerate(boxes, 1) for i, b in enumerate(bb)))
    write_seqinfo(d, SeqInfo(name, d, "img1", 10.0, n, 640, 480, ".jpg"))
    cache = nested_loso.CachedFrames(np.arange(1, n + 1), boxes, [np.full(2, 0.9) for _ in boxes], emb,
                                     {"sequence": name, "frame_rate": 10.0,
                                      "cues": {"color": [0, 3], "imagenet": [3, 5]}})
    return d, cache


@pytest.fixture
def scenes(tmp_path):
    dirs, caches = {}, {}
    for name, n, seed in (("A", 24, 0), ("B", 30, 1), ("C", 20, 2)):
        dirs[name], caches[name] = make_scene(tmp_path / "data", name, n, seed)
    return dirs, caches


def test_the_peer_gets_our_botsort_grid_and_its_settings_parse():
    ours = [tuple(o.replace("tracker.botsort.", "") for o in g) for g in nested_loso.RULES["botsort"][1]]
    assert PEER_RULES["boxmot-botsort-gates"][1] == ours
    assert sorted(ours) == sorted((f"appearance_thresh={a}", f"proximity_thresh={p}")
                                  for a in (0.1, 0.15, 0.25) for p in (0.5, 0.8))
    assert ours[0] == ("appearance_thresh=0.25", "proximity_thresh=0.5")  # boxmot's defaults first
    abl = peers_nested.ABLATION_RULES  # the ablations keep the grids, one switch added
    assert [g[:-1] for g in abl["botsort-mot20"][1]] == nested_loso.RULES["botsort"][1]
    assert [g[:-1] for g in abl["boxmot-botsort-gates-fused"][1]] == ours
    assert peers_nested.peer_runs(abl) == [("botsort", g + ("fuse_first_associate=true",)) for g in ours] + [
        ("botsort", ("use_embeddings=false",))]
    runs = peers_nested.peer_runs()
    assert runs == [("botsort", ())] + [("botsort", g) for g in ours] + [("deepocsort", ())]
    assert peers_nested.peer_kwargs(ours[5]) == {"appearance_thresh": 0.15, "proximity_thresh": 0.8}
    assert peers_nested.peer_kwargs(("use_embeddings=false", "fuse_first_associate=true")) == {
        "use_embeddings": False, "fuse_first_associate": True}
    for bad in (("appearance_thresh",), ("appearance_thresh=high",), ("=0.1",), ("use_embeddings=no",)):
        with pytest.raises(ValueError, match="name=number"):
            peers_nested.peer_kwargs(bad)
    p = results_path("W", "botsort", "color+imagenet", ours[5], "A-every2")
    assert p.as_posix() == "W/peers/botsort.color+imagenet.appearance_thresh=0.15,proximity_thresh=0.8/A-every2.txt"
    assert results_path("W", "deepocsort", "color", (), "A").parent.name == "deepocsort.color.defaults"


class _ScriptedBotSort:
    """Stands in for boxmot's BotSort (old ``update(dets, img, embs)`` API): records what it is
    given and answers every detection with raw ids 7 and 0 (boxmot's counters may start at 0)."""

    made = []

    def __init__(self, track_high_thresh=0.5, new_track_thresh=0.6, appearance_thresh=0.25,
                 proximity_thresh=0.5, frame_rate=30, use_cmc=True):
        self.kwargs = dict(appearance_thresh=appearance_thresh, proximity_thresh=proximity_thresh,
                           frame_rate=frame_rate, use_cmc=use_cmc, track_high_thresh=track_high_thresh)
        self.calls = []
        _ScriptedBotSort.made.append(self)

    def update(self, dets, img, embs):
        self.calls.append((dets.copy(), img.shape, embs.copy()))
        out = np.zeros((len(dets), 8))
        out[:, :4], out[:, 4], out[:, 5] = dets[:, :4], [7, 0][:len(dets)], dets[:, 4]
        return out


def test_a_stress_row_is_fed_frame_by_frame_with_dense_ids(scenes, monkeypatch):
    dirs, caches = scenes
    fake = types.ModuleType("boxmot")  # no boxmot.structures: the (N, 6) + embs API
    fake.BotSort = _ScriptedBotSort
    monkeypatch.setitem(sys.modules, "boxmot", fake)
    _ScriptedBotSort.made.clear()
    frames = nested_loso.split_cue(nested_loso.row_cache(caches, "A-every3"), "color+imagenet")
    info = peers_boxmot.seq_info(dirs["A"].parent, "A")
    size = peers_boxmot.image_size(peers_nested.feed(frames), info)
    rows, settings, dropped = peers_nested.track_row(frames, "botsort", ("appearance_thresh=0.1",), size, "A-every3")
    trk, = _ScriptedBotSort.made
    # boxmot got our thresholds, the chosen gate, the row's rate (10 / 3 frames per second -> 3) and no CMC
    assert trk.kwargs == dict(appearance_thresh=0.1, proximity_thresh=0.5, frame_rate=3, use_cmc=False,
                              track_high_thresh=0.6)
    assert settings["appearance_thresh"] == 0.1 and dropped == 0
    # frames 1, 4, 7, ... of the scene: its boxes and scores, a black image of seqinfo's size
    assert len(trk.calls) == 8
    for j, (dets, shape, embs) in enumerate(trk.calls):
        np.testing.assert_allclose(dets[:, :4], caches["A"].xyxy[3 * j])
        np.testing.assert_allclose(dets[:, 4], 0.9, rtol=1e-6)
        assert shape == (480, 640, 3)
        # color+imagenet: each cue's columns L2-normalised, side by side, over sqrt(2)
        raw = caches["A"].emb[3 * j]
        want = np.concatenate([raw[:, :3] / np.linalg.norm(raw[:, :3], axis=1, keepdims=True),
                               raw[:, 3:] / np.linalg.norm(raw[:, 3:], axis=1, keepdims=True)], 1) / np.sqrt(2)
        np.testing.assert_allclose(embs, want, atol=1e-6)
    # rows: frames renumbered 1..8 as the cut GT, raw ids 7 -> 1 and 0 -> 2 (first appearance), tlwh
    assert rows[:, 0].tolist() == [f for f in range(1, 9) for _ in range(2)]
    assert rows[:, 1].tolist() == [1, 2] * 8
    np.testing.assert_allclose(rows[2, 2:6], [caches["A"].xyxy[3][0][0], 300, W, H])
    with pytest.raises(ValueError, match="no parameter appearance_gate"):
        peers_nested.track_row(frames, "botsort", ("appearance_gate=0.1",), size, "A-every3")


def _write(path, cache, swap_after=None):
    """Rows with the GT ids, or with the two ids exchanged after frame ``swap_after``."""
    f = np.repeat(cache.frames, 2)
    ids = np.tile([1, 2], len(cache.frames))
    if swap_after is not None:
        ids = np.where(f > swap_after, 3 - ids, ids)
    xyxy = np.concatenate(cache.xyxy)
    write_results(path, f, ids, np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]), np.full(len(f), 0.9))


def test_peer_rows_are_scored_and_their_gates_chosen_on_the_other_scenes(scenes, tmp_path):
    dirs, caches = scenes
    rules = {"byte": nested_loso.RULES["byte"], "boxmot-botsort-gates": PEER_RULES["boxmot-botsort-gates"],
             "boxmot-deepocsort": PEER_RULES["boxmot-deepocsort"]}
    grid = PEER_RULES["boxmot-botsort-gates"][1]
    work = tmp_path / "w"
    for row in ("A", "B", "C", "A-every2", "B-every2", "C-every2"):
        frames = nested_loso.row_cache(caches, row)
        n = len(frames.frames)
        for i, g in enumerate(grid):
            # gates 4 keep both ids on A and B and swap them on C; gates 0 the other way round;
            # the others swap everywhere
            good = (i == 4 and row[0] in "AB") or (i == 0 and row[0] == "C")
            _write(results_path(work, "botsort", "color", g, row), frames, None if good else n // 2)
        _write(results_path(work, "deepocsort", "color", (), row), frames)
    study = PeerStudy(caches, dirs, work, rules, cues=("color",), store=False)
    res = nested_loso.run(study, ["A", "B", "C"], steps=(2,), fitted=())
    fold = res["folds"]["C"]  # chosen on A and B: gates 4, which swap on C
    assert fold["chosen"]["boxmot-botsort-gates/color"] == list(grid[4])
    assert fold["scores"]["boxmot-botsort-gates/color"]["IDF1"] < 90
    assert study.score(("boxmot-botsort-gates", "color", 0), "C")["IDF1"] == pytest.approx(100.0)
    assert fold["scores"]["boxmot-deepocsort/color"]["IDF1"] == pytest.approx(100.0)
    assert res["stress"]["C-every2"]["scores"]["boxmot-botsort-gates/color"]["IDF1"] < 90
    assert "boxmot-botsort-gates/color" in nested_loso.markdown(res)
    assert "without" not in nested_loso.markdown(res)  # nothing left out of the nested choice
    # a missing peer file says which step makes it
    results_path(work, "deepocsort", "color", (), "B").unlink()
    fresh = PeerStudy(caches, dirs, work, rules, cues=("color",), store=False)
    with pytest.raises(FileNotFoundError, match="peers_nested.py track"):
        fresh.score(("boxmot-deepocsort", "color", 0), "B")


def test_boxmot_tracks_the_scripted_scenes(scenes, tmp_path):
    pytest.importorskip("boxmot", reason="boxmot is a peer, installed only in the bench venv "
                                         "(docs/experiments/boxmot_parity.md)")
    dirs, caches = scenes
    rec = peers_nested.track_peers(caches, dirs, tmp_path / "w", ["A", "A-every2"], cues=("color+imagenet",))
    assert len(rec["runs"]) == 2 * 8 and rec["stubbed"]
    study = PeerStudy(caches, dirs, tmp_path / "w", cues=("color+imagenet",), store=False)
    idf1 = lambda rule, i=0: study.score((rule, None if rule == "byte" else "color+imagenet", i), "A")["IDF1"]  # noqa: E731
    byte = idf1("byte")
    assert byte < 60  # motion alone swaps the two at the turn
    # boxmot's BoT-SORT gates as ours do here: at proximity 0.5 (its default) the overlapping pair
    # is left to IoU and swaps as byte does; at 0.8 the identity-bearing embeddings keep both ids
    assert idf1("boxmot-botsort") == pytest.approx(byte) == pytest.approx(idf1("botsort", 0))
    assert idf1("boxmot-botsort-gates", 5) == pytest.approx(100.0) == pytest.approx(idf1("botsort", 5))
    assert idf1("boxmot-deepocsort") == pytest.approx(100.0)
    table = peers_nested.same_settings(study, ["A"], cues=("color+imagenet",))
    assert "| color+imagenet | appearance_thresh=0.15 proximity_thresh=0.8 | 100.0 | 100.00 | 100.0 | 100.00 |" in table
    again = peers_nested.track_peers(caches, dirs, tmp_path / "w", ["A"], cues=("color+imagenet",))
    assert again["runs"] == {}  # existing results are kept
