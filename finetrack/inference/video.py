"""Render tracking results as an mp4: boxes, ids and short trails."""
from __future__ import annotations

import contextlib
import logging
from collections import defaultdict, deque
from pathlib import Path
from typing import Deque, Dict, Optional, Tuple

import numpy as np

from finetrack.utils.io import atomic_path

logger = logging.getLogger(__name__)


def id_color(track_id: int) -> Tuple[int, int, int]:
    """A stable, well-spread BGR colour per id."""
    h = (int(track_id) * 0.61803398875) % 1.0
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


class VideoWriter:
    """Callback for :func:`finetrack.inference.runner.track_sequence` writing annotated frames.

    The file is written to a unique temporary name beside ``path`` and renamed on :meth:`close`
    (nothing half-written); :meth:`abort` (or an error in :meth:`close`) removes it.

    Args:
        path: output .mp4. fps: frame rate. trail: number of past centres drawn per id.
    """

    def __init__(self, path: Path, fps: float, trail: int = 15):
        self.path = Path(path)
        self.tmp: Optional[Path] = None  #: unique temporary file, made with the first frame
        self._atomic = None
        self.fps = float(fps)
        self.trail = int(trail)
        self._writer = None
        self._trails: Dict[int, Deque[Tuple[int, int]]] = defaultdict(lambda: deque(maxlen=self.trail))
        self.frames = 0

    def __call__(self, frame: int, image: Optional[np.ndarray], out) -> None:
        import cv2

        if image is None:
            return
        canvas = image.copy()
        if self._writer is None:
            self._atomic = atomic_path(self.path)  # the shared writer: unique name, umask mode
            self.tmp = self._atomic.__enter__()
            h, w = canvas.shape[:2]
            self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise RuntimeError(f"OpenCV cannot write {self.tmp} (mp4v codec)")
        for tid, box in zip(out.ids, out.xyxy):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            c = id_color(tid)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), c, 2)
            cv2.putText(canvas, str(int(tid)), (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, c, 2)
            self._trails[int(tid)].append(((x1 + x2) // 2, y2))
        for tid, pts in self._trails.items():
            p = list(pts)
            for a, b in zip(p[:-1], p[1:]):
                cv2.line(canvas, a, b, id_color(tid), 2)
        cv2.putText(canvas, f"frame {frame}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        self._writer.write(canvas)
        self.frames += 1

    def close(self) -> Optional[Path]:
        """Finish the file; returns its path (None if no frame was written)."""
        if self._writer is None:
            return None
        try:
            self._writer.release()
            self._writer = None
        except BaseException:
            self.abort()
            raise
        self._atomic.__exit__(None, None, None)  # rename onto the path
        self._atomic = None
        return self.path

    def abort(self) -> None:
        """Drop the partial video (error, Ctrl-C): the temporary file is removed."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._atomic is not None:
            err = RuntimeError(f"video {self.path} aborted")
            with contextlib.suppress(RuntimeError):
                self._atomic.__exit__(RuntimeError, err, None)  # removes the temporary file
            self._atomic = None
