"""Frame batch samplers for Re-ID training: SGS (the paper's), ``sequential`` and ``shuffle``.

Each sampler yields lists of dataset indices (one list = one batch of frames). The dataset is a
concatenation of sequences: indices ``0..L_0-1`` are the frames of sequence 0 in video order,
``L_0..L_0+L_1-1`` those of sequence 1, and so on
(:class:`finetrack.data.reid_dataset.ReIDFrameDataset` follows this layout).

* ``sgs`` (Shuffle-Group Sampling, paper section 3.4): every sequence is cut into consecutive
  groups of G frames; the groups of all sequences are shuffled each epoch; one group = one batch.
* ``sequential``: the same groups in video order, never shuffled (Table 3, row 1).
* ``shuffle``: all frames of all sequences shuffled, batches of B frames (Table 3, row 2).

Every sampler owns a ``torch.Generator`` that it re-seeds with ``seed + epoch`` at the start of each
epoch (call :meth:`set_epoch`), so the order of epoch e depends only on (seed, e): a resumed run
replays exactly the batches of an uninterrupted one. Distributed: batches are split across ranks
(``rank::world_size``) after padding with wrapped-around batches so every rank gets the same count.
"""

from __future__ import annotations

import logging
import math
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Type

import torch
from torch.utils.data import Sampler

logger = logging.getLogger(__name__)


def _sequence_offsets(seq_lengths: Sequence[int]) -> List[int]:
    """Start index of each sequence in the concatenated dataset."""
    offsets, total = [], 0
    for n in seq_lengths:
        if n < 0:
            raise ValueError(f"sequence lengths must be >= 0, got {list(seq_lengths)}")
        offsets.append(total)
        total += int(n)
    return offsets


class _FrameBatchSampler(Sampler[List[int]]):
    """Common machinery: seeded generator, epochs, rank split.

    Args:
        seq_lengths: number of frames of each sequence, in dataset order.
        batch_size: frames per batch (for group samplers: the group length G).
        seed: base seed; epoch e uses ``seed + e``.
        drop_last: drop batches shorter than ``batch_size`` (the tail of each sequence for group
            samplers, the tail of the epoch for ``shuffle``).
        rank: this process's rank (DDP), 0 otherwise.
        world_size: number of processes (DDP), 1 otherwise.
    """

    def __init__(
        self,
        seq_lengths: Sequence[int],
        batch_size: int = 8,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"invalid rank {rank} for world_size {world_size}")
        self.seq_lengths = [int(n) for n in seq_lengths]
        self.offsets = _sequence_offsets(self.seq_lengths)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.epoch = 0
        self.generator = torch.Generator()
        self.generator.manual_seed(self.seed)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next ``__iter__`` yields (re-seeds the generator)."""
        self.epoch = int(epoch)

    def _all_batches(self) -> List[List[int]]:
        """Batches of one epoch for all ranks together; uses ``self.generator``."""
        raise NotImplementedError

    def _rank_batches(self) -> List[List[int]]:
        self.generator.manual_seed(self.seed + self.epoch)
        batches = self._all_batches()
        if self.world_size == 1 or not batches:
            return batches
        per_rank = math.ceil(len(batches) / self.world_size)
        padded = batches + batches[: per_rank * self.world_size - len(batches)]
        return padded[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[List[int]]:
        return iter(self._rank_batches())

    def __len__(self) -> int:
        n = self._num_batches_total()
        return math.ceil(n / self.world_size) if n else 0

    def _num_batches_total(self) -> int:
        raise NotImplementedError


class _GroupSampler(_FrameBatchSampler):
    """Consecutive groups of ``batch_size`` frames inside each sequence (never across sequences)."""

    shuffle_groups: bool = True  # overridden by subclasses (immutable class constant)

    def groups(self) -> List[List[int]]:
        """All groups in video order: list of lists of consecutive dataset indices."""
        out: List[List[int]] = []
        for off, n in zip(self.offsets, self.seq_lengths):
            for start in range(0, n, self.batch_size):
                g = list(range(off + start, off + min(start + self.batch_size, n)))
                if self.drop_last and len(g) < self.batch_size:
                    continue
                out.append(g)
        return out

    def _all_batches(self) -> List[List[int]]:
        groups = self.groups()
        if not self.shuffle_groups:
            return groups
        perm = torch.randperm(len(groups), generator=self.generator).tolist()
        return [groups[i] for i in perm]

    def _num_batches_total(self) -> int:
        if self.drop_last:
            return sum(n // self.batch_size for n in self.seq_lengths)
        return sum(math.ceil(n / self.batch_size) for n in self.seq_lengths)


class SGSBatchSampler(_GroupSampler):
    """Shuffle-Group Sampling: consecutive groups of G frames, groups shuffled across sequences."""

    shuffle_groups = True


class SequentialBatchSampler(_GroupSampler):
    """Video order: consecutive groups of B frames, sequence after sequence, no shuffling."""

    shuffle_groups = False


class ShuffleBatchSampler(_FrameBatchSampler):
    """All frames of all sequences shuffled each epoch, cut into batches of B frames."""

    def _all_batches(self) -> List[List[int]]:
        total = sum(self.seq_lengths)
        perm = torch.randperm(total, generator=self.generator).tolist()
        batches = [perm[i : i + self.batch_size] for i in range(0, total, self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def _num_batches_total(self) -> int:
        total = sum(self.seq_lengths)
        return total // self.batch_size if self.drop_last else math.ceil(total / self.batch_size)


SAMPLERS: Dict[str, Type[_FrameBatchSampler]] = {
    "sgs": SGSBatchSampler,
    "sequential": SequentialBatchSampler,
    "shuffle": ShuffleBatchSampler,
}


def build_batch_sampler(
    name: str,
    seq_lengths: Sequence[int],
    batch_size: int = 8,
    group_size: Optional[int] = None,
    seed: int = 0,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> _FrameBatchSampler:
    """Build a sampler by name (``sgs`` | ``sequential`` | ``shuffle``).

    Args:
        group_size: SGS/sequential group length G; None = ``batch_size`` (SPEC section 3).
    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; valid: {sorted(SAMPLERS)}")
    size = batch_size
    if name != "shuffle" and group_size is not None:
        size = group_size
    return SAMPLERS[name](
        seq_lengths,
        batch_size=size,
        seed=seed,
        drop_last=drop_last,
        rank=rank,
        world_size=world_size,
    )


def positives_per_anchor(
    batches: Iterable[Sequence[int]], frame_labels: Sequence[Sequence[int]]
) -> Dict[str, float]:
    """How many positives an anchor has in its batch (what batch-hard triplet losses feed on).

    For every batch and every labelled box (anchor, label >= 0) of it, the positives are the other
    boxes of the batch with the same label (same identity, other frames: a frame holds each
    identity once).

    Args:
        batches: lists of dataset indices, e.g. one epoch of a sampler.
        frame_labels: per dataset index, the (N_i,) identity labels of that frame's boxes
            (-1 = unlabelled, ignored).

    Returns:
        {"positives_per_anchor": mean over batches of the mean positives per anchor,
         "anchors_with_positive": mean over batches of the fraction of anchors with >= 1,
         "batches": number of batches with at least one anchor}
    """
    per_batch, with_pos = [], []
    for batch in batches:
        labels = [int(l) for i in batch for l in frame_labels[i] if int(l) >= 0]
        if not labels:
            continue
        counts: Dict[int, int] = {}
        for l in labels:
            counts[l] = counts.get(l, 0) + 1
        pos = [counts[l] - 1 for l in labels]
        per_batch.append(sum(pos) / len(pos))
        with_pos.append(sum(p > 0 for p in pos) / len(pos))
    n = len(per_batch)
    return {
        "positives_per_anchor": sum(per_batch) / n if n else 0.0,
        "anchors_with_positive": sum(with_pos) / n if n else 0.0,
        "batches": n,
    }


def sampler_positives(
    seq_lengths: Sequence[int],
    frame_labels: Sequence[Sequence[int]],
    batch_size: int = 8,
    group_size: Optional[int] = None,
    seed: int = 0,
    epochs: int = 1,
    names: Sequence[str] = ("sequential", "shuffle", "sgs"),
) -> Dict[str, Dict[str, float]]:
    """:func:`positives_per_anchor` of every sampler over ``epochs`` epochs (batch mean).

    Args:
        seq_lengths, batch_size, group_size, seed: as :func:`build_batch_sampler`.
        frame_labels: per dataset index, that frame's box labels
            (:meth:`finetrack.data.reid_dataset.ReIDFrameDataset.targets` ``["labels"]``).

    Returns:
        {sampler name: positives_per_anchor(...) over all its batches}
    """
    out = {}
    for name in names:
        sampler = build_batch_sampler(name, seq_lengths, batch_size, group_size, seed)
        batches: List[List[int]] = []
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            batches.extend(list(sampler))
        out[name] = positives_per_anchor(batches, frame_labels)
    return out
