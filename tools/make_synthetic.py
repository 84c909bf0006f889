"""Write synthetic MOTChallenge sequences (= `finetrack make-synthetic`).

The code is finetrack/cli/make_synthetic.py;
`python tools/make_synthetic.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.make_synthetic import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
