"""Wall time of README's first example (`finetrack track --source clip.mp4 --det-ckpt yolox-s
--out out --video`), PyTorch and onnxruntime; the code is finetrack/studies/first_example.py."""
import sys

from finetrack.studies.first_example import main

if __name__ == "__main__":
    sys.exit(main())
