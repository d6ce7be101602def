"""The constructive plan (MIP start, last-resort incumbent, cheap bound), by hand on duo."""

from __future__ import annotations

import pytest
from scenario_factory import base_tables, duo, scenario

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


def parity_case() -> tuple[object, object]:
    """Base scenario B (independent demand: online 50 x 5, store 30 x 5, dealer 20 x 4)
    with a second online level: promo at 8 doubles online demand (100 x 3 = 300 > 250).
    The parity band (10% of 10) keeps promo (8) from the store and dealer price (10).
    By hand: {online full, store, dealer} = 250 + 150 + 80 = 480 (optimal);
    {online promo} alone = 300; the cell's best set taken level by level
    ({online promo, store, dealer}, 530) breaks the band.
    """
    t = base_tables()
    t["price_levels"] = [
        {"product": "p1", "channel": "online", "level": "full", "price": 10.0},
        {"product": "p1", "channel": "online", "level": "promo", "price": 8.0,
         "demand_multiplier": 2.0}]
    return build_array_model(scenario(t, rules={"price_parity": {"band": 0.1}}))


def test_levels_that_break_the_parity_band_are_not_chosen_together() -> None:
    # before: the levels were chosen per (product, channel) alone, the design broke the
    # band and the plan fell back to the empty one (0)
    am, data = parity_case()
    c = construct(am, data)
    assert c.x is not None
    assert check_rows(am, c.x) == []
    assert c.objective == pytest.approx(480.0, rel=1e-9)
