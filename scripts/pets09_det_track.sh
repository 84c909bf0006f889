#!/usr/bin/env bash
# Track PETS09-S2L1's second half with our own YOLOX detector (configs/det_pets09.yaml) in `byte` and
# `finetrack` modes at several detection thresholds, and score them next to the public-detection runs
# of scripts/pets09_demo.sh (tools/eval.py --split val_half).
# Needs: DET_CKPT (default outputs/det_pets09/best.pth, from tools/train_det.py -c configs/det_pets09.yaml)
# and the outputs of scripts/pets09_demo.sh in PETS_OUT (default outputs/pets09_demo: Re-ID best.pth and
# the public-detection results). Knobs: OUT, THRESHOLDS ("0.6 0.5 0.4"; new tracks need +0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
ROOT=${PETS_ROOT:-../shared/data/MOT15}
PETS_OUT=${PETS_OUT:-outputs/pets09_demo}
DET_CKPT=${DET_CKPT:-outputs/det_pets09/best.pth}
OUT=${OUT:-outputs/det_track}
THRESHOLDS=${THRESHOLDS:-0.6 0.5 0.4}
for f in "$DET_CKPT" "$PETS_OUT/reid/best.pth" "$PETS_OUT/track_byte/PETS09-S2L1.txt"; do
  [ -f "$f" ] || { echo "missing $f (see the header of $0)"; exit 2; }
done
compare=(public_byte="$PETS_OUT/track_byte" public_finetrack="$PETS_OUT/track_finetrack")
for th in $THRESHOLDS; do
  new=$($PY -c "print(round($th + 0.1, 2))")
  for mode in byte finetrack; do
    echo "== yolox detections, $mode, track_thresh $th (new tracks >= $new)"
    $PY tools/track.py --data-root "$ROOT" --split train --seqs PETS09-S2L1 --half val --det yolox \
        --det-ckpt "$DET_CKPT" --reid-ckpt "$PETS_OUT/reid/best.pth" --mode "$mode" \
        --out "$OUT/yolox_${mode}_t$th" --overwrite --no-progress tracker.track_thresh="$th" tracker.new_track_thresh="$new"
    compare+=("yolox_${mode}_t$th=$OUT/yolox_${mode}_t$th")
  done
done
$PY tools/eval.py --gt-root "$ROOT/train" --seqs PETS09-S2L1 --split val_half --compare "${compare[@]}" \
    --json "$OUT/compare.json" --plot "$OUT/compare.png"
