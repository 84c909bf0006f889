"""Shared fixtures: the real data folder beside the checkout, tiny MOT fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest

try:  # one intra-op thread: on 2 shared cores torch's default 2 threads ran 10-100x slower
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the suite needs torch, but keep conftest importable
    pass

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PETS09 = SHARED_DATA / "MOT15" / "train" / "PETS09-S2L1"
MOT17_MINI = SHARED_DATA / "MOT17-mini" / "train"


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test runs on one intra-op thread; a test that changes it cannot leak the change."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def pets09_dir() -> Path:
    if not (PETS09 / "seqinfo.ini").is_file():
        pytest.skip(f"real data absent: {PETS09} (../shared/data beside the checkout)")
    return PETS09


@pytest.fixture
def mot17_mini_dir() -> Path:
    if not MOT17_MINI.is_dir():
        pytest.skip(f"real data absent: {MOT17_MINI} (../shared/data beside the checkout)")
    return MOT17_MINI


def _listing(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.is_dir() else []


@pytest.fixture(scope="session", autouse=True)
def shared_data_is_never_written():
    """Tests run as root in CI, so file permissions do not protect ../shared: check it by listing."""
    before = _listing(SHARED_DATA)
    yield
    after = _listing(SHARED_DATA)
    added = sorted(set(after) - set(before))
    assert not added, f"tests wrote into {SHARED_DATA}: {added[:5]}"
