"""Re-ID Rank-1 / mAP of a checkpoint with ground-truth boxes (= `finetrack eval-reid`).

The code is finetrack/cli/eval_reid.py;
`python tools/eval_reid.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.eval_reid import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
