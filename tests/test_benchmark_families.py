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

from benchmarks import generator  # noqa: E402
from benchmarks.report import binding_by_rule, plan_profile, rules_on  # noqa: E402
from benchmarks.rootgap import best_plan  # noqa: E402
from channel_opt.model import build_array_model  # noqa: E402
from channel_opt.scenario import Scenario  # noqa: E402

# The families whose calibration has been verified on seeds 0-3 at 10^3 and 0-1 at
# 3*10^3 cells (benchmarks/README.md, "Families that bind"). conflict, partners, all and
# apparel are not yet established across seeds (issue 13 stays open for them): they
# join this list when a quiet-machine sweep shows they hold.
VERIFIED = ("core", "capacity")
MIN_SHARE = 0.05
CELLS = 300
TIME_LIMIT = 120.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", VERIFIED)
def test_family_binds(name: str, seed: int) -> None:
    fam = generator.FAMILIES[name]
    tables, settings = generator.generate(name, CELLS, seed)
    scen = Scenario.from_frames(tables, settings, name=name)
    am, data = build_array_model(scen)
    best = best_plan(am, data, TIME_LIMIT, mip_gap=1e-3)
    assert best["x"] is not None, f"{name} seed {seed}: no plan within {TIME_LIMIT} s"
    on = rules_on(scen.settings)
    prof = plan_profile(am, data, best["x"], on)
    low = {k: round(v, 3) for k, v in prof["mix"].items() if v < MIN_SHARE}
    assert not low, f"{name} seed {seed}: channels under {MIN_SHARE:.0%} of the units: {low}"
    by_rule = binding_by_rule(prof["binding"])
    assert set(by_rule) == on
    unbound = sorted(k for k, (hit, _) in by_rule.items() if not hit)
    assert not unbound, f"{name} seed {seed}: no binding row for {unbound}: {prof['binding']}"
    if "overlap" in on:
        assert prof["overlap_pairs"] > 0
    if fam.price_levels:
        assert prof["markdown_units"] > 0
    if "commission" in on:
        assert prof["commission_regions"] > 0
