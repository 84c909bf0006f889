"""Render tracking results as a video people can watch: boxes, ids on a filled label, short trails.

The encoder is chosen once per file, first that works of :data:`ENCODERS`:

1. ``h264``: H.264 (libx264, yuv420p) in MP4 through PyAV, the index (``moov``) at the front
   (``movflags=+faststart``) so that a browser starts playing before the whole file is loaded;
2. ``vp9``: VP9 (libvpx-vp9) in WebM through PyAV (the file is ``<name>.webm``);
3. ``mp4v``: OpenCV's MPEG-4 Part 2 (``avc1`` where OpenCV has it), which browsers do NOT play:
   a warning says so.

The PyPI ``av`` wheel carries libx264 and libvpx; OpenCV's pip build has no H.264 encoder.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections import defaultdict, deque
from pathlib import Path
from typing import Deque, Dict, List, Optional, Sequence, Tuple

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


#: Encoders tried in order (see the module docstring).
ENCODERS: Tuple[str, ...] = ("h264", "vp9", "mp4v")
#: OpenCV fourccs of the last resort, in order (``avc1`` only where this OpenCV build has it).
CODECS: Tuple[str, ...] = ("avc1", "mp4v")
#: ``{encoder: (PyAV codec, container format, file ending, codec options)}``.
_PYAV: Dict[str, Tuple[str, str, str, Dict[str, str]]] = {
    "h264": ("libx264", "mp4", ".mp4", {"crf": "23", "preset": "veryfast"}),
    "vp9": ("libvpx-vp9", "webm", ".webm", {"crf": "32", "b": "0", "deadline": "realtime",
                                           "cpu-used": "8", "row-mt": "1"}),
}
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


def label_scale(height: int) -> float:
    """OpenCV font scale of the id labels: 0.7 at 480 rows, growing with the frame (min 0.5)."""
    return max(0.5, 0.7 * height / 480.0)


def text_color(bgr: Tuple[int, int, int]) -> Tuple[int, int, int]:
    """Black or white, whichever contrasts more with ``bgr`` (WCAG 2 relative luminance: black
    above 0.179, where both contrast ratios are equal)."""
    def lin(c: int) -> float:
        c = c / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    b, g, r = bgr
    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return (0, 0, 0) if lum > 0.179 else (255, 255, 255)


def draw_label(canvas: np.ndarray, text: str, x: int, y: int, color: Tuple[int, int, int],
               scale: float) -> Tuple[int, int, int, int]:
    """Draw ``text`` on a filled ``color`` box whose bottom-left is (x, y), kept inside the image
    (below y when there is no room above). Returns the label box ``(x1, y1, x2, y2)``."""
    import cv2

    thick = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, int(round(3 * scale)))
    h, w = canvas.shape[:2]
    bw, bh = tw + 2 * pad, th + base + 2 * pad
    x1 = min(max(int(x), 0), max(w - bw, 0))
    y1 = int(y) - bh if int(y) - bh >= 0 else min(max(int(y), 0), max(h - bh, 0))
    cv2.rectangle(canvas, (x1, y1), (x1 + bw - 1, y1 + bh - 1), color, -1)
    cv2.putText(canvas, text, (x1 + pad, y1 + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale,
                text_color(color), thick, cv2.LINE_AA)
    return x1, y1, x1 + bw - 1, y1 + bh - 1


class _PyAVEncoder:
    """One PyAV output file (H.264 MP4 or VP9 WebM) of fixed size and rate."""

    def __init__(self, path: Path, kind: str, fps: float, size_wh: Tuple[int, int]):
        import av
        from fractions import Fraction

        codec, fmt, _, opts = _PYAV[kind]
        container_opts = {"movflags": "+faststart"} if fmt == "mp4" else {}
        self.container = av.open(str(path), mode="w", format=fmt, options=container_opts)
        try:
            rate = Fraction(float(fps)).limit_denominator(1001)
            self.stream = self.container.add_stream(codec, rate=rate)
            self.stream.width, self.stream.height = int(size_wh[0]), int(size_wh[1])
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = dict(opts)
            self.stream.codec_context.open()  # fails here, not at the first frame, without it
        except BaseException:
            self.container.close()
            raise

    def write(self, bgr: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode():  # flush the delayed frames
                self.container.mux(packet)
        finally:
            self.container.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()


class _OpenCVEncoder:
    """OpenCV's VideoWriter (``mp4v``; ``avc1`` where the build has it)."""

    def __init__(self, path: Path, fps: float, size_wh: Tuple[int, int]):
        import cv2

        self.codec = pick_codec(size_wh)
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*self.codec), float(fps),
                                      (int(size_wh[0]), int(size_wh[1])))
        if not self.writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {path} ({self.codec} codec)")

    def write(self, bgr: np.ndarray) -> None:
        self.writer.write(bgr)

    def close(self) -> None:
        self.writer.release()

    def abort(self) -> None:
        self.writer.release()


class VideoWriter:
    """Callback for :func:`finetrack.inference.track_loop.track_sequence` writing annotated frames.

    The file is written to a unique temporary name beside ``path`` and renamed on :meth:`close`
    (nothing half-written); :meth:`abort` (or an error in :meth:`close`) removes it. With the VP9
    fallback the file is ``path`` with the ending ``.webm``. Frames of odd width or height get one
    black row / column (yuv420p needs even sizes).

    Args:
        path: output .mp4. fps: frame rate. trail: number of past centres drawn per id.
        encoders: encoders to try in order (default :data:`ENCODERS`).
    """

    def __init__(self, path: Path, fps: float, trail: int = 15,
                 encoders: Sequence[str] = ENCODERS):
        unknown = [e for e in encoders if e not in ENCODERS]
        if unknown or not encoders:
            raise ValueError(f"unknown video encoders {unknown}; valid: {list(ENCODERS)}")
        self.path = Path(path)
        self.encoders = tuple(encoders)
        self.tmp: Optional[Path] = None  #: unique temporary file, made with the first frame
        self._atomic = None
        self._enc = None
        self.fps = float(fps)
        self.trail = int(trail)
        self._trails: Dict[int, Deque[Tuple[int, int]]] = defaultdict(lambda: deque(maxlen=self.trail))
        self.frames = 0
        #: the encoder in use: ``h264``, ``vp9`` or OpenCV's fourcc (``mp4v`` / ``avc1``)
        self.codec: Optional[str] = None
        self.final_path: Optional[Path] = None  #: where :meth:`close` puts the file

    def _open(self, size_wh: Tuple[int, int]) -> None:
        """The first encoder of ``self.encoders`` that opens at ``size_wh``."""
        failures = []
        for kind in self.encoders:
            ending = _PYAV[kind][2] if kind in _PYAV else self.path.suffix or ".mp4"
            final = self.path.with_suffix(ending)
            atomic = atomic_path(final)  # the shared writer: unique name, umask mode
            tmp = atomic.__enter__()
            try:
                with _quiet_stderr():
                    enc = (_PyAVEncoder(tmp, kind, self.fps, size_wh) if kind in _PYAV
                           else _OpenCVEncoder(tmp, self.fps, size_wh))
            except Exception as e:  # noqa: BLE001 - any failure: next encoder
                with contextlib.suppress(Exception):
                    atomic.__exit__(RuntimeError, RuntimeError(str(e)), None)
                failures.append(f"{kind}: {e}")
                continue
            self._atomic, self.tmp, self._enc, self.final_path = atomic, tmp, enc, final
            self.codec = getattr(enc, "codec", kind)
            if kind == "mp4v":
                logger.warning("no H.264 / VP9 encoder (PyAV: %s): writing %s as %s, which "
                               "browsers do not play", "; ".join(failures) or "not tried",
                               final, self.codec)
            elif failures:
                logger.warning("video %s: %s (%s)", final, kind, "; ".join(failures))
            return
        raise RuntimeError(f"cannot encode video {self.path}: " + "; ".join(failures))

    def __call__(self, frame: int, image: Optional[np.ndarray], out) -> None:
        import cv2

        if image is None:
            return
        canvas = image.copy()
        h, w = canvas.shape[:2]
        if h % 2 or w % 2:
            canvas = cv2.copyMakeBorder(canvas, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
        if self._enc is None:
            self._open((canvas.shape[1], canvas.shape[0]))
        present = {int(t) for t in out.ids}
        for tid in [t for t in self._trails if t not in present]:
            del self._trails[tid]  # an id that left: its trail goes (no tangles of old paths)
        for tid, box in zip(out.ids, out.xyxy):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            self._trails[int(tid)].append(((x1 + x2) // 2, y2))
        thick = max(2, int(round(h / 360)))
        for tid, pts in self._trails.items():
            p = list(pts)
            for a, b in zip(p[:-1], p[1:]):
                cv2.line(canvas, a, b, id_color(tid), thick)
        scale = label_scale(h)
        for tid, box in zip(out.ids, out.xyxy):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            c = id_color(tid)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), c, thick)
        for tid, box in zip(out.ids, out.xyxy):  # labels last: never under another box
            draw_label(canvas, str(int(tid)), int(round(box[0])), int(round(box[1])),
                       id_color(tid), scale)
        draw_label(canvas, f"frame {frame}", 0, 0, (32, 32, 32), scale * 0.8)
        self._enc.write(canvas)
        self.frames += 1

    def trail_ids(self) -> List[int]:
        """Ids whose trail is drawn (those present in the last frame)."""
        return sorted(self._trails)

    def close(self) -> Optional[Path]:
        """Finish the file; returns its path (None if no frame was written)."""
        if self._enc is None:
            return None
        try:
            self._enc.close()
            self._enc = None
        except BaseException:
            self.abort()
            raise
        self._atomic.__exit__(None, None, None)  # rename onto the path
        self._atomic = None
        return self.final_path

    def abort(self) -> None:
        """Drop the partial video (error, Ctrl-C): the temporary file is removed."""
        if self._enc is not None:
            self._enc.abort()
            self._enc = None
        if self._atomic is not None:
            err = RuntimeError(f"video {self.path} aborted")
            with contextlib.suppress(RuntimeError):
                self._atomic.__exit__(RuntimeError, err, None)  # removes the temporary file
            self._atomic = None
