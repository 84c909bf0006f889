"""FineTrack: online multi-object tracking with diverse fine-grained Re-ID representation.

Importing the package is cheap: no torch, no yolox. Sub-packages that need torch
(`finetrack.models`, `finetrack.losses`, `finetrack.engine`) import it themselves.
"""
__version__ = "0.1.0"
