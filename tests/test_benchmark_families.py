"""Each benchmark family tests what it names (issue 13): solved at ~300 cells on two
seeds, the best plan gives every channel a real share of the units, and every rule
family the family switches on has binding rows (plus overlaps and markdown prices
where the family has those rules).

Slow: one constructive plan + HiGHS solve per family and seed (tens of seconds each
on a quiet 2-core machine).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.families_check import check  # noqa: E402

# The families whose calibration holds on seeds 0-3 at 10^3 cells (benchmarks/README.md,
# "Families that bind"), with the size they are checked at here: conflict needs 10^3
# (at 300 cells seed 0 the store sells 2.5 % of the units, seed 1 never marks down);
# apparel holds on seeds 0-3 at 10^3 since some of its floors are out of easy reach.
# partners and all join when a quiet-machine sweep
# (``python -m benchmarks.families_check``) shows they hold.
VERIFIED = (("core", 300), ("capacity", 300), ("conflict", 1000), ("apparel", 1000))
TIME_LIMIT = 120.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("name", "cells"), VERIFIED)
def test_family_binds(name: str, cells: int, seed: int) -> None:
    r = check(name, cells, seed, TIME_LIMIT)
    assert not r["problems"], f"{name} seed {seed}: {r['problems']}"
