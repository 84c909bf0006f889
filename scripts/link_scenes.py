#!/usr/bin/env python
"""Link every labelled scene the project has into one dataset root (symlinks, nothing copied).

The code is finetrack/studies/link_scenes.py; `python scripts/link_scenes.py --help` shows the flags.
"""
import sys

from finetrack.studies.link_scenes import main

if __name__ == "__main__":
    sys.exit(main())
