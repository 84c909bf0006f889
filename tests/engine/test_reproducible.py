"""Same command, same weights: Re-ID training on CPU is bit-identical at a fixed thread count."""
import pytest
import torch

from finetrack.config import Config
from finetrack.configlib import ConfigError, freeze, load_config

from .conftest import tiny_config


def _train(root, out, threads):
    from finetrack.utils.checkpoint import load_checkpoint
    from finetrack.engine.reid_build import train_from_config

    prev = torch.get_num_threads()
    try:
        train_from_config(freeze(tiny_config(root, out, ["train.epochs=1", f"train.threads={threads}"])))
        assert torch.get_num_threads() == threads  # the run set it
    finally:
        torch.set_num_threads(prev)
    return load_checkpoint(out / "last.pth")["model"]


def test_two_runs_give_identical_weights(tiny_mot_root, tmp_path):
    a = _train(tiny_mot_root, tmp_path / "a", 1)
    b = _train(tiny_mot_root, tmp_path / "b", 1)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_threads_out_of_range_is_an_error():
    with pytest.raises(ConfigError, match="train.threads"):
        load_config(Config, None, ["train.threads=0"])
