"""The constructive plan (MIP start, last-resort incumbent, cheap bound), by hand on duo."""

from __future__ import annotations

import pytest
from scenario_factory import duo, parity_levels_scenario

from channel_opt.model import build_array_model
from channel_opt.solving.check import check_rows
from channel_opt.solving.heuristic import construct

BOTH = 100 / 3 * (50 + 30)  # {online, store}: 2666.67; {online}: 2500; {store}: 1500


def test_best_set_per_cell_and_its_bound() -> None:
    am, data = build_array_model(duo())
    c = construct(am, data)
    assert c.x is not None
    assert check_rows(am, c.x) == []
    assert c.objective == pytest.approx(BOTH, rel=1e-9)
    assert c.bound == pytest.approx(BOTH, rel=1e-9)


def test_overlap_budget_ends_the_cheapest_side() -> None:
    # budget 0: the cell's best set {online, store} overlaps. Ending it online-side leaves
    # {store} (loses 1166.67), offline-side leaves {online} (loses 166.67): {online}, 2500
    am, data = build_array_model(duo({"rules": {"overlap": {"max_pairs": 0}}}))
    c = construct(am, data)
    assert c.x is not None
    assert check_rows(am, c.x) == []
    assert c.objective == pytest.approx(2500.0, rel=1e-9)


def test_levels_that_break_the_parity_band_are_not_chosen_together() -> None:
    # before: the levels were chosen per (product, channel) alone, the design broke the
    # band and the plan fell back to the empty one (0)
    am, data = build_array_model(parity_levels_scenario())
    c = construct(am, data)
    assert c.x is not None
    assert check_rows(am, c.x) == []
    assert c.objective == pytest.approx(480.0, rel=1e-9)
