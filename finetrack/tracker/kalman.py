"""ByteTrack's constant-velocity Kalman filter, vectorised over all tracks.

The 8-dimensional state space ``(cx, cy, a, h, vcx, vcy, va, vh)`` holds the box centre
``(cx, cy)``, aspect ratio ``a = w / h``, height ``h`` and their velocities. Object motion follows a
constant-velocity model; the box ``(cx, cy, a, h)`` is a direct observation of the state (linear
observation model). Process and measurement noise scale with the box height, with ByteTrack's
weights (1/20 for position, 1/160 for velocity).

Every method works on a batch of N tracks at once (``mean`` (N, 8), ``covariance`` (N, 8, 8)) and
returns new arrays; inputs are never modified. The results equal ByteTrack's per-track formulas
(``yolox/tracker/kalman_filter.py``) up to floating-point rounding.

The filter owns its measurement space: :meth:`KalmanFilter.from_xyxy` and
:meth:`KalmanFilter.to_xyxy` convert boxes to and from it, and :attr:`KalmanFilter.lost_velocity`
names the velocities a lost track drops, so the tracker never assumes the state's layout.
BoT-SORT's filter (state ``(cx, cy, w, h, ...)``, noise proportional to the width for the x / w
entries) was tried for ``botsort`` and not kept: docs/experiments/unseen_scenes.md, section 7.
"""
from __future__ import annotations

import logging
from typing import Tuple

import numpy as np

from finetrack.structures import xyah_to_xyxy, xyxy_to_xyah

try:  # the gufunc behind np.linalg.solve, without its per-call wrapper (same LAPACK call, same bits)
    from numpy.linalg import _umath_linalg

    def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _umath_linalg.solve(a, b, signature="dd->d")
except (ImportError, AttributeError):  # pragma: no cover - other numpy layouts
    _solve = np.linalg.solve

logger = logging.getLogger(__name__)

#: 0.95 quantile of the chi-square distribution with N degrees of freedom (MATLAB/Octave chi2inv),
#: the Mahalanobis gating threshold used by DeepSORT, JDE and FairMOT.
CHI2INV95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067,
             8: 15.507, 9: 16.919}

NDIM = 4  # measurement dimension (cx, cy, a, h)


class KalmanFilter:
    """Constant-velocity Kalman filter for boxes in ``(cx, cy, a, h)`` measurement space.

    Args:
        std_weight_position: Position noise std relative to the box height (ByteTrack: 1/20).
        std_weight_velocity: Velocity noise std relative to the box height (ByteTrack: 1/160).
        std_aspect: Aspect-ratio std of the initial and process covariance (ByteTrack: 1e-2).
        std_aspect_velocity: Aspect-ratio velocity noise std (ByteTrack: 1e-5).
        std_aspect_measurement: Aspect-ratio measurement noise std (ByteTrack: 1e-1).
        init_position_factor: Initial position std = factor * weight_position * h (ByteTrack: 2).
        init_velocity_factor: Initial velocity std = factor * weight_velocity * h (ByteTrack: 10).
        dt: Time step between frames in frames (1).

    Class attributes:
        lost_velocity: state entries set to 0 before a track that is not tracked (lost) is
            predicted (ByteTrack: the height velocity).
    """

    lost_velocity = [7]

    def __init__(
        self,
        std_weight_position: float = 1.0 / 20,
        std_weight_velocity: float = 1.0 / 160,
        std_aspect: float = 1e-2,
        std_aspect_velocity: float = 1e-5,
        std_aspect_measurement: float = 1e-1,
        init_position_factor: float = 2.0,
        init_velocity_factor: float = 10.0,
        dt: float = 1.0,
    ) -> None:
        self.std_weight_position = float(std_weight_position)
        self.std_weight_velocity = float(std_weight_velocity)
        self.std_aspect = float(std_aspect)
        self.std_aspect_velocity = float(std_aspect_velocity)
        self.std_aspect_measurement = float(std_aspect_measurement)
        self.init_position_factor = float(init_position_factor)
        self.init_velocity_factor = float(init_velocity_factor)
        self.motion_mat = np.eye(2 * NDIM)
        self.motion_mat[:NDIM, NDIM:] = dt * np.eye(NDIM)
        self.update_mat = np.eye(NDIM, 2 * NDIM)
        self._motion_mat_t = self.motion_mat.T.copy()
        wp, wv = self.std_weight_position, self.std_weight_velocity
        #: process noise: height-relative stds and squared aspect stds (see _hvar)
        self._q_w = np.array([wp, wp, 0.0, wp, wv, wv, 0.0, wv])
        sa, sav, sam = self.std_aspect, self.std_aspect_velocity, self.std_aspect_measurement
        self._q_c = np.array([0, 0, sa * sa, 0, 0, 0, sav * sav, 0])
        #: measurement noise, the same way
        self._r_w = np.array([wp, wp, 0.0, wp])
        self._r_c = np.array([0, 0, sam * sam, 0])

    # ------------------------------------------------------------------ measurement space
    def from_xyxy(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) boxes ``(x1, y1, x2, y2)`` -> (N, 4) measurements ``(cx, cy, a, h)``."""
        return xyxy_to_xyah(xyxy)

    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        """(N, >= 4) states or measurements -> (N, 4) boxes ``(x1, y1, x2, y2)``."""
        return xyah_to_xyxy(np.asarray(mean)[..., :NDIM])

    # ------------------------------------------------------------------ helpers
    def _hstd(self, h: np.ndarray, w_pos: float, aspect: float) -> np.ndarray:
        """(N,) heights -> (N, 4) stds ``[w*h, w*h, aspect, w*h]``."""
        s = np.empty((len(h), NDIM), dtype=np.float64)
        s[:, 0] = s[:, 1] = s[:, 3] = w_pos * h
        s[:, 2] = aspect
        return s

    @staticmethod
    def _diag(var: np.ndarray) -> np.ndarray:
        """(N, D) variances -> (N, D, D) diagonal matrices."""
        n, d = var.shape
        out = np.zeros((n, d, d), dtype=np.float64)
        idx = np.arange(d)
        out[:, idx, idx] = var
        return out

    @staticmethod
    def _hvar(h: np.ndarray, weights: np.ndarray, const: np.ndarray) -> np.ndarray:
        """(N,) heights -> (N, D) variances ``(weights * h)^2 + const``.

        ``weights`` holds the height-relative stds (0 at the aspect-ratio slots), ``const`` the
        squared aspect-ratio stds (0 elsewhere): the same floating-point values as
        ``np.square(_hstd(...))``, in three numpy calls.
        """
        var = np.multiply.outer(h, weights)
        var *= var
        var += const
        return var

    # ------------------------------------------------------------------ API
    def initiate(self, measurements: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Create tracks from unassociated measurements.

        Args:
            measurements: (N, 4) boxes ``(cx, cy, a, h)``.

        Returns:
            mean (N, 8) with zero velocities and covariance (N, 8, 8) (diagonal).
        """
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        mean = np.concatenate([z, np.zeros_like(z)], axis=1)
        h = z[:, 3]
        std_pos = self._hstd(h, self.init_position_factor * self.std_weight_position,
                             self.std_aspect)
        std_vel = self._hstd(h, self.init_velocity_factor * self.std_weight_velocity,
                             self.std_aspect_velocity)
        return mean, self._diag(np.square(np.concatenate([std_pos, std_vel], axis=1)))

    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Prediction step for N tracks at once (ByteTrack ``multi_predict``).

        Args:
            mean: (N, 8) state means at t-1.
            covariance: (N, 8, 8) state covariances at t-1.

        Returns:
            Predicted mean (N, 8) and covariance (N, 8, 8) at t.
        """
        mean = np.asarray(mean, dtype=np.float64).reshape(-1, 2 * NDIM)
        covariance = np.asarray(covariance, dtype=np.float64).reshape(-1, 2 * NDIM, 2 * NDIM)
        new_mean = mean @ self._motion_mat_t
        new_cov = self.motion_mat @ covariance @ self._motion_mat_t
        # + diag(var) (the off-diagonal zeros add nothing): every 9th entry of the flat 8x8 (a
        # view: matmul's result is C-contiguous)
        new_cov.reshape(-1, 4 * NDIM * NDIM)[:, ::2 * NDIM + 1] += self._hvar(
            mean[:, 3], self._q_w, self._q_c)
        return new_mean, new_cov

    multi_predict = predict

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Project N state distributions to measurement space.

        Args:
            mean: (N, 8) state means.
            covariance: (N, 8, 8) state covariances.

        Returns:
            Projected mean (N, 4) and innovation covariance (N, 4, 4) (measurement noise added).
        """
        mean = np.asarray(mean, dtype=np.float64).reshape(-1, 2 * NDIM)
        covariance = np.asarray(covariance, dtype=np.float64).reshape(-1, 2 * NDIM, 2 * NDIM)
        proj_cov = covariance[:, :NDIM, :NDIM].copy()  # H P H^T: H selects (cx, cy, a, h)
        # + diag(R) on the flat 4x4 (a view: the copy is C-contiguous)
        proj_cov.reshape(-1, NDIM * NDIM)[:, ::NDIM + 1] += self._hvar(mean[:, 3], self._r_w,
                                                                       self._r_c)
        return mean[:, :NDIM].copy(), proj_cov

    def update(
        self, mean: np.ndarray, covariance: np.ndarray, measurements: np.ndarray
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Correction step for N tracks, each with its own measurement.

        Args:
            mean: (N, 8) predicted state means.
            covariance: (N, 8, 8) predicted state covariances.
            measurements: (N, 4) associated boxes ``(cx, cy, a, h)``.

        Returns:
            Corrected mean (N, 8) and covariance (N, 8, 8).
        """
        mean = np.asarray(mean, dtype=np.float64).reshape(-1, 2 * NDIM)
        covariance = np.asarray(covariance, dtype=np.float64).reshape(-1, 2 * NDIM, 2 * NDIM)
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        if len(mean) == 0:
            return mean.copy(), covariance.copy()
        proj_mean, proj_cov = self.project(mean, covariance)
        # K = P H^T S^-1  <=>  K^T = S^-1 (H P) since P and S are symmetric.
        ph_t = covariance[:, :, :NDIM]  # P H^T (N, 8, 4): H selects (cx, cy, a, h)
        gain = _solve(proj_cov, np.swapaxes(ph_t, 1, 2))  # (N, 4, 8) = K^T
        gain = np.swapaxes(gain, 1, 2)  # (N, 8, 4)
        innovation = z - proj_mean  # (N, 4)
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_cov = covariance - gain @ proj_cov @ np.swapaxes(gain, 1, 2)
        return new_mean, new_cov

    def gating_distance(
        self,
        mean: np.ndarray,
        covariance: np.ndarray,
        measurements: np.ndarray,
        only_position: bool = False,
    ) -> np.ndarray:
        """Squared Mahalanobis distance between N state distributions and M measurements.

        Args:
            mean: (N, 8) (or (8,)) state means.
            covariance: (N, 8, 8) (or (8, 8)) state covariances.
            measurements: (M, 4) boxes ``(cx, cy, a, h)``.
            only_position: Use only the centre (2 degrees of freedom) instead of all 4 dims.

        Returns:
            (N, M) squared Mahalanobis distances (``(M,)`` when a single (8,) mean is given);
            compare with ``CHI2INV95[2 if only_position else 4]``.
        """
        single = np.asarray(mean).ndim == 1
        proj_mean, proj_cov = self.project(mean, covariance)
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        if only_position:
            proj_mean, proj_cov, z = proj_mean[:, :2], proj_cov[:, :2, :2], z[:, :2]
        n, m = len(proj_mean), len(z)
        if n == 0 or m == 0:
            out = np.zeros((n, m), dtype=np.float64)
        else:
            chol = np.linalg.cholesky(proj_cov)  # (N, d, d) lower
            d = z[None, :, :] - proj_mean[:, None, :]  # (N, M, d)
            sol = np.linalg.solve(chol, np.swapaxes(d, 1, 2))  # (N, d, M)
            out = np.sum(sol * sol, axis=1)
        return out[0] if single else out

    def warp_affine(
        self, mean: np.ndarray, covariance: np.ndarray, warp: np.ndarray
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Move N states by a global image transform (camera motion compensation).

        BoT-SORT's ``multi_gmc`` for this state layout: the linear part ``R`` of the (2, 3)
        affine ``warp = [R | t]`` rotates/scales the centre ``(cx, cy)`` and its velocity, ``t``
        shifts the centre; the height and its velocity scale by ``s = sqrt(|det R|)`` and the
        aspect ratio is kept (BoT-SORT's ``(w, h)`` state rotates ``(w, h)`` by ``R`` instead,
        the same to first order for a near-similarity). With ``M`` the resulting (8, 8) linear map,
        ``mean' = M mean + [t, 0...]`` and ``cov' = M cov M^T``.

        Args:
            mean: (N, 8) state means in the previous image's pixels.
            covariance: (N, 8, 8) state covariances.
            warp: (2, 3) affine mapping previous-image to current-image pixels.

        Returns:
            Warped mean (N, 8) and covariance (N, 8, 8).
        """
        mean = np.asarray(mean, dtype=np.float64).reshape(-1, 2 * NDIM)
        covariance = np.asarray(covariance, dtype=np.float64).reshape(-1, 2 * NDIM, 2 * NDIM)
        warp = np.asarray(warp, dtype=np.float64).reshape(2, 3)
        rot, t = warp[:, :2], warp[:, 2]
        s = float(np.sqrt(abs(np.linalg.det(rot))))
        m = np.eye(2 * NDIM)
        m[0:2, 0:2] = m[4:6, 4:6] = rot
        m[3, 3] = m[7, 7] = s
        new_mean = mean @ m.T
        new_mean[:, :2] += t
        return new_mean, m @ covariance @ m.T
