"""Time each camera-motion method per frame on real sequences (finetrack/tracker/cmc.py).

The code is finetrack/studies/bench_cmc.py; `python scripts/bench_cmc.py --help` shows the flags.
"""
import sys

from finetrack.studies.bench_cmc import main

if __name__ == "__main__":
    sys.exit(main())
