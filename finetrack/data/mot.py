"""MOTChallenge data layer: seqinfo.ini, gt.txt, det.txt, results files, frame paths.

This module is the only place that knows MOTChallenge frames are numbered from 1: callers ask for
``frame_path(frame)`` with the frame number as it appears in the txt files.

Supported layouts (detected from gt.txt, reported by :attr:`MOTSequence.format`):

* ``mot15``: 2D MOT 2015 gt, 10 columns ``frame,id,x,y,w,h,conf,wx,wy,wz``. No class or visibility:
  every row is a pedestrian, visibility unknown (1.0), ``conf`` plays the role of the flag (0 = ignore).
* ``mot17``: MOT16/17/20 gt, 9 columns ``frame,id,x,y,w,h,flag,class,visibility``.
* ``dancetrack``: the same 9 columns (all ``1,1,1``); recognised by the sequence name.

Annotations are returned as :class:`Annotations` (numpy columns, MOT17 semantics whatever the source).
Malformed input raises :class:`MOTFormatError` naming the file and the 1-based line number.
"""
from __future__ import annotations

import configparser
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from finetrack.utils.io import atomic_open

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: MOT16/17/20 class ids (MOTChallenge devkit). 1 is the only class scored.
MOT_CLASSES = {
    1: "pedestrian", 2: "person_on_vehicle", 3: "car", 4: "bicycle", 5: "motorbike",
    6: "non_mot_vehicle", 7: "static_person", 8: "distractor", 9: "occluder",
    10: "occluder_on_ground", 11: "occluder_full", 12: "reflection", 13: "crowd",
}
#: Classes that the MOTChallenge evaluation treats as distractors (a match to them is not an FP).
DISTRACTOR_CLASSES = (2, 7, 8, 12)
FORMATS = ("mot15", "mot17", "dancetrack")


class MOTFormatError(ValueError):
    """Malformed MOTChallenge input; the message names the file (and line when known)."""


# --------------------------------------------------------------------------------------------
# seqinfo.ini
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeqInfo:
    """Contents of a sequence's seqinfo.ini."""

    name: str
    seq_dir: Path
    im_dir: str
    frame_rate: float
    seq_length: int
    im_width: int
    im_height: int
    im_ext: str


def read_seqinfo(seq_dir: PathLike) -> SeqInfo:
    """Parse ``<seq_dir>/seqinfo.ini``.

    Raises:
        FileNotFoundError: the file is missing (the message names the path).
        MOTFormatError: a required key is missing or not a number.
    """
    seq_dir = Path(seq_dir)
    path = seq_dir / "seqinfo.ini"
    if not path.is_file():
        raise FileNotFoundError(f"missing seqinfo.ini: {path} (every MOTChallenge sequence needs one)")
    cp = configparser.ConfigParser()
    try:
        cp.read(path, encoding="utf-8")
    except configparser.Error as e:
        raise MOTFormatError(f"{path}: cannot parse: {e}") from e
    if "Sequence" not in cp:
        raise MOTFormatError(f"{path}: no [Sequence] section")
    s = cp["Sequence"]

    def get(key: str, conv, default=None):
        if key not in s:
            if default is not None:
                return default
            raise MOTFormatError(f"{path}: missing key '{key}' in [Sequence]")
        try:
            return conv(s[key])
        except ValueError as e:
            raise MOTFormatError(f"{path}: key '{key}' = {s[key]!r} is not valid: {e}") from e

    info = SeqInfo(
        name=get("name", str, seq_dir.name),
        seq_dir=seq_dir,
        im_dir=get("imDir", str, "img1"),
        frame_rate=get("frameRate", float),
        seq_length=get("seqLength", int),
        im_width=get("imWidth", int),
        im_height=get("imHeight", int),
        im_ext=get("imExt", str, ".jpg"),
    )
    for key, value in (("frameRate", info.frame_rate), ("seqLength", info.seq_length),
                       ("imWidth", info.im_width), ("imHeight", info.im_height)):
        if not value > 0:  # also catches NaN
            raise MOTFormatError(f"{path}: {key}={s[key]} must be > 0")
    return info


def write_seqinfo(seq_dir: PathLike, info: SeqInfo) -> None:
    """Write ``<seq_dir>/seqinfo.ini`` atomically in the MOTChallenge key order."""
    fr = info.frame_rate
    fr_txt = str(int(fr)) if float(fr).is_integer() else str(fr)
    text = (
        "[Sequence]\n"
        f"name={info.name}\nimDir={info.im_dir}\nframeRate={fr_txt}\nseqLength={info.seq_length}\n"
        f"imWidth={info.im_width}\nimHeight={info.im_height}\nimExt={info.im_ext}\n"
    )
    with atomic_open(Path(seq_dir) / "seqinfo.ini", "w", encoding="utf-8") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------
# txt parsing
# --------------------------------------------------------------------------------------------
def parse_rows(path: Path, min_cols: int, max_cols: int) -> Tuple[np.ndarray, np.ndarray]:
    """Parse a comma-separated MOT txt file strictly.

    Returns:
        rows: (N, C) float64, C = the file's column count (constant over the file).
        line_no: (N,) int64, 1-based line number of each row (blank lines are skipped).

    Raises:
        MOTFormatError: wrong/inconsistent column count, non-numeric or NaN/inf value,
            negative width/height, frame < 1. The message is ``<path>:<line>: <problem>``.
    """
    rows: List[List[float]] = []
    line_no: List[int] = []
    ncols: Optional[int] = None
    with open(path, "r", encoding="utf-8") as f:
        for i, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            parts = [p.strip() for p in line.replace(" ", "").split(",")] if "," in line else line.split()
            if parts and parts[-1] == "":  # trailing comma
                parts = parts[:-1]
            n = len(parts)
            if not (min_cols <= n <= max_cols):
                raise MOTFormatError(
                    f"{path}:{i}: expected {min_cols}" + (f"-{max_cols}" if max_cols != min_cols else "")
                    + f" comma-separated columns, found {n}: {line[:80]!r}"
                )
            if ncols is None:
                ncols = n
            elif n != ncols:
                raise MOTFormatError(f"{path}:{i}: {n} columns, but earlier lines have {ncols}")
            try:
                vals = [float(p) for p in parts]
            except ValueError:
                bad = next(p for p in parts if not _is_float(p))
                raise MOTFormatError(f"{path}:{i}: non-numeric value {bad!r}: {line[:80]!r}") from None
            if not all(math.isfinite(v) for v in vals):
                raise MOTFormatError(f"{path}:{i}: NaN or infinite value: {line[:80]!r}")
            if vals[4] < 0 or vals[5] < 0:
                raise MOTFormatError(f"{path}:{i}: negative box size w={vals[4]} h={vals[5]}")
            if vals[0] < 1 or not float(vals[0]).is_integer():
                raise MOTFormatError(f"{path}:{i}: frame must be an integer >= 1, got {parts[0]!r}")
            rows.append(vals)
            line_no.append(i)
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, ncols or min_cols)
    return arr, np.asarray(line_no, dtype=np.int64)


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


@dataclass
class Annotations:
    """Ground-truth rows of one sequence with MOT17 semantics.

    Attributes:
        frames: (N,) int64, 1-based frame numbers.
        ids: (N,) int64 track ids as in the file.
        tlwh: (N, 4) float64 [x_left, y_top, w, h] in pixels.
        flags: (N,) int64; 0 = ignore (MOT17 'consider' flag, MOT15 conf column).
        classes: (N,) int64 MOT class ids (1 = pedestrian); all 1 for MOT15.
        visibility: (N,) float64 in [0, 1]; 1.0 for MOT15 (unknown).
        line_no: (N,) int64 source line of each row.
        format: the detected format name (one of :data:`FORMATS`).
        path: source file.
    """

    frames: np.ndarray
    ids: np.ndarray
    tlwh: np.ndarray
    flags: np.ndarray
    classes: np.ndarray
    visibility: np.ndarray
    line_no: np.ndarray
    format: str
    path: Optional[Path] = None

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, mask: np.ndarray) -> "Annotations":
        """Rows where ``mask`` (N,) bool is true."""
        return Annotations(
            self.frames[mask], self.ids[mask], self.tlwh[mask], self.flags[mask],
            self.classes[mask], self.visibility[mask], self.line_no[mask], self.format, self.path,
        )

    def in_frames(self, first: int, last: int) -> "Annotations":
        """Rows with first <= frame <= last (1-based, inclusive)."""
        return self.subset((self.frames >= first) & (self.frames <= last))

    def for_frame(self, frame: int) -> "Annotations":
        return self.subset(self.frames == frame)

    def xyxy(self) -> np.ndarray:
        """(N, 4) boxes as [x1, y1, x2, y2]."""
        b = self.tlwh.copy()
        b[:, 2:] += b[:, :2]
        return b


def detect_gt_format(rows: np.ndarray, path: Path, seq_name: str = "") -> str:
    """Tell MOT15 (10 columns: conf + world coords) from MOT16/17/20/DanceTrack (9 columns)."""
    ncols = rows.shape[1] if rows.size else 0
    if ncols == 10:
        return "mot15"
    if ncols == 9:
        return "dancetrack" if seq_name.lower().startswith("dancetrack") else "mot17"
    if ncols == 0:
        return "dancetrack" if seq_name.lower().startswith("dancetrack") else "mot17"
    raise MOTFormatError(
        f"{path}: {ncols} columns: not a known gt layout (MOT15 has 10, MOT16/17/20/DanceTrack have 9)"
    )


def read_gt(path: PathLike, seq_name: str = "") -> Annotations:
    """Read a gt.txt (or gt_*_half.txt) file in MOT15 or MOT16/17/20/DanceTrack layout.

    Raises:
        FileNotFoundError: the file does not exist.
        MOTFormatError: a malformed line (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing ground truth file: {path}")
    rows, line_no = parse_rows(path, 9, 10)
    if not len(rows):
        raise MOTFormatError(f"{path}: empty ground truth file (no rows): nothing to train or "
                             "score against")
    fmt = detect_gt_format(rows, path, seq_name)
    n = len(rows)
    if fmt == "mot15":
        flags = rows[:, 6].astype(np.int64) if n else np.zeros(0, np.int64)
        classes = np.ones(n, dtype=np.int64)
        vis = np.ones(n, dtype=np.float64)
    else:
        flags = rows[:, 6].astype(np.int64) if n else np.zeros(0, np.int64)
        classes = rows[:, 7].astype(np.int64) if n else np.zeros(0, np.int64)
        vis = rows[:, 8].copy() if n else np.zeros(0)
        bad = np.flatnonzero((vis < 0) | (vis > 1))
        if len(bad):
            raise MOTFormatError(f"{path}:{line_no[bad[0]]}: visibility {vis[bad[0]]} not in [0, 1]")
    return Annotations(
        frames=rows[:, 0].astype(np.int64) if n else np.zeros(0, np.int64),
        ids=rows[:, 1].astype(np.int64) if n else np.zeros(0, np.int64),
        tlwh=rows[:, 2:6].copy() if n else np.zeros((0, 4)),
        flags=flags,
        classes=classes,
        visibility=vis,
        line_no=line_no,
        format=fmt,
        path=path,
    )


@dataclass
class Detections:
    """Detections of one sequence (det.txt).

    Attributes:
        frames: (N,) int64, 1-based. tlwh: (N, 4) float64. scores: (N,) float64.
    """

    frames: np.ndarray
    tlwh: np.ndarray
    scores: np.ndarray
    path: Optional[Path] = None
    line_no: Optional[np.ndarray] = None  #: (N,) source line of each row

    def __len__(self) -> int:
        return len(self.frames)

    def for_frame(self, frame: int) -> Tuple[np.ndarray, np.ndarray]:
        """(xyxy (n, 4), scores (n,)) of one frame."""
        m = self.frames == frame
        b = self.tlwh[m].copy()
        b[:, 2:] += b[:, :2]
        return b, self.scores[m].copy()


def read_det(path: PathLike) -> Detections:
    """Read det.txt: ``frame,id(-1),x,y,w,h,score[,...]`` (7 to 10 columns)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing detection file: {path}")
    rows, line_no = parse_rows(path, 7, 10)
    n = len(rows)
    return Detections(
        frames=rows[:, 0].astype(np.int64) if n else np.zeros(0, np.int64),
        tlwh=rows[:, 2:6].copy() if n else np.zeros((0, 4)),
        scores=rows[:, 6].copy() if n else np.zeros(0),
        path=path,
        line_no=line_no,
    )


def check_frame_range(
    frames: np.ndarray, line_no: Optional[np.ndarray], path: PathLike, num_frames: int, what: str
) -> None:
    """Every frame number of a txt file must lie in 1..num_frames.

    Args:
        frames: (N,) 1-based frame numbers. line_no: (N,) source lines (None: not named).
        what: where ``num_frames`` comes from, e.g. ``"seqLength=600 of .../seqinfo.ini"``.

    Raises:
        MOTFormatError: ``<path>:<line>: frame F is beyond <what>``.
    """
    if not len(frames):
        return
    bad = np.flatnonzero(frames > num_frames)
    if len(bad):
        i = int(bad[0])
        where = f"{path}:{int(line_no[i])}" if line_no is not None else str(path)
        raise MOTFormatError(
            f"{where}: frame {int(frames[i])} is beyond {what} ({len(bad)} row(s) affected)"
        )


# --------------------------------------------------------------------------------------------
# half split (ByteTrack convention)
# --------------------------------------------------------------------------------------------
def half_split_frames(num_frames: int, half: str) -> Tuple[int, int]:
    """First and last (1-based, inclusive) frame of a half.

    ByteTrack: train = frames 1..N//2, val = frames N//2+1..N; ``all`` = 1..N.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    mid = num_frames // 2
    if half in ("all", "full"):
        return 1, num_frames
    if half == "train":
        if mid < 1:
            raise ValueError(f"a sequence of {num_frames} frame(s) has no train half")
        return 1, mid
    if half == "val":
        return mid + 1, num_frames
    raise ValueError(f"half must be one of all|train|val, got {half!r}")


#: what :func:`tail_split_frames` returns a range for
PORTIONS = ("whole", "head", "tail")


def tail_split_frames(first: int, last: int, tail_frac: float, portion: str) -> Tuple[int, int]:
    """Cut frames ``first..last`` into a head and a tail of ``ceil(tail_frac * n)`` frames.

    Used to carve a model-selection slice out of the training half (SPEC section 4): the tail
    selects the checkpoint, the head trains. Both parts keep at least one frame.

    Args:
        first, last: 1-based inclusive range (e.g. from :func:`half_split_frames`).
        tail_frac: fraction of the frames in the tail, in [0, 1); 0 = no tail.
        portion: ``whole`` (first..last), ``head`` or ``tail``.

    Returns:
        (first, last) of the portion, 1-based inclusive; ``tail`` with ``tail_frac=0`` is empty
        (first = last + 1).
    """
    if portion not in PORTIONS:
        raise ValueError(f"portion must be one of {list(PORTIONS)}, got {portion!r}")
    if not 0.0 <= tail_frac < 1.0:
        raise ValueError(f"tail_frac must be in [0, 1), got {tail_frac}")
    n = last - first + 1
    n_tail = int(math.ceil(tail_frac * n - 1e-9)) if tail_frac > 0 else 0
    if n_tail and n - n_tail < 1:
        raise ValueError(f"frames {first}..{last}: a tail of {n_tail} frame(s) leaves no head")
    cut = last - n_tail + 1  # first tail frame
    if portion == "head":
        return first, cut - 1
    if portion == "tail":
        return cut, last
    return first, last


# --------------------------------------------------------------------------------------------
# sequences
# --------------------------------------------------------------------------------------------
class MOTSequence:
    """One MOTChallenge sequence directory.

    Args:
        seq_dir: ``<root>/<split>/<SEQ>``.
        require_images: check that the image folder exists (named in the error if not).
    """

    def __init__(self, seq_dir: PathLike, require_images: bool = True):
        self.seq_dir = Path(seq_dir)
        if not self.seq_dir.is_dir():
            raise FileNotFoundError(f"sequence directory not found: {self.seq_dir}")
        self.info = read_seqinfo(self.seq_dir)
        self.name = self.seq_dir.name
        self.img_dir = self.seq_dir / self.info.im_dir
        if require_images and not self.img_dir.is_dir():
            raise FileNotFoundError(
                f"missing image folder: {self.img_dir} (seqinfo.ini imDir={self.info.im_dir})"
            )
        self._gt: Optional[Annotations] = None
        # MOTChallenge names frames %06d; DanceTrack uses %08d. Decided once from the first frame.
        self._digits = 6
        if not (self.img_dir / f"{1:06d}{self.info.im_ext}").exists() and (
            self.img_dir / f"{1:08d}{self.info.im_ext}"
        ).exists():
            self._digits = 8
        if require_images:
            self._check_images()

    def _check_images(self) -> None:
        """seqLength must match the images present: more frames would be phantom, fewer cut."""
        n = self.info.seq_length
        count = sum(1 for p in self.img_dir.iterdir() if p.suffix == self.info.im_ext)
        ini = self.seq_dir / "seqinfo.ini"
        if count == n and self.frame_path(n).is_file():
            return
        if count < n or not self.frame_path(n).is_file():
            missing = next((f for f in range(1, n + 1) if not self.frame_path(f).is_file()), n)
            raise MOTFormatError(
                f"{ini}: seqLength={n} but {self.img_dir} holds {count} {self.info.im_ext} "
                f"images (first missing: {self.frame_path(missing).name})"
            )
        raise MOTFormatError(
            f"{ini}: seqLength={n} but {self.img_dir} holds {count} {self.info.im_ext} images: "
            f"frames after {n} would be silently cut (fix seqLength)"
        )

    def __repr__(self) -> str:
        return f"MOTSequence({self.name!r}, frames={len(self)}, {self.info.im_width}x{self.info.im_height})"

    def __len__(self) -> int:
        return self.info.seq_length

    @property
    def gt_path(self) -> Path:
        return self.seq_dir / "gt" / "gt.txt"

    @property
    def det_path(self) -> Path:
        return self.seq_dir / "det" / "det.txt"

    @property
    def has_gt(self) -> bool:
        return self.gt_path.is_file()

    @property
    def format(self) -> str:
        """Detected gt layout (``mot15``, ``mot17`` or ``dancetrack``)."""
        return self.gt().format

    def frame_path(self, frame: int) -> Path:
        """Path of frame ``frame`` (1-based, as in gt/det/results files)."""
        if not 1 <= frame <= self.info.seq_length:
            raise IndexError(f"{self.name}: frame {frame} outside 1..{self.info.seq_length}")
        return self.img_dir / f"{frame:0{self._digits}d}{self.info.im_ext}"

    def frames(self, half: str = "all") -> range:
        """1-based frame numbers of a half (``all``, ``train``, ``val``)."""
        first, last = half_split_frames(self.info.seq_length, half)
        return range(first, last + 1)

    def gt(self) -> Annotations:
        """All gt rows (unfiltered), cached."""
        if self._gt is None:
            gt = read_gt(self.gt_path, self.name)
            check_frame_range(gt.frames, gt.line_no, self.gt_path, len(self), self._length_note())
            self._gt = gt
            logger.debug("%s: gt format %s, %d rows", self.name, self._gt.format, len(self._gt))
        return self._gt

    def _length_note(self) -> str:
        return f"seqLength={len(self)} of {self.seq_dir / 'seqinfo.ini'}"

    def det(self) -> Detections:
        """det/det.txt, checked against seqLength; an empty file is a warning (no detections)."""
        det = read_det(self.det_path)
        check_frame_range(det.frames, det.line_no, self.det_path, len(self), self._length_note())
        if not len(det):
            logger.warning("%s is empty: the sequence %s has no detections (empty results)",
                           self.det_path, self.name)
        return det

    def read_frame(self, frame: int) -> np.ndarray:
        """BGR uint8 image (H, W, 3) of a 1-based frame."""
        return read_image(self.frame_path(frame))


def read_image(path: PathLike) -> np.ndarray:
    """Decode an image strictly: BGR uint8 (H, W, 3).

    OpenCV half-decodes a truncated JPEG with only a warning on stderr; here a JPEG without its
    end marker or a PNG without its IEND chunk is an error, as is anything OpenCV cannot decode.

    Raises:
        FileNotFoundError: no such file. MOTFormatError: truncated or undecodable (file named).
    """
    import cv2  # local: keeps `import finetrack.data` light

    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot read image {path}: no such file") from None
    ext = path.suffix.lower()
    tail = data[-64:].tobytes()
    if ext in (".jpg", ".jpeg") and b"\xff\xd9" not in tail:
        raise MOTFormatError(f"{path}: truncated JPEG (no end-of-image marker)")
    if ext == ".png" and b"IEND" not in tail:
        raise MOTFormatError(f"{path}: truncated PNG (no IEND chunk)")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if len(data) else None
    if img is None:
        raise MOTFormatError(f"{path}: cannot decode image ({len(data)} bytes)")
    return img


def list_sequences(
    split_dir: PathLike, seqs: Optional[Sequence[str]] = None, mot17_detector: Optional[str] = "FRCNN"
) -> List[Path]:
    """Sequence directories under ``<root>/<split>``, sorted.

    Args:
        split_dir: e.g. ``datasets/MOT17/train``.
        seqs: names to keep (error if one is missing); None = all.
        mot17_detector: for MOT17, keep only the ``-<detector>`` copy of each sequence
            (SPEC section 6); None keeps all copies.
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"split directory not found: {split_dir}")
    found = sorted(
        p for p in split_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "seqinfo.ini").is_file()
    )  # hidden folders are writers' temporaries
    if seqs is not None:
        by_name = {p.name: p for p in found}
        missing = [s for s in seqs if s not in by_name]
        no_ini = [split_dir / s / "seqinfo.ini" for s in missing if (split_dir / s).is_dir()]
        if no_ini:
            raise FileNotFoundError(
                f"missing seqinfo.ini: {no_ini[0]} (every MOTChallenge sequence needs one)"
            )
        if missing:
            raise FileNotFoundError(
                f"sequences not found in {split_dir}: {missing} (available: {sorted(by_name)})"
            )
        return [by_name[s] for s in seqs]
    if not found:
        no_ini = sorted(p / "seqinfo.ini" for p in split_dir.iterdir()
                        if p.is_dir() and not p.name.startswith("."))
        if no_ini:
            raise FileNotFoundError(f"missing seqinfo.ini: {no_ini[0]} (and no other folder of "
                                    f"{split_dir} has one: every MOTChallenge sequence needs one)")
    if mot17_detector:
        pat = re.compile(r"^(MOT17-\d+)-(DPM|FRCNN|SDP)$")
        out = []
        for p in found:
            m = pat.match(p.name)
            if m is None or m.group(2) == mot17_detector:
                out.append(p)
        found = out
    return found
