"""Part-level appearance of synthetic people: what each identity wears and how it is drawn.

An identity is a tuple of *part values* (:data:`PARTS`): ``head`` (skin + hair colour), ``torso``
(shirt colour), ``pattern`` (stripes on the shirt: none / horizontal / vertical, and their colour),
``legs`` (trouser colour) and ``bag`` (none / left / right, and its colour). The palettes are small,
so two random people often share their shirt or trousers (global colour alone is ambiguous), and
identities come in *clothing groups* that wear the same clothes except one part (DanceTrack-like
uniforms): within a group, any two members differ in exactly one part, which is the detail a
part-level Re-ID feature must pick up.

Drawing is a handful of ``cv2`` primitives inside the figure's box (image pixels, 0-based, xyxy with
x2/y2 exclusive): the figure touches all four sides of its box (head at the top, feet at the bottom,
arms/bag at the sides), so the ground-truth box is the rendered extent.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np

logger = logging.getLogger(__name__)

BGR = Tuple[int, int, int]

#: Names of the parts that define an identity, in a fixed order.
PARTS: Tuple[str, ...] = ("head", "torso", "pattern", "legs", "bag")

#: Saturated clothing colours (BGR). Kept away from the grey/beige background on purpose.
CLOTHES: Tuple[BGR, ...] = (
    (40, 40, 200),    # red
    (60, 160, 40),    # green
    (190, 80, 30),    # blue
    (40, 200, 230),   # yellow
    (30, 120, 240),   # orange
    (150, 40, 140),   # purple
    (200, 200, 40),   # cyan
    (40, 40, 40),     # black
)
#: Skin tones (BGR).
SKIN: Tuple[BGR, ...] = ((150, 180, 225), (100, 135, 185), (60, 85, 125))
#: Hair colours (BGR).
HAIR: Tuple[BGR, ...] = ((25, 25, 25), (30, 60, 110), (80, 190, 230), (170, 170, 170))
#: Stripe kinds of the ``pattern`` part.
PATTERN_KINDS: Tuple[str, ...] = ("none", "hstripes", "vstripes")
#: Bag kinds of the ``bag`` part.
BAG_KINDS: Tuple[str, ...] = ("none", "left", "right")

# Figure layout, as fractions of the box height (y) and width (x). Box width ~ 0.4 * height.
HEAD_BOTTOM = 0.19   # head occupies y in [0, 0.19]
TORSO_BOTTOM = 0.56  # torso + arms y in [HEAD_BOTTOM, 0.56]
SHOE_TOP = 0.95      # legs y in [TORSO_BOTTOM, SHOE_TOP], shoes below
ARM_WIDTH = 0.14     # arms are the outer 14% of the box width on each side
BAG_TOP, BAG_BOTTOM = 0.34, 0.62
BAG_WIDTH = 0.26
#: Torso region of interest used by tests: fractions (x1, y1, x2, y2) of the box that are plain
#: shirt colour whatever the pattern (between stripes and away from arms/bag).
TORSO_PROBE = (0.42, 0.24, 0.58, 0.27)
SHOE_COLOUR: BGR = (30, 30, 30)


def _values(part: str) -> List[tuple]:
    """All values a part can take (a value is a tuple of palette indices / kind indices)."""
    n_c = len(CLOTHES)
    if part == "head":
        return [(s, h) for s in range(len(SKIN)) for h in range(len(HAIR))]
    if part in ("torso", "legs"):
        return [(c,) for c in range(n_c)]
    if part == "pattern":
        return [(0, 0)] + [(k, c) for k in range(1, len(PATTERN_KINDS)) for c in range(n_c)]
    if part == "bag":
        return [(0, 0)] + [(k, c) for k in range(1, len(BAG_KINDS)) for c in range(n_c)]
    raise ValueError(f"unknown part {part!r}; valid: {PARTS}")


@dataclass(frozen=True)
class Appearance:
    """One identity's clothes, one value (tuple of ints) per part of :data:`PARTS`.

    Attributes:
        head: (skin index, hair index). torso: (shirt colour index,).
        pattern: (kind index into PATTERN_KINDS, stripe colour index); (0, 0) = plain.
        legs: (trouser colour index,).
        bag: (kind index into BAG_KINDS, colour index); (0, 0) = none.
        group: clothing group id (members share every part but ``varying``).
        varying: the part that differs between members of the group.
    """

    head: Tuple[int, int]
    torso: Tuple[int]
    pattern: Tuple[int, int]
    legs: Tuple[int]
    bag: Tuple[int, int]
    group: int = 0
    varying: str = "bag"

    def part(self, name: str) -> tuple:
        return getattr(self, name)

    def parts(self) -> Tuple[tuple, ...]:
        return tuple(self.part(p) for p in PARTS)

    @property
    def torso_bgr(self) -> BGR:
        return CLOTHES[self.torso[0]]

    @property
    def legs_bgr(self) -> BGR:
        return CLOTHES[self.legs[0]]

    def to_json(self) -> dict:
        d = asdict(self)
        for p in PARTS:
            d[p] = list(d[p])
        d["description"] = describe(self)
        return d


def describe(app: Appearance) -> str:
    """Short human-readable description, e.g. ``'red shirt, hstripes blue, black trousers'``."""
    names = ("red", "green", "blue", "yellow", "orange", "purple", "cyan", "black")
    hair = ("black", "brown", "blond", "grey")[app.head[1]]
    s = [f"{hair} hair", f"{names[app.torso[0]]} shirt"]
    if app.pattern[0]:
        s.append(f"{PATTERN_KINDS[app.pattern[0]]} {names[app.pattern[1]]}")
    s.append(f"{names[app.legs[0]]} trousers")
    if app.bag[0]:
        s.append(f"{names[app.bag[1]]} bag {BAG_KINDS[app.bag[0]]}")
    return ", ".join(s)


def parts_differing(a: Appearance, b: Appearance) -> List[str]:
    """Names of the parts whose values differ between two appearances."""
    return [p for p in PARTS if a.part(p) != b.part(p)]


def _pick(rng: np.random.Generator, values: Sequence[tuple]) -> tuple:
    return tuple(values[int(rng.integers(len(values)))])


def _legal(values: Dict[str, tuple]) -> bool:
    """Stripes/bag must not vanish into the shirt (same colour as the torso)."""
    torso = values["torso"][0]
    if values["pattern"][0] and values["pattern"][1] == torso:
        return False
    if values["legs"][0] == torso and values["pattern"][0] == 0:
        return False  # a one-colour figure has no torso/legs boundary
    return True


def sample_appearances(
    rng: np.random.Generator,
    num: int,
    group_size: int = 3,
    first_group: int = 0,
    exclude: Optional[Set[tuple]] = None,
) -> List[Appearance]:
    """Sample ``num`` distinct identities in clothing groups of ``group_size``.

    Each group draws base clothes and one varying part; its members get pairwise different values
    of that part and share all others, so two members differ in exactly one part. Identities are
    pairwise distinct over the whole list.

    Args:
        rng: the generator (consumed).
        num: number of identities.
        group_size: members per group (the last group may be smaller); 1 = independent people.
        first_group: id of the first group (groups are numbered consecutively).
        exclude: part tuples (:meth:`Appearance.parts`) already used; not drawn again. The set is
            not modified.

    Returns:
        ``num`` appearances, group members consecutive.
    """
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    out: List[Appearance] = []
    seen = set(exclude or ())
    group = first_group
    while len(out) < num:
        size = min(group_size, num - len(out))
        for _attempt in range(100):
            base = {p: _pick(rng, _values(p)) for p in PARTS}
            varying = PARTS[int(rng.integers(len(PARTS)))]
            options = [v for v in _values(varying) if _legal({**base, varying: v})]
            if len(options) < size:
                continue
            idx = rng.choice(len(options), size=size, replace=False)
            members = [Appearance(**{**base, varying: options[i]}, group=group, varying=varying)
                       for i in sorted(int(i) for i in idx)]
            if all(_legal({p: m.part(p) for p in PARTS}) for m in members) and not any(
                m.parts() in seen for m in members
            ):
                break
        else:  # pragma: no cover - palettes are large enough for any sane group size
            raise RuntimeError(f"cannot sample a clothing group of {size} distinct people")
        order = rng.permutation(size)
        for i in order:
            out.append(members[int(i)])
            seen.add(members[int(i)].parts())
        group += 1
    return out


def _rect(img: np.ndarray, x1: float, y1: float, x2: float, y2: float, colour: BGR) -> None:
    """Filled rectangle over pixels [x1, x2) x [y1, y2) (rounded); cv2 clips at the border."""
    a, b, c, d = int(round(x1)), int(round(y1)), int(round(x2)) - 1, int(round(y2)) - 1
    if c >= a and d >= b:
        cv2.rectangle(img, (a, b), (c, d), colour, thickness=-1)


def draw_figure(
    img: np.ndarray, box_xyxy: Sequence[int], app: Appearance, phase: float = 0.0
) -> None:
    """Draw one person into ``img`` (modified in place: it is the frame being rendered).

    Args:
        img: (H, W, 3) uint8 BGR frame.
        box_xyxy: integer [x1, y1, x2, y2] in pixels, x2/y2 exclusive; may extend past the image.
        app: the identity's clothes.
        phase: walking phase in radians (legs swing with sin(phase)).
    """
    x1, y1, x2, y2 = (int(v) for v in box_xyxy)
    w, h = x2 - x1, y2 - y1
    if w < 2 or h < 4:
        return
    shirt = CLOTHES[app.torso[0]]
    arm = tuple(int(c * 0.8) for c in shirt)
    skin, hair = SKIN[app.head[0]], HAIR[app.head[1]]
    yh, yt, ys = y1 + HEAD_BOTTOM * h, y1 + TORSO_BOTTOM * h, y1 + SHOE_TOP * h
    aw = ARM_WIDTH * w
    # legs (swinging), shoes
    swing = 0.08 * w * float(np.sin(phase))
    leg_w = 0.27 * w
    for cx, s in ((x1 + 0.33 * w, swing), (x1 + 0.67 * w, -swing)):
        lx = min(max(cx + s - leg_w / 2, x1 + aw * 0.5), x2 - aw * 0.5 - leg_w)
        _rect(img, lx, yt, lx + leg_w, ys, CLOTHES[app.legs[0]])
        _rect(img, lx - 0.04 * w, ys, lx + leg_w + 0.04 * w, y2, SHOE_COLOUR)
    # arms then torso
    _rect(img, x1, yh + 0.02 * h, x1 + aw, yt - 0.03 * h, arm)
    _rect(img, x2 - aw, yh + 0.02 * h, x2, yt - 0.03 * h, arm)
    _rect(img, x1 + aw, yh, x2 - aw, yt, shirt)
    kind, sc = app.pattern
    if kind:
        stripe = CLOTHES[sc]
        if PATTERN_KINDS[kind] == "hstripes":  # bands at 0.28-0.33, 0.38-0.43, 0.48-0.53 of h
            for k in range(3):
                top = y1 + (0.28 + 0.10 * k) * h
                _rect(img, x1 + aw, top, x2 - aw, top + 0.05 * h, stripe)
        else:  # vertical bands beside the centre line
            for fx in (0.22, 0.64):
                _rect(img, x1 + fx * w, yh, x1 + (fx + 0.12) * w, yt, stripe)
    # bag on one side, over the arm
    bkind, bc = app.bag
    if bkind:
        bx1 = x1 if BAG_KINDS[bkind] == "left" else x2 - BAG_WIDTH * w
        _rect(img, bx1, y1 + BAG_TOP * h, bx1 + BAG_WIDTH * w, y1 + BAG_BOTTOM * h, CLOTHES[bc])
    # head: hair disc with the face below it
    r = HEAD_BOTTOM * h / 2
    cx, cy = (x1 + x2) / 2, y1 + r
    cv2.circle(img, (int(round(cx)), int(round(cy))), max(int(round(r)), 1), hair, -1)
    cv2.ellipse(img, (int(round(cx)), int(round(cy + 0.25 * r))),
                (max(int(round(0.72 * r)), 1), max(int(round(0.72 * r)), 1)), 0, 0, 360, skin, -1)
