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


def test_a_missed_floor_steers_the_next_round() -> None:
    # scenario B (online 50 x 5, store 30 x 5 with a 200 opening, dealer 20 x 4), mnl,
    # one channel per cell, partner profit floor 35. The best channel alone, online,
    # brings partners nothing; the store's fee is 30 < 35; the dealer's 2 x 20 = 40
    # meets it. The first round's design misses the floor, the elastic LP of its sales
    # says which row, and the next round values the dealer's units toward it: the dealer
    # alone, 20 x 4 = 80, the optimum.
    from scenario_factory import base_tables, edit, scenario

    t = edit(edit(base_tables(), "channels", "store", open_cost=200.0), "regions", "north",
             partner_profit_floor=35.0)
    scen = scenario(t, model="mnl", rules={"partner_floor": True}, max_channels_per_cell=1)
    am, data = build_array_model(scen)
    c = construct(am, data, rounds=1)
    assert c.objective != pytest.approx(80.0)  # one round: not there yet
    c = construct(am, data)
    assert c.x is not None and check_rows(am, c.x) == []
    assert c.objective == pytest.approx(80.0, rel=1e-9)


def test_a_sales_lp_past_the_limit_goes_on_with_lp_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sales LP of the first round outlasts ``time_limit`` (slowed on purpose): with
    ``lp_limit`` it is given until then and its plan, {online, store} 2666.67, is kept;
    without, it is given what is left of ``time_limit`` (at least 0.1 s) and no later
    round starts: no plan. A stopped LP is lost (10^6 cells of `capacity`: 175 s).
    """
    import time

    from channel_opt.solving import heuristic

    real, given = heuristic.fixed_design_plan, []

    def slow(am: object, x: object, *args: object, time_limit: float | None = None,
             **kw: object) -> object:
        given.append(time_limit)
        time.sleep(0.3)  # the LP's work, past the 0.05 s limit
        return real(am, x, *args, time_limit=time_limit, **kw) \
            if time_limit is not None and time_limit > 0.3 else None

    monkeypatch.setattr(heuristic, "fixed_design_plan", slow)
    am, data = build_array_model(duo())
    c = construct(am, data, time_limit=0.05, lp_limit=30.0)
    assert c.objective == pytest.approx(BOTH, rel=1e-9)
    assert len(given) == 1 and given[0] == pytest.approx(30.0, abs=0.1)
    given.clear()
    assert construct(am, data, time_limit=0.05).x is None
    assert given and all(g is not None and g <= 0.1 for g in given)


def test_parity_band_over_single_levels_only() -> None:
    # one level per (product, channel), priced apart (online 16, the others at the
    # reference 20) under a band of 0: a parity row between two listings and no
    # price_level block; reading the band's rows looked the block up and failed
    # (found by the random scenarios of the priced bound's validity test)
    from channel_opt.scenario import Scenario

    ch = {"variable_cost": 0.0, "open_cost": 0.0, "listing_cost": 0.0}
    tables = {
        "channels": [{"id": "store", "kind": "offline", **ch},
                     {"id": "online", "kind": "online", **ch}],
        "brands": [{"id": "b1"}],
        "products": [{"id": "p1", "brand": "b1", "unit_cost": 6.0, "ref_price": 20.0}],
        "regions": [{"id": "north"}], "segments": [{"id": "small"}],
        "cells": [{"product": "p1", "region": "north", "segment": "small",
                   "market_size": 100.0}],
        "shares": [{"product": "p1", "region": "north", "segment": "small",
                    "channel": k, "share": 0.5} for k in ("store", "online")],
        "price_levels": [{"product": "p1", "channel": "online", "level": "l0",
                          "price": 16.0, "demand_multiplier": 1.0}]}
    scen = Scenario.from_frames(tables, {"demand_model": "independent",
                                         "rules": {"price_parity": {"band": 0.0}}})
    am, d = build_array_model(scen)
    assert "price_parity" in am.cons and "price_level" not in am.vars
    c = construct(am, d)
    # independent demand: store 50 x 14 = 700 or online 50 x 10 = 500, not both
    assert c.objective == pytest.approx(700.0)
    assert c.x is not None and not check_rows(am, c.x)
