"""Show what each MPMG branch attends to (= `finetrack vis-masks`).

The code is finetrack/cli/vis_masks.py;
`python tools/vis_masks.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.vis_masks import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
