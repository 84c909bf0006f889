"""Write the ByteTrack half-split GT files of a dataset (= `finetrack prepare-data`).

The code is finetrack/cli/prepare_data.py;
`python tools/prepare_data.py --help` shows the flags and an example.
"""
import sys


from finetrack.cli.prepare_data import main
from finetrack.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
