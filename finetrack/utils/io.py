"""Atomic file writing: nothing half-written is ever left behind.

* :func:`atomic_open` / :func:`atomic_write_text` / :func:`atomic_write_bytes`: a uniquely named
  temporary file beside the target, renamed onto it only when the block succeeds; removed on any
  exception (Ctrl-C included). The result gets the permissions a plain ``open`` would give
  (``0o666`` minus the umask), not ``mkstemp``'s 0600.
* :func:`atomic_path`: the same for writers that need a file *name* (OpenCV's VideoWriter,
  matplotlib's savefig).
* :func:`staged_dir`: a whole output folder written beside the target and swapped in at the end.
* :class:`DirLock`: one process at a time per output folder (``flock``; released when the
  process dies, so a killed run never blocks the next one).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Union

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


@contextlib.contextmanager
def staged_dir(path: PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build an output folder beside ``path`` and swap it in only when the block succeeds.

    The caller writes everything into the yielded (hidden, fresh) folder. On success it replaces
    ``path`` as a whole, so no file of an earlier run is left looking current; on any exception
    (Ctrl-C included) it is removed and ``path`` is untouched. Holds a :class:`DirLock` on
    ``path`` for the duration, and removes staging folders that killed runs left behind.

    Args:
        path: the output folder.
        overwrite: replace a non-empty ``path``; without it a non-empty folder is an error.

    Raises:
        FileExistsError: ``path`` is a file, or a non-empty folder and not ``overwrite``.
        LockedError: another process is writing ``path``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"output {path} exists and is not a folder")
    if path.is_dir() and not overwrite and not _is_empty_dir(path):
        raise FileExistsError(
            f"output folder {path} is not empty: pass --overwrite to replace it, or choose "
            "another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with DirLock(path):
        prefix = f".{path.name}.staging-"
        for stale in path.parent.glob(prefix + "*"):  # left by killed runs (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=prefix, dir=str(path.parent)))
        os.chmod(stage, 0o777 & ~_umask())
        try:
            yield stage
            old = None
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=prefix, dir=str(path.parent))) / "old"
                os.replace(path, old)
            os.replace(stage, path)
            if old is not None:
                shutil.rmtree(old.parent, ignore_errors=True)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
