"""Train a separate crop Re-ID network on GT box crops (= `finetrack train-crop-reid`).

The code is finetrack/cli/train_crop_reid.py;
`python tools/train_crop_reid.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.train_crop_reid import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
