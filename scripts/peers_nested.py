"""boxmot's BoT-SORT and Deep OC-SORT fed the nested study's cues, in its table (issue 27).

The code is finetrack/studies/peers_nested.py; `python scripts/peers_nested.py --help` shows the
two steps (`track` with the bench venv's python, `table` with finetrack's).
"""
import sys

from finetrack.studies.peers_nested import main

if __name__ == "__main__":
    sys.exit(main())
