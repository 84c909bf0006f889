"""Nested leave-one-scene-out study of fusion rules on training-free cues (issue 27).

The code is finetrack/studies/nested_loso.py; `python scripts/nested_loso.py --help` shows the flags.
"""
import sys

from finetrack.studies.nested_loso import main

if __name__ == "__main__":
    sys.exit(main())
