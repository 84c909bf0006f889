"""AP50 / AP of a YOLOX detector checkpoint (= `finetrack eval-det`).

The code is finetrack/cli/eval_det.py;
`python tools/eval_det.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.eval_det import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
