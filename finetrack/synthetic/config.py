"""Size and difficulty knobs of the synthetic data set (:class:`SyntheticConfig`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Tuple

from finetrack.synthetic.detections import DetectorNoise
from finetrack.synthetic.motion import CROSSING_BEHAVIOURS, GroundCamera


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty of a synthetic data set (every field has a documented default).

    Size:
        num_seqs: number of sequences. frames: frames per sequence. width, height: image size.
        fps: frame rate; lower = bigger jumps between frames for the same walking speed.
        seed: master seed (>= 0); sequence i uses ``SeedSequence([seed, i])``.
        split: sub-folder of the output root. name_prefix: sequences are ``<prefix>-00``, ...
    People:
        people: free walkers in view at frame 1; while fewer are in view, new ones enter from the
            sides at ``entry_rate`` per second.
        group_size: identities per clothing group (members differ in exactly one part; 1 = all
            independent).
        speed: mean walking speed in m/s (a person is ~1.7 m tall).
        min_inside: a person has a gt row while at least this fraction of its box is inside
            the image (one contiguous run: ids never come back after leaving).
    Crossings:
        crossing_rate: scripted two-person crossings per 100 frames (stochastic rounding).
        crossing_behaviours: behaviours used in turn from a random start within each sequence
            (see ``motion.CROSSING_BEHAVIOURS``).
        crossing_same_group: probability that a crossing pair wears the same clothing group.
        crossing_hold_s: seconds the pair stands overlapped (``reverse``) or the hidden person
            waits (``stop``).
    Camera:
        pan_fraction: fraction of the sequences that pan, spread evenly (0.5: indices 1, 3, ...;
            1: all). pan_speed: peak pan speed in image widths
            per second. pan_period_s: period of the sinusoidal pan.
        horizon_frac, near_height_frac, far_height_frac: see ``motion.GroundCamera``.
    Image:
        bg_texture: amplitude (grey levels) of the background texture.
        brightness_noise: std of the per-frame global gain (1 + N(0, std)).
        pixel_noise: std (grey levels) of per-frame pixel noise.
        jpeg_quality: cv2 JPEG quality.
    Detections (det.txt):
        det_jitter: box noise as a fraction of the box size. det_miss_rate: miss probability of a
            fully visible person. det_vis_full / det_vis_zero: visibility above which the miss
            rate is ``det_miss_rate`` / below which the person is always missed.
        det_fp_rate: false positives per frame (Poisson).
        det_score_mean: mean score of a fully visible person.
    """

    num_seqs: int = 4
    frames: int = 150
    width: int = 640
    height: int = 360
    fps: float = 10.0
    seed: int = 0
    split: str = "train"
    name_prefix: str = "SYN"
    people: int = 7
    entry_rate: float = 0.5
    group_size: int = 3
    speed: float = 1.3
    min_inside: float = 0.3
    crossing_rate: float = 2.0
    crossing_behaviours: Tuple[str, ...] = ("reverse", "stop", "pass")
    crossing_same_group: float = 0.5
    crossing_hold_s: float = 0.1
    pan_fraction: float = 0.5
    pan_speed: float = 0.04
    pan_period_s: float = 8.0
    horizon_frac: float = 0.2
    near_height_frac: float = 0.45
    far_height_frac: float = 0.18
    bg_texture: float = 10.0
    brightness_noise: float = 0.03
    pixel_noise: float = 2.0
    jpeg_quality: int = 90
    det_jitter: float = 0.04
    det_miss_rate: float = 0.05
    det_vis_full: float = 0.6
    det_vis_zero: float = 0.15
    det_fp_rate: float = 0.3
    det_score_mean: float = 0.85

    def __post_init__(self) -> None:
        problems = []
        if self.num_seqs < 0 or self.frames < 1:
            problems.append("num_seqs must be >= 0 and frames >= 1")
        if self.width < 32 or self.height < 32:
            problems.append("width and height must be >= 32")
        if self.fps <= 0:
            problems.append("fps must be > 0")
        if self.seed < 0:
            problems.append("seed must be >= 0")
        if self.people < 0 or self.group_size < 1:
            problems.append("people must be >= 0 and group_size >= 1")
        bad = [b for b in self.crossing_behaviours if b not in CROSSING_BEHAVIOURS]
        if bad or (self.crossing_rate > 0 and not self.crossing_behaviours):
            problems.append(
                f"crossing_behaviours must be a non-empty subset of {CROSSING_BEHAVIOURS}")
        for name in ("min_inside", "crossing_same_group", "pan_fraction", "det_miss_rate"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1]")
        if not 0 <= self.det_vis_zero < self.det_vis_full <= 1:
            problems.append("need 0 <= det_vis_zero < det_vis_full <= 1")
        if not 1 <= self.jpeg_quality <= 100:
            problems.append("jpeg_quality must be in 1..100")
        if problems:
            raise ValueError("invalid SyntheticConfig: " + "; ".join(problems))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["crossing_behaviours"] = list(self.crossing_behaviours)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SyntheticConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown SyntheticConfig keys {unknown}; valid: {sorted(names)}")
        d = dict(d)
        if "crossing_behaviours" in d:
            d["crossing_behaviours"] = tuple(d["crossing_behaviours"])
        return cls(**d)

    def seq_name(self, index: int) -> str:
        return f"{self.name_prefix}-{index:02d}"

    def camera(self) -> GroundCamera:
        return GroundCamera(self.width, self.height, horizon_frac=self.horizon_frac,
                            near_height_frac=self.near_height_frac,
                            far_height_frac=self.far_height_frac)

    def detector_noise(self) -> DetectorNoise:
        return DetectorNoise(miss_rate=self.det_miss_rate, vis_full=self.det_vis_full,
                             vis_zero=self.det_vis_zero, jitter=self.det_jitter,
                             fp_rate=self.det_fp_rate, score_mean=self.det_score_mean)


#: The tiny set the tests use (2 seqs x 20 frames, 320x240).
TINY = dict(num_seqs=2, frames=20, width=320, height=240)

#: MOT17-like statistics at the PETS09 run's size (7 x 114 = 798 frames, PETS09-S2L1 has 795):
#: 7 sequences, about 24 people in view per frame, people entering at 3/s and walking out of view
#: (so the first halves hold about 400 identities), 6 scripted crossings per 100 frames, 5 fps.
#: Used to test Shuffle-Group Sampling where random batches rarely share an identity.
MOT17LIKE = dict(num_seqs=7, frames=114, fps=5.0, people=25, entry_rate=3.0, crossing_rate=6.0,
                 name_prefix="M17L")
