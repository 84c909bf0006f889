"""Progress bars that suit where stderr goes.

:func:`progress_bar` is ``tqdm`` when stderr is a terminal. When it is not (a file, a pipe, a
server's ``nohup`` log) a bar's redraws would pile up in the file (one ``\\r`` state per update);
there it is a :class:`PlainProgress`: the same object for the caller (``update``,
``set_postfix``, iteration, ``close``) that writes one plain line, such as

    SEQ [all]: 120/398 frame [00:12<00:28, 9.8 frame/s, boxes=7, tracks=5]

at most every :data:`PLAIN_INTERVAL` seconds, and a last one when it closes.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Optional

from tqdm import tqdm

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_INTERVAL: float = 5.0
_PLAIN_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
_PLAIN_FORMAT_NO_TOTAL = "{desc}: {n_fmt} {unit} [{elapsed}, {rate_fmt}{postfix}]"


class PlainProgress(tqdm):
    """A ``tqdm`` that writes a plain line (newline-terminated, no bar, no ``\\r``) at most every
    ``interval`` seconds, and one when it closes if anything happened since the last."""

    def __init__(self, *args: Any, interval: Optional[float] = None, **kwargs: Any):
        self._interval = PLAIN_INTERVAL if interval is None else float(interval)
        self._last_line = -float("inf")
        self._last_n = 0
        self._closing = False
        kwargs["dynamic_ncols"] = False
        kwargs.setdefault("mininterval", min(self._interval, 1.0))
        super().__init__(*args, **kwargs)

    def display(self, msg: Optional[str] = None, pos: Optional[int] = None) -> bool:
        now = time.monotonic()
        if msg == "":  # tqdm erasing the bar on close (leave=False): nothing to erase
            return False  # and no "\r"
        if self.disable or self.n == self._last_n:
            return True
        if not self._closing and now - self._last_line < self._interval:
            return True
        d = self.format_dict
        d["bar_format"] = _PLAIN_FORMAT if d.get("total") else _PLAIN_FORMAT_NO_TOTAL
        d["ncols"] = None
        line = self.format_meter(**d)
        self.fp.write(line.rstrip() + "\n")
        self.fp.flush()
        self._last_line, self._last_n = now, self.n
        return True

    def clear(self, nolock: bool = False) -> None:  # nothing drawn: nothing to erase
        return None

    def moveto(self, n: int) -> None:  # lines, not a screen position
        return None

    def close(self) -> None:
        if not getattr(self, "disable", True):
            self._closing = True
            self.display()  # the last line (tqdm's own close disables the bar first)
            self.leave = False  # tqdm then calls display(msg=""): no "\r" nor "\n"
        super().close()


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on a terminal, else a :class:`PlainProgress` (plain lines)."""
    if stderr_is_terminal():
        return tqdm(iterable, **kwargs)
    return PlainProgress(iterable, **kwargs)
