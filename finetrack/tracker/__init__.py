"""Tracking: Kalman filter, pure matching functions, tracklets and the ByteTrack-style tracker."""
from finetrack.tracker.tracker import MODES, Tracker, TrackOutput
from finetrack.tracker.interpolate import gaussian_smooth_tracks, gsi_tracks, interpolate_tracks
from finetrack.tracker.kalman import CHI2INV95, KalmanFilter
from finetrack.tracker.track import Track, TrackState

__all__ = ["CHI2INV95", "KalmanFilter", "MODES", "Track", "TrackOutput", "TrackState", "Tracker",
           "gaussian_smooth_tracks", "gsi_tracks", "interpolate_tracks"]
