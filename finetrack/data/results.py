"""MOTChallenge results files: one row per box, ``frame,id,x,y,w,h,score,-1,-1,-1`` (1-based frames).

Written atomically; read back with the same checks as det/gt files (finetrack.data.mot's parser).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from pathlib import Path

import numpy as np

from finetrack.data.mot import MOTFormatError, PathLike, parse_rows
from finetrack.utils.io import atomic_open

@dataclass
class Results:
    """Tracker output of one sequence: frames (N,), ids (N,), tlwh (N, 4), scores (N,)."""

    frames: np.ndarray
    ids: np.ndarray
    tlwh: np.ndarray
    scores: np.ndarray
    line_no: Optional[np.ndarray] = None
    path: Optional[Path] = None

    def __len__(self) -> int:
        return len(self.frames)


def write_results(path: PathLike, frames, ids, tlwh, scores=None) -> None:
    """Write a MOTChallenge results file ``frame,id,x,y,w,h,score,-1,-1,-1`` atomically.

    Args:
        frames: (N,) 1-based frame numbers. ids: (N,) positive ints.
        tlwh: (N, 4) boxes. scores: (N,) or None (then 1.0).
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    tlwh = np.asarray(tlwh, dtype=np.float64).reshape(-1, 4)
    scores = np.ones(len(frames)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    if not (len(frames) == len(ids) == len(tlwh) == len(scores)):
        raise ValueError("write_results: frames, ids, tlwh and scores must have the same length")
    order = np.lexsort((ids, frames))
    with atomic_open(path, "w", encoding="utf-8") as f:
        for i in order:
            x, y, w, h = tlwh[i]
            f.write(f"{frames[i]},{ids[i]},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{scores[i]:.4f},-1,-1,-1\n")


def read_results(path: PathLike, check_unique: bool = True) -> Results:
    """Read a results file strictly (6 to 10 columns; score defaults to 1).

    Raises:
        FileNotFoundError: missing file.
        MOTFormatError: malformed line, or (``check_unique``) an id used twice in one frame; the
            message names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing results file: {path}")
    rows, line_no = parse_rows(path, 6, 10)
    n = len(rows)
    frames = rows[:, 0].astype(np.int64) if n else np.zeros(0, np.int64)
    ids = rows[:, 1].astype(np.int64) if n else np.zeros(0, np.int64)
    if n and not np.all(rows[:, 1] == ids):
        bad = int(np.flatnonzero(rows[:, 1] != ids)[0])
        raise MOTFormatError(f"{path}:{line_no[bad]}: track id must be an integer")
    if check_unique and n:
        key = frames * (int(ids.max()) - int(ids.min()) + 1) + (ids - int(ids.min()))
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        if np.any(counts > 1):
            dup_key = _[np.argmax(counts > 1)]
            dup_rows = np.flatnonzero(key == dup_key)
            raise MOTFormatError(
                f"{path}:{line_no[dup_rows[1]]}: id {ids[dup_rows[1]]} used twice in frame "
                f"{frames[dup_rows[1]]} (first at line {line_no[dup_rows[0]]})"
            )
    return Results(
        frames=frames,
        ids=ids,
        tlwh=rows[:, 2:6].copy() if n else np.zeros((0, 4)),
        scores=rows[:, 6].copy() if (n and rows.shape[1] >= 7) else np.ones(n),
        line_no=line_no,
        path=path,
    )
