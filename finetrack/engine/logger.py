"""Run logging: a log file beside the outputs and TensorBoard scalars.

Tags (STYLE.md): ``train/<loss term>``, ``train/lr``, ``val/<dataset>/<metric>``, step = global
iteration. Nothing global is hijacked: :func:`add_file_handler` attaches one handler to the
``finetrack`` logger and returns it so the caller can remove it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, Mapping, Optional, Union

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_file_handler(path: PathLike, level: int = logging.INFO) -> logging.Handler:
    """Append log records of the ``finetrack`` package to ``path``; returns the handler."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    pkg = logging.getLogger("finetrack")
    pkg.addHandler(handler)
    if pkg.level == logging.NOTSET or pkg.level > level:
        pkg.setLevel(level)
    return handler


def remove_handler(handler: Optional[logging.Handler]) -> None:
    """Detach and close a handler from :func:`add_file_handler`."""
    if handler is None:
        return
    logging.getLogger("finetrack").removeHandler(handler)
    handler.close()


class ScalarWriter:
    """TensorBoard scalars (or nothing when disabled / tensorboard is missing).

    Args:
        log_dir: event file folder; None disables writing (non-zero DDP ranks).
    """

    def __init__(self, log_dir: Optional[PathLike]) -> None:
        self._writer = None
        if log_dir is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # pragma: no cover - tensorboard is in requirements
            logger.warning("tensorboard is not installed: no event files will be written")
            return
        self._writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, prefix: str, values: Mapping[str, float], step: int) -> None:
        """Write ``<prefix>/<key>`` for every entry of ``values``."""
        if self._writer is None:
            return
        for k, v in values.items():
            self._writer.add_scalar(f"{prefix}/{k}", float(v), step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def format_losses(values: Dict[str, float]) -> str:
    """``total 3.2100 cls_g 1.0000 ...`` with ``total`` first."""
    keys = sorted(values, key=lambda k: (k != "total", k))
    return " ".join(f"{k} {values[k]:.4f}" for k in keys)
