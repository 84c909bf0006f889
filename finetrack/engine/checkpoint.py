"""One checkpoint dict per run, written atomically as ``last.pth`` and ``best.pth``.

Contents (all plain, loadable with ``torch.load(weights_only=False)``)::

    {"model": state_dict, "model_args": {...}  # enough to rebuild backbone + head alone
     "optimizer": ..., "scheduler": ..., "scaler": ... or None,
     "epoch": number of finished epochs, "iter": global iteration,
     "best": {"metric": name, "value": float, "epoch": int, "rank1": .., "mAP": ..},
     "history": [per-epoch dicts], "train_seconds": float,
     "config": resolved config as a nested dict, "git_revision": str,
     "identities": [[seq, track_id], ...], "rng": {"torch": ..., "numpy": ..., "python": ...}}

``model`` and ``model_args`` are what
:meth:`finetrack.models.reid_head.FineTrackModel.from_checkpoint` reads, so ``best.pth`` is
self-contained for tracking.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import torch

from finetrack.utils.io import atomic_open

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
LAST = "last.pth"
BEST = "best.pth"


def save_checkpoint(path: PathLike, state: Dict[str, Any]) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically (temp file + rename); returns the path."""
    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(state, f)
    return path


def load_checkpoint(
    path: PathLike, map_location: Union[str, torch.device] = "cpu"
) -> Dict[str, Any]:
    """Load one of our checkpoints (full unpickle: only load files you trust).

    Raises:
        FileNotFoundError: the file does not exist (named in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return torch.load(path, map_location=map_location, weights_only=False)


def _numpy_state_plain(state: tuple) -> list:
    """numpy's legacy RNG state with the key array as a list (``weights_only`` loadable)."""
    name, keys, pos, has_gauss, cached = state
    return [str(name), [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]


def rng_state() -> Dict[str, Any]:
    """Snapshot of the torch (CPU and CUDA), numpy and python global generators."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state_plain(np.random.get_state()),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Optional[Dict[str, Any]]) -> None:
    """Restore :func:`rng_state` output (missing entries are left alone)."""
    if not state:
        return
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "python" in state:
        random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / DataParallel wrappers."""
    return model.module if hasattr(model, "module") else model
