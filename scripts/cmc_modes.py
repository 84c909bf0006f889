"""Camera motion compensation in every association mode, on cached detections and embeddings.

The code is finetrack/studies/cmc_modes.py; `python scripts/cmc_modes.py --help` shows the flags.
"""
import sys

from finetrack.studies.cmc_modes import main

if __name__ == "__main__":
    sys.exit(main())
