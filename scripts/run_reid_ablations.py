"""Run the Re-ID ablations of the paper (Table 3: sampler; Table 4: neck x pooling; Table 5: FAM)

The code is finetrack/studies/run_reid_ablations.py; `python scripts/run_reid_ablations.py --help` shows the flags.
"""
import sys

from finetrack.studies.run_reid_ablations import main

if __name__ == "__main__":
    sys.exit(main())
