"""The strengthened rows tighten the LP relaxation by a hand-computed amount and change
no optimum (brute force).

Scenarios build on ``B`` of ``tests/scenario_factory.py`` (independent demand, one
product at 10 with unit cost 4, one cell of market 100): online 50 units at margin 5,
store 30 at 5 (partner income 1/unit), dealer 20 at 4 (partner income 2/unit).
"""

from __future__ import annotations

import math
from typing import Any

import bruteforce
import numpy as np
import pytest
from hypothesis import assume, given, settings
from optimum import mip_optimum
from random_scenarios import SLOW_HEALTH, brute_optimum, shrink_to_limit, tiny_scenarios
from scenario_factory import DUO_OPEN, base_tables, duo_open, edit, scenario

from channel_opt.model import build_array_model, build_model, to_highs
from channel_opt.model.families import conflict
from channel_opt.model.families.partners import floor_covers
from channel_opt.scenario import Scenario
from channel_opt.solving.check import check_rows


def components(scen: Scenario) -> set[str]:
    """Names of the Pyomo model's variable and constraint blocks."""
    import pyomo.environ as pyo

    m = build_model(scen)
    return {c.local_name for c in m.component_objects((pyo.Var, pyo.Constraint))}


def lp_bound(scen: Scenario, *, without: tuple[str, ...] = ()) -> float:
    """The LP relaxation's optimum, with the rows of ``without`` switched off."""
    am, _ = build_array_model(scen)
    for name in without:
        am.cons[name].lower[:] = -np.inf
        am.cons[name].upper[:] = np.inf
    h = to_highs(am)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solve_relaxation", True)
    h.run()
    assert h.modelStatusToString(h.getModelStatus()) == "Optimal"
    return float(h.getInfo().objective_function_value)


def same_optimum(scen: Scenario, expected: float | None) -> None:
    """The MIP and the independent brute force both find ``expected``."""
    got, brute = mip_optimum(scen), bruteforce.best_profit(scen)
    if expected is None:
        assert got is None and brute is None
        return
    assert got == pytest.approx(expected, abs=1e-6)
    assert brute == pytest.approx(expected, abs=1e-6)


def _floor_scenario(floor: float, **rules: Any) -> Scenario:
    t = edit(edit(base_tables(), "channels", "store", open_cost=200.0), "regions", "north",
             partner_profit_floor=floor)
    return scenario(t, rules={"partner_floor": True, **rules})


def test_partner_floor_cover() -> None:
    # store opening 200; floor 60. The store reaches 30 of partner income, the dealer 40:
    # neither alone reaches 60, so both must open (covers {store}, {dealer}; count 2).
    # MIP: 480 - 200 = 280. LP without the cover: opening t of the store sells 30t,
    # 40 + 30t >= 60 gives t = 2/3 and 330 + 150t - 200t = 330 - 100/3 = 296.67;
    # the cover forces t = 1: 280, the LP bound drops by 50/3 to the optimum.
    scen = _floor_scenario(60.0)
    am, _ = build_array_model(scen)
    cover = am.cons["partner_floor_cover"]
    sets = sorted(zip(cover.labels["channels"].astype(str), cover.lower, strict=True))
    assert sets == [("dealer", 1.0), ("dealer;store", 2.0), ("store", 1.0)]
    assert "partner_floor_cover" in components(scen)
    assert lp_bound(scen, without=("partner_floor_cover",)) == pytest.approx(330 - 100 / 3)
    assert lp_bound(scen) == pytest.approx(280.0)
    same_optimum(scen, 280.0)


@pytest.mark.parametrize("floor", [30.0, 45.0, 71.0])
def test_partner_floor_cover_keeps_optimum(floor: float) -> None:
    # store reaches 30, dealer 40: floor 30 gives the cover {store, dealer} (one of them
    # open), 45 the covers {store} and {dealer} and the count 2, 71 nothing (infeasible);
    # the MIP optimum is the brute force's each time
    scen = _floor_scenario(floor)
    same_optimum(scen, bruteforce.best_profit(scen))
    if floor > 70:
        assert "partner_floor_cover" not in build_array_model(scen)[0].cons


def test_floor_covers_by_hand() -> None:
    # reach 30, 40, 50 against 60: no channel alone is needed (the other two reach 70 or
    # more), every pair is (the third alone is short); at least 2 must open
    covers, m = floor_covers(np.array([30.0, 40.0, 50.0]), 60.0)
    assert sorted(map(tuple, covers)) == [(0, 1), (0, 2), (1, 2)] and m == 2
    # all together short: no cut (the floor row reports the infeasibility)
    assert floor_covers(np.array([10.0, 20.0]), 31.0) == ([], 0)
    # one channel reaches it alone (m = 1); without it the other two reach only 50 >= 40,
    # so covers are {100, 20} (outside 30) and {100, 30} (outside 20)
    covers, m = floor_covers(np.array([100.0, 20.0, 30.0]), 40.0)
    assert m == 1 and sorted(map(tuple, covers)) == [(0, 1), (0, 2)]


def _levels_tables() -> dict[str, Any]:
    t = edit(base_tables(), "regions", "north", partner_profit_floor=150.0)
    t["price_levels"] = [
        {"product": "p1", "channel": "online", "level": "full", "price": 10.0,
         "demand_multiplier": 1.0},
        {"product": "p1", "channel": "online", "level": "promo", "price": 8.0,
         "demand_multiplier": 1.5},
    ]
    return t


def test_commission_bound_is_the_reachable_revenue(monkeypatch: pytest.MonkeyPatch) -> None:
    # online at full price: 50 units, revenue 500; at promo (8, x1.5): 75 units, 600.
    # One option per cell: R̄ = 0.2 x max(500, 600) = 120 (the old sum over the sales
    # columns, 0.2 x 1100 = 220, counted both levels).
    # MIP: the floor 150 needs the commission (store 30 + dealer 40 = 70): full price,
    # 480 - 100 - policy 5 = 375 (promo: 225 + 230 - 120 - 5 = 330).
    # LP: the floor needs com = 80 and com <= R̄ pol: pol = 80 / R̄, so the LP bound is
    # 480 - 80 - 5 x 80 / R̄: 396.67 with R̄ = 120, 398.18 with 220.
    rules = {"commission": {"share": 0.2, "decision": True, "policy_cost": 5.0},
             "partner_floor": True}
    scen = scenario(_levels_tables(), rules=rules)
    am, _ = build_array_model(scen)
    pol = am.vars["commission_policy"].start
    row = am.cons["commission_upper_policy"]
    assert row.vals[row.cols == pol] == pytest.approx([-120.0])
    assert lp_bound(scen) == pytest.approx(480 - 80 - 400 / 120)
    same_optimum(scen, 375.0)
    monkeypatch.setattr(conflict, "reachable_online_revenue",
                        lambda d, regs: np.array([1100.0]))
    assert lp_bound(scen) == pytest.approx(480 - 80 - 400 / 220)


def test_commission_bound_capped_by_inventory() -> None:
    # inventory of 20 units: online revenue at most 10 x 20 = 200, R̄ = 0.2 x 200 = 40
    rules = {"commission": {"share": 0.2, "decision": True}, "inventory": True}
    scen = scenario(edit(base_tables(), "products", "p1", inventory=20.0), rules=rules)
    am, _ = build_array_model(scen)
    row = am.cons["commission_upper_policy"]
    assert row.vals[row.cols == am.vars["commission_policy"].start] == pytest.approx([-40.0])
    same_optimum(scen, bruteforce.best_profit(scen))


def _stock_tables() -> dict[str, Any]:
    # store 30 units at margin 5 (150), bopis 20 at 6 (120), dealer 20 at 4 (80); one
    # channel per cell; the product takes 2 shelf units, the stores have 1
    t = base_tables()
    t["channels"] = [c for c in t["channels"] if c["id"] != "online"] + [
        {"id": "bopis", "kind": "o2o", "uses_store_stock": True, "requires_store": True}]
    t["shares"] = [s for s in t["shares"] if s["channel"] != "online"] + [
        {"product": "p1", "region": "north", "segment": "small", "channel": "bopis",
         "share": 0.2}]
    t = edit(t, "products", "p1", shelf_space=2.0)
    return edit(t, "regions", "north", shelf_capacity=1.0)


def test_offer_stock_cell() -> None:
    # mnl, one channel per cell (options are singletons: demand a x 100 as above).
    # MIP: no stock, the dealer alone: 80. LP with the rows per store-stock channel only
    # (w_store <= stock, w_bopis <= stock, stock <= 1/2): half store, half bopis,
    # 75 + 60 = 135. With the cell's cut (x_store + x_bopis <= stock): half store, half
    # dealer, 75 + 40 = 115.
    scen = scenario(_stock_tables(), model="mnl", rules={"shelf_space": True},
                    max_channels_per_cell=1)
    am, _ = build_array_model(scen)
    assert am.cons["offer_stock_cell"].n == 1  # one cell
    assert "offer_stock_cell" in components(scen)
    assert lp_bound(scen, without=("offer_stock_cell",)) == pytest.approx(135.0)
    assert lp_bound(scen) == pytest.approx(115.0)
    same_optimum(scen, 80.0)
    # compact cells (independent demand) may offer several channels: no such cut there
    scen = scenario(_stock_tables(), rules={"shelf_space": True})
    assert "offer_stock_cell" not in build_array_model(scen)[0].cons
    same_optimum(scen, bruteforce.best_profit(scen))


def test_cuts_are_left_out_of_the_diagnosis() -> None:
    # floor 60 with the store kept closed (as in a fixed design): the cover "store >= 1"
    # cannot hold, but it is valid only while the floor is; the elastic model leaves it
    # out and reports the floor short by 60 - 40 (dealer) = 20
    from channel_opt.solving.diagnose import diagnose, elastic_model

    am, d = build_array_model(_floor_scenario(60.0))
    assert "partner_floor_cover" in am.cons
    assert "partner_floor_cover" not in elastic_model(am)[0].cons
    store = int(np.flatnonzero(d.channels["id"].to_numpy()[d.rk["k"].to_numpy()] == "store")[0])
    am.vars["open_channel"].upper[store] = 0.0
    dg = diagnose(am, iis=False)
    assert [(c.family, round(c.amount, 6)) for c in dg.conflicts] == [("partner_floor", 20.0)]


def _inventory_scenario(units: float) -> Scenario:
    return scenario(edit(base_tables(), "products", "p1", inventory=units),
                    rules={"inventory": True})


def test_capacity_bound_prices_the_inventory() -> None:
    # inventory 50 units: the best use is online (margin 5): 250. The constructive bound
    # ignores it: 480. Priced at λ per unit: L(λ) = 50λ + 50(5-λ)+ + 30(5-λ)+ + 20(4-λ)+,
    # least at λ = 5: 250, the optimum.
    from channel_opt.solving.capacity_bound import capacity_bound
    from channel_opt.solving.heuristic import construct

    scen = _inventory_scenario(50.0)
    am, d = build_array_model(scen)
    assert construct(am, d).bound == pytest.approx(480.0)
    assert capacity_bound(am, d, iterations=0) == pytest.approx(480.0)  # L(0)
    bound = capacity_bound(am, d, 250.0, iterations=100)
    assert 250.0 - 1e-6 <= bound <= 251.0
    same_optimum(scen, 250.0)


def test_capacity_bound_prices_the_cell_market() -> None:
    # independent demand: online 70 units, store 60 (margin 5 each), dealer 20
    # (margin 4), the cell's market 100 (test_cell_market_independent_cap: the optimum
    # is 500, the 100 best units). Every channel at once gives the cheap bound 730.
    # With the market priced at λ per unit: L(λ) = 100λ + 130(5-λ)+ + 20(4-λ)+, least
    # at λ = 5: 500, the optimum.
    from channel_opt.solving.capacity_bound import capacity_bound
    from channel_opt.solving.heuristic import construct

    t = base_tables()
    t["shares"] = [{"product": "p1", "region": "north", "segment": "small", "channel": k,
                    "share": a} for k, a in (("online", 0.7), ("store", 0.6), ("dealer", 0.2))]
    scen = scenario(t)
    am, d = build_array_model(scen)
    assert construct(am, d).bound == pytest.approx(730.0)
    assert capacity_bound(am, d, iterations=0) == pytest.approx(730.0)
    assert 500.0 - 1e-6 <= capacity_bound(am, d, 500.0, iterations=100) <= 501.0
    same_optimum(scen, 500.0)


def test_a_plan_at_the_capacities_prices_settles_the_run() -> None:
    # mnl; inventory 50; the store's fee 30 % (margin 10 - 4 - 3 = 3, online's 5). No
    # plan earns more than 50 units at the best margin, 5: 250, which online alone
    # earns (its demand alone is 50) -- the optimum (brute force agrees). The plain
    # plan offers online and store together (more value at unlimited stock) and some of
    # the 50 units then sell at 3. With the inventory priced, the store is worth less
    # than what it takes from online: the plan at those prices is online alone, and
    # the priced bound is 250 too, so the constructive phase proves it (no LP).
    from channel_opt.solving import pipeline
    from channel_opt.solving.budget import Budget
    from channel_opt.solving.heuristic import construct

    t = edit(edit(base_tables(), "products", "p1", inventory=50.0), "channels", "store",
             fee_share=0.3)
    scen = scenario(t, model="mnl", rules={"inventory": True})
    assert bruteforce.best_profit(scen) == pytest.approx(250.0)
    am, d = build_array_model(scen)
    plain = construct(am, d).objective
    assert plain is not None and plain < 250.0 - 1.0
    start, rel = pipeline._construct(am, d, Budget(60.0), share=0.5)
    assert start.objective == pytest.approx(250.0, rel=1e-9)
    assert start.origin == "constructive plan at the capacities' prices"
    assert 250.0 - 1e-6 <= start.bound <= 250.0 + 1e-6
    assert rel is None  # within the gap before the LP
    assert check_rows(am, start.x) == []


@pytest.mark.parametrize("rules", [
    {"inventory": True}, {"dealer_capacity": True}, {"dc_capacity": 30.0},
    {"inventory": True, "dealer_capacity": True, "dc_capacity": 60.0, "shelf_space": True}])
def test_capacity_bound_is_valid(rules: dict[str, Any]) -> None:
    # whatever the multipliers reach, the bound stays at or above the optimum
    from channel_opt.solving.capacity_bound import capacity_bound

    t = edit(edit(edit(base_tables(), "products", "p1", inventory=40.0, shelf_space=2.0),
                  "regions", "north", dealer_capacity=5.0), "regions", "north",
             shelf_capacity=1.0)
    scen = scenario(t, rules=rules)
    am, d = build_array_model(scen)
    best = bruteforce.best_profit(scen)
    assert best is not None
    for target in (0.0, best, 480.0):
        assert capacity_bound(am, d, target, iterations=60) >= best - 1e-6


def test_capacity_bound_prices_the_shelf() -> None:
    # the stock case above: stocking pays ν per shelf unit on 2 units against 1 of
    # capacity: L(ν) = ν + max(150 - 2ν, 80) (store alone, or the dealer without
    # stock), least at ν = 35: 115, the LP bound (optimum 80; constructive bound 150)
    from channel_opt.solving.capacity_bound import capacity_bound

    scen = scenario(_stock_tables(), model="mnl", rules={"shelf_space": True},
                    max_channels_per_cell=1)
    am, d = build_array_model(scen)
    assert capacity_bound(am, d, iterations=0) == pytest.approx(150.0)
    assert 115.0 - 1e-6 <= capacity_bound(am, d, 80.0, iterations=200) <= 116.0


def test_reported_bound_when_the_solver_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    # the solver stops without plan or bound: the constructive plan (online 50 units,
    # 250) is returned with the priced bound (250), not the constructive 480
    from channel_opt import solve
    from channel_opt.solving.backends import RawResult, SolveOptions, get_backend

    def stopped(self: object, am: object, opts: SolveOptions) -> RawResult:
        return RawResult("time_limit", None, None, None, "highs", "-", "stopped at the limit")

    monkeypatch.setattr(type(get_backend("highs")), "solve", stopped)
    sol = solve(_inventory_scenario(50.0), sensitivity=False)
    assert (sol.termination, sol.plan_status) == ("time_limit", "feasible")
    assert sol.objective == pytest.approx(250.0)
    assert sol.bound is not None and 250.0 - 1e-6 <= sol.bound <= 251.0


@pytest.mark.parametrize("seed", [0, 1])
def test_capacity_prices_reach_the_lp_of_the_relaxation(seed: int) -> None:
    # Without shelf space, min over λ ≥ 0 of L(λ) is the value of the LP it relaxes
    # (LP duality): per member of an option sales q ≤ d·y, per cell Σ y ≤ 1, the
    # capacity rows on the sales. That LP, built here from the offers and solved by
    # scipy's HiGHS, is the independent answer. The generated capacity family has a
    # DC row over every online sale next to dozens of small rows: after 30 steps the
    # subgradient with one Polyak step for all rows was 1.6-4.9 % above the LP on
    # seeds 0-3, the sign steps within 5e-4.
    import scipy.sparse as sp
    from scipy.optimize import linprog

    from benchmarks.generator import generate
    from channel_opt.scenario import Scenario
    from channel_opt.solving.capacity_bound import _capacity_rows, capacity_bound

    tables, settings = generate("capacity", 600, seed)
    settings["rules"] = {k: v for k, v in settings["rules"].items() if k != "shelf_space"}
    tables["regions"] = tables["regions"].drop(columns="shelf_capacity")
    tables["products"] = tables["products"].drop(columns="shelf_space")
    am, d = build_array_model(Scenario.from_frames(tables, settings, name="cap"))
    assert not d.cells["compact"].any()
    rows = _capacity_rows(am)
    assert rows is not None
    A, cap, _ = rows
    mem = d.members
    m_sale, m_off = mem["sale"].to_numpy(), mem["offer"].to_numpy()
    dem = mem["demand"].to_numpy()
    n_m, n_o, n_c = len(mem), len(d.offers), len(d.cells)
    sb = am.vars["sales"]
    margin = am.cost[sb.start:sb.start + sb.n]
    # columns: the members' sales, then the options' shares
    on_sale = sp.csr_matrix((np.ones(n_m), (m_sale, np.arange(n_m))), shape=(sb.n, n_m))
    link = sp.hstack([sp.identity(n_m, format="csr"),
                      sp.csr_matrix((-dem, (np.arange(n_m), m_off)), shape=(n_m, n_o))])
    one = sp.hstack([sp.csr_matrix((n_c, n_m)),
                     sp.csr_matrix((np.ones(n_o), (d.offers["cell"].to_numpy(),
                                                   np.arange(n_o))), shape=(n_c, n_o))])
    use = sp.hstack([A @ on_sale, sp.csr_matrix((len(cap), n_o))])
    res = linprog(-np.concatenate([margin[m_sale], np.zeros(n_o)]),
                  A_ub=sp.vstack([link, one, use]).tocsr(),
                  b_ub=np.concatenate([np.zeros(n_m), np.ones(n_c), cap]),
                  bounds=(0, None), method="highs")
    assert res.status == 0
    lp = -res.fun
    assert capacity_bound(am, d, iterations=0, links=False) > lp * 1.05  # the rows matter
    bound = capacity_bound(am, d, 0.0, iterations=30, seconds=60.0, links=False)
    assert lp - 1e-6 * abs(lp) <= bound <= lp * (1 + 1e-3)
    # with the link rows priced too (fixed costs charged) the bound is below that LP
    assert capacity_bound(am, d, 0.0, iterations=30, seconds=60.0) < lp


def test_link_prices_charge_the_opening_cost() -> None:
    # duo_open by hand: any option with the store pays its opening (100) through the
    # price α of `offer_needs_open`: L(α) = max(2500, 1500 - α, 2666.67 - α) +
    # max(0, α - 100), least for α in [100, 166.67]: 2,566.67, the optimum (and the
    # LP). Without the links nothing is priced (no capacity); L(0) is the cheap bound.
    from channel_opt.solving.capacity_bound import capacity_bound
    from channel_opt.solving.heuristic import construct

    am, d = build_array_model(duo_open())
    assert construct(am, d).bound == pytest.approx(8000.0 / 3)
    assert capacity_bound(am, d, iterations=0) == pytest.approx(8000.0 / 3)
    assert capacity_bound(am, d, links=False) == math.inf
    assert capacity_bound(am, d, 2500.0, iterations=100) == pytest.approx(DUO_OPEN, rel=1e-9)
    same_optimum(duo_open(), DUO_OPEN)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=SLOW_HEALTH)
@given(tiny_scenarios())
def test_priced_bound_is_valid_on_bruteforced_scenarios(
        case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    # random tiny scenarios (rules, fixed costs, brands, compact cells): every bound
    # the steps reach, the links priced or not, with or without a gap, is at least the
    # enumerated optimum, and the first one is at most the cheap bound
    from channel_opt.solving.capacity_bound import capacity_bound
    from channel_opt.solving.heuristic import construct

    scen, refused = shrink_to_limit(*case)
    assume(not refused)
    opt = brute_optimum(scen)
    am, d = build_array_model(scen)
    assume(am.n_cols > 0 and len(d.offers) > 0)
    assert capacity_bound(am, d, iterations=0) <= construct(am, d).bound + 1e-6
    for target in (0.0, opt):
        for links, gap in ((True, None), (True, 1e-4), (False, None)):
            bound = capacity_bound(am, d, target, iterations=80, links=links, gap=gap)
            assert bound >= opt - 1e-6 * max(1.0, abs(opt)), (target, links, gap, bound, opt)


@pytest.mark.parametrize("seed", [0, 1])
def test_link_prices_reach_the_lp_of_core(seed: int) -> None:
    # the generated `core` family has no capacity rows: its rows are the options per
    # cell, their demand and the links to listings, levels, openings and brands, all of
    # which the relaxation keeps or prices, so min L is the model's LP (duality), solved
    # here by HiGHS on the whole model. L(0), the cheap bound, is 5-7 % above it.
    from benchmarks.generator import generate
    from channel_opt.solving.capacity_bound import capacity_bound
    from channel_opt.solving.relaxation import relax

    tables, settings = generate("core", 600, seed)
    am, d = build_array_model(Scenario.from_frames(tables, settings, name="core"))
    lp = relax(am).bound
    assert lp is not None
    assert capacity_bound(am, d, iterations=0) > lp * 1.03
    bound = capacity_bound(am, d, 0.0, iterations=200, seconds=60.0)
    assert lp - 1e-6 * abs(lp) <= bound <= lp * (1 + 5e-3)
    # with a gap the steps end as soon as the bound is within it of the target
    near = capacity_bound(am, d, lp, iterations=200, seconds=60.0, gap=0.02)
    assert lp - 1e-6 * abs(lp) <= near <= lp * 1.02


def _capacity_600(seed: int) -> tuple[Any, Any]:
    from benchmarks.generator import generate

    tables, settings = generate("capacity", 600, seed)
    return build_array_model(Scenario.from_frames(tables, settings, name="cap"))


def test_plans_at_the_prices_go_on_while_they_improve() -> None:
    # The steps stop against the first plan long before the prices settle; a better
    # plan raises the target and the steps go on from where they ended (each row's
    # step kept). Fake plans that always improve, 3 % below the bound (within
    # PLAN_REACH times the 1 % gap), are asked PLAN_ROUNDS times, at prices that moved
    # and bounds that never rise; a plan that does not improve, one within the gap of
    # the bound, or one further than PLAN_REACH times the gap ends the rounds.
    # Whatever the plans say, the bound stays at or above HiGHS' LP of the model.
    from channel_opt.solving.capacity_bound import PLAN_REACH, PLAN_ROUNDS, capacity_prices
    from channel_opt.solving.heuristic import construct
    from channel_opt.solving.relaxation import relax

    am, d = _capacity_600(0)
    lp = relax(am).bound
    plan = construct(am, d).objective
    assert lp is not None and plan is not None
    asked: list[tuple[np.ndarray, float]] = []
    last = [plan]

    def better(prices: np.ndarray, bound: float) -> float:
        asked.append((prices.copy(), bound))
        last[0] = max(last[0] + 1.0, bound / 1.03)
        return last[0]

    bound, prices = capacity_prices(am, d, plan, iterations=200, seconds=60.0, gap=0.01,
                                    plans=better)
    assert len(asked) == PLAN_ROUNDS
    assert prices is not None and not np.allclose(asked[0][0], asked[-1][0])
    assert all(b2 <= b1 for (_, b1), (_, b2) in zip(asked, asked[1:], strict=False))
    assert lp - 1e-6 * abs(lp) <= bound <= asked[-1][1]
    far = 1.0 + 2.0 * PLAN_REACH * 0.01
    for target, answer in ((plan, lambda b: None), (plan, lambda b: plan),
                           (plan, lambda b: b / 1.005), (0.0, lambda b: b / far)):
        asked.clear()
        capacity_prices(am, d, target, iterations=200, seconds=60.0, gap=0.01,
                        plans=lambda p, b, answer=answer: asked.append((p, b)) or answer(b))
        assert len(asked) == 1


@pytest.mark.parametrize("seed", [0, 2])
def test_plans_after_more_steps_are_better_plans(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # The constructive phase on the generated capacity family (600 cells), its LP
    # solved by HiGHS as the independent yardstick: with rounds of steps between the
    # plans at the prices, the plan is better than after a single round (at a 1 % gap,
    # 0.87 % below the LP to 0.80 % on seed 0, 1.41 % to 1.35 % on seed 2; at 10^4
    # cells 3.7 % below the bound to 1.0 %), it passes the row check, and the bound
    # stays above the LP.
    from channel_opt.solving import capacity_bound, pipeline
    from channel_opt.solving.budget import Budget
    from channel_opt.solving.relaxation import relax

    am, d = _capacity_600(seed)
    lp = relax(am).bound
    assert lp is not None
    start, _ = pipeline._construct(am, d, Budget(60.0), share=0.5, lp=False,
                                   mip_gap=0.01)
    assert start.x is not None and check_rows(am, start.x) == []
    assert start.origin == "constructive plan at the capacities' prices"
    assert start.objective is not None and start.objective <= lp
    assert start.bound >= lp - 1e-6 * abs(lp)
    monkeypatch.setattr(capacity_bound, "PLAN_ROUNDS", 1)
    once, _ = pipeline._construct(am, d, Budget(60.0), share=0.5, lp=False, mip_gap=0.01)
    assert once.objective is not None and once.objective < start.objective
