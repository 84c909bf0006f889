"""Score MOTChallenge tracker results: HOTA / CLEAR / Identity (= `finetrack eval`).

The code is finetrack/cli/eval.py;
`python tools/eval.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.eval import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
