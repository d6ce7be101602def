"""Capacitated facility location and generalized assignment written as scenarios (the
converters in ``grain_direct``) reach the optimum of independent direct models (highspy,
not through ``channel_opt.model``) on random instances, on every installed backend.
"""

from __future__ import annotations

import numpy as np
import pytest
from grain_direct import (
    Gap,
    cfl_direct,
    cfl_scenario,
    gap_direct,
    gap_scenario,
    random_cfl,
    random_gap,
)

import channel_opt
from channel_opt.model import build_array_model
from channel_opt.solving.check import check_plan, check_rows
from channel_opt.solving.heuristic import construct


def _binding(sol: channel_opt.Solution) -> bool:
    cap = sol.tables["capacity"]
    rows = cap[cap["family"] == "channel_capacity"]
    return bool(((rows["limit"] > 0) & (rows["slack"].abs() < 1e-6)).any())


def _feasible_gap(n_a: int, n_j: int, seed: int) -> tuple[Gap, float]:
    for s in range(seed, seed + 50):  # the first feasible draw from this seed on
        p = random_gap(n_a, n_j, s)
        best = gap_direct(p)
        if best is not None:
            return p, best
    raise AssertionError("no feasible GAP drawn")


@pytest.mark.parametrize(("n_w", "n_c", "seed"), [(3, 6, 0), (4, 8, 1)])
def test_cfl_reaches_the_direct_optimum(solver: str, n_w: int, n_c: int, seed: int) -> None:
    p = random_cfl(n_w, n_c, seed, tight=1.3)
    best = cfl_direct(p)
    assert best is not None
    scen = cfl_scenario(p)
    sol = channel_opt.solve(scen, solver=solver, mip_gap=1e-9, sensitivity=False)
    assert sol.plan_status == "optimal"
    assert -sol.objective == pytest.approx(best, rel=1e-6)
    assert check_plan(scen, sol.tables, sol.objective) == []
    assert _binding(sol)  # some warehouse is full


@pytest.mark.parametrize(("n_a", "n_j", "seed"), [(2, 5, 0), (3, 6, 1)])
def test_gap_reaches_the_direct_optimum(solver: str, n_a: int, n_j: int, seed: int) -> None:
    p, best = _feasible_gap(n_a, n_j, seed)
    scen = gap_scenario(p)
    sol = channel_opt.solve(scen, solver=solver, mip_gap=1e-9, sensitivity=False)
    assert sol.plan_status == "optimal"
    assert -sol.objective == pytest.approx(best, rel=1e-6)
    cc = sol.tables["cell_channel"]
    sold = cc[cc["sales"] > 1e-9]
    assert sold.groupby("product").size().max() == 1  # each job wholly to one agent
    assert sold["sales"].to_numpy() == pytest.approx(np.ones(len(sold)))
    assert len(sold) == p.weight.shape[1]


@pytest.mark.slow
@pytest.mark.parametrize(("n_w", "n_c", "seed"), [(10, 30, 2), (15, 40, 3)])
def test_cfl_larger(solver: str, n_w: int, n_c: int, seed: int) -> None:
    if solver == "glpk":
        pytest.skip("glpk takes minutes on these")
    p = random_cfl(n_w, n_c, seed, tight=1.2)
    best = cfl_direct(p)
    sol = channel_opt.solve(cfl_scenario(p), solver=solver, mip_gap=1e-9, time_limit=300,
                            sensitivity=False)
    assert sol.plan_status == "optimal"
    assert -sol.objective == pytest.approx(best, rel=1e-6)
    assert _binding(sol)


@pytest.mark.slow
@pytest.mark.parametrize(("n_a", "n_j", "seed"), [(5, 15, 4), (8, 24, 5)])
def test_gap_larger(solver: str, n_a: int, n_j: int, seed: int) -> None:
    if solver == "glpk":
        pytest.skip("glpk takes minutes on these")
    p, best = _feasible_gap(n_a, n_j, seed)
    sol = channel_opt.solve(gap_scenario(p), solver=solver,
                            mip_gap=1e-9, time_limit=300, sensitivity=False)
    assert sol.plan_status == "optimal"
    assert -sol.objective == pytest.approx(best, rel=1e-6)


def test_cost_only_heuristic_returns_a_plan() -> None:
    # every margin is negative (price 1 = unit cost, then a positive variable cost) and
    # the service level forces every unit: the constructive plan is feasible
    p = random_cfl(5, 12, 4, tight=1.2)
    am, d = build_array_model(cfl_scenario(p))
    c = construct(am, d)
    assert c.x is not None and c.objective is not None
    assert check_rows(am, c.x) == []
    best = cfl_direct(p)
    assert best is not None and c.objective <= -best + 1e-6 <= c.bound + 1e-6


def test_hundred_warehouses() -> None:
    # more than 62 channels per cell (a 64-bit mask would lose some): the model is
    # exact and small (one offer per (customer, warehouse)); the direct model agrees
    # warehouses from w64 on are cheap to open, so the optimum must use them
    p = random_cfl(100, 6, 5, tight=3.0)
    p.fixed[64:] = 1.0
    scen = cfl_scenario(p)
    am, d = build_array_model(scen)
    assert am.vars["offer"].n == 600 and am.vars["use_channel"].n == 100
    sol = channel_opt.solve(scen, mip_gap=1e-9, sensitivity=False)
    assert sol.plan_status == "optimal"
    assert -sol.objective == pytest.approx(cfl_direct(p), rel=1e-6)
    used = sol.tables["region_channel"].query("open")["channel"].unique()
    assert max(int(w[1:]) for w in used) >= 64
