#!/usr/bin/env bash
# The paper's Table 6 at small scale: track with the Table 4 Re-ID variants of a
# scripts/run_reid_ablations.py output folder (fpn_gap = baseline, fafpn_gap = +FAFPN,
# fpn_mpmg = +MPMG, fafpn_mpmg = both) in `finetrack` mode on the public detections of the second
# halves, plus `byte` (no appearance), and print MOTA / IDF1 / IDs / HOTA / AssA per method.
#   bash scripts/track_ablation.sh ABLATION_DIR DATA_ROOT [SEQ ...]
#   bash scripts/track_ablation.sh outputs/ablations/pets09 ../shared/data/MOT15 PETS09-S2L1
#   bash scripts/track_ablation.sh outputs/ablations/synthetic datasets/synthetic
# Writes ABLATION_DIR/track/<method>/<SEQ>.txt and ABLATION_DIR/table6.{json,png}.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ $# -ge 2 ] || { sed -n 2,9p "$0"; exit 2; }
ABL=$1; ROOT=$2; shift 2
seqs=(); [ $# -gt 0 ] && seqs=(--seqs "$@")
common=(--data-root "$ROOT" --split train "${seqs[@]}" --half val --det public --overwrite --no-progress)
$PY tools/track.py "${common[@]}" --mode byte --out "$ABL/track/byte"
compare=(byte="$ABL/track/byte")
for pair in baseline:fpn_gap +FAFPN:fafpn_gap +MPMG:fpn_mpmg FAFPN+MPMG:fafpn_mpmg; do
  name=${pair%%:*}; variant=${pair#*:}
  ckpt="$ABL/$variant/best.pth"
  [ -f "$ckpt" ] || { echo "missing $ckpt: run scripts/run_reid_ablations.py --tables 4 first"; exit 2; }
  $PY tools/track.py "${common[@]}" --mode finetrack --reid-ckpt "$ckpt" --out "$ABL/track/$variant"
  compare+=("$name=$ABL/track/$variant")
done
$PY tools/eval.py --gt-root "$ROOT/train" "${seqs[@]}" --split val_half --compare "${compare[@]}" \
    --json "$ABL/table6.json" --plot "$ABL/table6.png"
