"""Do the K MPMG part masks differ? (issue 13 item 6, the paper's Fig. 5)

The code is finetrack/studies/mask_study.py; `python scripts/mask_study.py --help` shows the flags.
"""
import sys

from finetrack.studies.mask_study import main

if __name__ == "__main__":
    sys.exit(main())
