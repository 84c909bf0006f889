#!/usr/bin/env bash
# The real-data counterpart of `make demo`, on PETS09-S2L1 (../shared/data/MOT15, 795 frames, 7 fps):
# train the Re-ID head on the first half (configs/pets09.yaml), track the second half with the public
# detections in `byte` and `finetrack` modes, and score both with tools/eval.py (val half).
# Knobs (environment): PETS_OUT, PETS_ROOT, PETS_REID_CKPT (skip training, use this checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=${PETS_OUT:-outputs/pets09_demo}
ROOT=${PETS_ROOT:-../shared/data/MOT15}
mkdir -p "$OUT"
if [ ! -f "$ROOT/train/PETS09-S2L1/seqinfo.ini" ]; then
  echo "PETS09-S2L1 not found under $ROOT/train (set PETS_ROOT)"; exit 2
fi
CKPT=${PETS_REID_CKPT:-}
if [ -z "$CKPT" ]; then
  echo "== Re-ID training on frames 1..397 -> $OUT/reid"
  $PY tools/train_reid.py -c configs/pets09.yaml data.root="$ROOT" out_dir="$OUT/reid" train.progress=false overwrite=true
  CKPT="$OUT/reid/best.pth"
fi
echo "== tracking frames 398..795 (public det.txt)"
for mode in byte finetrack; do
  $PY tools/track.py --data-root "$ROOT" --split train --seqs PETS09-S2L1 --half val --det public \
      --mode "$mode" --reid-ckpt "$CKPT" --out "$OUT/track_$mode" --overwrite --no-progress
done
echo "== evaluation (second half)"
$PY tools/eval.py --gt-root "$ROOT/train" --seqs PETS09-S2L1 --split val_half --evaluator both \
    --compare byte="$OUT/track_byte" finetrack="$OUT/track_finetrack" \
    --json "$OUT/compare.json" --plot "$OUT/compare.png"
