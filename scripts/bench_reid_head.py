"""Time FineTrack's Re-ID head per frame for the Table 4 variants, side by side in one process.

The code is finetrack/studies/bench_reid_head.py; `python scripts/bench_reid_head.py --help` shows the flags.
"""
import sys

from finetrack.studies.bench_reid_head import main

if __name__ == "__main__":
    sys.exit(main())
