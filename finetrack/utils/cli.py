"""What every ``tools/*.py`` does with errors: one line on stderr, never a traceback.

    if __name__ == "__main__":
        sys.exit(run_cli(main))

Exit codes: 0 ok, 2 bad input (config value, malformed or missing file, unwritable output,
corrupt checkpoint), 3 non-finite loss or weights (training stopped, last good checkpoint kept),
130 Ctrl-C, 143 SIGTERM. ``--debug`` anywhere on the command line prints the traceback as well.
Imports nothing heavy: tools that never touch torch stay fast.
"""
from __future__ import annotations

import signal
import sys
import traceback
from typing import Callable, List, Optional, Sequence, Tuple, Type

EXIT_BAD_INPUT = 2
EXIT_NON_FINITE = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
DEBUG_FLAG = "--debug"
DEBUG_HELP = "show the traceback of an error (errors are one line otherwise)"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, truncated, corrupt, not weights-only
    loadable, or holding non-finite weights. The message names the file."""


class CheckpointMismatchError(CheckpointError):
    """A state dict does not fit the model; the message lists every offending key."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that ``finally`` blocks remove temporary files."""


#: What a tool reports as bad input (one line, exit 2): CheckpointError and its subclasses are ValueErrors.
USER_ERRORS: Tuple[Type[BaseException], ...] = (OSError, ValueError, KeyError, EOFError)


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (KeyError's quotes dropped, type named if empty)."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    else:
        text = str(err)
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    text = " ".join(text.split())
    return text or type(err).__name__


def _on_sigterm(signum, frame):  # pragma: no cover - exercised through subprocess tests
    raise Terminated()


def run_cli(
    main: Callable[[Optional[Sequence[str]]], int], argv: Optional[Sequence[str]] = None
) -> int:
    """Call ``main(argv)`` and turn user-caused errors into one line on stderr plus an exit code.

    Args:
        main: the tool's ``main(argv) -> exit code``; its parser should accept ``--debug``
            (:func:`add_debug_flag`).
        argv: command line without the program name (default ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(main, argv, debug)
    finally:
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, previous)


def _run(main: Callable[[Optional[Sequence[str]]], int], argv: List[str], debug: bool) -> int:
    try:
        return int(main(argv) or 0)
    except Terminated:
        if debug:
            traceback.print_exc()
        print("terminated (SIGTERM): temporary files removed, earlier results kept",
              file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("interrupted (Ctrl-C): temporary files removed, earlier results kept",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except FloatingPointError as e:  # NonFiniteLossError / NonFiniteModelError of the trainers
        if debug:
            traceback.print_exc()
        print(f"stopped: {one_line(e)}", file=sys.stderr)
        return EXIT_NON_FINITE
    except USER_ERRORS as e:
        if debug:
            traceback.print_exc()
        print(f"error: {one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def add_debug_flag(parser) -> None:
    """Add ``--debug`` (read by :func:`run_cli`) to an argparse parser."""
    parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)
