"""Track a video, an image folder, a webcam or MOTChallenge sequences (= `finetrack track`).

The code is finetrack/cli/track.py; `python tools/track.py --help` shows the flags.
"""
import sys


from finetrack.cli.track import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
