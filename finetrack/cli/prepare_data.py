"""Write the ByteTrack half-split GT files (gt/gt_train_half.txt, gt/gt_val_half.txt) of a dataset.

    finetrack prepare-data --data-root datasets/MOT17 --split train [--seqs A B] [--overwrite]

Validates every gt.txt first (a malformed line stops with file:line, exit code 2) and prints a
summary table per sequence (format, frames, identities, boxes kept by the default GT filter).
"""
from __future__ import annotations

import sys


from finetrack.cli import common
from finetrack.data.identities import GTFilter
from finetrack.data.mot import list_sequences, MOTFormatError, MOTSequence
from finetrack.data.splits import write_half_split


def main(argv=None) -> int:
    ap = common.parser("finetrack prepare-data", __doc__,
                       "  finetrack prepare-data --data-root datasets/MOT17 --split train")
    ap.add_argument("--data-root", "--root", dest="root", required=True,
                    help="dataset root holding <split>/<SEQ>/ (--root: old spelling)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--seqs", nargs="*", default=None)
    ap.add_argument("--all-mot17-copies", action="store_true", help="also DPM/SDP copies of MOT17")
    ap.add_argument("--overwrite", action="store_true")
    common.add_verbose(ap)
    args = ap.parse_args(argv)
    common.setup_logging(args.verbose, fmt="%(message)s")
    try:
        seq_dirs = list_sequences(
            f"{args.root}/{args.split}", args.seqs, None if args.all_mot17_copies else "FRCNN"
        )
        written = []
        print(f"{'sequence':<22}{'format':<12}{'frames':>7}{'ids':>6}{'boxes':>8}{'kept':>8}  half files")
        for d in seq_dirs:
            seq = MOTSequence(d, require_images=False)
            gt = seq.gt()
            kept = GTFilter().apply(gt)
            out = write_half_split(d, overwrite=args.overwrite)
            written += [out["train"], out["val"]]
            print(
                f"{seq.name:<22}{gt.format:<12}{len(seq):>7}{len(set(gt.ids.tolist())):>6}"
                f"{len(gt):>8}{len(kept):>8}  {out['train'].name}, {out['val'].name}"
            )
    except (MOTFormatError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    common.print_files(written, "half-split files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
