"""The LP relaxation's bound and prices (``solving/relaxation.py``), by hand.

Base scenario B under independent demand (online 50 units x margin 5, store 30 x 5,
dealer 20 x 4) with store labour: 0.1 h per store unit, 2 h in the region, so the
store sells at most 20 units. By hand: profit 250 + 20 x 5 + 80 = 430 (the LP relaxation
too: nothing is fractional); an hour of labour is worth 10 units x 5 = 50, so at the
LP's prices a store unit is worth 5 - 0.1 x 50 = 0, an online unit 5, a dealer unit 4.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from scenario_factory import base_tables, edit, parity_levels_scenario, scenario

from channel_opt.model import build_array_model
from channel_opt.solving import pipeline
from channel_opt.solving.budget import Budget
from channel_opt.solving.check import check_rows
from channel_opt.solving.engines import OPTIMAL
from channel_opt.solving.relaxation import dual_bound, priced_sales_values, relax, rounded_plan


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


def test_a_limited_solve_reports_the_lp_bound_where_the_cheap_one_is_loose(
        monkeypatch: pytest.MonkeyPatch) -> None:
    am, data = build_array_model(parity_levels_scenario())
    # the cell's market priced proves the optimum before any LP (online promo's 100
    # units, store's 30 and dealer's 20 share a market of 100)
    priced, none = pipeline._construct(am, data, Budget(60.0), share=0.5)
    assert none is None and priced.objective == pytest.approx(480.0, rel=1e-9)
    assert priced.bound == pytest.approx(480.0, rel=1e-9)
    assert priced.bound_origin == "capacities and fixed costs priced (Lagrangian steps)"
    # without that bound, the LP's
    monkeypatch.setattr(pipeline, "capacity_prices", lambda *a, **k: (math.inf, None))
    start, rel = pipeline._construct(am, data, Budget(60.0), share=0.5)
    assert rel is not None and rel.bound == pytest.approx(480.0, rel=1e-9)
    assert start.x is not None
    assert start.objective == pytest.approx(480.0, rel=1e-9)
    assert start.bound == pytest.approx(480.0, rel=1e-9)  # the LP's
    # no LP without a limit: at most the cheap bound, the cell's three (its most
    # channels) best options each alone: online promo 300 + online full 250 + store
    # 150 (the fixed costs' prices may take some off), at least the optimum
    unlimited, no_lp = pipeline._construct(am, data, Budget(None), share=0.5)
    assert no_lp is None
    assert 480.0 - 1e-6 <= unlimited.bound <= 700.0 + 1e-6


def test_duals_have_the_reduced_cost_sign() -> None:
    am, _ = labour_case()
    rel = relax(am)
    assert rel.duals is not None and rel.x is not None
    reduced = am.cost - am.matrix("csc").T @ rel.duals
    lo, up = am.bounds()
    # at a maximum: a column below its upper bound has no positive reduced cost
    free_up = rel.x < up - 1e-7
    assert np.all(reduced[free_up] <= 1e-7)


@pytest.mark.parametrize("method", ["simplex", "ipm", "pdlp", "concurrent"])
def test_every_lp_method_gives_the_bound_by_hand(method: str) -> None:
    # 430 by hand; the interior point method stops without crossover and PDLP at a
    # duality gap of 1e-5: their duals still give a valid bound, close to 430;
    # concurrent takes whichever of simplex and interior point settles it first
    am, _ = labour_case()
    rel = relax(am, method=method)
    assert rel.bound is not None
    assert 430.0 - 1e-9 <= rel.bound <= 430.0 * (1 + 1e-4)


def test_any_prices_give_a_valid_bound() -> None:
    # the Lagrangian of any row prices bounds the optimum (430) from above; at the LP's
    # duals it is the LP bound
    am, _ = labour_case()
    rng = np.random.default_rng(7)
    for _ in range(200):
        pi = rng.normal(0.0, 20.0, am.n_rows) * (rng.random(am.n_rows) < 0.5)
        assert dual_bound(am, pi) >= 430.0 - 1e-9
    assert dual_bound(am, np.zeros(am.n_rows)) >= 430.0
    rel = relax(am)
    assert rel.duals is not None
    assert dual_bound(am, rel.duals) == pytest.approx(430.0, rel=1e-9)


@pytest.mark.parametrize("decision", [False, True])
def test_a_reduced_cost_off_zero_on_a_column_without_a_bound_keeps_the_bound(
        decision: bool) -> None:
    """The commission (``≥ 0``, no upper bound of its own) at a reduced cost of +1e-7,
    as a simplex within its tolerances can leave it: the bound was infinite. A row
    bounds the column (``com = θ Σ P q`` with the sales at most their demand, or
    ``com ≤ R̄ pol``): the bound stays finite, at most 1e-7 times that above the LP,
    and above the optimum (380 without the decision: ``test_commission_always``; 480
    with it, the policy off).
    """
    t = edit(base_tables(), "regions", "north", partner_profit_floor=0.0)
    am, _ = build_array_model(scenario(t, rules={"commission": {
        "share": 0.2, "decision": decision}}))
    rel = relax(am)
    assert rel.duals is not None and rel.bound is not None
    com = am.vars["commission"].start  # one region: one commission column
    row = am.matrix("csc")[:, com].indices[0]
    a = am.matrix("csc")[row, com]
    d = am.cost[com] - am.matrix("csc")[:, com].T @ rel.duals
    pi = rel.duals.copy()
    pi[row] += (float(d[0]) - 1e-7) / a  # the column's reduced cost now +1e-7
    bound = dual_bound(am, pi)
    assert math.isfinite(bound)
    assert 380.0 <= bound <= rel.bound + 1e-3
    assert bound >= (480.0 if decision else 380.0) - 1e-9


def floor_without_cover() -> tuple[object, object]:
    """Store opening 200, partner floor 60 that needs store and dealer both open: the
    optimum is 480 - 200 = 280 (tests/test_formulation_strength.py). Without the floor
    cover cut the LP opens the store by 2/3 (bound 296.67).
    """
    t = edit(edit(base_tables(), "channels", "store", open_cost=200.0), "regions", "north",
             partner_profit_floor=60.0)
    am, data = build_array_model(scenario(t, rules={"partner_floor": True}))
    am.cons["partner_floor_cover"].lower[:] = -np.inf
    return am, data


def test_the_plan_rounded_from_a_fractional_lp_is_the_optimum() -> None:
    am, _ = floor_without_cover()
    rel = relax(am)
    assert rel.bound == pytest.approx(330 - 100 / 3, rel=1e-9)
    assert rel.x is not None
    integer = am.integrality().astype(bool)
    assert (np.abs(rel.x[integer] - np.rint(rel.x[integer])) > 1e-6).any()  # fractional
    x = rounded_plan(am, rel.x, time_limit=10.0)
    assert x is not None and not check_rows(am, x)
    assert float(am.cost @ x) == pytest.approx(280.0, rel=1e-9)


def test_no_rounded_plan_where_the_fixed_columns_leave_none() -> None:
    # every yes/no decision fixed at 0: nothing opens, the floor of 60 cannot be met
    am, _ = floor_without_cover()
    assert rounded_plan(am, np.zeros(am.n_cols), time_limit=10.0) is None


@pytest.mark.usefixtures("capacities_priced_only")
def test_a_limited_solve_proven_by_the_lp_does_not_start_the_solver(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # as a large model (the constructive phase runs first): the cheap bound of duo with
    # a store opening (2,666.67) does not prove its plan, the LP bound (2,566.67, the
    # optimum) does, so the run needs no MIP
    from scenario_factory import DUO_OPEN, duo_open

    from channel_opt.solving import solve

    monkeypatch.setattr(pipeline, "IN_PROCESS_NONZEROS", -1)
    sol = solve(duo_open(), time_limit=60.0)
    assert sol.plan_status == "optimal" and sol.gap == 0.0
    assert sol.objective == pytest.approx(DUO_OPEN, rel=1e-9)
    assert "not started" in sol.solver_message and "process" not in sol.timings
    assert sol.method["bound_origin"] == "LP relaxation"
    assert sol.method["plan_origin"] in ("constructive plan", "plan rounded from the LP")


def test_concurrent_lp_equals_the_simplex_on_a_generated_family() -> None:
    # 10^2 cells of `capacity` (binding labour and DC rows): whichever method wins,
    # the bound is the simplex optimum to 1e-7 and the loser's thread has stopped
    import threading

    from benchmarks.generator import generate
    from channel_opt.scenario import Scenario

    tables, settings = generate("capacity", 100, 3)
    am, _ = build_array_model(Scenario.from_frames(tables, settings, name="cap"))
    exact, both = relax(am, method="simplex"), relax(am, method="concurrent")
    assert exact.bound is not None and both.bound is not None
    assert both.bound == pytest.approx(exact.bound, rel=1e-7)
    assert both.bound >= exact.bound - 1e-6 * abs(exact.bound)
    assert not [t for t in threading.enumerate() if t.daemon and t.is_alive()
                and t.name.startswith("Thread") and "run" in repr(t)]
    from channel_opt.solving.engines.highs import unsettled_solver

    assert not unsettled_solver()  # the loser stopped within its 5 s to settle


def test_where_the_lp_fixings_leave_no_plan_the_incumbent_neighbourhood_does() -> None:
    # every yes/no decision "fixed" at 0 leaves no plan (above); with the optimal plan
    # (280) as incumbent only the columns where the two agree are fixed, the incumbent
    # is the start, and the sub-MIP gives a plan worth at least the incumbent (RINS)
    am, _ = floor_without_cover()
    rel = relax(am)
    assert rel.x is not None
    best = rounded_plan(am, rel.x, time_limit=10.0)
    assert best is not None and float(am.cost @ best) == pytest.approx(280.0, rel=1e-9)
    x = rounded_plan(am, np.zeros(am.n_cols), time_limit=10.0, incumbent=best)
    assert x is not None and not check_rows(am, x)
    assert float(am.cost @ x) == pytest.approx(280.0, rel=1e-9)


def test_where_the_lp_fixings_leave_no_plan_its_ones_alone_may(
        caplog: pytest.LogCaptureFixture) -> None:
    # the optimum (280: store and dealer open for the floor) with the store's opening
    # at 0 while its offers stay at 1: every integral value fixed leaves no plan (an
    # offer needs its open channel); fixed where above 0 only, the opening is free and
    # the sub-MIP finds the optimum again, before the incumbent's neighbourhood
    am, _ = floor_without_cover()
    rel = relax(am)
    assert rel.x is not None
    best = rounded_plan(am, rel.x, time_limit=10.0)
    assert best is not None
    opened = am.vars["open_channel"]
    store = opened.start + int(np.flatnonzero(
        opened.labels["channel"].astype(str).to_numpy() == "store")[0])
    assert best[store] == 1.0
    point = best.copy()
    point[store] = 0.0
    assert rounded_plan(am, point, time_limit=10.0) is None  # RENS alone: none
    with caplog.at_level(logging.INFO, logger="channel_opt.solving.relaxation"):
        x = rounded_plan(am, point, time_limit=10.0, incumbent=best)
    assert x is not None and not check_rows(am, x)
    assert float(am.cost @ x) == pytest.approx(280.0, rel=1e-9)
    said = caplog.text
    assert "fixing only those above" in said and "incumbent agree" not in said


@pytest.fixture(scope="module")
def capacity_1e3() -> tuple[object, float]:
    """10^3 cells of `capacity` (seed 5) and its LP optimum by the dual simplex run to
    the end: the reference the bounds of stopped runs must not fall below.
    """
    from benchmarks.generator import generate
    from channel_opt.scenario import Scenario

    tables, settings = generate("capacity", 1000, 5)
    am, _ = build_array_model(Scenario.from_frames(tables, settings, name="cap"))
    exact = relax(am, method="simplex")
    assert exact.status == OPTIMAL and exact.bound is not None
    return am, exact.bound


def stop_lps_after(monkeypatch: pytest.MonkeyPatch, **limits: int) -> None:
    """Every LP run stops at these HiGHS iteration limits: deterministic stand-ins for
    a time limit.
    """
    from channel_opt.solving.engines import highs as engine

    made = engine._lp_highs

    def stopped(arrays: object, method: str, time_limit: float | None) -> object:
        h = made(arrays, method, time_limit)
        for option, value in limits.items():
            h.setOptionValue(option, value)
        return h

    monkeypatch.setattr(engine, "_lp_highs", stopped)


def test_an_interior_point_run_stopped_on_its_limit_still_gives_a_bound(
        monkeypatch: pytest.MonkeyPatch, capacity_1e3: tuple[object, float]) -> None:
    # under a time limit the interior point method runs without presolve, so that a run
    # stopped before it converges hands back its iterate; that iterate's Lagrangian
    # value bounds the LP (so the MIP) from above. Stopped after 4 and 10 iterations:
    # both bounds are finite, at or above the simplex optimum, and the later one is
    # closer
    from channel_opt.solving.engines import LIMIT

    am, exact = capacity_1e3
    bounds = []
    for iterations in (4, 10):
        stop_lps_after(monkeypatch, ipm_iteration_limit=iterations)
        rel = relax(am, time_limit=600.0, method="ipm")
        assert rel.status == LIMIT and rel.bound is not None and rel.duals is not None
        assert rel.bound >= exact - 1e-6 * abs(exact)
        bounds.append(rel.bound)
        monkeypatch.undo()
    assert bounds[1] < bounds[0]
    # without a limit (presolve on) the same stop leaves no iterate, so no bound
    stop_lps_after(monkeypatch, ipm_iteration_limit=4)
    rel = relax(am, time_limit=None, method="ipm")
    assert rel.status == LIMIT and rel.bound is None


def test_of_two_concurrent_runs_stopped_on_their_limits_the_lower_bound_is_taken(
        monkeypatch: pytest.MonkeyPatch, capacity_1e3: tuple[object, float]) -> None:
    # simplex and interior point both stopped before the end: the concurrent relaxation
    # reports the lower of the two bounds each gives alone, and it is still at or above
    # the LP optimum
    from channel_opt.solving.engines import LIMIT

    am, exact = capacity_1e3
    stop_lps_after(monkeypatch, simplex_iteration_limit=3000, ipm_iteration_limit=6)
    alone = [relax(am, time_limit=600.0, method=m) for m in ("simplex", "ipm")]
    assert all(r.status == LIMIT and r.bound is not None for r in alone)
    both = relax(am, time_limit=600.0, method="concurrent")
    assert both.status == LIMIT and both.bound is not None
    assert both.bound == pytest.approx(min(r.bound for r in alone), rel=1e-12)  # type: ignore[type-var]
    assert both.bound >= exact - 1e-6 * abs(exact)
