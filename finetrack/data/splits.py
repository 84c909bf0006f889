"""Ground truth cut and written to disk: ByteTrack's half split (gt/gt_train_half.txt and
gt/gt_val_half.txt, ``finetrack prepare-data``; the frame ranges themselves are
finetrack.data.mot.half_split_frames) and a sequence at 1/k of its frame rate (the studies' stress rows)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

from finetrack.data.mot import MOTSequence, PathLike, SeqInfo, half_split_frames, read_gt, write_seqinfo
from finetrack.utils.io import atomic_open, atomic_write_text


def _rewrite_rows(src: Path, dst: Path, first: int, last: int, offset: int) -> int:
    """Copy the rows of frames first..last from src to dst, frame -= offset, text otherwise kept."""
    n = 0
    with open(src, "r", encoding="utf-8") as fin, atomic_open(dst, "w", encoding="utf-8") as fout:
        for line in fin:
            s = line.strip()
            if not s:
                continue
            head, _, rest = s.partition(",")
            fr = int(float(head))
            if first <= fr <= last:
                fout.write(f"{fr - offset},{rest}\n")
                n += 1
    return n


def write_half_split(seq_dir: PathLike, overwrite: bool = False) -> Dict[str, Path]:
    """Write gt/gt_train_half.txt and gt/gt_val_half.txt (val renumbered from 1).

    The original rows are copied unfiltered (evaluators do their own preprocessing). The file is
    validated first, so a malformed gt.txt fails before anything is written.

    Returns:
        {"train": path, "val": path}
    """
    seq = MOTSequence(seq_dir, require_images=False)
    gt_path = seq.gt_path
    read_gt(gt_path, seq.name)  # validate
    n = seq.info.seq_length
    out = {}
    for half, name in (("train", "gt_train_half.txt"), ("val", "gt_val_half.txt")):
        dst = gt_path.parent / name
        if dst.exists() and not overwrite:
            out[half] = dst
            continue
        first, last = half_split_frames(n, half)
        _rewrite_rows(gt_path, dst, first, last, offset=first - 1)
        out[half] = dst
    return out


def write_cut_gt(seq_dir: Path, k: int, dst_root: Path) -> Path:
    """``seq_dir``'s gt.txt and seqinfo.ini cut to every k-th frame (renumbered) under
    ``dst_root/<NAME>-every<k>``; returns that folder (the source is only read)."""
    seq = MOTSequence(seq_dir, require_images=False)
    name = f"{seq.info.name}-every{k}"
    dst = Path(dst_root) / name
    lines = []
    for line in (Path(seq_dir) / "gt" / "gt.txt").read_text().splitlines():
        if not line.strip():
            continue
        f, rest = line.split(",", 1)
        f = int(float(f))
        if (f - 1) % k == 0:
            lines.append(f"{(f - 1) // k + 1},{rest}")
    atomic_write_text(dst / "gt" / "gt.txt", "\n".join(lines) + "\n")
    n = (seq.info.seq_length - 1) // k + 1
    write_seqinfo(dst, SeqInfo(name, dst, seq.info.im_dir, seq.info.frame_rate / k, n,
                               seq.info.im_width, seq.info.im_height, seq.info.im_ext))
    return dst
