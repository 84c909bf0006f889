"""Where synthetic people walk: a ground-plane camera, free walkers and scripted crossings.

People move on a flat ground plane in world coordinates (metres): ``X`` lateral, ``Z`` depth from
the camera. A fixed pinhole camera above the ground (optionally panning sideways) maps a person
standing at (X, Z) to an image box whose feet lie on row ``horizon + f * cam_h / Z`` and whose
height is ``f * person_height / Z``: people higher in the frame are farther and smaller, and the
lower a person's feet, the nearer to the camera (which is the drawing and occlusion order).

Two kinds of trajectories are produced, both as per-frame arrays:

* free walkers: noisy headings (mostly sideways), occasional speed changes and stops, depth
  reflected at the near/far limits; they start inside the view or enter from a side border, and
  leave when they walk out (an identity never comes back after leaving);
* scripted crossings (:class:`CrossingSpec`): two people at nearly the same depth walk towards each
  other, the nearer one hides the farther one, and while they overlap they ``reverse`` (both turn
  back after standing still for ``hold`` frames), ``stop`` (the hidden one waits, then goes on) or
  ``pass`` (constant velocity, the control case). Motion-only association swaps or fragments the
  first two; part-level appearance can tell the two apart.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

logger = logging.getLogger(__name__)

#: Crossing behaviours understood by :func:`crossing_trajectories`.
CROSSING_BEHAVIOURS = ("reverse", "stop", "pass")
#: Reference person height (m); a person's height is this times a factor clipped to HEIGHT_FACTOR.
PERSON_HEIGHT_M = 1.7
HEIGHT_FACTOR = (0.85, 1.15)
#: Box width / height is clipped to this range.
ASPECT_RANGE = (0.3, 0.55)
#: Free walkers' heading (rad, 0 = pure sideways) stays within +-MAX_HEADING.
MAX_HEADING = 1.2
#: Slowest non-stopped walking speed (m/s).
MIN_SPEED = 0.2


@dataclass(frozen=True)
class GroundCamera:
    """Pinhole camera over a flat ground plane, parametrised by what the image shows.

    Args:
        width, height: image size in pixels.
        horizon_frac: image row of the horizon as a fraction of the height.
        near_height_frac: box height (fraction of the image height) of a person of
            ``person_height`` metres standing at the nearest allowed depth ``z_near``.
        far_height_frac: the same at the farthest allowed depth.
        near_foot_frac: image row (fraction of the height) of the feet at ``z_near``.
        person_height: reference person height in metres.
        z_near: nearest allowed depth in metres (sets the world scale).
    """

    width: int
    height: int
    horizon_frac: float = 0.2
    near_height_frac: float = 0.45
    far_height_frac: float = 0.18
    near_foot_frac: float = 0.97
    person_height: float = PERSON_HEIGHT_M
    z_near: float = 4.0

    def __post_init__(self) -> None:
        if not 0 < self.far_height_frac < self.near_height_frac:
            raise ValueError("need 0 < far_height_frac < near_height_frac")
        if not 0 <= self.horizon_frac < self.near_foot_frac <= 1:
            raise ValueError("need 0 <= horizon_frac < near_foot_frac <= 1")

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return self.near_height_frac * self.height * self.z_near / self.person_height

    @property
    def cam_height(self) -> float:
        """Camera height above the ground in metres."""
        return (self.near_foot_frac - self.horizon_frac) * self.height * self.z_near / self.focal

    @property
    def z_far(self) -> float:
        return self.z_near * self.near_height_frac / self.far_height_frac

    def scale(self, z) -> np.ndarray:
        """Pixels per metre at depth ``z`` (array-like)."""
        return self.focal / np.asarray(z, dtype=np.float64)

    def project(self, x, z, height_m, aspect, pan_px=0.0) -> np.ndarray:
        """Boxes of people standing at (x, z).

        Args:
            x, z: (N,) world position in metres. height_m: (N,) person heights in metres.
            aspect: (N,) box width / height. pan_px: camera pan in pixels (scalar or (N,)); the
                image content moves left when the pan grows.

        Returns:
            (N, 4) float64 xyxy boxes in pixels (x2, y2 exclusive).
        """
        s = self.scale(z)
        h = np.asarray(height_m, dtype=np.float64) * s
        w = np.asarray(aspect, dtype=np.float64) * h
        cx = self.width / 2.0 + np.asarray(x, dtype=np.float64) * s - pan_px
        foot = self.horizon_frac * self.height + self.cam_height * s
        return np.stack([cx - w / 2, foot - h, cx + w / 2, foot], axis=-1)

    def world_x(self, x_img, z, pan_px=0.0) -> np.ndarray:
        """World X (metres) whose box centre is at image column ``x_img`` at depth ``z``."""
        return (np.asarray(x_img, dtype=np.float64) - self.width / 2.0 + pan_px) / self.scale(z)


def inside_fraction(boxes_xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fraction of each box's area inside the image.

    Args:
        boxes_xyxy: (N, 4) float boxes.

    Returns:
        (N,) float64 in [0, 1] (0 for empty boxes).
    """
    b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(b[:, 2], width) - np.maximum(b[:, 0], 0), 0, None)
    ih = np.clip(np.minimum(b[:, 3], height) - np.maximum(b[:, 1], 0), 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.where(area > 0, iw * ih / np.maximum(area, 1e-12), 0.0)


@dataclass
class Track:
    """A person's world trajectory over the whole sequence (NaN where not spawned / gone).

    Attributes:
        x, z: (T,) float64 world position in metres; NaN before spawning and after leaving.
        height_m: person height in metres. aspect: box width / height.
        role: ``"walker"`` or ``"crossing"``. crossing: index of the crossing event, or -1.
        phase: (T,) walking phase in radians (legs swing).
        present: (T,) bool, frames with a ground-truth row (filled by :func:`presence`).
    """

    x: np.ndarray
    z: np.ndarray
    height_m: float
    aspect: float
    role: str = "walker"
    crossing: int = -1
    phase: np.ndarray = field(default_factory=lambda: np.zeros(0))
    present: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass(frozen=True)
class WalkParams:
    """Free-walker behaviour.

    Attributes:
        speed_mean, speed_std: walking speed in m/s.
        heading_std: std (rad) of the initial heading around the pure sideways direction.
        turn_std: heading random walk in rad per sqrt(second).
        speed_change_rate: expected speed changes per second (a change may be a stop).
        stop_prob: probability that a speed change is a stop.
        entry_margin_s: an entering walker that has not come into view after this many seconds is
            dropped (it never gets a ground-truth row).
        stride_m: metres per walking cycle (phase advances 2*pi per stride).
    """

    speed_mean: float = 1.3
    speed_std: float = 0.25
    heading_std: float = 0.3
    turn_std: float = 0.25
    speed_change_rate: float = 0.15
    stop_prob: float = 0.25
    entry_margin_s: float = 4.0
    stride_m: float = 1.4


def person_shape(rng: np.random.Generator, height_jitter: float, aspect: float,
                 aspect_jitter: float) -> Tuple[float, float]:
    """(height in metres, box aspect) of a new person."""
    factor = float(np.clip(1.0 + height_jitter * rng.standard_normal(), *HEIGHT_FACTOR))
    h = PERSON_HEIGHT_M * factor
    a = float(np.clip(aspect + aspect_jitter * rng.standard_normal(), *ASPECT_RANGE))
    return h, a


def presence(track: Track, cam: GroundCamera, pan: np.ndarray, min_inside: float) -> np.ndarray:
    """Frames in which a track has a ground-truth row.

    A person is present from the first frame where at least ``min_inside`` of its box is inside
    the image until the frame before it next drops below that: one contiguous run, so an identity
    that walks out never comes back.

    Returns:
        (T,) bool.
    """
    ok = np.isfinite(track.x) & np.isfinite(track.z)
    frac = np.zeros(len(track.x))
    if ok.any():
        boxes = cam.project(track.x[ok], track.z[ok], track.height_m, track.aspect, pan[ok])
        frac[ok] = inside_fraction(boxes, cam.width, cam.height)
    inside = frac >= min_inside
    out = np.zeros(len(track.x), dtype=bool)
    idx = np.flatnonzero(inside)
    if len(idx):
        start = idx[0]
        gaps = np.flatnonzero(~inside[start:])
        stop = start + gaps[0] if len(gaps) else len(inside)
        out[start:stop] = True
    return out


def _phase_from_path(x: np.ndarray, z: np.ndarray, stride_m: float) -> np.ndarray:
    step = np.hypot(np.diff(x, prepend=x[:1]), np.diff(z, prepend=z[:1]))
    step = np.where(np.isfinite(step), step, 0.0)
    return np.cumsum(step) * (2 * math.pi / stride_m)


def simulate_walkers(
    rng: np.random.Generator,
    cam: GroundCamera,
    pan: np.ndarray,
    fps: float,
    num_people: int,
    entry_rate: float,
    min_inside: float,
    walk: WalkParams = WalkParams(),
    height_jitter: float = 0.05,
    aspect: float = 0.4,
    aspect_jitter: float = 0.03,
) -> List[Track]:
    """Free walkers: ``num_people`` in view at frame 1, replacements entering from the sides.

    Args:
        rng: consumed.
        cam: the camera. pan: (T,) camera pan in pixels per frame index.
        fps: frame rate (sets the per-frame step).
        num_people: walkers in view at the start; while fewer are in view, a new one enters
            with probability ``entry_rate / fps`` per frame.
        entry_rate: entries per second while below ``num_people``.
        min_inside: see :func:`presence`.

    Returns:
        Tracks in spawn order, each with ``present`` filled (tracks never present are dropped).
    """
    T = len(pan)
    dt = 1.0 / fps
    zr = (cam.z_near, cam.z_far)
    tracks: List[Track] = []
    state: List[dict] = []  # mutable per-walker simulation state, parallel to `tracks`

    def spawn(t: int, entering: bool) -> None:
        hm, asp = person_shape(rng, height_jitter, aspect, aspect_jitter)
        z = float(rng.uniform(*zr))
        s = float(cam.scale(z))
        half_w = asp * hm * s / 2
        if entering:
            side = -1.0 if rng.random() < 0.5 else 1.0  # -1: enter from the left border
            x_img = cam.width / 2 + side * (cam.width / 2 + half_w + 1.0)
            direction = -side
        else:
            x_img = float(rng.uniform(half_w, cam.width - half_w))
            direction = -1.0 if rng.random() < 0.5 else 1.0
        x = float(cam.world_x(x_img, z, pan[t]))
        tr = Track(x=np.full(T, np.nan), z=np.full(T, np.nan), height_m=hm, aspect=asp)
        tr.x[t], tr.z[t] = x, z
        theta = float(rng.normal(0.0, walk.heading_std))
        speed = max(MIN_SPEED, float(rng.normal(walk.speed_mean, walk.speed_std)))
        tracks.append(tr)
        state.append(dict(dir=direction, theta=theta, speed=speed, seen=False, born=t, alive=True))

    for _ in range(num_people):
        spawn(0, entering=False)
    for t in range(T):
        if t > 0:  # move everyone alive from t-1 to t
            for tr, st in zip(tracks, state):
                if not st["alive"] or st["born"] >= t:
                    continue
                st["theta"] += walk.turn_std * math.sqrt(dt) * float(rng.standard_normal())
                st["theta"] = float(np.clip(st["theta"], -MAX_HEADING, MAX_HEADING))
                if rng.random() < walk.speed_change_rate * dt:
                    stop = rng.random() < walk.stop_prob
                    if stop:
                        st["speed"] = 0.0
                    else:
                        st["speed"] = max(MIN_SPEED, float(rng.normal(walk.speed_mean,
                                                                      walk.speed_std)))
                vx = st["dir"] * st["speed"] * math.cos(st["theta"])
                vz = st["speed"] * math.sin(st["theta"])
                x, z = tr.x[t - 1] + vx * dt, tr.z[t - 1] + vz * dt
                if not zr[0] <= z <= zr[1]:  # reflect at the depth limits
                    z = float(np.clip(2 * np.clip(z, *zr) - z, *zr))
                    st["theta"] = -st["theta"]
                tr.x[t], tr.z[t] = x, z
        # who is in view now; who left
        in_view = 0
        for tr, st in zip(tracks, state):
            if not st["alive"] or st["born"] > t:
                continue
            box = cam.project(tr.x[t:t + 1], tr.z[t:t + 1], tr.height_m, tr.aspect, pan[t])
            inside = inside_fraction(box, cam.width, cam.height)[0] >= min_inside
            if inside:
                st["seen"] = True
                in_view += 1
            elif st["seen"] or (t - st["born"]) * dt > walk.entry_margin_s:
                st["alive"] = False
                tr.x[t], tr.z[t] = np.nan, np.nan
            else:
                in_view += 1  # still entering: counts towards the population
        if t + 1 < T and in_view < num_people and rng.random() < entry_rate * dt:
            spawn(t + 1, entering=True)
    out = []
    for tr in tracks:
        tr.present = presence(tr, cam, pan, min_inside)
        if tr.present.any():
            tr.phase = _phase_from_path(tr.x, tr.z, walk.stride_m)
            out.append(tr)
    return out


@dataclass(frozen=True)
class CrossingSpec:
    """One scripted two-person crossing.

    Attributes:
        meet_frame: 1-based frame at which the two box centres coincide.
        x_meet_frac: image column of the meeting point as a fraction of the width.
        depth_frac: depth of the nearer person, 0 = nearest allowed, 1 = farthest allowed.
        depth_gap: how much farther (metres) the hidden person walks.
        speed_near, speed_far: walking speeds in m/s.
        near_from_left: the nearer person comes from the left (the farther one from the right).
        behaviour: one of :data:`CROSSING_BEHAVIOURS`.
        hold_frames: frames the pair stands overlapped (``reverse``) or the hidden one waits
            (``stop``) at the meeting point.
        same_group: both wear the same clothing group (they differ in exactly one part).
    """

    meet_frame: int
    x_meet_frac: float = 0.5
    depth_frac: float = 0.3
    depth_gap: float = 0.35
    speed_near: float = 1.3
    speed_far: float = 1.3
    near_from_left: bool = True
    behaviour: str = "reverse"
    hold_frames: int = 4
    same_group: bool = True

    def __post_init__(self) -> None:
        if self.behaviour not in CROSSING_BEHAVIOURS:
            raise ValueError(f"behaviour {self.behaviour!r} not in {CROSSING_BEHAVIOURS}")


def crossing_trajectories(
    spec: CrossingSpec, cam: GroundCamera, pan: np.ndarray, fps: float, rng: np.random.Generator,
    height_jitter: float = 0.05, aspect: float = 0.4, aspect_jitter: float = 0.03,
    min_inside: float = 0.3, stride_m: float = 1.4,
) -> Tuple[Track, Track]:
    """World trajectories (near person, far person) of one scripted crossing.

    Both walk in straight lines at constant depth; positions are defined for every frame (also
    outside the view) and :func:`presence` decides which frames get ground-truth rows.
    """
    T = len(pan)
    t = np.arange(T, dtype=np.float64)
    tm = spec.meet_frame - 1
    z_near = cam.z_near + spec.depth_frac * (cam.z_far - cam.z_near - spec.depth_gap)
    z_far = z_near + spec.depth_gap
    x_m = float(cam.world_x(spec.x_meet_frac * cam.width, z_near, pan[min(max(tm, 0), T - 1)]))
    d_near = 1.0 if spec.near_from_left else -1.0
    tracks = []
    for who, (direction, v, z) in enumerate(((d_near, spec.speed_near, z_near),
                                             (-d_near, spec.speed_far, z_far))):
        before = x_m - direction * v * (tm - t) / fps
        h = spec.hold_frames
        if spec.behaviour == "pass":
            x = x_m + direction * v * (t - tm) / fps
        elif spec.behaviour == "reverse":
            after = x_m - direction * v * np.clip(t - tm - h, 0, None) / fps
            x = np.where(t <= tm, before, after)
        else:  # stop: the hidden (far) person waits behind the near one, then goes on
            wait = h if who == 1 else 0
            after = x_m + direction * v * np.clip(t - tm - wait, 0, None) / fps
            x = np.where(t <= tm, before, after)
        hm, asp = person_shape(rng, height_jitter, aspect, aspect_jitter)
        tr = Track(x=x.astype(np.float64), z=np.full(T, z), height_m=hm, aspect=asp,
                   role="crossing")
        tr.present = presence(tr, cam, pan, min_inside)
        tr.phase = _phase_from_path(tr.x, tr.z, stride_m)
        tracks.append(tr)
    return tracks[0], tracks[1]
