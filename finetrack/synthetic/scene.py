"""A synthetic sequence before rendering: identities, trajectories, boxes, gt and detections."""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from finetrack.synthetic.appearance import Appearance, sample_appearances
from finetrack.synthetic.config import SyntheticConfig
from finetrack.synthetic.detections import DetectorNoise, detect_frame, visibility_far_to_near
from finetrack.synthetic.motion import (
    CrossingSpec,
    GroundCamera,
    Track,
    WalkParams,
    crossing_trajectories,
    simulate_walkers,
)

logger = logging.getLogger(__name__)


@dataclass
class Person:
    """One identity of a scene.

    Attributes:
        track_id: the gt id (1..N, ordered by first frame).
        track: world trajectory and presence (``motion.Track``).
        appearance: clothes.
        boxes: (T, 4) int64 xyxy boxes per frame index (meaningful where ``track.present``).
    """

    track_id: int
    track: Track
    appearance: Appearance
    boxes: np.ndarray


@dataclass
class Scene:
    """A simulated sequence before rendering.

    Attributes:
        name, width, height, fps, frames: sequence facts.
        cam: the camera. pan: (T,) camera pan in pixels per frame index.
        people: identities ordered by id.
        crossings: one dict per scripted crossing (spec fields + ``near_id``, ``far_id``).
        render_seed, det_seed: SeedSequences of the image and detector streams.
    """

    name: str
    width: int
    height: int
    fps: float
    frames: int
    cam: GroundCamera
    pan: np.ndarray
    people: List[Person]
    crossings: List[dict]
    render_seed: np.random.SeedSequence
    det_seed: np.random.SeedSequence
    has_pan: bool = False

    def frame_boxes(self, frame: int) -> Tuple[np.ndarray, np.ndarray, List[Person]]:
        """People present in a 1-based frame, in far-to-near drawing order.

        Returns:
            ids (n,) int64, boxes (n, 4) int64 xyxy (x2/y2 exclusive), the Person objects.
        """
        t = frame - 1
        here = [p for p in self.people if p.track.present[t]]
        here.sort(key=lambda p: (int(p.boxes[t, 3]), p.track_id))
        ids = np.asarray([p.track_id for p in here], dtype=np.int64)
        boxes = np.asarray([p.boxes[t] for p in here], dtype=np.int64).reshape(-1, 4)
        return ids, boxes, here


class _AppearancePool:
    """Hands out distinct identities group by group (free walkers) or in pairs (crossings)."""

    def __init__(self, rng: np.random.Generator, group_size: int):
        self.rng = rng
        self.group_size = group_size
        self.pool: List[Appearance] = []
        self.seen: set = set()
        self.next_group = 0

    def _new_group(self, size: int) -> List[Appearance]:
        apps = sample_appearances(self.rng, size, size, self.next_group, exclude=self.seen)
        self.next_group += 1
        self.seen.update(a.parts() for a in apps)
        return apps

    def take(self) -> Appearance:
        if not self.pool:
            self.pool = self._new_group(self.group_size)
        return self.pool.pop(0)

    def take_pair(self, same_group: bool) -> Tuple[Appearance, Appearance]:
        if same_group:
            apps = self._new_group(max(2, self.group_size))
            self.pool.extend(apps[2:])  # the rest of the group walks around freely
            return apps[0], apps[1]
        a = self._new_group(self.group_size)
        b = self._new_group(self.group_size)
        self.pool.extend(a[1:] + b[1:])
        return a[0], b[0]


#: Random crossings: meeting frames spread evenly over this part of the sequence (fractions).
CROSSING_WINDOW = (0.2, 0.8)
#: ... meeting column (fraction of the width), depth of the nearer person (0 near .. 1 far),
#: depth gap in metres and speed factor (times ``cfg.speed``) are drawn uniformly from these.
CROSSING_X_RANGE = (0.3, 0.7)
CROSSING_DEPTH_RANGE = (0.0, 0.6)
CROSSING_GAP_RANGE = (0.2, 0.5)
CROSSING_SPEED_RANGE = (0.8, 1.2)
#: Free walkers' speed std as a fraction of the mean speed.
SPEED_STD_FRAC = 0.2


def _random_crossings(rng: np.random.Generator, cfg: SyntheticConfig) -> List[CrossingSpec]:
    """``crossing_rate * frames / 100`` crossings (stochastic rounding), behaviours in turn."""
    expected = cfg.crossing_rate * cfg.frames / 100.0
    n = int(math.floor(expected + rng.random()))
    specs = []
    lo, hi = (f * cfg.frames for f in CROSSING_WINDOW)
    hold = max(1, int(round(cfg.crossing_hold_s * cfg.fps)))
    behaviours = cfg.crossing_behaviours
    first = int(rng.integers(len(behaviours))) if behaviours else 0
    for k in range(n):
        meet = int(round(lo + (hi - lo) * (k + rng.random()) / n)) + 1
        specs.append(CrossingSpec(
            meet_frame=min(max(meet, 1), cfg.frames),
            x_meet_frac=float(rng.uniform(*CROSSING_X_RANGE)),
            depth_frac=float(rng.uniform(*CROSSING_DEPTH_RANGE)),
            depth_gap=float(rng.uniform(*CROSSING_GAP_RANGE)),
            speed_near=float(rng.uniform(*CROSSING_SPEED_RANGE) * cfg.speed),
            speed_far=float(rng.uniform(*CROSSING_SPEED_RANGE) * cfg.speed),
            near_from_left=bool(rng.random() < 0.5),
            behaviour=str(behaviours[(first + k) % len(behaviours)]),
            hold_frames=hold,
            same_group=bool(rng.random() < cfg.crossing_same_group),
        ))
    return specs


def simulate_scene(
    cfg: SyntheticConfig, index: int, crossings: Optional[Sequence[CrossingSpec]] = None
) -> Scene:
    """Simulate sequence ``index`` of a config (trajectories, identities, boxes; no pixels).

    Args:
        cfg: the data set config.
        index: sequence index (0-based); with ``cfg.seed`` it seeds every random stream.
        crossings: scripted crossings to use instead of random ones (``crossing_rate`` ignored).
    """
    ss = np.random.SeedSequence([cfg.seed, index])
    s_motion, s_app, s_render, s_det = ss.spawn(4)
    rng = np.random.default_rng(s_motion)
    cam = cfg.camera()
    T = cfg.frames
    f = cfg.pan_fraction
    has_pan = math.floor((index + 1) * f) > math.floor(index * f) and cfg.pan_speed > 0
    pan = np.zeros(T)
    if has_pan:
        period = cfg.pan_period_s * cfg.fps
        amp = cfg.pan_speed * cfg.width * cfg.pan_period_s / (2 * math.pi)
        sign = -1.0 if rng.random() < 0.5 else 1.0
        pan = sign * amp * np.sin(2 * math.pi * np.arange(T) / period)
    specs = list(crossings) if crossings is not None else _random_crossings(rng, cfg)
    walk = WalkParams(speed_mean=cfg.speed, speed_std=SPEED_STD_FRAC * cfg.speed)
    walkers = simulate_walkers(rng, cam, pan, cfg.fps, cfg.people, cfg.entry_rate,
                               cfg.min_inside, walk)
    pool = _AppearancePool(np.random.default_rng(s_app), cfg.group_size)
    tracks: List[Tuple[Track, Appearance]] = []
    pairs = []
    for k, spec in enumerate(specs):
        near, far = crossing_trajectories(spec, cam, pan, cfg.fps, rng, min_inside=cfg.min_inside,
                                          stride_m=walk.stride_m)
        a_near, a_far = pool.take_pair(spec.same_group)
        near.crossing = far.crossing = k
        pairs.append((near, far))
        tracks += [(near, a_near), (far, a_far)]
    for tr in walkers:
        tracks.append((tr, pool.take()))
    tracks = [(tr, app) for tr, app in tracks if tr.present.any()]
    order = sorted(range(len(tracks)), key=lambda i: (int(np.argmax(tracks[i][0].present)), i))
    people = []
    for new_id, i in enumerate(order, start=1):
        tr, app = tracks[i]
        xs = np.where(np.isfinite(tr.x), tr.x, 0.0)
        zs = np.where(np.isfinite(tr.z), tr.z, cam.z_near)
        boxes = np.rint(cam.project(xs, zs, tr.height_m, tr.aspect, pan)).astype(np.int64)
        people.append(Person(new_id, tr, app, boxes))
    id_of = {id(p.track): p.track_id for p in people}
    cross_info = []
    for spec, (near, far) in zip(specs, pairs):
        d = asdict(spec)
        d["near_id"] = id_of.get(id(near), -1)
        d["far_id"] = id_of.get(id(far), -1)
        cross_info.append(d)
    return Scene(cfg.seq_name(index), cfg.width, cfg.height, cfg.fps, T, cam, pan, people,
                 cross_info, s_render, s_det, has_pan)


# --------------------------------------------------------------------------------------------
# ground truth and detections
# --------------------------------------------------------------------------------------------
@dataclass
class GroundTruth:
    """gt rows of a scene: frames (N,) 1-based, ids (N,), xyxy (N, 4) int64, visibility (N,)."""

    frames: np.ndarray
    ids: np.ndarray
    xyxy: np.ndarray
    visibility: np.ndarray


def scene_ground_truth(scene: Scene) -> GroundTruth:
    """Boxes and visibilities of every present person on every frame (frame-major, id order)."""
    fr, ids, boxes, vis = [], [], [], []
    for f in range(1, scene.frames + 1):
        i, b, _ = scene.frame_boxes(f)
        v = visibility_far_to_near(b, scene.width, scene.height)
        o = np.argsort(i, kind="stable")
        fr.append(np.full(len(i), f, dtype=np.int64))
        ids.append(i[o])
        boxes.append(b[o])
        vis.append(v[o])
    return GroundTruth(np.concatenate(fr), np.concatenate(ids),
                       np.concatenate(boxes).reshape(-1, 4), np.concatenate(vis))


def scene_detections(scene: Scene, gt: GroundTruth, noise: DetectorNoise
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy detections of every frame, sorted by frame then score (descending).

    Returns:
        frames (M,) int64, xyxy (M, 4) float64, scores (M,) float64.
    """
    rng = np.random.default_rng(scene.det_seed)
    cam = scene.cam

    def fp_boxes(r: np.random.Generator, k: int) -> np.ndarray:
        z = r.uniform(cam.z_near, cam.z_far, k)
        x_img = r.uniform(0.05, 0.95, k) * scene.width
        return cam.project(cam.world_x(x_img, z), z, np.full(k, 1.7), np.full(k, 0.4))

    out_f, out_b, out_s = [], [], []
    for f in range(1, scene.frames + 1):
        m = gt.frames == f
        b, s = detect_frame(rng, gt.xyxy[m].astype(np.float64), gt.visibility[m], scene.width,
                            scene.height, noise, fp_boxes)
        o = np.argsort(-s, kind="stable")
        out_f.append(np.full(len(s), f, dtype=np.int64))
        out_b.append(b[o])
        out_s.append(s[o])
    return np.concatenate(out_f), np.concatenate(out_b).reshape(-1, 4), np.concatenate(out_s)
