"""Parity check: our ``byte`` mode against boxmot's ByteTrack on identical detections.

The code is finetrack/studies/parity_boxmot.py; `python scripts/parity_boxmot.py --help` shows the flags.

Run it with the bench venv's python (boxmot installed) from the repository root:
    PYTHONPATH=. outputs/benchvenv/bin/python scripts/parity_boxmot.py --synthetic-frames 300
"""
import sys

from finetrack.studies.parity_boxmot import main

if __name__ == "__main__":
    sys.exit(main())
