"""The one checkpoint module: every checkpoint of the project is written and read here.

:func:`write_checkpoint` (alias :func:`save_checkpoint`) writes atomically (temp file + rename);
:func:`load_checkpoint` reads with ``weights_only=True`` (tensors and plain containers only: a file
holding other Python objects is refused, never unpickled) and turns every failure into a one-line
:class:`~finetrack.utils.cli.CheckpointError` naming the file. Also here: RNG state capture and
restore, the NaN/inf checks, and the run-folder decision on resume (config compared with
:func:`finetrack.config.check_resume_config`).

A training run's dict (``last.pth`` / ``best.pth``; all plain, ``weights_only`` loadable)::

    {"model": state_dict, "model_args": {...}  # enough to rebuild backbone + head alone
     "optimizer": ..., "scheduler": ..., "scaler": ... or None,
     "epoch": number of finished epochs, "iter": global iteration,
     "best": {"metric": name, "value": float, "epoch": int, "rank1": .., "mAP": ..},
     "history": [per-epoch dicts], "train_seconds": float,
     "config": resolved config as a nested dict, "git_revision": str,
     "identities": [[seq, track_id], ...], "rng": {"torch": ..., "numpy": ..., "python": ...}}

``model`` and ``model_args`` are what
:func:`finetrack.models.build.model_from_checkpoint` reads, so ``best.pth`` is
self-contained for tracking.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import random
import shutil
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from finetrack.utils.cli import CheckpointError
from finetrack.utils.io import atomic_open

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
LAST = "last.pth"
BEST = "best.pth"


def write_checkpoint(path: PathLike, state: Mapping[str, Any]) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically (temp file + rename); returns the path.

    ``state`` should hold only tensors and plain containers (what :func:`load_checkpoint` reads).
    """
    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(dict(state), f)
    return path


#: the trainers' name for :func:`write_checkpoint`
save_checkpoint = write_checkpoint


def load_checkpoint(
    path: PathLike, map_location: Union[str, torch.device] = "cpu"
) -> Dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` (tensors and plain containers).

    A file that does not load that way is reported, never retried as a full unpickle (which
    would run whatever code the file holds).

    Raises:
        FileNotFoundError: no such file (named in the message).
        CheckpointError: truncated, corrupt, not a dict, or not weights-only loadable (one line
            naming the file).
    """
    path_s = os.fspath(path)
    if not os.path.isfile(path_s):
        raise FileNotFoundError(f"checkpoint not found: {path_s}")
    try:
        with warnings.catch_warnings():  # random bytes can read as an odd pickle protocol
            warnings.simplefilter("ignore")
            obj = torch.load(path_s, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [ln.strip() for ln in str(err).splitlines() if "Unsupported global" in ln]
        if not lines:  # not a refused Python object: a damaged file
            raise CheckpointError(
                f"cannot read checkpoint {path_s}: truncated or corrupt ({_load_reason(err)})"
            ) from err
        raise CheckpointError(
            f"{path_s} cannot be loaded weights-only ({lines[0]}); it holds Python objects "
            "besides tensors: re-save its state dict with torch.save({'model': state_dict}) "
            "from code you trust"
        ) from err
    except Exception as err:  # noqa: BLE001 - any bytes: torch's unpicklers raise anything
        # (RuntimeError, EOFError, BadZipFile, IndexError "pop from empty list", KeyError, ...)
        raise CheckpointError(
            f"cannot read checkpoint {path_s}: truncated or corrupt ({_load_reason(err)})"
        ) from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path_s} is not a checkpoint dict (found {type(obj).__name__})")
    return dict(obj) if not isinstance(obj, dict) else obj


def _load_reason(err: BaseException) -> str:
    """The informative line of a torch.load error."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if "Weights only load failed" in str(err) and lines:
        return lines[-1]
    return lines[0] if lines else type(err).__name__


# --------------------------------------------------------------------------------------------
# non-finite weights
# --------------------------------------------------------------------------------------------
class NonFiniteModelError(FloatingPointError):
    """Weights or gradients became NaN/inf; the message names the first tensors and what is kept."""


def nonfinite_tensors(named: Iterable[Tuple[str, Any]]) -> List[str]:
    """Names of the floating-point tensors of ``named`` holding a NaN or an infinity."""
    bad = []
    for name, t in named:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
            if not bool(torch.isfinite(t).all()):
                bad.append(name)
    return bad


def check_finite_model(
    model: torch.nn.Module, where: str, grads: bool = True, kept: str = ""
) -> None:
    """Stop on non-finite weights (and gradients, when ``grads``) of ``model``.

    Args:
        where: e.g. ``"iteration 120"`` (in the message).
        kept: what the run keeps (e.g. ``"last good checkpoint: out/last.pth"``).

    Raises:
        NonFiniteModelError: lists how many tensors are bad and the first names.
    """
    named = list(model.state_dict().items())
    bad = nonfinite_tensors(named)
    what = "weights"
    if not bad and grads:
        bad = nonfinite_tensors(
            (n, p.grad) for n, p in model.named_parameters() if p.grad is not None
        )
        what = "gradients"
    if bad:
        tail = f"; {kept}" if kept else ""
        raise NonFiniteModelError(
            f"non-finite {what} at {where}: {len(bad)} of {len(named)} tensors "
            f"(first: {', '.join(bad[:3])}){tail}"
        )


def check_finite_state(state: Mapping[str, Any], path: Any) -> None:
    """Refuse a checkpoint state dict with NaN/inf weights (tracking with it gives garbage).

    Raises:
        CheckpointError: names the file and the first bad tensors.
    """
    bad = nonfinite_tensors(state.items())
    if bad:
        raise CheckpointError(
            f"{path} holds non-finite weights: {len(bad)} of {len(state)} tensors "
            f"(first: {', '.join(bad[:3])}); the run that wrote it diverged"
        )


# --------------------------------------------------------------------------------------------
# run folders
# --------------------------------------------------------------------------------------------
#: files whose presence means a folder holds a training run
RUN_FILES = (LAST, BEST, "metrics.json")


def _describe_run(run_dir: Path) -> str:
    try:
        m = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return "an unfinished run" if (run_dir / LAST).is_file() else "a run"
    finished = m.get("finished", True)  # the detector's metrics.json is written at the end
    best = m.get("best") if isinstance(m.get("best"), dict) else m
    scores = [f"{k} {best[k]:.1f}" for k in ("mAP", "rank1", "AP50", "AP")
              if isinstance(best.get(k), (int, float))]
    desc = "a finished run" if finished else "an unfinished run"
    return desc + (f" (best {', '.join(scores)})" if scores else "")


def prepare_run_dir(
    run_dir: Union[str, Path],
    config: Dict[str, Any],
    resume: bool,
    overwrite: bool,
    is_main: bool = True,
) -> Optional[Path]:
    """Decide, before anything is written, what a training run may do with ``run_dir``.

    * resume and ``last.pth`` exists: its config must match ``config`` (else ConfigError, the
      folder untouched); returns ``last.pth``.
    * the folder holds no run: returns None.
    * ``overwrite``: the old run's checkpoints, metrics.json and tb/ are removed (main rank);
      returns None.
    * otherwise: ConfigError naming ``resume=true``, another ``out_dir`` and ``overwrite=true``.

    Raises:
        ConfigError: see above. FileExistsError: ``run_dir`` is a file.
        CheckpointError: ``last.pth`` cannot be read.
    """
    from finetrack.config import check_resume_config
    from finetrack.configlib import ConfigError

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"out_dir {run_dir} exists and is not a folder")
    last = run_dir / LAST
    if resume and last.is_file():
        check_resume_config(load_checkpoint(last).get("config"), config, last)
        return last
    present = [n for n in RUN_FILES if (run_dir / n).exists()]
    if not present:
        return None
    if overwrite:
        if is_main:
            logger.warning("overwrite=true: removing the earlier run in %s (%s)", run_dir,
                           ", ".join(present))
            for n in present:
                (run_dir / n).unlink()
            shutil.rmtree(run_dir / "tb", ignore_errors=True)
        return None
    raise ConfigError(
        f"{run_dir} already holds {_describe_run(run_dir)}: use resume=true to continue it, "
        "another out_dir, or overwrite=true to replace it"
    )


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
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / DataParallel wrappers."""
    return model.module if hasattr(model, "module") else model
