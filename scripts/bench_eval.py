"""Time tools/eval.py on a MOT17-sized synthetic set (7 sequences, ~5.3k frames, ~100k GT boxes).

The code is finetrack/studies/bench_eval.py; `python scripts/bench_eval.py --help` shows the flags.
"""
import sys

from finetrack.studies.bench_eval import main

if __name__ == "__main__":
    sys.exit(main())
