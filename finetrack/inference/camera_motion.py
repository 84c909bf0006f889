"""Camera motion of one sequence, frame by frame, with a per-sequence cache file.

:class:`SequenceCMC` gives the tracking runner the (2, 3) warp from frame ``f - 1`` to frame ``f``
(:mod:`finetrack.tracker.cmc`). The estimates are cached in ``<out>/cmc/<SEQ>.<method>.txt``:

```
# finetrack-cmc v1 | sof downscale=2.0 ... | opencv 4.x | 768x576
frame,boxes,h11,h12,h13,h21,h22,h23
2,8f1c03aa,1,0,0.25,0,1,-0.5
```

The header holds every setting that changes an estimate; a file with another header is ignored
(and rewritten). Each row keeps a CRC32 of the masked boxes of frames ``f - 1`` and ``f``
(``-`` when boxes are not masked): a row is reused only when this run masks the same boxes, so one
file serves every association mode and threshold ablation on the same detections, and another
detector's boxes are recomputed. Frames are read only for rows that must be computed, so a fully
cached motion-only run reads no image. The first frame of a run (of a half) gets the identity.
"""
from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import cv2
import numpy as np

from finetrack.tracker.cmc import CameraMotionEstimator, identity_warp
from finetrack.utils.io import atomic_open

logger = logging.getLogger(__name__)

CACHE_VERSION = "finetrack-cmc v1"
COLUMNS = "frame,boxes,h11,h12,h13,h21,h22,h23"


def cache_path(out_dir, seq_name: str, method: str) -> Path:
    """``<out_dir>/cmc/<SEQ>.<method>.txt``."""
    return Path(out_dir) / "cmc" / f"{seq_name}.{method}.txt"


def boxes_digest(prev_xyxy: np.ndarray, xyxy: np.ndarray) -> str:
    """8-hex CRC32 of two frames' boxes rounded to 1/100 px."""
    a = np.round(np.asarray(prev_xyxy, dtype=np.float64).reshape(-1, 4), 2) + 0.0
    b = np.round(np.asarray(xyxy, dtype=np.float64).reshape(-1, 4), 2) + 0.0
    crc = zlib.crc32(a.tobytes() + b"|" + b.tobytes())
    return f"{crc:08x}"


class SequenceCMC:
    """Per-frame camera motion of one sequence for the runner; see the module docstring.

    Args:
        estimator: a :class:`~finetrack.tracker.cmc.CameraMotionEstimator`.
        read_frame: ``read_frame(frame) -> (H, W, 3) uint8 BGR`` (``MOTSequence.read_frame``).
        size: image ``(w, h)`` (seqinfo.ini), part of the cache key.
        cache_file: the cache file (None: no cache).
        name: sequence name (messages).

    Attributes:
        computed, reused: numbers of estimated and cached warps so far.
    """

    def __init__(
        self,
        estimator: CameraMotionEstimator,
        read_frame: Callable[[int], np.ndarray],
        size: Tuple[int, int],
        cache_file: Optional[Path] = None,
        name: str = "sequence",
    ) -> None:
        self.estimator = estimator
        self.read_frame = read_frame
        self.size = (int(size[0]), int(size[1]))
        self.name = name
        self.cache_file = None if cache_file is None else Path(cache_file)
        self.header = (f"# {CACHE_VERSION} | {estimator.signature} | opencv {cv2.__version__} | "
                       f"{self.size[0]}x{self.size[1]}")
        self.rows: Dict[int, Tuple[str, np.ndarray]] = {}
        self.computed = 0
        self.reused = 0
        self._dirty = False
        #: previous frame: (frame, boxes, image if given, prepared small image if computed)
        self._prev: Optional[Tuple[int, np.ndarray, Optional[np.ndarray],
                                   Optional[np.ndarray]]] = None
        if self.cache_file is not None and self.cache_file.is_file():
            self.rows = self._load(self.cache_file)

    # ------------------------------------------------------------------ cache file
    def _load(self, path: Path) -> Dict[int, Tuple[str, np.ndarray]]:
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or lines[0] != self.header:
            logger.info("%s: made with other CMC settings, recomputing (%s)", path,
                        lines[0] if lines else "empty")
            return {}
        rows: Dict[int, Tuple[str, np.ndarray]] = {}
        for n, line in enumerate(lines[2:], start=3):
            parts = line.split(",")
            try:
                if len(parts) != 8:
                    raise ValueError(f"{len(parts)} fields, expected 8")
                warp = np.array([float(v) for v in parts[2:]], dtype=np.float64).reshape(2, 3)
                rows[int(parts[0])] = (parts[1], warp)
            except ValueError as e:
                logger.warning("%s:%d: unreadable CMC row (%s), recomputing the file", path, n, e)
                return {}
        logger.info("%s: %d cached camera motions", path, len(rows))
        return rows

    def save(self) -> Optional[Path]:
        """Write the cache file (atomically) if anything was computed; returns its path."""
        if self.cache_file is None or not self._dirty:
            return None
        with atomic_open(self.cache_file, "w", encoding="utf-8") as f:
            f.write(self.header + "\n" + COLUMNS + "\n")
            for frame in sorted(self.rows):
                key, w = self.rows[frame]
                f.write(f"{frame},{key}," + ",".join(f"{v:.17g}" for v in w.reshape(-1)) + "\n")
        self._dirty = False
        return self.cache_file

    # ------------------------------------------------------------------ per frame
    def _key(self, prev_xyxy: np.ndarray, xyxy: np.ndarray) -> str:
        return boxes_digest(prev_xyxy, xyxy) if self.estimator.mask_boxes else "-"

    def _small(self, frame: int, image: Optional[np.ndarray]) -> np.ndarray:
        if image is None:
            image = self.read_frame(frame)
        if (image.shape[1], image.shape[0]) != self.size:
            raise ValueError(f"{self.name}: frame {frame} is {image.shape[1]}x{image.shape[0]}, "
                             f"seqinfo.ini says {self.size[0]}x{self.size[1]}")
        return self.estimator.prepare(image)

    def __call__(
        self, frame: int, xyxy: np.ndarray, image: Optional[np.ndarray] = None
    ) -> np.ndarray:
        """Warp from frame ``frame - 1`` to ``frame``.

        Args:
            frame: 1-based frame, called in increasing order (a jump restarts: identity).
            xyxy: (N, 4) this frame's detections in original pixels (masked out).
            image: (H, W, 3) BGR frame if the caller has read it already (else read if needed).

        Returns:
            (2, 3) float64 affine, previous -> current original-image pixels.
        """
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        prev, self._prev = self._prev, (frame, xyxy, image, None)
        if prev is None or prev[0] != frame - 1:
            return identity_warp()
        key = self._key(prev[1], xyxy)
        row = self.rows.get(frame)
        if row is not None and row[0] == key:
            self.reused += 1
            return row[1].copy()
        prev_small = prev[3] if prev[3] is not None else self._small(frame - 1, prev[2])
        small = self._small(frame, image)
        self._prev = (frame, xyxy, None, small)
        warp = self.estimator.estimate_prepared(prev_small, small, self.size, prev[1], xyxy)
        self.rows[frame] = (key, warp)
        self._dirty = True
        self.computed += 1
        return warp.copy()
