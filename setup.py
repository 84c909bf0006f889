"""FineTrack: online MOT with diverse fine-grained Re-ID representation (CVPR 2023), as software.

Install with `bash scripts/setup_env.sh` (what `make demo` / `make test` run): torch must be present
before yolox is built, so the order matters; see requirements.txt.
"""
from setuptools import find_packages, setup

setup(
    name="finetrack",
    version="0.1.0",
    description="FineTrack: FAFPN + MPMG Re-ID head on YOLOX with a ByteTrack-style associator",
    packages=find_packages(include=["finetrack", "finetrack.*"]),
    python_requires=">=3.9",
    # Runtime deps are pinned in requirements.txt and installed by scripts/setup_env.sh;
    # yolox must be installed with --no-deps --no-build-isolation after torch.
    install_requires=[],
    include_package_data=True,
    # `finetrack track | train-reid | train-det | train-fairmot | eval | eval-reid | eval-det | make-synthetic |
    # prepare-data | vis-masks`: the same code as tools/<name>.py (finetrack/cli/)
    entry_points={"console_scripts": ["finetrack=finetrack.cli:main"]},
)
