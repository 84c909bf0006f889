"""The paper's configuration exercised end to end (issue 13 item 7): exit 0 when every step passed.

The code is finetrack/studies/paper_scale_check.py; `python scripts/paper_scale_check.py --help` shows the flags.
"""
import sys

from finetrack.studies.paper_scale_check import main

if __name__ == "__main__":
    sys.exit(main())
