"""Frame readers: where the images of a tracked source come from.

``tools/track.py --source PATH`` accepts any of

- a MOTChallenge sequence folder (holds ``seqinfo.ini``): :class:`MOTFrames`;
- a video file (:data:`VIDEO_EXTS`): :class:`VideoFrames` (OpenCV decodes it);
- a folder of images, or a glob such as ``'frames/*.jpg'`` (sorted by name): :class:`ImageFrames`;
- a webcam index (``0``, ``1``, ...): :class:`WebcamFrames`.

Every reader numbers frames from 1 (the MOTChallenge convention; results files use these numbers)
and yields ``(frame, image)`` with ``image`` a (H, W, 3) uint8 BGR array.

Decode errors are treated alike by every reader of a file (:class:`FrameDecodeError`, naming the
file and the frame): a truncated or undecodable image in a MOT folder, an image folder or a glob
(:func:`finetrack.data.mot.read_image` decodes strictly: a JPEG without its end marker is an
error, not a grey-filled frame), and a video whose decoding stops before the frame count its
container records. A live stream (webcam) instead warns and skips the frame it could not read,
and ends after :data:`WEBCAM_MAX_MISSES` reads in a row fail. (Damage that the video decoder
conceals itself, drawing the frame from its neighbours, is not reported by OpenCV and is not
detected.)
"""
from __future__ import annotations

import glob as _glob
import logging
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from finetrack.data.mot import MOTSequence

logger = logging.getLogger(__name__)

#: File endings read as video files (case-insensitive); a file of another ending is a video too
#: when OpenCV opens it and decodes a frame (:func:`opencv_reads_video`).
VIDEO_EXTS: Tuple[str, ...] = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg",
                               ".wmv", ".flv", ".ts", ".mts", ".m2ts", ".3gp", ".ogv", ".asf",
                               ".mjpeg", ".gif")
#: File endings read as images by :class:`ImageFrames` (case-insensitive).
IMAGE_EXTS: Tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Frame rate assumed for images and webcams that do not report one.
DEFAULT_FPS: float = 30.0

Frame = Tuple[int, Optional[np.ndarray]]

#: A webcam ends after this many failed reads in a row (one failure is skipped, with a warning).
WEBCAM_MAX_MISSES: int = 30
#: Containers whose frame count OpenCV estimates from the duration: a shortfall of up to this many
#: frames at the end is not an error there.
ESTIMATED_COUNT_EXTS: Tuple[str, ...] = (".mkv", ".webm")
ESTIMATE_SLACK: int = 2


class FrameDecodeError(ValueError):
    """A frame of a file source cannot be decoded; the message names the file and the frame."""


def _decode_error(source: str, frame: int, what: str) -> FrameDecodeError:
    return FrameDecodeError(f"cannot decode frame {frame} of {source}: {what}")


class MOTFrames:
    """The frames of a MOTChallenge sequence (``img1/000001.jpg`` ...).

    Args:
        seq: the sequence.
    """

    kind = "mot"

    def __init__(self, seq: MOTSequence):
        self.seq = seq
        self.name = seq.name
        self.frame_rate = float(seq.info.frame_rate)
        self.num_frames: Optional[int] = len(seq)

    def iter_frames(
        self, first: int = 1, last: Optional[int] = None, read: bool = True, step: int = 1
    ) -> Iterator[Frame]:
        """``(frame, image or None)`` for frames ``first, first + step, ..`` up to ``last`` (None
        images unless ``read``); skipped frames are not read."""
        from finetrack.data.mot import MOTFormatError

        last = self.num_frames if last is None else last
        for f in range(first, last + 1, step):
            if not read:
                yield f, None
                continue
            try:
                img = self.seq.read_frame(f)
            except MOTFormatError as e:
                raise _decode_error(str(self.seq.seq_dir), f, str(e)) from None
            yield f, img


class ImageFrames:
    """A sorted list of image files, frame i = the i-th file.

    Args:
        paths: image files in frame order.
        name: the source name (results file stem).
        frame_rate: frames per second (images record none).
    """

    kind = "images"

    def __init__(self, paths: Sequence[Path], name: str, frame_rate: float = DEFAULT_FPS):
        if not paths:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTS)}) for source {name!r}")
        self.paths = [Path(p) for p in paths]
        self.name = name
        self.frame_rate = float(frame_rate)
        self.num_frames: Optional[int] = len(self.paths)

    def iter_frames(
        self, first: int = 1, last: Optional[int] = None, read: bool = True, step: int = 1
    ) -> Iterator[Frame]:
        """As :meth:`MOTFrames.iter_frames`: skipped frames are not read."""
        from finetrack.data.mot import MOTFormatError, read_image

        last = self.num_frames if last is None else last
        for f in range(first, last + 1, step):
            if not read:
                yield f, None
                continue
            p = self.paths[f - 1]
            try:  # strict: a truncated JPEG is an error, not a grey-filled frame
                img = read_image(p)
            except MOTFormatError as e:
                raise _decode_error(self.name, f, str(e)) from None
            yield f, img


class VideoFrames:
    """Frames decoded from a video file (or a webcam, see :class:`WebcamFrames`) with OpenCV.

    Args:
        path: the video file.
        frame_rate: override of the rate the file reports (None = the file's, else 30).
    """

    kind = "video"

    def __init__(self, path: Union[str, Path], frame_rate: Optional[float] = None):
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video file not found: {self.path}")
        self.name = self.path.stem
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise ValueError(f"OpenCV cannot open video {self.path}")
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        finally:
            cap.release()
        self.frame_rate = float(frame_rate) if frame_rate else (fps if fps > 0 else DEFAULT_FPS)
        #: frame count from the container; some codecs report an estimate (progress bar only)
        self.num_frames: Optional[int] = count if count > 0 else None

    def _open(self):
        import cv2

        return cv2.VideoCapture(str(self.path))

    def iter_frames(
        self, first: int = 1, last: Optional[int] = None, read: bool = True
    ) -> Iterator[Frame]:
        cap = self._open()
        try:
            f = 0
            while last is None or f < last:
                ok, img = cap.read()
                if not ok:
                    self._check_end(f)
                    break
                f += 1
                if f >= first:
                    yield f, img
        finally:
            cap.release()

    def _check_end(self, decoded: int) -> None:
        """Decoding stopped after ``decoded`` frames: an error if the container records more.

        Raises:
            FrameDecodeError: frame ``decoded + 1`` of the recorded count cannot be decoded
                (truncated or corrupt file).
        """
        count = self.num_frames
        if count is None or decoded >= count:
            return
        if self.path.suffix.lower() in ESTIMATED_COUNT_EXTS and count - decoded <= ESTIMATE_SLACK:
            logger.debug("%s: %d frames decoded, %d estimated by the container", self.path,
                         decoded, count)
            return
        raise _decode_error(
            str(self.path), decoded + 1,
            f"the file records {count} frames but decoding stopped after {decoded} (truncated or "
            "corrupt video)",
        )


class WebcamFrames(VideoFrames):
    """Live frames of a camera (``cv2.VideoCapture(index)``); stops on Ctrl-C or when it ends.

    Args:
        index: camera index. frame_rate: override of the rate the camera reports.
    """

    kind = "webcam"

    def __init__(self, index: int, frame_rate: Optional[float] = None):  # noqa: D107
        import cv2

        self.index = int(index)
        self.path = Path(f"webcam{self.index}")
        self.name = f"webcam{self.index}"
        cap = cv2.VideoCapture(self.index)
        try:
            if not cap.isOpened():
                raise FileNotFoundError(f"cannot open webcam {self.index}")
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        finally:
            cap.release()
        self.frame_rate = float(frame_rate) if frame_rate else (fps if fps > 0 else DEFAULT_FPS)
        self.num_frames = None

    def _open(self):
        import cv2

        return cv2.VideoCapture(self.index)

    def iter_frames(
        self, first: int = 1, last: Optional[int] = None, read: bool = True
    ) -> Iterator[Frame]:
        """Live frames; a frame that cannot be read is skipped with a warning (frame numbers
        count the frames yielded); :data:`WEBCAM_MAX_MISSES` failures in a row end the stream."""
        cap = self._open()
        try:
            f = misses = 0
            while last is None or f < last:
                ok, img = cap.read()
                if not ok or img is None:
                    misses += 1
                    if misses >= WEBCAM_MAX_MISSES:
                        logger.warning("%s: %d reads in a row failed: the stream ended after %d "
                                       "frame(s)", self.name, misses, f)
                        break
                    logger.warning("%s: could not read the frame after frame %d; skipped",
                                   self.name, f)
                    continue
                misses = 0
                f += 1
                if f >= first:
                    yield f, img
        finally:
            cap.release()


def opencv_reads_video(path: Path) -> bool:
    """Whether OpenCV opens ``path`` as a video and decodes its first frame."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()


def _images_in(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def open_source(spec: str, frame_rate: Optional[float] = None):
    """The frame reader of a ``--source`` value (see the module docstring for what is accepted).

    Args:
        spec: a MOT sequence folder, video file, image folder, glob or webcam index.
        frame_rate: frames per second where the source records none (images) or to override.

    Raises:
        FileNotFoundError: nothing readable at ``spec`` (named in the message).
        ValueError: a file of an unsupported type.
    """
    s = str(spec)
    if s.isdigit():
        return WebcamFrames(int(s), frame_rate)
    p = Path(s)
    if p.is_dir():
        if (p / "seqinfo.ini").is_file():
            reader = MOTFrames(MOTSequence(p))
            if frame_rate:
                reader.frame_rate = float(frame_rate)
            return reader
        images = _images_in(p)
        if not images and (p / "img1").is_dir():
            images = _images_in(p / "img1")
        if not images:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTS)}) in folder {p}")
        return ImageFrames(images, p.resolve().name, frame_rate or DEFAULT_FPS)
    if p.is_file():
        if p.suffix.lower() in VIDEO_EXTS:
            return VideoFrames(p, frame_rate)
        if p.suffix.lower() not in IMAGE_EXTS and opencv_reads_video(p):
            return VideoFrames(p, frame_rate)
        raise ValueError(
            f"--source {p}: unsupported file type {p.suffix!r}: OpenCV decodes no video frame from "
            f"it (videos: {', '.join(VIDEO_EXTS)}, or any other OpenCV reads; "
            "or give a folder of images, a glob or a webcam index)"
        )
    if any(c in s for c in "*?["):
        files = sorted(Path(f) for f in _glob.glob(s) if Path(f).suffix.lower() in IMAGE_EXTS)
        if not files:
            raise FileNotFoundError(f"--source {s!r}: the glob matches no image")
        parent = Path(s).parent
        name = parent.resolve().name if str(parent) not in ("", ".") else "images"
        return ImageFrames(files, name or "images", frame_rate or DEFAULT_FPS)
    raise FileNotFoundError(f"--source {s}: no such file, folder or glob")


def as_reader(seq):
    """A frame reader for ``seq`` (a :class:`MOTSequence` is wrapped; readers pass through)."""
    return MOTFrames(seq) if isinstance(seq, MOTSequence) else seq
