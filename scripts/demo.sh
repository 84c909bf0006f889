#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded default, on CPU:
#   synthetic MOT sequences -> short Re-ID training (first halves) -> tracking of the second halves
#   with `byte` (motion only) and `finetrack` (appearance + IoU) on the same noisy public detections
#   -> tools/eval.py table (HOTA, IDF1, IDs) -> one rendered video.
# Knobs (environment): DEMO_OUT, DEMO_DATA, DEMO_EPOCHS.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=${DEMO_OUT:-outputs/demo}
DATA=${DEMO_DATA:-datasets/synthetic}
EPOCHS=${DEMO_EPOCHS:-4}
mkdir -p "$OUT"
t0=$(date +%s)
stamp() { echo "   ($(( $(date +%s) - t0 )) s so far)"; }

echo "== [1/5] synthetic MOT sequences -> $DATA"
$PY tools/make_synthetic.py --out "$DATA" --json "$OUT/synthetic_stats.json"
stamp

echo "== [2/5] Re-ID training (FAFPN + MPMG, SGS) on the first halves, $EPOCHS epochs -> $OUT/reid"
$PY tools/train_reid.py -c configs/synthetic_reid.yaml data.root="$DATA" out_dir="$OUT/reid" \
    train.epochs="$EPOCHS" train.lr_step_epoch=$(( EPOCHS * 3 / 4 )) reid_eval.max_frames=40 \
    train.progress=false resume=false overwrite=true
stamp

echo "== [3/5] tracking the second halves (public det.txt): byte vs finetrack"
$PY tools/track.py --data-root "$DATA" --split train --half val --det public --mode byte \
    --out "$OUT/track_byte" --overwrite --no-progress
$PY tools/track.py --data-root "$DATA" --split train --half val --det public --mode finetrack \
    --reid-ckpt "$OUT/reid/best.pth" --out "$OUT/track_finetrack" --overwrite --video --no-progress
stamp

echo "== [4/5] evaluation (second halves, TrackEval + motmetrics)"
$PY tools/eval.py --gt-root "$DATA/train" --split val_half \
    --compare byte="$OUT/track_byte" finetrack="$OUT/track_finetrack" \
    --json "$OUT/compare.json" --plot "$OUT/compare.png"
stamp

echo "== [5/5] outputs"
echo "   Re-ID metrics:  $OUT/reid/metrics.json"
echo "   results:        $OUT/track_byte/, $OUT/track_finetrack/"
echo "   table + plot:   $OUT/compare.json, $OUT/compare.png"
echo "   videos:         $(ls "$OUT"/track_finetrack/videos/*.mp4 | head -1) (one per sequence)"
echo "   total: $(( $(date +%s) - t0 )) s"
