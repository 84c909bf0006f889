#!/usr/bin/env python
"""The paper's head on the ImageNet MobileNetV2 maps, leave-one-scene-out (issue 27 item 5).

The code is finetrack/studies/pretrained_head.py; `python scripts/pretrained_head.py --help` shows the flags.
"""
import sys

from finetrack.studies.pretrained_head import main

if __name__ == "__main__":
    sys.exit(main())
