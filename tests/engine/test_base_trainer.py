"""The base trainer through a toy subclass that overrides only the step and the evaluation."""

from __future__ import annotations

import math

import pytest
import torch

from finetrack.engine.base_trainer import BaseTrainer, NonFiniteLossError
from finetrack.utils.checkpoint import load_checkpoint


class _Line(BaseTrainer):
    """Fit y = 3x with one weight; the 'selection metric' is minus the weight error."""

    loss_key = "mse"
    metric_prefix = "select_"
    best_keys = ("score",)
    best_metrics = ("score",)

    def __init__(self, out_dir, epochs=3, scores=None, poison_at=None, **kw):
        model = torch.nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            model.weight.fill_(0.0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        super().__init__(model, opt, None, out_dir, epochs, torch.device("cpu"),
                         best_metric="score", progress=False, **kw)
        self.x = torch.linspace(-1, 1, 8)[:, None]
        self.scores = scores
        self.poison_at = poison_at

    def epoch_batches(self, epoch):
        return [self.x[:4], self.x[4:]], 2

    def train_step(self, batch):
        pred = self.model(batch)
        loss = ((pred - 3 * batch) ** 2).mean()
        if self.poison_at is not None and self.iter + 1 == self.poison_at:
            loss = loss * float("nan")
        self.backward_step(loss, {"mse": loss})
        return {"mse": float(loss.detach())}

    def evaluate_epoch(self, epoch):
        if self.scores is not None:
            return {"score": self.scores[epoch]}
        return {"score": -abs(float(self.model.weight.detach()) - 3.0)}


def test_loop_selects_best_and_writes_both_checkpoints(tmp_path):
    t = _Line(tmp_path, epochs=3, scores=[1.0, 5.0, 2.0])
    out = t.train()
    assert [h["epoch"] for h in out["history"]] == [1, 2, 3]
    assert [h["iter"] for h in out["history"]] == [2, 4, 6]
    assert [h["select_score"] for h in out["history"]] == [1.0, 5.0, 2.0]
    assert out["best"] == {"metric": "score", "value": 5.0, "epoch": 2, "score": 5.0}
    assert load_checkpoint(tmp_path / "best.pth")["epoch"] == 2
    last = load_checkpoint(tmp_path / "last.pth")
    assert last["epoch"] == 3 and last["iter"] == 6 and set(last["rng"]) >= {"torch", "python"}
    # the loss went down: 2 SGD steps per epoch towards w = 3
    losses = [h["mse"] for h in out["history"]]
    assert losses[2] < losses[1] < losses[0]


def test_resume_gives_the_uninterrupted_weights(tmp_path):
    full = _Line(tmp_path / "a", epochs=3)
    full.train()
    first = _Line(tmp_path / "b", epochs=1)
    first.train()
    again = _Line(tmp_path / "b", epochs=3)
    again.resume(tmp_path / "b" / "last.pth")
    assert again.start_epoch == 1 and again.iter == 2
    again.train()
    assert torch.equal(again.model.weight, full.model.weight)
    assert [h["epoch"] for h in again.history] == [1, 2, 3]


def test_a_non_finite_loss_stops_with_epoch_iteration_and_terms(tmp_path):
    t = _Line(tmp_path, epochs=2, poison_at=3)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2 iteration 3: \{'mse': nan\}"):
        t.train()
    assert load_checkpoint(tmp_path / "last.pth")["epoch"] == 1  # epoch 1 is kept


def test_without_selection_the_last_epoch_is_best(tmp_path):
    class NoSelect(_Line):
        def evaluate_epoch(self, epoch):
            return None

        def has_selection(self):
            return False

    out = NoSelect(tmp_path, epochs=2).train()
    assert out["best"]["epoch"] == 2 and out["best"]["score"] is None
    assert load_checkpoint(tmp_path / "best.pth")["epoch"] == 2


def test_time_budget_stops_after_the_crossing_epoch(tmp_path):
    out = _Line(tmp_path, epochs=5, max_train_seconds=1e-9).train()
    assert out["epochs_done"] == 1 and len(out["history"]) == 1
    assert not math.isinf(out["best"]["value"])


def test_bad_best_metric_is_refused(tmp_path):
    class Bad(_Line):
        best_metrics = ("AP",)

    with pytest.raises(ValueError, match="best_metric must be one of AP"):
        Bad(tmp_path)
