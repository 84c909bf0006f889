"""Camera motion compensation (CMC): the global image motion between two consecutive frames.

Each estimator maps two BGR (or grey) frames to a (2, 3) affine ``H`` in *original-image pixels*
that carries a point of the previous frame to the current one (``p_cur = H[:, :2] @ p_prev +
H[:, 2]``), which :meth:`finetrack.tracker.Tracker.apply_camera_motion` applies to every track.
Frames are converted to grey and downscaled first; detected boxes (people move on their own) and a
2% border are masked out. Methods (BoT-SORT ``tracker/gmc.py``, boxmot ``motion/cmc``):

* ``sof``: sparse optical flow, BoT-SORT's default: ``goodFeaturesToTrack`` corners on the
  previous frame, pyramidal Lucas-Kanade to the current one, RANSAC
  ``estimateAffinePartial2D`` (rotation + uniform scale + translation).
* ``ecc``: ``findTransformECC`` with a euclidean model (rotation + translation), coarse to fine
  over an image pyramid (ECC alone converges only for shifts of a few pixels).
* ``orb``: ORB keypoints and descriptors on both frames, brute-force Hamming matching with Lowe's
  ratio test and a spatial gate, RANSAC ``estimateAffinePartial2D``.

An estimate that fails (too few points, ECC not converging) is the identity, as in BoT-SORT.
"""
from __future__ import annotations

import logging
from typing import Dict, Optional, Tuple, Type

import cv2
import numpy as np

logger = logging.getLogger(__name__)

CMC_METHODS = ("sof", "ecc", "orb")
#: fraction of the image width/height masked at each border (BoT-SORT: 2%)
BORDER_FRAC = 0.02


def identity_warp() -> np.ndarray:
    """(2, 3) float64 identity affine."""
    return np.eye(2, 3, dtype=np.float64)


def compose_scale(
    warp_small: np.ndarray, size: Tuple[int, int], small: Tuple[int, int]
) -> np.ndarray:
    """An affine estimated on images resized by ``cv2.resize`` back in original pixels.

    ``cv2.resize`` maps an original pixel ``x`` to ``x_s = a * x + b`` with ``a = w_s / w`` and
    ``b = (a - 1) / 2`` (pixel centres); the original-image warp is ``S^-1 H_s S``.

    Args:
        warp_small: (2, 3) affine between the small images.
        size: original ``(w, h)``. small: resized ``(w_s, h_s)``.

    Returns:
        (2, 3) float64 affine between the original images.
    """
    a = np.array([small[0] / size[0], small[1] / size[1]], dtype=np.float64)
    s = np.eye(3)
    s[0, 0], s[1, 1] = a
    s[:2, 2] = (a - 1.0) / 2.0
    h = np.eye(3)
    h[:2] = np.asarray(warp_small, dtype=np.float64).reshape(2, 3)
    return (np.linalg.inv(s) @ h @ s)[:2]


class CameraMotionEstimator:
    """Base class: grey + downscale + mask, then :meth:`_estimate` on the small images.

    Args:
        downscale: images are resized by ``1 / downscale`` before estimation (BoT-SORT: 2).
        mask_boxes: exclude detected boxes from the features (and from ECC's mask).
    """

    name = "base"

    def __init__(self, downscale: float = 2.0, mask_boxes: bool = True) -> None:
        if downscale < 1:
            raise ValueError(f"downscale must be >= 1, got {downscale}")
        self.downscale = float(downscale)
        self.mask_boxes = bool(mask_boxes)
        self.params: Dict[str, object] = dict(downscale=self.downscale, mask_boxes=self.mask_boxes)

    @property
    def signature(self) -> str:
        """``name key=value ...`` of every setting that changes the estimates (cache key)."""
        return " ".join([self.name] + [f"{k}={v}" for k, v in sorted(self.params.items())])

    # ------------------------------------------------------------------ preprocessing
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) BGR or (H, W) grey uint8 frame -> (h, w) grey uint8 small frame."""
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if self.downscale > 1:
            h, w = grey.shape[:2]
            small = (max(int(round(w / self.downscale)), 8), max(int(round(h / self.downscale)), 8))
            grey = cv2.resize(grey, small, interpolation=cv2.INTER_AREA)
        return grey

    def mask(self, small_shape: Tuple[int, int], size: Tuple[int, int],
             boxes_xyxy: Optional[np.ndarray]) -> np.ndarray:
        """(h, w) uint8 mask of the small image: 255 = usable, 0 = border or detected box.

        Args:
            small_shape: (h, w) of the small image. size: original (w, h).
            boxes_xyxy: (N, 4) boxes in original pixels, or None.
        """
        h, w = small_shape
        m = np.zeros((h, w), dtype=np.uint8)
        by, bx = int(round(BORDER_FRAC * h)), int(round(BORDER_FRAC * w))
        m[by:h - by, bx:w - bx] = 255
        if self.mask_boxes and boxes_xyxy is not None and len(boxes_xyxy):
            b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
            sx, sy = w / size[0], h / size[1]
            x1 = np.clip(np.floor(b[:, 0] * sx), 0, w).astype(int)
            y1 = np.clip(np.floor(b[:, 1] * sy), 0, h).astype(int)
            x2 = np.clip(np.ceil(b[:, 2] * sx), 0, w).astype(int)
            y2 = np.clip(np.ceil(b[:, 3] * sy), 0, h).astype(int)
            for a, c, d, e in zip(x1, y1, x2, y2):
                m[c:e, a:d] = 0
        return m

    # ------------------------------------------------------------------ API
    def estimate(
        self,
        prev_image: np.ndarray,
        image: np.ndarray,
        prev_boxes_xyxy: Optional[np.ndarray] = None,
        boxes_xyxy: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """Global motion from ``prev_image`` to ``image``.

        Args:
            prev_image, image: (H, W, 3) BGR or (H, W) grey uint8 frames of the same size.
            prev_boxes_xyxy, boxes_xyxy: (N, 4) detections of each frame (original pixels),
                masked out; None = no box mask.

        Returns:
            (2, 3) float64 affine, previous -> current original-image pixels (identity if the
            estimate fails).
        """
        if prev_image.shape[:2] != image.shape[:2]:
            raise ValueError(f"frame sizes differ: {prev_image.shape[:2]} vs {image.shape[:2]}")
        return self.estimate_prepared(self.prepare(prev_image), self.prepare(image),
                                      (image.shape[1], image.shape[0]), prev_boxes_xyxy,
                                      boxes_xyxy)

    def estimate_prepared(
        self,
        prev_small: np.ndarray,
        small: np.ndarray,
        size: Tuple[int, int],
        prev_boxes_xyxy: Optional[np.ndarray] = None,
        boxes_xyxy: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """As :meth:`estimate` on frames already through :meth:`prepare` (original ``size``
        ``(w, h)``), so that a sequence prepares each frame once."""
        shape = small.shape[:2]
        prev_mask = self.mask(shape, size, prev_boxes_xyxy)
        cur_mask = self.mask(shape, size, boxes_xyxy)
        warp_small = self._estimate(prev_small, small, prev_mask, cur_mask)
        if warp_small is None or not np.all(np.isfinite(warp_small)):
            logger.debug("%s: no camera motion estimate, using the identity", self.name)
            return identity_warp()
        return compose_scale(warp_small, size, (shape[1], shape[0]))

    def _estimate(self, prev: np.ndarray, cur: np.ndarray, prev_mask: np.ndarray,
                  cur_mask: np.ndarray) -> Optional[np.ndarray]:
        raise NotImplementedError


class SparseOptFlow(CameraMotionEstimator):
    """``sof``: corners + pyramidal Lucas-Kanade + RANSAC partial affine (BoT-SORT's default).

    Args:
        max_corners, quality_level, min_distance, block_size: ``goodFeaturesToTrack``
            (BoT-SORT: 1000, 0.01, 1, 3).
        ransac_thresh: RANSAC reprojection threshold in small-image pixels (OpenCV: 3).
        min_points: fewer tracked points than this give the identity (BoT-SORT: 5).
    """

    name = "sof"

    def __init__(self, downscale: float = 2.0, mask_boxes: bool = True, max_corners: int = 1000,
                 quality_level: float = 0.01, min_distance: float = 1.0, block_size: int = 3,
                 ransac_thresh: float = 3.0, min_points: int = 5) -> None:
        super().__init__(downscale, mask_boxes)
        self.feature_params = dict(maxCorners=int(max_corners), qualityLevel=float(quality_level),
                                   minDistance=float(min_distance), blockSize=int(block_size),
                                   useHarrisDetector=False, k=0.04)
        self.ransac_thresh = float(ransac_thresh)
        self.min_points = int(min_points)
        self.params.update(self.feature_params, ransac_thresh=self.ransac_thresh,
                           min_points=self.min_points)

    def _estimate(self, prev, cur, prev_mask, cur_mask):
        pts = cv2.goodFeaturesToTrack(prev, mask=prev_mask, **self.feature_params)
        if pts is None or len(pts) < self.min_points:
            return None
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None)
        ok = status.reshape(-1).astype(bool)
        if ok.sum() < self.min_points:
            return None
        warp, _ = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC,
                                              ransacReprojThreshold=self.ransac_thresh)
        return warp


class ECC(CameraMotionEstimator):
    """``ecc``: ``findTransformECC`` (euclidean), coarse to fine over ``levels`` pyramid levels.

    Args:
        max_iter, eps: ECC termination per level (boxmot: 100, 1e-5).
        levels: pyramid levels (each halves the size; the coarsest is solved first).
        gauss_size: ECC's Gaussian pre-filter size (BoT-SORT: 1).
    """

    name = "ecc"

    def __init__(self, downscale: float = 2.0, mask_boxes: bool = True, max_iter: int = 100,
                 eps: float = 1e-5, levels: int = 3, gauss_size: int = 1) -> None:
        super().__init__(downscale, mask_boxes)
        self.criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, int(max_iter), float(eps))
        self.levels = max(int(levels), 1)
        self.gauss_size = int(gauss_size)
        self.params.update(max_iter=int(max_iter), eps=float(eps), levels=self.levels,
                           gauss_size=self.gauss_size)

    def _estimate(self, prev, cur, prev_mask, cur_mask):
        pyr = [(prev, cur, cur_mask)]
        for _ in range(self.levels - 1):
            p, c, m = pyr[-1]
            if min(p.shape[:2]) < 64:
                break
            half = ((c.shape[1] + 1) // 2, (c.shape[0] + 1) // 2)  # pyrDown's output size
            pyr.append((cv2.pyrDown(p), cv2.pyrDown(c),
                        cv2.resize(m, half, interpolation=cv2.INTER_NEAREST)))
        warp = np.eye(2, 3, dtype=np.float32)
        for level in range(len(pyr) - 1, -1, -1):
            p, c, m = pyr[level]
            try:
                _, warp = cv2.findTransformECC(p, c, warp, cv2.MOTION_EUCLIDEAN, self.criteria,
                                               m, self.gauss_size)
            except cv2.error:
                return None
            if level:  # to the next finer level (pyrDown keeps even pixels: x_coarse = x_fine / 2)
                warp = warp.copy()
                warp[:, 2] *= 2.0
        return warp.astype(np.float64)


class ORB(CameraMotionEstimator):
    """``orb``: ORB features, ratio-tested Hamming matches, RANSAC partial affine.

    Args:
        n_features: ORB keypoints per frame.
        fast_threshold: FAST corner threshold (grey levels; OpenCV/BoT-SORT: 20, which finds
            no corner on low-contrast ground; the ``n_features`` strongest are kept anyway).
        ratio: Lowe's ratio test on the two nearest descriptors (BoT-SORT: 0.9).
        max_shift_frac: matches moving more than this fraction of the image size are dropped
            (BoT-SORT: 0.25).
        max_octave, min_fine_points: when at least ``min_fine_points`` matches have both
            keypoints on pyramid octave <= ``max_octave``, only those are fitted (the coarser
            octaves locate keypoints to ~1.2^octave px).
        ransac_thresh, min_points: as :class:`SparseOptFlow`.
    """

    name = "orb"

    def __init__(self, downscale: float = 2.0, mask_boxes: bool = True, n_features: int = 1000,
                 fast_threshold: int = 5, ratio: float = 0.9, max_shift_frac: float = 0.25,
                 max_octave: int = 1, min_fine_points: int = 20, ransac_thresh: float = 3.0,
                 min_points: int = 5) -> None:
        super().__init__(downscale, mask_boxes)
        self.orb = cv2.ORB_create(nfeatures=int(n_features), fastThreshold=int(fast_threshold))
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self.ratio = float(ratio)
        self.max_shift_frac = float(max_shift_frac)
        self.ransac_thresh = float(ransac_thresh)
        self.min_points = int(min_points)
        self.max_octave = int(max_octave)
        self.min_fine_points = int(min_fine_points)
        self.params.update(n_features=int(n_features), fast_threshold=int(fast_threshold),
                           ratio=self.ratio, max_shift_frac=self.max_shift_frac,
                           max_octave=self.max_octave, min_fine_points=self.min_fine_points,
                           ransac_thresh=self.ransac_thresh, min_points=self.min_points)

    def _estimate(self, prev, cur, prev_mask, cur_mask):
        kp0, des0 = self.orb.detectAndCompute(prev, prev_mask)
        kp1, des1 = self.orb.detectAndCompute(cur, cur_mask)
        if des0 is None or des1 is None or len(kp0) < self.min_points or len(kp1) < 2:
            return None
        max_shift = self.max_shift_frac * np.array([prev.shape[1], prev.shape[0]])
        src, dst, octave = [], [], []
        for pair in self.matcher.knnMatch(des0, des1, k=2):
            if len(pair) < 2 or pair[0].distance >= self.ratio * pair[1].distance:
                continue
            a = np.array(kp0[pair[0].queryIdx].pt)
            b = np.array(kp1[pair[0].trainIdx].pt)
            if np.all(np.abs(b - a) < max_shift):
                src.append(a)
                dst.append(b)
                octave.append(max(kp0[pair[0].queryIdx].octave, kp1[pair[0].trainIdx].octave))
        if len(src) < self.min_points:
            return None
        src, dst, octave = np.float32(src), np.float32(dst), np.array(octave)
        # keypoints of coarse pyramid levels are located to ~1.2^octave px: keep the fine ones
        fine = octave <= self.max_octave
        if fine.sum() >= self.min_fine_points:
            src, dst = src[fine], dst[fine]
        warp, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                              ransacReprojThreshold=self.ransac_thresh)
        return warp


ESTIMATORS: Dict[str, Type[CameraMotionEstimator]] = {"sof": SparseOptFlow, "ecc": ECC,
                                                      "orb": ORB}


def build_cmc(method: str, downscale: float = 2.0, **kwargs) -> CameraMotionEstimator:
    """An estimator by name (``sof`` | ``ecc`` | ``orb``); unknown names list the valid ones."""
    if method not in ESTIMATORS:
        raise ValueError(f"unknown CMC method {method!r}; valid: {', '.join(CMC_METHODS)}")
    return ESTIMATORS[method](downscale=downscale, **kwargs)
