"""Per-box cost of the colour, ImageNet MobileNetV2 and Re-ID cues in one process (issue 27).

The code is finetrack/studies/cue_speed.py; `python scripts/bench_appearance.py --help` shows the flags.
"""
import sys

from finetrack.studies.cue_speed import main

if __name__ == "__main__":
    sys.exit(main())
