"""The input and output options of ``finetrack track`` that ByteTrack / boxmot users reach for.

:class:`SourceOptions` groups them (``--conf``, ``--classes``, ``--vid-stride``, ``--max-frames``,
``--det-file``, ``--save-crops``, ``--format``); the helpers here apply them around the frame loop
without the loop knowing: :class:`StridedFrames` (stride and limit), :class:`CropSaver` (a
per-frame callback) and :func:`write_tracks` (txt / json / csv results).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

#: Results formats of ``--format`` and their file endings.
FORMATS = {"txt": ".txt", "json": ".json", "csv": ".csv"}
#: Column names of the json / csv results (MOTChallenge's first seven columns).
COLUMNS = ("frame", "id", "x", "y", "w", "h", "score")


@dataclass(frozen=True)
class SourceOptions:
    """How frames are read and detected and how results are written.

    Attributes:
        conf: detector score threshold (YOLOX: replaces ``model.conf_thresh``; ``--det-file`` /
            public detections: boxes below it are dropped). None = the config's / keep all.
        classes: class indices the detector keeps (COCO: 0 = person, the default of a COCO
            model); None = the model's default.
        vid_stride: track every n-th frame (frames keep their source numbers; the tracker's
            frame rate is divided by n).
        max_frames: stop after this many tracked frames (None: all).
        det_file: a MOTChallenge detection file used instead of a detector, for any source.
        save_crops: also write every tracked box as ``crops/<name>/<id>/<frame>.jpg``.
        fmt: results format, ``txt`` (MOTChallenge), ``json`` or ``csv``.
    """

    conf: Optional[float] = None
    classes: Optional[Tuple[int, ...]] = None
    vid_stride: int = 1
    max_frames: Optional[int] = None
    det_file: Optional[str] = None
    save_crops: bool = False
    fmt: str = "txt"

    def __post_init__(self) -> None:
        if self.conf is not None and not 0.0 <= float(self.conf) <= 1.0:
            raise ValueError(f"--conf must be in [0, 1], got {self.conf}")
        if int(self.vid_stride) < 1:
            raise ValueError(f"--vid-stride must be >= 1, got {self.vid_stride}")
        if self.max_frames is not None and int(self.max_frames) < 1:
            raise ValueError(f"--max-frames must be >= 1, got {self.max_frames}")
        if self.classes is not None:
            if not len(self.classes) or any(int(c) < 0 for c in self.classes):
                raise ValueError(f"--classes must be class indices >= 0, got {list(self.classes)}")
        if self.fmt not in FORMATS:
            raise ValueError(f"--format must be one of {list(FORMATS)}, got {self.fmt!r}")

    @property
    def subsamples(self) -> bool:
        return int(self.vid_stride) > 1 or self.max_frames is not None


class StridedFrames:
    """A frame reader reduced to every ``stride``-th frame, at most ``max_frames`` of them.

    Frames keep their source numbers (1, 1 + stride, ...), so results and ``--det-file`` rows
    line up with the video; ``frame_rate`` is the source's divided by ``stride`` (the tracker's
    lost-track patience stays in seconds).

    Args:
        reader: any reader of :mod:`finetrack.inference.frames`.
        stride: keep frames 1, 1 + stride, 1 + 2 * stride, ...
        max_frames: keep at most this many (None: all).
    """

    def __init__(self, reader, stride: int = 1, max_frames: Optional[int] = None):
        self.reader = reader
        self.stride = int(stride)
        self.max_frames = None if max_frames is None else int(max_frames)
        self.name = reader.name
        self.kind = getattr(reader, "kind", None)
        self.frame_rate = float(reader.frame_rate) / self.stride
        n = reader.num_frames
        count = None if n is None else (n + self.stride - 1) // self.stride
        if self.max_frames is not None:
            count = self.max_frames if count is None else min(count, self.max_frames)
        #: frames this reader yields (None: unknown, a webcam without --max-frames)
        self.num_frames: Optional[int] = count
        #: the source's last frame number this reader may yield (None: unknown)
        self.last_source_frame = None if count is None else 1 + (count - 1) * self.stride
        for attr in ("path", "seq"):
            if hasattr(reader, attr):
                setattr(self, attr, getattr(reader, attr))

    def iter_frames(self, first: int = 1, last: Optional[int] = None,
                    read: bool = True) -> Iterator[Tuple[int, Optional[np.ndarray]]]:
        """``(source frame, image)`` of the kept frames ``first..last`` (1-based positions among
        the kept frames; the whole reduced sequence by default)."""
        if first != 1 or (last is not None and last != self.num_frames):
            raise ValueError("--vid-stride / --max-frames track the whole source (--half all)")
        src_last = self.last_source_frame
        if getattr(self.reader, "kind", None) in ("mot", "images"):  # files: read only kept ones
            frames = self.reader.iter_frames(1, src_last, read=read, step=self.stride)
        else:  # a video decodes every frame in order
            frames = self.reader.iter_frames(1, src_last, read=read)
        kept = 0
        try:
            for f, img in frames:
                if (f - 1) % self.stride:
                    continue
                yield f, img
                kept += 1
                if self.max_frames is not None and kept >= self.max_frames:
                    return
        finally:
            frames.close()


def chain_callbacks(*callbacks: Optional[Callable]) -> Optional[Callable]:
    """One ``on_frame(frame, image, out)`` calling every non-None callback in order."""
    cbs = [c for c in callbacks if c is not None]
    if not cbs:
        return None
    if len(cbs) == 1:
        return cbs[0]

    def on_frame(frame, image, out):
        for c in cbs:
            c(frame, image, out)

    return on_frame


class CropSaver:
    """``on_frame`` callback writing every tracked box as ``<folder>/<id>/<frame>.jpg``.

    Boxes are clipped to the image; a box with no pixel inside is skipped. Each crop is written to
    a temporary name and renamed (:func:`finetrack.utils.io.atomic_path`).

    Args:
        folder: where the per-id folders go. quality: JPEG quality.
    """

    def __init__(self, folder: Path, quality: int = 95):
        self.folder = Path(folder)
        self.quality = int(quality)
        self.written = 0

    def __call__(self, frame: int, image: Optional[np.ndarray], out) -> None:
        import cv2

        from finetrack.utils.io import atomic_path

        if image is None:
            return
        h, w = image.shape[:2]
        for tid, box in zip(out.ids, out.xyxy):
            x1, y1 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
            x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
            if x2 <= x1 or y2 <= y1:
                continue
            dest = self.folder / str(int(tid)) / f"{int(frame):06d}.jpg"
            with atomic_path(dest) as tmp:
                if not cv2.imwrite(str(tmp), image[y1:y2, x1:x2],
                                   [cv2.IMWRITE_JPEG_QUALITY, self.quality]):
                    raise OSError(f"cannot write crop {dest}")
            self.written += 1


def rows_as_records(rows: np.ndarray) -> List[dict]:
    """(R, 7) ``frame, id, x, y, w, h, score`` rows as dicts (sorted by frame, then id)."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    order = np.lexsort((rows[:, 1], rows[:, 0]))
    return [{"frame": int(r[0]), "id": int(r[1]), "x": round(float(r[2]), 2),
             "y": round(float(r[3]), 2), "w": round(float(r[4]), 2), "h": round(float(r[5]), 2),
             "score": round(float(r[6]), 4)} for r in rows[order]]


def write_tracks(path_stem: Path, rows: np.ndarray, fmt: str = "txt") -> Path:
    """Write (R, 7) ``frame, id, x, y, w, h, score`` rows as ``<path_stem><ending>``, atomically.

    ``txt``: MOTChallenge (``frame,id,x,y,w,h,score,-1,-1,-1``, what ``finetrack eval`` reads);
    ``json``: a list of ``{"frame", "id", "x", "y", "w", "h", "score"}`` objects; ``csv``: the same
    columns with a header line.

    Returns:
        The written file.
    """
    from finetrack.data.results import write_results
    from finetrack.utils.io import atomic_write_text

    if fmt not in FORMATS:
        raise ValueError(f"unknown results format {fmt!r}; valid: {list(FORMATS)}")
    path = Path(str(path_stem) + FORMATS[fmt])
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    if fmt == "txt":
        write_results(path, rows[:, 0], rows[:, 1], rows[:, 2:6], rows[:, 6])
    elif fmt == "json":
        atomic_write_text(path, json.dumps(rows_as_records(rows)) + "\n")
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        w.writerows(rows_as_records(rows))
        atomic_write_text(path, buf.getvalue())
    return path


def parse_classes(text: Optional[str]) -> Optional[Tuple[int, ...]]:
    """``--classes 0,2`` or ``"0 2"`` -> ``(0, 2)``; None stays None. ValueError on a non-integer."""
    if text is None:
        return None
    parts = [p for p in str(text).replace(",", " ").split() if p]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--classes takes class indices such as 0 or 0,2 (COCO: 0 = person), "
                         f"got {text!r}") from None


def as_classes(values: Optional[Sequence]) -> Optional[Tuple[int, ...]]:
    """A list of ``--classes`` arguments (``["0,2"]``, ``["0", "2"]``) as one tuple."""
    if values is None:
        return None
    return parse_classes(" ".join(str(v) for v in values))
