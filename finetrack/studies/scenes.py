"""The four shared real scenes (``../shared/data``) that the project's studies choose settings on."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

#: scene -> its folder under the shared data root
SHARED_SCENES: Dict[str, str] = {
    "PETS09-S2L1": "MOT15/train/PETS09-S2L1",
    "ETH-Sunnyday": "MOT15/train/ETH-Sunnyday",
    "KITTI-17": "MOT15/train/KITTI-17",
    "MOT17-09-FRCNN": "MOT17/train/MOT17-09-FRCNN",
}


def scene_dirs(data_root, scenes=None) -> Dict[str, Path]:
    """{scene: sequence folder} under ``data_root`` (default: all :data:`SHARED_SCENES`).

    Raises:
        FileNotFoundError: a scene's folder is missing (named).
    """
    out = {}
    for name in scenes or SHARED_SCENES:
        if name not in SHARED_SCENES:
            raise ValueError(f"unknown scene {name!r}; valid: {', '.join(SHARED_SCENES)}")
        p = Path(data_root) / SHARED_SCENES[name]
        if not (p / "seqinfo.ini").is_file():
            raise FileNotFoundError(f"{p}: no seqinfo.ini (scene {name})")
        out[name] = p
    return out
