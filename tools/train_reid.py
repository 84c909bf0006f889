"""Train FineTrack's Re-ID head on ground-truth boxes (= `finetrack train-reid`).

The code is finetrack/cli/train_reid.py;
`python tools/train_reid.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.train_reid import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
