"""The run context every ``train_from_config`` opens: device, DDP, seed, output folder, config.

::

    with run_context(cfg) as run:          # device, rank, is_main, out_dir, resume_from, writer
        trainer = MyTrainer(..., device=run.device, is_main=run.is_main, writer=run.writer)
        if run.resume_from is not None:
            trainer.resume(run.resume_from, config=run.config)
        trainer.train()

On entry: the device (``train.device``; under torchrun each process is pinned to
``cuda:LOCAL_RANK``), the process group (torchrun's environment), the run folder decision
(:func:`~finetrack.utils.checkpoint.prepare_run_dir`: resume / overwrite / refuse, before
anything is written), then on the main rank ``config.yaml`` (resolved config and git revision),
``train.log`` and a TensorBoard writer (``tb/``), and the global seeds (``seed + rank``). On exit,
whatever happened: the writer is closed, the log handler removed and the process group destroyed.
"""

from __future__ import annotations

import logging
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
import torch

from finetrack.configlib import git_revision, save_config, to_dict
from finetrack.utils.checkpoint import LAST, prepare_run_dir
from finetrack.engine.logger import ScalarWriter, add_file_handler, remove_handler

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve_data_root(root: str) -> Path:
    """A data path of a config (``data.root``, ``model.init_ckpt``) as an absolute path: relative
    paths are read from the current folder, like every path on a command line (the configs in
    ``configs/`` are written for runs from the repository root). A relative path missing there
    but present under the repository is logged with that hint (never silently read from there).
    """
    p = Path(root)
    if p.is_absolute():
        return p
    resolved = p.resolve()
    if not resolved.exists() and (REPO_ROOT / p).exists():
        logger.warning("%s is not in the current folder %s (relative paths in a config are read "
                       "from the current folder); the repository has %s: run from %s or give an "
                       "absolute path", root, Path.cwd(), REPO_ROOT / p, REPO_ROOT)
    return resolved


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda*`` without CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"train.device={name} but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def set_determinism(threads: Optional[int], deterministic: bool) -> None:
    """Fix torch's intra-op thread count and, optionally, its deterministic algorithms.

    With the seed fixed, a CPU run is bit-identical to another with the same thread count
    (measured: README "Reproducibility"); floating-point reductions split over another number of
    threads sum in another order. ``deterministic`` makes torch refuse (warn on) nondeterministic
    kernels, which matters on CUDA (scatter/index_add, cuBLAS workspaces).
    """
    if threads is not None:
        torch.set_num_threads(int(threads))
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def setup_distributed(device: torch.device) -> Tuple[int, int, int]:
    """Initialise torch.distributed under torchrun; returns (rank, world_size, local_rank)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    return dist.get_rank(), world_size, local_rank


def teardown_distributed() -> None:
    """Destroy the process group when one is initialised (no-op otherwise)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


@dataclass
class RunContext:
    """What a training run knows about where and how it runs (see :func:`run_context`)."""

    device: torch.device
    rank: int
    world_size: int
    local_rank: int
    out_dir: Path
    #: ``last.pth`` to resume from (``resume=true`` and one exists), else None
    resume_from: Optional[Path]
    #: the resolved config as a nested dict (saved in checkpoints, checked on resume)
    config: Dict[str, Any]
    #: TensorBoard scalars (main rank; a no-op writer elsewhere)
    writer: ScalarWriter = field(default_factory=lambda: ScalarWriter(None))
    resume_requested: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def checkpoint_info(self) -> Dict[str, Any]:
        """``config`` and ``git_revision``: what every checkpoint of the run carries."""
        return {"config": self.config, "git_revision": git_revision()}

    def log_resume(self, resumed: bool) -> None:
        """Say when a requested resume starts from scratch (no ``last.pth``)."""
        if not resumed and self.resume_requested:
            logger.warning("resume requested but %s does not exist: starting from scratch",
                           self.out_dir / LAST)


@contextmanager
def run_context(cfg: Any) -> Iterator[RunContext]:
    """Open a training run for a Re-ID or detector config (``train.device``, ``seed``,
    ``run_dir``, ``resume`` / ``train.resume``, ``overwrite``); see the module docstring.

    Raises:
        ConfigError: the run folder holds another run (see ``prepare_run_dir``).
        RuntimeError: ``train.device=cuda`` without CUDA.
    """
    device = resolve_device(cfg.train.device)
    handler = None
    writer = ScalarWriter(None)
    rank, world_size, local_rank = setup_distributed(device)
    try:
        if device.type == "cuda" and world_size > 1:
            device = torch.device("cuda", local_rank)
        is_main = rank == 0
        out_dir = Path(cfg.run_dir)
        config = to_dict(cfg)
        resume = bool(cfg.resume or cfg.train.resume)
        # before anything is written: a refused run leaves the folder (config.yaml too) untouched
        resume_from = prepare_run_dir(out_dir, config, resume, cfg.overwrite, is_main)
        if is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            handler = add_file_handler(out_dir / "train.log")
            save_config(cfg, out_dir)
            writer = ScalarWriter(out_dir / "tb")
        seed_everything(cfg.seed + rank)
        set_determinism(getattr(cfg.train, "threads", None), getattr(cfg.train, "deterministic", False))
        yield RunContext(device, rank, world_size, local_rank, out_dir, resume_from, config,
                         writer, resume_requested=resume)
    finally:
        writer.close()
        remove_handler(handler)
        if world_size > 1:
            teardown_distributed()
