"""Does appearance still only help at lower frame rates? The cross-scene rows at 1/k of their rate.

The code is finetrack/studies/frame_rate_stress.py; `python scripts/frame_rate_stress.py --help` shows the flags.
"""
import sys

from finetrack.studies.frame_rate_stress import main

if __name__ == "__main__":
    sys.exit(main())
