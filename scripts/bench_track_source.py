"""FPS of `finetrack track --source video.mp4` (one pass vs two networks), on CPU, for README.

The code is finetrack/studies/bench_track_source.py; `python scripts/bench_track_source.py --help` shows the flags.
"""
import sys

from finetrack.studies.bench_track_source import main

if __name__ == "__main__":
    sys.exit(main())
