"""The LP relaxation's bound and prices (``solving/relaxation.py``), by hand.

Base scenario B under independent demand (online 50 units x margin 5, store 30 x 5,
dealer 20 x 4) with store labour: 0.1 h per store unit, 2 h in the region, so the
store sells at most 20 units. By hand: profit 250 + 20 x 5 + 80 = 430 (the LP relaxation
too: nothing is fractional); an hour of labour is worth 10 units x 5 = 50, so at the
LP's prices a store unit is worth 5 - 0.1 x 50 = 0, an online unit 5, a dealer unit 4.
"""

from __future__ import annotations

import numpy as np
import pytest
from scenario_factory import base_tables, edit, parity_levels_scenario, scenario

from channel_opt.model import build_array_model
from channel_opt.solving import pipeline
from channel_opt.solving.budget import Budget
from channel_opt.solving.engines import OPTIMAL
from channel_opt.solving.relaxation import priced_sales_values, relax


def labour_case() -> tuple[object, object]:
    t = edit(base_tables(), "channels", "store", labour_hours=0.1)
    t = edit(t, "regions", "north", store_labour_hours=2.0)
    return build_array_model(scenario(t, rules={"store_labour": True}))


def test_lp_bound_and_the_price_of_labour_by_hand() -> None:
    am, data = labour_case()
    rel = relax(am)
    assert rel.status == OPTIMAL
    assert rel.bound == pytest.approx(430.0, rel=1e-9)
    unit = priced_sales_values(am, rel.duals)
    channel = data.channels["id"].to_numpy()[data.sales["k"].to_numpy()]
    by_channel = dict(zip(channel, unit, strict=True))
    assert by_channel == pytest.approx({"online": 5.0, "store": 0.0, "dealer": 4.0},
                                       abs=1e-9)


def test_a_limited_solve_reports_the_lp_bound_where_the_cheap_one_is_loose() -> None:
    am, data = build_array_model(parity_levels_scenario())
    start = pipeline._construct(am, data, Budget(60.0), share=0.5)
    assert start.x is not None
    assert start.objective == pytest.approx(480.0, rel=1e-9)
    assert start.bound == pytest.approx(480.0, rel=1e-9)  # the LP's
    # no LP without a limit: the cheap bound, the cell's three (its most channels) best
    # options each alone: online promo 300 + online full 250 + store 150
    unlimited = pipeline._construct(am, data, Budget(None), share=0.5)
    assert unlimited.bound == pytest.approx(700.0, rel=1e-9)


def test_duals_have_the_reduced_cost_sign() -> None:
    am, _ = labour_case()
    rel = relax(am)
    assert rel.duals is not None and rel.x is not None
    reduced = am.cost - am.matrix("csc").T @ rel.duals
    lo, up = am.bounds()
    # at a maximum: a column below its upper bound has no positive reduced cost
    free_up = rel.x < up - 1e-7
    assert np.all(reduced[free_up] <= 1e-7)
