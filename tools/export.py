"""Export a checkpoint's detector and Re-ID head as ONNX (= `finetrack export`).

The code is finetrack/cli/export.py;
`python tools/export.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.export import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
