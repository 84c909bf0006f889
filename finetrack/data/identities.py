"""Which GT rows are targets (GTFilter, SPEC section 3) and the global identity labels of Re-ID
training (IdentityTable)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Tuple

import numpy as np

from finetrack.data.mot import Annotations

@dataclass(frozen=True)
class GTFilter:
    """Which GT rows are training / evaluation targets.

    The fields are named like the ``data.*`` config keys, so ``GTFilter(**values)`` takes them
    as they are (lists and ints are converted).

    Attributes:
        classes: kept class ids (MOT17 semantics; MOT15 rows are all class 1).
        min_visibility: rows with visibility below this are dropped.
        drop_zero_flag: drop rows whose flag (MOT15: conf) is 0.
        min_box_size: drop boxes with w or h below this (pixels).
    """

    classes: Tuple[int, ...] = (1,)
    min_visibility: float = 0.1
    drop_zero_flag: bool = True
    min_box_size: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(int(c) for c in self.classes))
        object.__setattr__(self, "min_visibility", float(self.min_visibility))
        object.__setattr__(self, "drop_zero_flag", bool(self.drop_zero_flag))
        object.__setattr__(self, "min_box_size", float(self.min_box_size))

    @classmethod
    def of(cls, data: Any) -> "GTFilter":
        """The filter a config's ``data`` section describes: a config dataclass or a mapping (a
        checkpoint's stored config); fields it lacks keep the defaults above (the detector's
        schema has no ``drop_zero_flag``: zero-flag rows are always dropped there)."""
        if isinstance(data, Mapping):
            get = data.get
        else:
            def get(k, d):
                return getattr(data, k, d)
        return cls(**{f.name: get(f.name, f.default) for f in dataclasses.fields(cls)})

    def mask(self, ann: Annotations) -> np.ndarray:
        m = np.isin(ann.classes, np.asarray(self.classes, dtype=np.int64))
        m &= ann.visibility >= self.min_visibility
        if self.drop_zero_flag:
            m &= ann.flags != 0
        m &= (ann.tlwh[:, 2] >= self.min_box_size) & (ann.tlwh[:, 3] >= self.min_box_size)
        return m

    def apply(self, ann: Annotations) -> Annotations:
        return ann.subset(self.mask(ann))


@dataclass
class IdentityTable:
    """Global identity labels for Re-ID training: (sequence, track id) -> 0..M-1.

    Built deterministically (sequences sorted by name, ids ascending).
    """

    keys: List[Tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index = {k: i for i, k in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def label(self, seq: str, track_id: int) -> int:
        try:
            return self._index[(seq, int(track_id))]
        except KeyError:
            raise KeyError(f"identity ({seq}, {track_id}) is not in the table") from None

    def labels(self, seq: str, track_ids: Iterable[int]) -> np.ndarray:
        """(N,) int64 labels; -1 for ids not in the table."""
        return np.asarray([self._index.get((seq, int(t)), -1) for t in track_ids], dtype=np.int64)

    @classmethod
    def build(cls, annotations: Dict[str, Annotations]) -> "IdentityTable":
        """From {sequence name: (already filtered) annotations}."""
        keys = []
        for seq in sorted(annotations):
            for t in np.unique(annotations[seq].ids):
                keys.append((seq, int(t)))
        return cls(keys)

    def to_json(self) -> list:
        return [[s, t] for s, t in self.keys]

    @classmethod
    def from_json(cls, data: list) -> "IdentityTable":
        return cls([(str(s), int(t)) for s, t in data])
