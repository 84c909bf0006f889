"""Render tracking results as an mp4: boxes, ids and short trails."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections import defaultdict, deque
from pathlib import Path
from typing import Deque, Dict, List, Optional, Tuple

import numpy as np

from finetrack.utils.io import atomic_path

logger = logging.getLogger(__name__)


def id_color(track_id: int) -> Tuple[int, int, int]:
    """A stable BGR colour per id: hue = id * golden ratio (mod 1), so consecutive ids differ most.

    Consecutive ids land 0.382 of the hue circle apart; value alternates between two levels so
    that ids whose hues come back close (every 13 / 21 ids) still differ in brightness.
    """
    import colorsys

    h = (int(track_id) * GOLDEN_RATIO_CONJUGATE) % 1.0
    v = 1.0 if int(track_id) % 2 else 0.75
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, v)
    return int(b * 255), int(g * 255), int(r * 255)


#: Preferred codecs in order: H.264 (browsers play it) when this OpenCV build can encode it.
CODECS: Tuple[str, ...] = ("avc1", "mp4v")
GOLDEN_RATIO_CONJUGATE = 0.6180339887498949
_CODEC_CACHE: Dict[Tuple[int, int], str] = {}


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C-level stderr (FFmpeg prints errors while probing an encoder it lacks)."""
    fd = 2  # the C library writes to file descriptor 2 whatever sys.stderr is
    try:
        saved = os.dup(fd)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            with contextlib.suppress(AttributeError, ValueError):
                sys.stderr.flush()
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def pick_codec(size_wh: Tuple[int, int], codecs: Tuple[str, ...] = CODECS) -> str:
    """The first fourcc of ``codecs`` OpenCV can encode at ``size_wh`` (probed once, cached)."""
    import cv2

    key = (int(size_wh[0]), int(size_wh[1]))
    if key in _CODEC_CACHE:
        return _CODEC_CACHE[key]
    with tempfile.TemporaryDirectory(prefix="finetrack_codec_") as d:
        for cc in codecs:
            with _quiet_stderr():
                fourcc = cv2.VideoWriter_fourcc(*cc)
                w = cv2.VideoWriter(str(Path(d) / "probe.mp4"), fourcc, 10.0, key)
                ok = w.isOpened()
                w.release()
            if ok:
                _CODEC_CACHE[key] = cc
                if cc != codecs[0]:
                    logger.info("OpenCV has no %s encoder here: writing %s", codecs[0], cc)
                return cc
    raise RuntimeError(f"OpenCV can encode none of {list(codecs)} (mp4)")


class VideoWriter:
    """Callback for :func:`finetrack.inference.track_loop.track_sequence` writing annotated frames.

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
        self.codec: Optional[str] = None

    def __call__(self, frame: int, image: Optional[np.ndarray], out) -> None:
        import cv2

        if image is None:
            return
        canvas = image.copy()
        if self._writer is None:
            self._atomic = atomic_path(self.path)  # the shared writer: unique name, umask mode
            self.tmp = self._atomic.__enter__()
            h, w = canvas.shape[:2]
            self.codec = pick_codec((w, h))
            fourcc = cv2.VideoWriter_fourcc(*self.codec)
            self._writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise RuntimeError(f"OpenCV cannot write {self.tmp} ({self.codec} codec)")
        present = {int(t) for t in out.ids}
        for tid in [t for t in self._trails if t not in present]:
            del self._trails[tid]  # an id that left: its trail goes (no tangles of old paths)
        for tid, box in zip(out.ids, out.xyxy):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            self._trails[int(tid)].append(((x1 + x2) // 2, y2))
        for tid, pts in self._trails.items():
            p = list(pts)
            for a, b in zip(p[:-1], p[1:]):
                cv2.line(canvas, a, b, id_color(tid), 2)
        for tid, box in zip(out.ids, out.xyxy):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            c = id_color(tid)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), c, 2)
            cv2.putText(canvas, str(int(tid)), (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, c, 2)
        cv2.putText(canvas, f"frame {frame}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        self._writer.write(canvas)
        self.frames += 1

    def trail_ids(self) -> List[int]:
        """Ids whose trail is drawn (those present in the last frame)."""
        return sorted(self._trails)

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
