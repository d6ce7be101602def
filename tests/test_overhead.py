"""The overhead benchmark's sweep mode (``benchmarks/overhead.py --sweep``): it times
the same points four ways and the four agree on every point's profit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import overhead  # noqa: E402


@pytest.mark.slow  # a few seconds: 2 points solved four ways
def test_sweep_mode_times_the_same_points_four_ways() -> None:
    r = overhead.measure_sweep("tiny", 2, 1, 60.0, "rules.overlap.cost")
    assert r["points"] == 2 and r["cols"] > 0
    assert set(r["median"]) == {"bare", "loop", "sweep", "sweep+out"}
    assert all(v > 0 for v in r["median"].values())
    assert set(r["cpu"]) == set(r["median"])
    # bare HiGHS, the solve loop, the sweep and the written sweep: the same profits
    assert r["objective_mismatch"] < 1e-6
    wall, cpu = overhead.sweep_table([r]).splitlines()[-2:]
    assert wall.startswith("| tiny | 2 | wall | ") and cpu.startswith("| tiny | 2 | CPU | ")
    assert wall.count("x |") == 3  # the three ratios to the bare sum
