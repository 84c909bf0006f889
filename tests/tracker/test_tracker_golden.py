"""The tracker's per-frame speed-up (issue 17) and the per-mode policy refactor (issue 15) keep
every mode's result file byte-identical to the tracker before them (golden digests written by that
code, see golden_cases.py)."""
import json

import pytest

from tests.tracker.golden_cases import BLOCK, CASES, GOLDEN, PETS09_DET, digest, run_case

_GOLD = json.loads(GOLDEN.read_text())


def test_every_case_has_a_golden_digest():
    assert sorted(_GOLD) == sorted(CASES)


#: the benchmark's crowd (300 frames x 80 people, 1024-d embeddings drawn): a few seconds
SLOW = {"bench_crowd_byte"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in sorted(CASES)])
def test_result_file_identical_to_golden(name, tmp_path):
    if CASES[name][0] == "pets" and not PETS09_DET.is_file():
        pytest.skip(f"real data absent: {PETS09_DET}")
    out = tmp_path / f"{name}.txt"
    run_case(name, out)
    got, want = digest(out.read_text()), _GOLD[name]
    if got["sha256"] != want["sha256"]:
        bad = next((b for b, (g, w) in enumerate(zip(got["blocks"], want["blocks"])) if g != w),
                   min(len(got["blocks"]), len(want["blocks"])))
        pytest.fail(f"{name}: result file differs from the golden one ({got['rows']} rows, "
                    f"golden {want['rows']}); first difference in frames "
                    f"{bad * BLOCK + 1}-{(bad + 1) * BLOCK}")
