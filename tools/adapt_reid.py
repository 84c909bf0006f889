"""Adapt a Re-ID checkpoint to a new video without labels (= `finetrack adapt`).

The code is finetrack/cli/adapt.py; `python tools/adapt_reid.py --help` shows the flags and an example.
"""
import sys

from finetrack.cli.adapt import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
