"""FineTrack: online multi-object tracking with diverse fine-grained Re-ID representation.

Importing the package is cheap: no torch, no yolox. The API (``finetrack.Tracker``,
``finetrack.load_detector``, ``finetrack.track_video``; :mod:`finetrack.api`) is imported on
first use. Sub-packages that need torch
(`finetrack.models`, `finetrack.losses`, `finetrack.engine`) import it themselves.
"""
__version__ = "0.1.0"

#: The Python API (:mod:`finetrack.api`), imported on first use so `import finetrack` stays cheap.
_API = ("Tracker", "Detector", "load_detector", "track_video")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from finetrack import api

        return getattr(api, name)
    raise AttributeError(f"module 'finetrack' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
