"""Atomic file writing: nothing half-written is ever left behind.

* :func:`atomic_open` / :func:`atomic_write_text` / :func:`atomic_write_bytes`: a uniquely named
  temporary file beside the target, renamed onto it only when the block succeeds; removed on any
  exception (Ctrl-C included). The result gets the permissions a plain ``open`` would give
  (``0o666`` minus the umask), not ``mkstemp``'s 0600.
* :func:`atomic_path`: the same for writers that need a file *name* (OpenCV's VideoWriter,
  matplotlib's savefig).
* :func:`staged_dir`: a whole output folder written beside the target and swapped in at the end,
  after :func:`check_output_folder` (an output that is, holds or lies inside an input, the current
  folder or a filesystem root is refused) and, to replace a non-empty folder,
  :func:`check_replaceable` (only files that a manifest records as written by the tool go).
* :func:`file_manifest`: ``{relative path: sha1}`` of a folder's files (that manifest).
* :class:`DirLock`: one process at a time per output folder (``flock``; released when the
  process dies, so a killed run never blocks the next one).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Union

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _umask_mode() -> int:
    """``0o666`` minus the current umask (what ``open(path, "w")`` would create)."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: Optional[str] = None) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    Args:
        path: the destination.
        suffix: the temporary file's ending (default: ``path``'s suffix, so writers that pick a
            format from the extension still work).

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path`` is
    left as it was. A block that leaves no file behind leaves ``path`` untouched too.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}",
                                    dir=str(path.parent))
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.is_file():
            os.chmod(tmp, _umask_mode())
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename)."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


class LockedError(OSError):
    """Another process holds the lock of an output folder."""


class DirLock:
    """An exclusive ``flock`` on ``<parent>/.<name>.lock`` for the output folder ``path``.

    The lock lives beside the folder (not inside it) so that the folder itself can be swapped.
    The kernel drops the lock when the process exits, however it exits.

    Raises:
        LockedError: (on enter) another process holds the lock; the message names the folder.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.lock_path = self.path.parent / f".{self.path.name}.lock"
        self._fd: Optional[int] = None

    def __enter__(self) -> "DirLock":
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, _umask_mode())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise LockedError(
                        f"{self.path} is in use by another run (lock {self.lock_path}); wait for "
                        "it to finish or choose another output folder"
                    ) from None
                raise
            try:  # the holder may have removed the file between our open and flock: retry
                if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock_path)
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


class UnsafeOutputError(ValueError):
    """An output folder that writing (or replacing) would damage an input or the working tree."""


def _real(p: PathLike) -> Path:
    return Path(os.path.realpath(os.fspath(p)))


def _within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output_folder(path: PathLike, inputs: Iterable[Optional[PathLike]] = (),
                        flag: str = "--out") -> None:
    """Refuse an output folder that replacing would damage something (nothing is touched).

    Refused: the current folder or a folder holding it (``--out .``), a filesystem root or mount
    point, and a folder that is, contains or lies inside any of ``inputs`` (symlinks resolved).

    Args:
        path: the output folder (need not exist).
        inputs: files and folders the run reads (None entries are skipped).
        flag: the option named in the message.

    Raises:
        UnsafeOutputError: one line naming the folder and the input.
    """
    out = _real(path)
    if out == Path(out.anchor) or os.path.ismount(out):
        raise UnsafeOutputError(f"{flag} {path} is a filesystem root: choose a folder of its own")
    cwd = _real(os.getcwd())
    if _within(cwd, out):
        what = "is the current folder" if out == cwd else "holds the current folder"
        raise UnsafeOutputError(f"{flag} {path} {what}, which would be replaced as a whole: "
                                "choose a new folder, e.g. outputs/track")
    for item in inputs:
        if item is None or str(item) == "":
            continue
        inp = _real(item)
        if out == inp:
            how = "is"
        elif _within(inp, out):
            how = "contains"
        elif _within(out, inp):
            how = "is inside"
        else:
            continue
        raise UnsafeOutputError(f"{flag} {path} {how} the input {item}: choose an output folder "
                                "apart from the inputs")


def file_manifest(folder: PathLike, exclude: Iterable[str] = ()) -> Dict[str, str]:
    """``{path relative to folder: sha1 hex}`` of every file under ``folder`` (hidden ones too).

    The record of what a run wrote: :func:`check_replaceable` lets ``--overwrite`` remove only
    files that it lists, unchanged.
    """
    folder = Path(folder)
    skip = set(exclude)
    out: Dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in skip:
            out[rel] = _sha1(p)
    return out


def _sha1(p: Path) -> str:
    h = hashlib.sha1()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_replaceable(path: PathLike, manifest_file: str, key: str = "manifest") -> None:
    """Refuse to replace ``path`` unless every file in it was written by the tool, unchanged.

    ``path/manifest_file`` is a JSON object whose ``key`` maps relative paths to sha1
    (:func:`file_manifest`); the manifest file itself counts as written.

    Raises:
        UnsafeOutputError: no (readable) manifest, or files it does not list or that changed
            since (the first ones named).
    """
    path = Path(path)
    mf = path / manifest_file
    try:
        recorded = json.loads(mf.read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        recorded = None
    if not isinstance(recorded, dict):
        raise UnsafeOutputError(
            f"--overwrite replaces only a folder that a FineTrack run wrote, and {path} holds no "
            f"record of one ({mf} with its '{key}' missing or unreadable): empty it yourself or "
            "choose another --out"
        )
    foreign: List[str] = []
    for p in sorted(path.rglob("*")):
        if not p.is_file() and not p.is_symlink():
            continue
        rel = p.relative_to(path).as_posix()
        if rel == manifest_file:
            continue
        if p.is_symlink() or recorded.get(rel) != _sha1(p):
            foreign.append(rel)
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise UnsafeOutputError(
            f"--overwrite replaces only what a FineTrack run wrote, and {path} holds files that no "
            f"run wrote or that changed since ({', '.join(foreign[:3])}{more}): move them or "
            "choose another --out"
        )


@contextlib.contextmanager
def _signals_held() -> Iterator[List[int]]:
    """Hold SIGINT / SIGTERM during a few renames (main thread only); yields those that came."""
    got: List[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def hold(signum, frame):  # pragma: no cover - timing dependent
        got.append(signum)

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, hold)
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def staged_dir(path: PathLike, overwrite: bool = False, inputs: Iterable[Optional[PathLike]] = (),
               manifest_file: Optional[str] = None) -> Iterator[Path]:
    """Build an output folder beside ``path`` and swap it in only when the block succeeds.

    The caller writes everything into the yielded (hidden, fresh) folder. On success it replaces
    ``path`` as a whole, so no file of an earlier run is left looking current; on any exception
    (Ctrl-C included) it is removed and ``path`` is untouched: a caller that wants to drop its
    results (an interrupted run) raises. Holds a :class:`DirLock` on ``path`` for the duration,
    and removes staging folders that killed runs left behind. The two renames of the swap run with
    SIGINT / SIGTERM held, so a signal never leaves ``path`` missing (one that comes then finds
    the run finished and its results in place).

    Args:
        path: the output folder.
        overwrite: replace a non-empty ``path``; without it a non-empty folder is an error.
        inputs: files and folders the run reads: ``path`` must neither be, hold nor lie inside
            one of them (:func:`check_output_folder`).
        manifest_file: with ``overwrite``, a non-empty ``path`` is replaced only if this file in it
            lists every other file as written by the tool (:func:`check_replaceable`); None: no
            such check.

    Raises:
        FileExistsError: ``path`` is a file, or a non-empty folder and not ``overwrite``.
        UnsafeOutputError: see ``inputs`` and ``manifest_file`` (nothing touched).
        LockedError: another process is writing ``path``.
    """
    path = Path(path)
    check_output_folder(path, inputs)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"output {path} exists and is not a folder")
    if path.is_dir() and not _is_empty_dir(path):
        if not overwrite:
            raise FileExistsError(
                f"output folder {path} is not empty: pass --overwrite to replace it, or choose "
                "another --out"
            )
        if manifest_file is not None:
            check_replaceable(path, manifest_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    with DirLock(path):
        prefix = f".{path.name}.staging-"
        for stale in path.parent.glob(prefix + "*"):  # left by killed runs (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=prefix, dir=str(path.parent)))
        os.chmod(stage, 0o777 & ~_umask())
        try:
            yield stage
            trash = Path(tempfile.mkdtemp(prefix=prefix, dir=str(path.parent)))
            old = trash / "old"
            try:
                with _signals_held() as got:
                    if path.exists():
                        os.replace(path, old)
                    try:
                        os.replace(stage, path)
                    except BaseException:
                        if old.exists():  # put the earlier results back
                            os.replace(old, path)
                        raise
            finally:
                if not old.exists() or path.exists():
                    shutil.rmtree(trash, ignore_errors=True)
            if got:
                logger.warning("a signal came during the final swap: the run had finished and its "
                               "results are in %s", path)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
