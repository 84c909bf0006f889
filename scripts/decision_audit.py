"""Audit an association mode's decisions against the ground truth (a diagnostic, not a metric).

The code is finetrack/studies/decision_audit.py; `python scripts/decision_audit.py --help` shows the flags.
"""
import sys

from finetrack.studies.decision_audit import main

if __name__ == "__main__":
    sys.exit(main())
