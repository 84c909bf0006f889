"""Train the FairMOT one-shot baseline (= `finetrack train-fairmot`).

The code is finetrack/cli/train_fairmot.py;
`python tools/train_fairmot.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.train_fairmot import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
