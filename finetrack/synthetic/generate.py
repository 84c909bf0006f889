"""Synthetic MOTChallenge sequences whose identities live in part-level details.

``generate_dataset(SyntheticConfig(...), out)`` writes ``out/<split>/SYN-XX/{img1/000001.jpg,
gt/gt.txt, det/det.txt, seqinfo.ini, synth.json}``:

* people-like figures (head, torso with optional stripes, legs, optional bag) in clothing groups
  that differ in exactly one part (:mod:`finetrack.synthetic.appearance`);
* free walkers entering and leaving at the sides, and scripted two-person crossings where the
  hidden person reverses or stops while occluded (:mod:`finetrack.synthetic.motion`);
* perspective: feet lower in the frame = nearer = larger = drawn later; ground-truth visibility is
  the fraction of the box inside the image and not covered by nearer people's boxes;
* optional camera pan, a lightly textured background, per-frame brightness and pixel noise;
* det.txt from a noisy detector: box jitter, scores falling with occlusion, misses (certain below a
  visibility), false positives (:mod:`finetrack.synthetic.detections`).

Everything is a function of (config, sequence index): each sequence seeds its own
``numpy.random.Generator`` streams from ``SeedSequence([seed, index])``; there is no global RNG and
no clock, and JPEGs are written by ``cv2.imwrite`` at a fixed quality, so the same config gives
the same bytes. A sequence is written into a hidden temporary folder beside its destination and
renamed into place at the end, so an error or Ctrl-C leaves nothing half-written.

gt.txt boxes are integer pixels, 0-based, with the figure touching all four box sides.

Modules: ``config`` (the knobs), ``motion`` (camera, trajectories), ``appearance``
(clothes, drawing), ``scene`` (identities + boxes + gt/dets of a sequence), ``render``
(pixels), ``detections`` (visibility, detector noise), ``stats`` (data set statistics),
and this one (writing, scripted crossings; it re-exports the public names).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple, Union

import cv2

from finetrack.data.mot import SeqInfo, read_gt, write_seqinfo
from finetrack.synthetic.config import MOT17LIKE, TINY, SyntheticConfig
from finetrack.synthetic.detections import DetectorNoise
from finetrack.synthetic.motion import CrossingSpec
from finetrack.synthetic.render import SceneRenderer
from finetrack.synthetic.scene import (
    GroundTruth,
    Scene,
    scene_detections,
    scene_ground_truth,
    simulate_scene,
)
from finetrack.synthetic.stats import dataset_statistics, format_statistics, sequence_statistics
from finetrack.utils.io import atomic_open, atomic_write_text

__all__ = [
    "TINY", "MOT17LIKE", "SyntheticConfig", "DetectorNoise", "CrossingSpec", "Scene", "GroundTruth",
    "SceneRenderer", "simulate_scene", "scene_ground_truth", "scene_detections", "write_scene",
    "generate_dataset", "scripted_crossing", "CrossingSequence", "dataset_statistics",
    "sequence_statistics", "format_statistics",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: Bumped whenever the same config would render different bytes (cached datasets are redone).
GENERATOR_VERSION = 1
META_FILE = "synth.json"


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _meta(cfg: SyntheticConfig, scene: Scene, gt: GroundTruth, index: int) -> dict:
    ids = {}
    for p in scene.people:
        rows = gt.frames[gt.ids == p.track_id]
        ids[str(p.track_id)] = dict(
            appearance=p.appearance.to_json(), role=p.track.role, crossing=p.track.crossing,
            first_frame=int(rows.min()), last_frame=int(rows.max()),
            height_m=round(p.track.height_m, 4), aspect=round(p.track.aspect, 4),
        )
    crossings = []
    for c in scene.crossings:
        c = dict(c)
        for k, v in c.items():
            if isinstance(v, float):
                c[k] = round(v, 4)
        crossings.append(c)
    return dict(generator_version=GENERATOR_VERSION, config=cfg.to_dict(), index=index,
                has_pan=scene.has_pan, identities=ids, crossings=crossings)


def write_scene(scene: Scene, seq_dir: PathLike, cfg: SyntheticConfig, index: int,
                noise: Optional[DetectorNoise] = None, overwrite: bool = False) -> Path:
    """Render and write one sequence directory atomically (temp folder + rename).

    Args:
        scene: from :func:`simulate_scene`.
        seq_dir: destination ``<root>/<split>/<name>``.
        cfg: its config (written to synth.json, image settings).
        index: sequence index (synth.json).
        noise: detector model; default ``cfg.detector_noise()``.
        overwrite: replace an existing destination (else FileExistsError).

    Returns:
        ``seq_dir``.
    """
    seq_dir = Path(seq_dir)
    if seq_dir.exists() and not overwrite:
        raise FileExistsError(f"{seq_dir} exists (pass overwrite=True / --overwrite to replace it)")
    seq_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{seq_dir.name}.", suffix=".tmp", dir=seq_dir.parent))
    try:
        gt = scene_ground_truth(scene)
        det_f, det_b, det_s = scene_detections(scene, gt, noise or cfg.detector_noise())
        img_dir = tmp / "img1"
        img_dir.mkdir()
        renderer = SceneRenderer(scene, cfg.bg_texture, cfg.brightness_noise, cfg.pixel_noise)
        params = [int(cv2.IMWRITE_JPEG_QUALITY), int(cfg.jpeg_quality)]
        for f in range(1, scene.frames + 1):
            path = img_dir / f"{f:06d}.jpg"
            if not cv2.imwrite(str(path), renderer.render(f), params):
                raise OSError(f"cv2.imwrite failed for {path}")
        tlwh = gt.xyxy.copy()
        tlwh[:, 2:] -= tlwh[:, :2]
        with atomic_open(tmp / "gt" / "gt.txt", "w", encoding="utf-8") as fh:
            for f, i, (x, y, w, h), v in zip(gt.frames, gt.ids, tlwh, gt.visibility):
                fh.write(f"{f},{i},{x},{y},{w},{h},1,1,{v:.4f}\n")
        with atomic_open(tmp / "det" / "det.txt", "w", encoding="utf-8") as fh:
            for f, (x1, y1, x2, y2), s in zip(det_f, det_b, det_s):
                fh.write(f"{f},-1,{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{s:.4f},-1,-1,-1\n")
        atomic_write_text(tmp / META_FILE,
                          json.dumps(_meta(cfg, scene, gt, index), indent=1, sort_keys=True) + "\n")
        # seqinfo.ini last: a folder without it is never taken for a sequence
        write_seqinfo(tmp, SeqInfo(name=seq_dir.name, seq_dir=seq_dir, im_dir="img1",
                                   frame_rate=scene.fps, seq_length=scene.frames,
                                   im_width=scene.width, im_height=scene.height, im_ext=".jpg"))
        if seq_dir.exists():  # overwrite: move the old one aside, then swap
            old = Path(tempfile.mkdtemp(prefix=f".{seq_dir.name}.", suffix=".old",
                                        dir=seq_dir.parent))
            os.replace(seq_dir, old / "x")
            os.replace(tmp, seq_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, seq_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return seq_dir


def _up_to_date(seq_dir: Path, cfg: SyntheticConfig) -> bool:
    meta = seq_dir / META_FILE
    if not meta.is_file():
        return False
    with contextlib.suppress(ValueError, OSError):
        d = json.loads(meta.read_text(encoding="utf-8"))
        return d.get("generator_version") == GENERATOR_VERSION and d.get("config") == cfg.to_dict()
    return False


def generate_dataset(cfg: SyntheticConfig, out: PathLike, overwrite: bool = False) -> List[Path]:
    """Write ``cfg.num_seqs`` sequences under ``out/<cfg.split>/``.

    A sequence whose synth.json records the same config and generator version is kept as is
    (re-running is cheap); another existing folder of the same name raises FileExistsError unless
    ``overwrite``.

    Returns:
        The sequence directories, in index order.
    """
    split_dir = Path(out) / cfg.split
    if split_dir.is_dir():  # leftovers of a killed run (SIGKILL skips the cleanup in write_scene)
        for i in range(cfg.num_seqs):
            for stale in split_dir.glob(f".{cfg.seq_name(i)}.*.tmp"):
                logger.warning("removing the leftover of an interrupted run: %s", stale)
                shutil.rmtree(stale, ignore_errors=True)
    paths = []
    for i in range(cfg.num_seqs):
        seq_dir = split_dir / cfg.seq_name(i)
        if seq_dir.exists() and _up_to_date(seq_dir, cfg):
            logger.info("%s is up to date, kept", seq_dir)
        else:
            t0 = time.perf_counter()
            write_scene(simulate_scene(cfg, i), seq_dir, cfg, i, overwrite=overwrite)
            logger.info("wrote %s in %.2f s", seq_dir, time.perf_counter() - t0)
        paths.append(seq_dir)
    return paths


# --------------------------------------------------------------------------------------------
# scripted crossing for tracker tests
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrossingSequence:
    """What :func:`scripted_crossing` wrote: the sequence folder and who is who.

    Attributes:
        seq_dir: the sequence. near_id / far_id: gt ids of the occluder and the hidden person.
        spec: the crossing. occluded_frames: 1-based frames where the far person's visibility < 1.
    """

    seq_dir: Path
    near_id: int
    far_id: int
    spec: CrossingSpec
    occluded_frames: Tuple[int, ...] = field(default_factory=tuple)


def scripted_crossing(
    seq_dir: PathLike,
    behaviour: str = "reverse",
    same_group: bool = True,
    frames: int = 40,
    width: int = 320,
    height: int = 240,
    fps: float = 10.0,
    seed: int = 0,
    hold_frames: int = 1,
    depth_gap: float = 0.35,
    speed: float = 1.3,
    noise: Optional[DetectorNoise] = None,
    overwrite: bool = False,
) -> CrossingSequence:
    """Write one deterministic two-person crossing sequence (no other people, no pan).

    Person A (nearer) enters from the left, B (``depth_gap`` m farther, hidden behind A) from the
    right; their centres meet at the image centre at frame ``frames // 2 + 1``, then they
    ``behaviour`` (``reverse``: both stand ``hold_frames`` frames and walk back; ``stop``: B waits
    ``hold_frames`` frames; ``pass``). Both are in view from frame 1.

    Args:
        seq_dir: destination sequence folder (its name is the sequence name).
        noise: detector model; default: no jitter, no false positives, no random misses, so the
            only misses are the occlusion-induced ones (visibility below 0.15 always missed,
            linear up to 0.6).

    Returns:
        A :class:`CrossingSequence`.
    """
    seq_dir = Path(seq_dir)
    cfg = SyntheticConfig(num_seqs=1, frames=frames, width=width, height=height, fps=fps, seed=seed,
                          people=0, crossing_rate=0.0, pan_fraction=0.0, speed=speed,
                          name_prefix=seq_dir.name)
    spec = CrossingSpec(meet_frame=frames // 2 + 1, x_meet_frac=0.5, depth_frac=0.25,
                        depth_gap=depth_gap, speed_near=speed, speed_far=speed,
                        near_from_left=True, behaviour=behaviour, hold_frames=hold_frames,
                        same_group=same_group)
    scene = simulate_scene(cfg, 0, crossings=[spec])
    scene.name = seq_dir.name
    if noise is None:
        noise = DetectorNoise(miss_rate=0.0, jitter=0.0, fp_rate=0.0, score_std=0.0)
    write_scene(scene, seq_dir, cfg, 0, noise=noise, overwrite=overwrite)
    c = scene.crossings[0]
    gt = read_gt(seq_dir / "gt" / "gt.txt")
    far = gt.ids == c["far_id"]
    occluded = tuple(int(f) for f in gt.frames[far & (gt.visibility < 1.0)])
    return CrossingSequence(seq_dir, c["near_id"], c["far_id"], spec, occluded)


