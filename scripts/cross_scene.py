"""Cross-scene protocol (issue 11): does appearance help on scenes the Re-ID model never saw?

The code is finetrack/studies/cross_scene.py; `python scripts/cross_scene.py --help` shows the flags.
"""
import sys

from finetrack.studies.cross_scene import main

if __name__ == "__main__":
    sys.exit(main())
