"""Grid over tracker settings on every cached cross-scene row (scripts/cross_scene.py).

The code is finetrack/studies/robust_grid.py; `python scripts/robust_grid.py --help` shows the flags.
"""
import sys

from finetrack.studies.robust_grid import main

if __name__ == "__main__":
    sys.exit(main())
