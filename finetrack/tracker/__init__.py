"""Tracking: Kalman filter, pure matching functions, tracklets and the ByteTrack-style tracker
with one association strategy per mode (:mod:`finetrack.tracker.association`)."""
from finetrack.tracker.association import FineTrackSettings, JDESettings, RobustSettings
from finetrack.tracker.tracker import MODES, ByteTrackSettings, Tracker, TrackOutput
from finetrack.tracker.interpolate import gaussian_smooth_tracks, gsi_tracks, interpolate_tracks
from finetrack.tracker.kalman import CHI2INV95, KalmanFilter
from finetrack.tracker.track import Track, TrackState

__all__ = ["CHI2INV95", "ByteTrackSettings", "FineTrackSettings", "JDESettings", "KalmanFilter",
           "MODES", "RobustSettings", "Track", "TrackOutput", "TrackState", "Tracker",
           "gaussian_smooth_tracks", "gsi_tracks", "interpolate_tracks"]
