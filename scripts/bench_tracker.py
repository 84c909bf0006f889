"""Time ``Tracker.update`` per frame for each mode, and boxmot's ByteTrack when importable.

The code is finetrack/studies/bench_tracker.py; `python scripts/bench_tracker.py --help` shows the flags.
"""
import sys

from finetrack.studies.bench_tracker import main

if __name__ == "__main__":
    sys.exit(main())
