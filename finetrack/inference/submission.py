"""MOTChallenge submissions: per-sequence result files, MOT17's 21-file layout and the zip."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Dict, List

from finetrack.utils.io import atomic_open

MOT17_TEST_SEQS = ("01", "03", "06", "07", "08", "12", "14")
MOT17_TRAIN_SEQS = ("02", "04", "05", "09", "10", "11", "13")
MOT17_DETECTORS = ("DPM", "FRCNN", "SDP")
_MOT17 = re.compile(r"^MOT17-(\d+)(?:-(DPM|FRCNN|SDP))?$")


def mot17_copies(seq_name: str) -> List[str]:
    """``MOT17-01-FRCNN`` -> the three names ``MOT17-01-{DPM,FRCNN,SDP}`` (private detections:
    one tracker output serves all three copies, as ByteTrack submits)."""
    m = _MOT17.match(seq_name)
    if m is None:
        raise ValueError(f"{seq_name!r} is not a MOT17 sequence name")
    return [f"MOT17-{m.group(1)}-{d}" for d in MOT17_DETECTORS]


def write_mot17_submission(results_dir: Path, out_dir: Path, split: str = "test") -> Path:
    """Copy ``<results_dir>/MOT17-XX-<det>.txt`` to all 21 names and zip them.

    Args:
        results_dir: holds one result per sequence (any detector suffix).
        out_dir: receives the 21 txt files and ``MOT17-<split>.zip`` (files at the zip root,
            the MOTChallenge upload layout).

    Raises:
        FileNotFoundError: a sequence of the split has no result (names the missing ones).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    wanted = MOT17_TEST_SEQS if split == "test" else MOT17_TRAIN_SEQS
    have: Dict[str, Path] = {}
    for p in sorted(results_dir.glob("MOT17-*.txt")):
        m = _MOT17.match(p.stem)
        if m and m.group(1) not in have:
            have[m.group(1)] = p
    missing = [s for s in wanted if s not in have]
    if missing:
        raise FileNotFoundError(
            f"no results for MOT17 {split} sequence(s) {missing} in {results_dir}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    names: List[str] = []
    for s in wanted:
        text = have[s].read_text()
        for name in mot17_copies(f"MOT17-{s}"):
            with atomic_open(out_dir / f"{name}.txt", "w") as f:
                f.write(text)
            names.append(name)
    zpath = out_dir / f"MOT17-{split}.zip"
    with atomic_open(zpath, "wb") as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for name in names:
                z.write(out_dir / f"{name}.txt", arcname=f"{name}.txt")
    return zpath
