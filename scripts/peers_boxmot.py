"""Peer trackers: boxmot's BoT-SORT and Deep OC-SORT on our cached detections and embeddings.

The code is finetrack/studies/peers_boxmot.py; `python scripts/peers_boxmot.py --help` shows the flags.

Run it with the bench venv's python (boxmot installed) from the repository root:
    PYTHONPATH=. outputs/benchvenv/bin/python scripts/peers_boxmot.py --cache-root outputs/cross_scene/cache \
        --out outputs/cross_scene/results
"""
import sys

from finetrack.studies.peers_boxmot import main

if __name__ == "__main__":
    sys.exit(main())
