#!/usr/bin/env bash
# `make demo`: the main job end to end on an embedded default, on CPU.
# Stage 1 (foundation): generate the default synthetic dataset and print its statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=${DEMO_OUT:-outputs/demo}
DATA=${DEMO_DATA:-datasets/synthetic}
mkdir -p "$OUT"
echo "== [1] synthetic MOT sequences -> $DATA"
$PY tools/make_synthetic.py --out "$DATA" --json "$OUT/synthetic_stats.json"
