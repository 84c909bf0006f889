"""Per-stage time of `byte` and `finetrack` tracking on PETS09-S2L1 frames, PyTorch and ONNX.

The code is finetrack/studies/bench_stages.py; `python scripts/bench_stages.py --help` shows the flags.
"""
import sys

from finetrack.studies.bench_stages import main

if __name__ == "__main__":
    sys.exit(main())
