"""Positives per anchor per batch of every Re-ID sampler on a config's training frames.

The code is finetrack/studies/sampler_positives.py; `python scripts/sampler_positives.py --help` shows the flags.
"""
import sys

from finetrack.studies.sampler_positives import main

if __name__ == "__main__":
    sys.exit(main())
