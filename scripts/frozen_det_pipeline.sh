#!/usr/bin/env bash
# The paper's pipeline on one sequence, on CPU (issue 12, deliverable 1): detector first
# (configs/det_<X>.yaml), then the Re-ID head on its FROZEN backbone (configs/<X>_frozen_det.yaml),
# then tracking the second half where each frame runs the backbone once ("pipeline: joint"), in
# modes byte / finetrack / robust, scored with TrackEval (tools/eval.py).
#   bash scripts/frozen_det_pipeline.sh pets09        # PETS09-S2L1 (MOT15)
#   bash scripts/frozen_det_pipeline.sh mot17_09      # MOT17-09-FRCNN (MOT17, ByteTrack's half split)
# Outputs: the detector in outputs/det_<X> (its config's model.det_ckpt), the Re-ID head in
# outputs/<X>_frozen_det, tracks in outputs/<X>_frozen_det/track.
# Knobs: STEPS (default "det reid track eval"), NANO_REID (a
# Re-ID checkpoint with an untrained detector head, e.g. configs/pets09.yaml's: tracked as a
# second-network row with the same detector, "nano_two_networks").
# Every step uses one thread (OMP_NUM_THREADS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} PYTHONPATH=$PWD
X=${1:?usage: $0 pets09|mot17_09}
case $X in
  pets09) ROOT=../shared/data/MOT15; SEQ=PETS09-S2L1 ;;
  mot17_09) ROOT=../shared/data/MOT17; SEQ=MOT17-09-FRCNN ;;
  *) echo "unknown sequence $X (pets09 | mot17_09)"; exit 2 ;;
esac
STEPS=${STEPS:-det reid track eval}
DET=outputs/det_$X/best.pth
REID=outputs/${X}_frozen_det/best.pth
OUT=outputs/${X}_frozen_det
for step in $STEPS; do
  case $step in
    det)
      $PY tools/train_det.py -c configs/det_$X.yaml out_dir=outputs/det_$X
      $PY tools/eval_det.py --ckpt "$DET" -c configs/det_$X.yaml --json outputs/det_$X/ap_val.json ;;
    reid)
      $PY tools/train_reid.py -c configs/${X}_frozen_det.yaml out_dir=$OUT ;;
    track)
      $PY tools/track.py --data-root $ROOT --split train --seqs $SEQ --half val --det yolox \
          --det-ckpt "$DET" --mode byte --out "$OUT/track/byte" --overwrite --no-progress
      for mode in finetrack robust; do  # --reid-ckpt alone: its frozen detector gives the boxes
        $PY tools/track.py --data-root $ROOT --split train --seqs $SEQ --half val --det yolox \
            --reid-ckpt "$REID" --mode $mode --out "$OUT/track/$mode" --overwrite --no-progress
      done
      if [ -n "${NANO_REID:-}" ]; then
        for mode in finetrack robust; do
          $PY tools/track.py --data-root $ROOT --split train --seqs $SEQ --half val --det yolox \
              --det-ckpt "$DET" --reid-ckpt "$NANO_REID" --mode $mode \
              --out "$OUT/track/nano_two_networks_$mode" --overwrite --no-progress
        done
      fi ;;
    eval)
      compare=(byte="$OUT/track/byte" finetrack="$OUT/track/finetrack" robust="$OUT/track/robust")
      for d in "$OUT"/track/nano_two_networks_*; do
        [ -d "$d" ] && compare+=("$(basename "$d")=$d")
      done
      $PY tools/eval.py --data-root $ROOT --split train --seqs $SEQ --compare "${compare[@]}" \
          --json "$OUT/track/compare.json" ;;
    *) echo "unknown step $step"; exit 2 ;;
  esac
done
