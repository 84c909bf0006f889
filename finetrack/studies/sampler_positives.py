"""Positives per anchor per batch of every Re-ID sampler on a config's training frames.

    .venv/bin/python scripts/sampler_positives.py -c configs/pets09.yaml
    .venv/bin/python scripts/sampler_positives.py -c configs/synthetic_reid.yaml \
        data.root=datasets/mot17like --json outputs/mot17like_positives.json

Builds the config's Re-ID training dataset (GT only; no image is read), runs every sampler
(``sequential``, ``shuffle``, ``sgs``) for ``--epochs`` epochs at ``train.batch_size`` and prints,
per sampler, the mean number of same-identity boxes an anchor has in its batch
(:func:`finetrack.data.samplers.positives_per_anchor`). That is what batch-hard triplet losses
can use, and what Shuffle-Group Sampling is meant to raise. Exit 2 on a bad config.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from finetrack.config import Config
from finetrack.configlib import ConfigError, load_config
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]


def measure(cfg, epochs: int = 3) -> dict:
    """Positives per anchor of every sampler on ``cfg``'s Re-ID training frames (GT only).

    Returns:
        {"sequences", "frames", "identities", "batch_size", "epochs", "samplers": {name: {
        "positives_per_anchor", "anchors_with_positive", "batches"}}}.
    """
    from finetrack.data.samplers import sampler_positives
    from finetrack.engine.reid_build import build_reid_datasets

    train, _ = build_reid_datasets(cfg)
    labels = [train.targets(i)["labels"] for i in range(len(train))]
    res = sampler_positives(train.seq_lengths, labels, cfg.train.batch_size, cfg.data.group_size,
                            cfg.seed, epochs=epochs)
    return {"sequences": len(train.seq_lengths), "frames": len(train),
            "identities": train.num_identities, "batch_size": cfg.train.batch_size,
            "epochs": epochs, "samplers": res}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", required=True, help="Re-ID config (configs/*.yaml)")
    p.add_argument("--epochs", type=int, default=3, help="epochs of batches averaged")
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        cfg = load_config(Config, args.config, args.overrides)
        out = {"config": args.config, "overrides": args.overrides,
               **measure(cfg, epochs=args.epochs)}
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, r in out["samplers"].items():
        print(f"{name:10s} positives/anchor {r['positives_per_anchor']:.2f}  anchors with a "
              f"positive {100 * r['anchors_with_positive']:.1f}%  ({r['batches']} batches)")
    text = json.dumps(out, indent=1)
    print(text)
    if args.json is not None:
        atomic_write_text(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
