#!/usr/bin/env bash
# Table 6 rows for any set of Re-ID checkpoints (FineTrack heads and crop networks alike): track
# the second halves on the public detections with each checkpoint in `finetrack` and `robust`
# mode, plus `byte` (no appearance), then print MOTA / IDF1 / IDs / HOTA / AssA per run (TrackEval).
#   bash scripts/track_models.sh OUT DATA_ROOT SEQ NAME=CKPT [NAME=CKPT ...]
#   bash scripts/track_models.sh outputs/track_rows ../shared/data/MOT15 PETS09-S2L1 \
#       center=outputs/pets09_center/best.pth crop_osnet=outputs/pets09_crop_osnet/best.pth
# Writes OUT/<NAME>_<mode>/<SEQ>.txt, OUT/byte/<SEQ>.txt and OUT/table6.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ $# -ge 4 ] || { sed -n 2,8p "$0"; exit 2; }
OUT=$1; ROOT=$2; SEQ=$3; shift 3
common=(--data-root "$ROOT" --split train --seqs "$SEQ" --half val --det public --overwrite --no-progress)
$PY tools/track.py "${common[@]}" --mode byte --out "$OUT/byte"
compare=(byte="$OUT/byte")
for pair in "$@"; do
  name=${pair%%=*}; ckpt=${pair#*=}
  [ -f "$ckpt" ] || { echo "missing $ckpt"; exit 2; }
  for mode in finetrack robust; do
    $PY tools/track.py "${common[@]}" --mode "$mode" --reid-ckpt "$ckpt" --out "$OUT/${name}_$mode"
    compare+=("${name}_$mode=$OUT/${name}_$mode")
  done
done
$PY tools/eval.py --gt-root "$ROOT/train" --seqs "$SEQ" --split val_half --compare "${compare[@]}" \
    --json "$OUT/table6.json"
