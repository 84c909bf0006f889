"""Train the one-class YOLOX detector (= `finetrack train-det`).

The code is finetrack/cli/train_det.py;
`python tools/train_det.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.train_det import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
