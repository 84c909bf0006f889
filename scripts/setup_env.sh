#!/usr/bin/env bash
# Create (or complete) the project's virtual environment in .venv/.
# Idempotent: a stamp file records the hash of the requirement files; nothing is reinstalled
# when they did not change. Works offline except for the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
stamp="$VENV/.finetrack-installed"
want=$(cat requirements.txt requirements-nodeps.txt setup.py | sha1sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup_env] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
pip="$VENV/bin/python -m pip"
$pip install -q --upgrade pip setuptools wheel
echo "[setup_env] installing torch + torchvision (from this machine's disk when available)"
$pip install -q "$(grep '^torch==' requirements.txt)" "$(grep '^torchvision==' requirements.txt)"
echo "[setup_env] installing the other requirements"
$pip install -q -r requirements.txt
echo "[setup_env] installing yolox + torchreid + trackeval (--no-deps; yolox and torchreid are built against the installed torch)"
$pip install -q --no-deps --no-build-isolation -r requirements-nodeps.txt
echo "[setup_env] installing finetrack (editable)"
$pip install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import torch, torchvision, yolox, cv2, lap, trackeval, motmetrics; print('[setup_env] ok: torch', torch.__version__, '| yolox', yolox.__version__)"
echo "$want" > "$stamp"
