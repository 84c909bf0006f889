"""Re-ID training loop: loss goes down, exact resume, non-finite stop, self-contained ckpts."""

from __future__ import annotations

import json

import pytest
import torch

from finetrack.configlib import ConfigError

from finetrack.utils.checkpoint import load_checkpoint
from finetrack.engine.reid_build import build_reid_datasets, model_kwargs, train_from_config
from finetrack.engine.trainer import NonFiniteLossError, ReIDTrainer

from .conftest import tiny_config


class _SimulatedKill(Exception):
    pass


def _kill_after_first_epoch(epoch: int, record) -> None:
    if epoch == 0:
        raise _SimulatedKill()


def test_few_steps_lower_the_loss(tiny_mot_root, tmp_path):
    from finetrack.data.reid_dataset import collate_frames
    from finetrack.losses import FineTrackLoss
    from finetrack.models.build import build_model

    torch.manual_seed(0)
    cfg = tiny_config(tiny_mot_root, tmp_path)
    train_set, _ = build_reid_datasets(cfg)
    model = build_model(**model_kwargs(cfg, train_set.num_identities))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    n0 = train_set.seq_lengths[0]
    batch = collate_frames([train_set[i] for i in (0, 1, n0, n0 + 1)])  # 2 frames of each seq
    trainer = ReIDTrainer(
        model,
        FineTrackLoss(),
        opt,
        None,
        [],
        None,
        tmp_path,
        1,
        torch.device("cpu"),
        progress=False,
    )
    losses = [trainer.train_step(batch)["total"] for _ in range(5)]
    assert losses[-1] < 0.8 * losses[0], losses


def test_resume_after_kill_equals_uninterrupted_run(tiny_mot_root, tmp_path):
    quick = ["train.max_iters_per_epoch=2", "reid_eval.max_frames=5"]
    full = train_from_config(tiny_config(tiny_mot_root, tmp_path / "full", quick))

    cfg = tiny_config(tiny_mot_root, tmp_path / "killed", quick)
    with pytest.raises(_SimulatedKill):
        train_from_config(cfg, on_epoch_end=_kill_after_first_epoch)
    assert load_checkpoint(tmp_path / "killed" / "last.pth")["epoch"] == 1
    resumed = train_from_config(
        tiny_config(tiny_mot_root, tmp_path / "killed", quick + ["resume=true"])
    )

    a = load_checkpoint(tmp_path / "full" / "last.pth")
    b = load_checkpoint(tmp_path / "killed" / "last.pth")
    assert a["epoch"] == b["epoch"] == 2 and a["iter"] == b["iter"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["scheduler"] == b["scheduler"]
    for key in ("best", "final"):
        assert full[key] == resumed[key]
    assert [h["loss_total"] for h in full["history"]] == [
        h["loss_total"] for h in resumed["history"]
    ]


def test_resume_under_another_config_is_refused(tiny_mot_root, tmp_path):
    quick = ["train.max_iters_per_epoch=2", "reid_eval.max_frames=5", "train.epochs=1"]
    train_from_config(tiny_config(tiny_mot_root, tmp_path / "run", quick))
    before = load_checkpoint(tmp_path / "run" / "last.pth")
    with pytest.raises(ConfigError, match=r"train\.lr: 0\.0002 -> 0\.001.*resume=false"):
        train_from_config(
            tiny_config(tiny_mot_root, tmp_path / "run", quick + ["resume=true", "train.lr=1e-3"])
        )
    after = load_checkpoint(tmp_path / "run" / "last.pth")
    assert after["iter"] == before["iter"]  # nothing trained, nothing overwritten
    # more epochs (and progress/log settings) may change: the run goes on
    more = train_from_config(
        tiny_config(tiny_mot_root, tmp_path / "run", quick[:2] + ["resume=true", "train.epochs=2"])
    )
    assert [h["epoch"] for h in more["history"]] == [1, 2]


def test_checkpoint_contents_and_metrics_json(tiny_mot_root, tmp_path):
    from finetrack.models.build import model_from_checkpoint

    cfg = tiny_config(
        tiny_mot_root,
        tmp_path,
        [
            "train.epochs=1",
            "model.pooling=gap",
            "train.max_iters_per_epoch=2",
            "model.neck=fpn",
            "data.sampler=shuffle",
        ],
    )
    train_from_config(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) >= {"best", "final", "train_seconds"}
    assert 0.0 <= metrics["best"]["rank1"] <= 100.0 and metrics["best"]["epoch"] == 1
    assert metrics["final"]["mAP"] == metrics["best"]["mAP"]
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "train.log").is_file()
    assert any((tmp_path / "tb").iterdir())
    ckpt = load_checkpoint(tmp_path / "best.pth")
    for key in (
        "model",
        "model_args",
        "optimizer",
        "scheduler",
        "epoch",
        "best",
        "config",
        "git_revision",
        "identities",
    ):
        assert key in ckpt, key
    assert ckpt["config"]["model"]["pooling"] == "gap"
    # self-contained: rebuilt from the file alone, same embeddings as the trained weights
    model = model_from_checkpoint(tmp_path / "best.pth")
    _, val = build_reid_datasets(cfg)
    item = val[0]
    emb = model.extract(item["image"][None], [item["boxes"]])
    assert emb.shape == (len(item["boxes"]), 32)
    assert torch.allclose(torch.from_numpy(emb).norm(dim=1), torch.ones(len(emb)), atol=1e-5)


def test_non_finite_loss_stops_with_the_loss_dict(tiny_mot_root, tmp_path):
    from finetrack.data.reid_dataset import collate_frames
    from finetrack.models.build import build_model

    cfg = tiny_config(tiny_mot_root, tmp_path)
    train_set, _ = build_reid_datasets(cfg)
    model = build_model(**model_kwargs(cfg, train_set.num_identities))
    before = {k: p.detach().clone() for k, p in model.named_parameters()}

    def nan_loss(outputs, labels):
        t = outputs["f_global"].sum() * float("nan")
        return {"tri_g": t, "total": t}

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = ReIDTrainer(model, nan_loss, opt, None, [], None, tmp_path, 1, torch.device("cpu"))
    batch = collate_frames([train_set[0]])
    with pytest.raises(NonFiniteLossError, match="tri_g"):
        trainer.train_step(batch)
    for k, p in model.named_parameters():  # nothing stepped (BN running stats may move)
        assert torch.equal(p, before[k]), k


_FINITE_WORKER = """
import sys
import torch
import torch.distributed as dist
from finetrack.engine.trainer import all_ranks_finite
rank, port = int(sys.argv[1]), int(sys.argv[2])
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
ok = all_ranks_finite(torch.tensor(1.0))
bad = all_ranks_finite(torch.tensor(float("nan") if rank == 1 else 1.0))
print(ok, bad)
dist.destroy_process_group()
"""


def test_a_nan_on_one_rank_stops_every_rank():
    """Under DDP, a non-finite loss on rank 1 makes rank 0 stop too (instead of hanging)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, "-c", _FINITE_WORKER, str(r), str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        assert out.split() == ["True", "False"]


def test_the_evaluation_half_is_not_read_during_training(tiny_mot_root, tmp_path, monkeypatch):
    """Training reads the head of the training half, selection its tail (5..8); the
    evaluation half (9..16) is read only after the last epoch, for the reported numbers."""
    from finetrack.data.mot import MOTSequence

    reads = []
    real_read = MOTSequence.read_frame

    def counting_read(self, frame):
        reads.append(frame)
        return real_read(self, frame)

    monkeypatch.setattr(MOTSequence, "read_frame", counting_read)
    marks = []
    cfg = tiny_config(tiny_mot_root, tmp_path, ["train.max_iters_per_epoch=2"])
    metrics = train_from_config(cfg, on_epoch_end=lambda epoch, rec: marks.append(len(reads)))
    during, after = reads[: marks[-1]], reads[marks[-1]:]
    assert during and max(during) <= 8  # nothing of the evaluation half while training
    assert {f for f in during if f >= 5}, "the selection slice (tail) was evaluated"
    assert min(after) >= 9 and set(after) == set(range(9, 17))  # evaluation half, at the end
    assert metrics["selected_on"] == "train_tail_50pct"
    assert metrics["evaluated_on"] == "val_half" and metrics["protocol"]["version"] == "v2"
    assert metrics["protocol"]["exclude_frames"] == {"TINY-01": 1, "TINY-02": 1}
    assert metrics["best"]["label"].startswith("selected checkpoint")
    assert metrics["final"]["label"] == "final epoch" and metrics["final"]["epoch"] == 2
    # per epoch only the selection slice is scored: 2 sequences x 3 identities x frame 5
    assert [h["select_num_queries"] for h in metrics["history"]] == [6, 6]
    assert metrics["best"]["num_queries"] == 2 * 3 * 2  # query frames 9 and 13
    assert metrics["best"]["open_set"]["num_queries"] == 0  # closed set: all ids trained on


def test_training_frames_exclude_the_selection_slice(tiny_mot_root, tmp_path):
    cfg = tiny_config(tiny_mot_root, tmp_path)
    train_set, _ = build_reid_datasets(cfg)
    assert {train_set.frame_ref(i)[1] for i in range(len(train_set))} == {1, 2, 3, 4}
    cfg = tiny_config(tiny_mot_root, tmp_path, ["reid_eval.select_on=final_epoch"])
    train_set, _ = build_reid_datasets(cfg)
    assert {train_set.frame_ref(i)[1] for i in range(len(train_set))} == set(range(1, 9))


def test_final_epoch_selection_and_an_empty_slice(tiny_mot_root, tmp_path):
    quick = ["train.max_iters_per_epoch=1", "reid_eval.max_frames=5", "train.epochs=1"]
    m = train_from_config(
        tiny_config(tiny_mot_root, tmp_path / "fe", quick + ["reid_eval.select_on=final_epoch"])
    )
    assert m["selected_on"] == "final_epoch" and m["best"]["epoch"] == 1
    assert m["best"]["mAP"] == m["final"]["mAP"]
    # a 1-frame tail (ceil(0.1 * 8)) has no gallery: refused before training, keys named
    with pytest.raises(ConfigError, match=r"reid_eval\.select_frac=0\.1.*select_on=final_epoch"):
        train_from_config(tiny_config(tiny_mot_root, tmp_path / "e", quick + ["reid_eval.select_frac=0.1"]))
    assert not (tmp_path / "e" / "last.pth").exists()


def test_reid_eval_ranges_are_checked():
    from finetrack.config import Config
    from finetrack.configlib import load_config

    for bad in ("reid_eval.select_frac=1.0", "reid_eval.exclude_seconds=-1",
                "reid_eval.open_set_frac=1", "reid_eval.query_every=0"):
        with pytest.raises(ConfigError, match=bad.split("=")[0].replace(".", r"\.")):
            load_config(Config, None, [bad])
    with pytest.raises(ConfigError, match="select_on"):
        load_config(Config, None, ["reid_eval.select_on=val_half"])
    c = load_config(Config, None, ["reid_eval.exclude_seconds=0"]).reid_eval
    assert c.protocol == "v1" and c.selected_on == "train_tail_10pct"
