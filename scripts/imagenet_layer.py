"""Choose the ``imagenet`` cue's MobileNetV2 layer, pooling and crop size by GT-box retrieval (issue 27).

The code is finetrack/studies/imagenet_layer.py; `python scripts/imagenet_layer.py --help` shows the flags.
"""
import sys

from finetrack.studies.imagenet_layer import main

if __name__ == "__main__":
    sys.exit(main())
