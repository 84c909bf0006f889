"""Losses of FineTrack: identity cross-entropy, soft-margin batch-hard triplet, diversity."""
from finetrack.losses.combined import FineTrackLoss
from finetrack.losses.diversity import diversity_loss
from finetrack.losses.id_loss import global_id_loss, part_id_loss
from finetrack.losses.triplet import batch_hard_triplet_loss, pairwise_euclidean, part_triplet_loss

__all__ = [
    "FineTrackLoss",
    "batch_hard_triplet_loss",
    "diversity_loss",
    "global_id_loss",
    "pairwise_euclidean",
    "part_id_loss",
    "part_triplet_loss",
]
