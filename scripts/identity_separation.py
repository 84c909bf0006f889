"""How well do a model's features tell people apart on a sequence? The robust mode's two calibrations.

The code is finetrack/studies/identity_separation.py; `python scripts/identity_separation.py --help` shows the flags.
"""
import sys

from finetrack.studies.identity_separation import main

if __name__ == "__main__":
    sys.exit(main())
