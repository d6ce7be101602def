"""Costs and capacities at the planner's grain (issue 12), proved on hand-computed cases,
against the brute-force evaluator and between the two exact forms of mnl demand.

The hand cases build on ``duo`` (conftest): price 100, unit cost 40; online costs 10 a
unit (margin 50), the store keeps 30% (margin 30); market 100 per cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bruteforce import solve as brute
from conftest import duo_tables
from grain_direct import without

import channel_opt
from channel_opt.model import build_array_model
from channel_opt.model import data as model_data
from channel_opt.model.linear import ArrayModel, to_highs
from channel_opt.scenario import Scenario
from channel_opt.solving.check import check_plan, check_rows


def components(scen: Scenario) -> set[str]:
    """Names of the variable and constraint components of the scenario's Pyomo model."""
    import pyomo.environ as pyo

    from channel_opt.model import build_model

    m = build_model(scen)
    return {c.local_name for c in m.component_objects((pyo.Var, pyo.Constraint))}


def optimum(scen: Scenario) -> float | None:
    """The MIP optimum of the scenario's array model (HiGHS, tight gap)."""
    am, _ = build_array_model(scen)
    h = to_highs(am)
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    return float(h.getInfo().objective_function_value)


def relaxation(am: ArrayModel) -> float:
    """The LP relaxation's optimum (the root bound before cuts)."""
    lp = am.fixed(np.zeros(am.n_cols), [], continuous=True)
    h = to_highs(lp)
    h.run()
    return float(h.getInfo().objective_function_value)


def two_regions(settings: dict[str, Any] | None = None, *, model: str = "independent",
                **over: Any) -> Scenario:
    """duo in two regions R1, R2 (market 100 each), online only, share 0.5: 50 units a
    region at margin 50 (2,500 a region).
    """
    t = duo_tables(
        channels=[{"id": "online", "kind": "online", "variable_cost": 10.0,
                   **over.pop("online", {})}],
        regions=[{"id": "R1"}, {"id": "R2"}],
        cells=[{"product": "P", "region": r, "segment": "S", "market_size": 100.0}
               for r in ("R1", "R2")],
        shares=[{"product": "P", "region": r, "segment": "S", "channel": "online",
                 "share": 0.5} for r in ("R1", "R2")], **over)
    return Scenario.from_frames(t, {"demand_model": model, **(settings or {})})


def test_launch_cost_and_use_link() -> None:
    # launch 3,000 once for both regions: 5,000 - 3,000 = 2,000 (per region it would not
    # pay: 2,500 - 3,000 < 0); launch 6,000 > 5,000: nothing is sold.
    scen = two_regions(online={"launch_cost": 3000.0})
    sol = channel_opt.solve(scen, sensitivity=False)
    assert sol.objective == pytest.approx(2000.0)
    assert sol.tables["region_channel"]["open"].all()
    prof = sol.tables["profit"].set_index("component")["amount"]
    assert prof["channel launch"] == pytest.approx(-3000.0)
    assert check_plan(scen, sol.tables, sol.objective) == []
    assert {"use_channel", "channel_use_link"} <= components(scen)
    am, _ = build_array_model(scen)
    assert am.cons["channel_use_link"].n == 2 and am.vars["use_channel"].n == 1
    assert optimum(two_regions(online={"launch_cost": 6000.0})) == pytest.approx(0.0)


def test_channel_capacity_hand() -> None:
    on = {"channel_capacity": True}
    # capacity 60 over both regions: 60 units x 50 = 3,000; without the rule 5,000
    assert optimum(two_regions({"rules": on}, online={"capacity": 60.0})) == \
        pytest.approx(3000.0)
    assert optimum(two_regions(online={"capacity": 60.0})) == pytest.approx(5000.0)
    # a unit of P takes 2 capacity units: 30 units, 1,500
    pc = [{"product": "P", "channel": "online", "capacity_use": 2.0}]
    assert optimum(two_regions({"rules": on}, online={"capacity": 60.0},
                               product_channels=pc)) == pytest.approx(1500.0)
    # with a launch cost of 2,000 the capacity is bought with the launch: 3,000 - 2,000
    scen = two_regions({"rules": on}, online={"capacity": 60.0, "launch_cost": 2000.0})
    assert "channel_capacity" in components(scen)
    sol = channel_opt.solve(scen, sensitivity=True)
    assert sol.objective == pytest.approx(1000.0)
    cap = sol.tables["capacity"].set_index("family")
    assert cap.loc["channel_capacity", "used"] == pytest.approx(60.0)
    assert cap.loc["channel_capacity", "limit"] == pytest.approx(60.0)
    sens = sol.sensitivity.set_index("family")
    assert sens.loc["channel_capacity", "marginal_profit"] == pytest.approx(50.0)
    assert sens.loc["channel_capacity", "limit"] == pytest.approx(60.0)
    assert check_plan(scen, sol.tables, sol.objective) == []
    bad = {k: v.copy() for k, v in sol.tables.items()}
    bad["cell_channel"].loc[0, "sales"] = 45.0  # 45 + 30 > 60
    assert any("more than 60" in e for e in check_plan(scen, bad, sol.objective))


def test_region_channel_capacity_hand() -> None:
    # online holds 20 units in R1: 20 + 50 units x 50 = 3,500 (without the rule 5,000)
    rc = [{"region": "R1", "channel": "online", "capacity": 20.0}]
    on = {"region_channel_capacity": True}
    scen = two_regions({"rules": on}, region_channels=rc)
    assert "region_channel_capacity" in components(scen)
    sol = channel_opt.solve(scen, sensitivity=True)
    assert sol.objective == pytest.approx(3500.0)
    cap = sol.tables["capacity"].set_index("family")
    assert cap.loc["region_channel_capacity", ["used", "limit"]].tolist() == \
        pytest.approx([20.0, 20.0])
    assert sol.sensitivity.set_index("family").loc[
        "region_channel_capacity", "marginal_profit"] == pytest.approx(50.0)
    assert check_plan(scen, sol.tables, sol.objective) == []
    assert optimum(two_regions(region_channels=rc)) == pytest.approx(5000.0)
    # half of each region's market must be served: R1 cannot (20 < 50), infeasible,
    # and the diagnosis names the capacity against the service level
    t = {"rules": {**on, "cell_service_level": 0.5}}
    scen = two_regions(t, region_channels=rc)
    assert "region_capacity_cover" in components(scen)
    am, _ = build_array_model(scen)
    cover = am.cons["region_capacity_cover"]
    assert cover.lower.tolist() == [50.0, 50.0] and cover.vals.tolist() == [20.0, 50.0]
    sol = channel_opt.solve(scen, sensitivity=False)
    assert sol.plan_status == "none" and sol.diagnosis is not None
    assert {"region_channel_capacity", "cell_service_level"} <= set(sol.diagnosis.families)


def test_region_and_product_grain() -> None:
    # R2's online variable cost 30 replaces 10: margins 50 and 30, 4,000
    rc = [{"region": "R2", "channel": "online", "variable_cost": 30.0}]
    scen = two_regions(region_channels=rc)
    sol = channel_opt.solve(scen, sensitivity=False)
    assert sol.objective == pytest.approx(4000.0)
    m = sol.tables["region_channel"].set_index("region")
    assert m.loc["R2", "margin"] == pytest.approx(50 * 30.0)  # margins per region
    assert m.loc["R2", "variable_cost"] == pytest.approx(30.0)
    assert check_plan(scen, sol.tables, sol.objective) == []
    # the product's cost in the channel is added (5 a unit): 45 and 25, 3,500;
    # its listing cost 100 replaces the channel's (0): 3,400
    pc = [{"product": "P", "channel": "online", "variable_cost": 5.0, "listing_cost": 100.0}]
    scen = two_regions(region_channels=rc, product_channels=pc)
    assert optimum(scen) == pytest.approx(3400.0)
    assert brute(scen).profit == pytest.approx(3400.0)
    # not allowed: nothing to sell
    pc = [{"product": "P", "channel": "online", "allowed": False}]
    assert build_array_model(two_regions(product_channels=pc))[1].cc.empty


def test_independent_offers_per_channel_with_cardinality() -> None:
    # independent, both channels 0.5: offered together 50 + 50 (the market): 2,500 + 1,500
    scen = Scenario.from_frames(duo_tables(), {"demand_model": "independent"})
    am, d = build_array_model(scen)
    assert am.vars["offer"].n == 2 and "offer_cardinality" not in am.cons
    assert optimum(scen) == pytest.approx(4000.0)
    one = Scenario.from_frames(duo_tables(), {"demand_model": "independent",
                                              "max_channels_per_cell": 1})
    assert "offer_cardinality" in components(one)
    am, _ = build_array_model(one)
    assert am.cons["offer_cardinality"].upper.tolist() == [1.0]
    assert optimum(one) == pytest.approx(2500.0)


def test_compact_mnl_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    # duo under mnl, compact form forced: {online, store}, 100/3 units each, 2,666.67;
    # the no-purchase volume is 100/3 and each offered channel's volume the same
    monkeypatch.setattr(model_data, "MNL_ENUMERATE_MAX_OPTIONS", 0)
    scen = Scenario.from_frames(duo_tables(), {})
    am, d = build_array_model(scen)
    assert d.mnl_compact.all() and am.vars["offer"].n == 2
    assert {"no_purchase", "offer_volume", "mnl_balance", "mnl_volume_off", "mnl_volume_floor",
            "mnl_volume_upper", "mnl_volume_lower", "mnl_demand"} <= components(scen)
    sol = channel_opt.solve(scen, sensitivity=False)
    assert sol.objective == pytest.approx(8000 / 3)
    cc = sol.tables["cell_channel"]
    assert cc["demand"].tolist() == pytest.approx([100 / 3, 100 / 3])
    assert check_plan(scen, sol.tables, sol.objective) == []
    one = Scenario.from_frames(duo_tables(), {"max_channels_per_cell": 1})
    assert optimum(one) == pytest.approx(2500.0)


def test_capacity_cover_is_valid() -> None:
    # a CFL with binding capacities (total 1.2 x demand): the cover row is built, cuts
    # no integer optimum off and never loosens the relaxation. (Its LP value equals
    # the aggregated capacity rows' when every capacity use is 1; it pays at the root
    # through the solver's knapsack cover cuts: tests/test_cfl_gap.py measures that.)
    from grain_direct import cfl_direct, cfl_scenario, random_cfl

    p = random_cfl(5, 12, seed=3, tight=1.2)
    scen = cfl_scenario(p)
    assert {"capacity_cover", "channel_capacity"} <= components(scen)
    am, _ = build_array_model(scen)
    cover = am.cons["capacity_cover"]
    assert cover.lower.tolist() == [p.demand.sum()]  # every unit is forced
    assert sorted(cover.vals) == sorted(np.minimum(p.cap, p.demand.sum()))
    with_cut, without_cut = relaxation(am), relaxation(without(am, "capacity_cover"))
    best = -float(cfl_direct(p) or 0.0)
    assert best <= with_cut + 1e-6 <= without_cut + 2e-6
    assert optimum(scen) == pytest.approx(best, rel=1e-6)


# ------------------------------------------------------------ random, against brute force

CAPACITY_RULES = ("channel_capacity", "region_channel_capacity")


def _random_tables(rng: np.random.Generator, n_k: int = 3) -> dict[str, Any]:
    ks = [f"k{i}" for i in range(n_k)]
    kinds = ["online", "offline", "o2o"]
    prods, regs = ["P1", "P2"], ["R1", "R2"]
    cells = [{"product": p, "region": r, "segment": "S",
              "market_size": float(rng.integers(50, 150))} for p in prods for r in regs]
    shares = [{"product": c["product"], "region": c["region"], "segment": "S", "channel": k,
               "share": float(rng.choice([0.2, 0.4, 0.6]))}
              for c in cells for k in ks if rng.random() < 0.85]
    return {
        "channels": [{"id": k, "kind": kinds[i % 3], "requires_store": False,
                      "variable_cost": float(rng.integers(0, 20)),
                      "launch_cost": float(rng.choice([0.0, 500.0, 2000.0])),
                      "capacity": float(rng.choice([40.0, 90.0, 1e9])),
                      "open_cost": float(rng.choice([0.0, 200.0]))}
                     for i, k in enumerate(ks)],
        "brands": [{"id": "B"}],
        "products": [{"id": p, "brand": "B", "unit_cost": 40.0,
                      "ref_price": float(rng.integers(80, 120))} for p in prods],
        "regions": [{"id": r} for r in regs],
        "segments": [{"id": "S"}],
        "cells": cells, "shares": shares,
        "region_channels": [{"region": r, "channel": k,
                             "variable_cost": float(rng.integers(0, 40)),
                             "capacity": float(rng.choice([30.0, 70.0, 1e9]))}
                            for r in regs for k in ks if rng.random() < 0.5],
        "product_channels": [{"product": p, "channel": k,
                              "variable_cost": float(rng.integers(0, 10)),
                              "capacity_use": float(rng.choice([0.5, 1.0, 2.0])),
                              "listing_cost": float(rng.choice([0.0, 300.0])),
                              "allowed": bool(rng.random() < 0.9)}
                             for p in prods for k in ks if rng.random() < 0.6],
    }


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("model", ["independent", "mnl"])
def test_grain_against_brute_force(seed: int, model: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(100 + seed)
    t = _random_tables(rng)
    rules: dict[str, Any] = {name: True for name in CAPACITY_RULES}
    if seed % 2:
        rules["cell_service_level"] = 0.3  # forced units: the cover cuts are built
    scen = Scenario.from_frames(t, {"demand_model": model, "rules": rules})
    want = brute(scen).profit
    got = optimum(scen)
    assert (got is None) == (want is None)
    if want is not None:
        assert got == pytest.approx(want, rel=1e-6, abs=1e-6)
    if model == "mnl":  # the compact form reaches the same optimum
        monkeypatch.setattr(model_data, "MNL_ENUMERATE_MAX_OPTIONS", 0)
        compact = optimum(scen)
        assert (compact is None) == (want is None)
        if want is not None:
            assert compact == pytest.approx(want, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow),
                                  pytest.param(2, marks=pytest.mark.slow)])
def test_compact_and_enumerated_mnl_agree_with_levels(seed: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # price levels and a cap on channels per cell: both forms, and the brute force
    rng = np.random.default_rng(200 + seed)
    t = _random_tables(rng)
    for name in ("cells", "shares"):  # one product: a small design space to enumerate
        t[name] = [row for row in t[name] if row["product"] == "P1"]
    t["price_levels"] = [{"product": "P1", "channel": "k0", "level": lv, "price": pr,
                          "demand_multiplier": m}
                         for lv, pr, m in (("full", 100.0, 1.0), ("promo", 85.0, 1.8))]
    scen = Scenario.from_frames(t, {"max_channels_per_cell": 2,
                                    "rules": {"channel_capacity": True}})
    want = brute(scen).profit
    assert optimum(scen) == pytest.approx(want, rel=1e-6, abs=1e-6)
    monkeypatch.setattr(model_data, "MNL_ENUMERATE_MAX_OPTIONS", 0)
    am, d = build_array_model(scen)
    assert d.mnl_compact.all() and "offer_cardinality" in am.cons
    assert optimum(scen) == pytest.approx(want, rel=1e-6, abs=1e-6)
    sol = channel_opt.solve(scen, sensitivity=False)
    assert sol.objective == pytest.approx(want, rel=1e-4, abs=1e-4)
    assert check_plan(scen, sol.tables, sol.objective) == []
    assert check_rows(*_model_and_x(scen, sol)) == []


def _model_and_x(scen: Scenario, sol: Any) -> tuple[ArrayModel, np.ndarray]:
    am, _ = build_array_model(scen)
    return am, np.asarray(sol.x, float)


def test_grain_input_errors_name_file_row_column_and_rule() -> None:
    # every bad cell of the new columns and table is reported at once
    from channel_opt.scenario import ScenarioError

    t = duo_tables(
        channels=[{"id": "online", "kind": "online", "launch_cost": -5.0, "capacity": "lots"},
                  {"id": "store", "kind": "offline"}],
        region_channels=[{"region": "R", "channel": "online", "variable_cost": -1.0}],
        product_channels=[{"product": "P", "channel": "online", "capacity_use": -2.0},
                          {"product": "X", "channel": "store", "allowed": "maybe"},
                          {"product": "P", "channel": "online"}])
    with pytest.raises(ScenarioError) as err:
        Scenario.from_frames(t, {})
    got = {(p.table, p.row, p.column, p.rule) for p in err.value.problems}
    assert ("channels", 2, "launch_cost", "negative number") in got
    assert ("channels", 2, "capacity", "not a number") in got
    assert ("region_channels", 2, "variable_cost", "negative number") in got
    assert ("product_channels", 2, "capacity_use", "negative number") in got
    assert ("product_channels", 3, "allowed", "not true/false") in got
    assert ("product_channels", 3, "product",
            "unknown product id (not in table 'products')") in got
    assert ("product_channels", 4, "channel", "duplicate key (product, channel)") in got


def test_capacity_without_its_rule_is_noted() -> None:
    scen = two_regions(online={"capacity": 60.0})
    assert any("[channels], column 'capacity'" in str(n) and "'channel_capacity' is off"
               in str(n) for n in scen.notes)
