"""Textbook problems written two ways: as channel_opt scenarios by small converters (the
planner's natural way: warehouses / agents are channels, customers are regions, jobs
are products) and as independent direct MIPs built here with highspy, never through
``channel_opt.model``. The tests compare the two optima.

* Capacitated facility location (CFL): warehouse ``i`` has a fixed cost ``f_i`` and a
  capacity ``C_i``; customer ``j`` has demand ``d_j``, served (split allowed) at unit
  cost ``c_ji``. Scenario: channel ``w_i`` with ``launch_cost = f_i`` and ``capacity =
  C_i`` (``rules.channel_capacity``); region ``c_j`` with one cell of market ``d_j``
  that every channel reaches fully (``share`` 1, independent demand) and must be served
  (``rules.cell_service_level: 1``); ``region_channels.variable_cost = c_ji``. Price and
  unit cost are 1, so the profit is minus the cost.
* Generalized assignment (GAP): agent ``i`` has capacity ``b_i``; job ``j`` takes
  ``w_ij`` of it and costs ``c_ij`` on agent ``i``, and goes wholly to one agent.
  Scenario: channel ``a_i`` with ``capacity = b_i``; product ``j_j`` with one cell of
  market 1 in the one region; ``product_channels`` carries ``capacity_use = w_ij`` and
  ``variable_cost = c_ij``. *Wholly to one agent*: ``max_channels_per_cell: 1`` (one
  channel offered to the job's cell) with ``cell_service_level: 1`` (its whole market
  sold, so all of it through that channel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from channel_opt.model.linear import ArrayModel
from channel_opt.scenario import Scenario


@dataclass
class Cfl:
    fixed: np.ndarray  # (n_w,)
    cap: np.ndarray  # (n_w,)
    demand: np.ndarray  # (n_c,)
    cost: np.ndarray  # (n_c, n_w) unit cost customer j from warehouse i


@dataclass
class Gap:
    cap: np.ndarray  # (n_a,)
    weight: np.ndarray  # (n_a, n_j)
    cost: np.ndarray  # (n_a, n_j)


def random_cfl(n_w: int, n_c: int, seed: int, *, tight: float = 1.4) -> Cfl:
    """Random CFL on the unit square (costs = distance x 10); total capacity ``tight``
    times the total demand, so capacities bind.
    """
    rng = np.random.default_rng(seed)
    wpos, cpos = rng.random((n_w, 2)), rng.random((n_c, 2))
    cost = np.round(10 * np.linalg.norm(cpos[:, None, :] - wpos[None, :, :], axis=2), 2)
    demand = rng.integers(5, 36, n_c).astype(float)
    share = rng.random(n_w) + 0.5
    cap = np.round(tight * demand.sum() * share / share.sum())
    fixed = rng.integers(50, 151, n_w).astype(float)
    return Cfl(fixed, cap, demand, cost)


def random_gap(n_a: int, n_j: int, seed: int, *, tight: float = 0.8) -> Gap:
    """Random GAP (type C of the literature: b_i = tight x sum_j w_ij / n_a)."""
    rng = np.random.default_rng(seed)
    weight = rng.integers(5, 26, (n_a, n_j)).astype(float)
    cost = rng.integers(10, 51, (n_a, n_j)).astype(float)
    cap = np.floor(tight * weight.sum(1) / n_a)
    return Gap(cap, weight, cost)


def cfl_scenario(p: Cfl) -> Scenario:
    n_w, n_c = len(p.fixed), len(p.demand)
    ws, cs = [f"w{i}" for i in range(n_w)], [f"c{j}" for j in range(n_c)]
    t: dict[str, Any] = {
        "channels": [{"id": w, "kind": "online", "launch_cost": float(p.fixed[i]),
                      "capacity": float(p.cap[i])} for i, w in enumerate(ws)],
        "brands": [{"id": "B"}],
        "products": [{"id": "P", "brand": "B", "unit_cost": 1.0, "ref_price": 1.0}],
        "regions": [{"id": c} for c in cs],
        "segments": [{"id": "S"}],
        "cells": [{"product": "P", "region": c, "segment": "S",
                   "market_size": float(p.demand[j])} for j, c in enumerate(cs)],
        "shares": [{"product": "P", "region": c, "segment": "S", "channel": w, "share": 1.0}
                   for c in cs for w in ws],
        "region_channels": [{"region": c, "channel": w,
                             "variable_cost": float(p.cost[j, i])}
                            for j, c in enumerate(cs) for i, w in enumerate(ws)],
    }
    return Scenario.from_frames(t, {"demand_model": "independent", "rules": {
        "channel_capacity": True, "cell_service_level": 1.0}}, name="cfl")


def gap_scenario(p: Gap) -> Scenario:
    n_a, n_j = p.weight.shape
    ag, js = [f"a{i}" for i in range(n_a)], [f"j{j}" for j in range(n_j)]
    t: dict[str, Any] = {
        "channels": [{"id": a, "kind": "offline", "capacity": float(p.cap[i])}
                     for i, a in enumerate(ag)],
        "brands": [{"id": "B"}],
        "products": [{"id": j, "brand": "B", "unit_cost": 1.0, "ref_price": 1.0} for j in js],
        "regions": [{"id": "R"}],
        "segments": [{"id": "S"}],
        "cells": [{"product": j, "region": "R", "segment": "S", "market_size": 1.0}
                  for j in js],
        "shares": [{"product": j, "region": "R", "segment": "S", "channel": a, "share": 1.0}
                   for j in js for a in ag],
        "product_channels": [{"product": j, "channel": a,
                              "capacity_use": float(p.weight[i, jj]),
                              "variable_cost": float(p.cost[i, jj])}
                             for jj, j in enumerate(js) for i, a in enumerate(ag)],
    }
    return Scenario.from_frames(t, {"demand_model": "independent", "max_channels_per_cell": 1,
                                    "rules": {"channel_capacity": True,
                                              "cell_service_level": 1.0}}, name="gap")


class _Mip:
    """A minimization MIP assembled column by column and passed to HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lo: list[float] = []
        self.up: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def var(self, cost: float, lo: float, up: float, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lo.append(lo)
        self.up.append(up)
        self.integer.append(int(integer))
        return len(self.cost) - 1

    def row(self, coef: dict[int, float], lo: float, up: float) -> None:
        self.rows.append((coef, lo, up))

    def solve(self, gap: float = 1e-9) -> float | None:
        import highspy

        n = len(self.cost)
        starts, index, value = [], [], []
        cols: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for i, (coef, _, _) in enumerate(self.rows):
            for j, v in coef.items():
                cols[j].append((i, v))
        for j in range(n):
            starts.append(len(index))
            index += [i for i, _ in cols[j]]
            value += [v for _, v in cols[j]]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", gap)
        h.passModel(n, len(self.rows), len(index), 1, 1, 0.0, np.array(self.cost),
                    np.array(self.lo), np.array(self.up),
                    np.array([r[1] for r in self.rows]), np.array([r[2] for r in self.rows]),
                    np.array(starts, np.int32), np.array(index, np.int32), np.array(value),
                    np.array(self.integer, np.int32))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return float(h.getInfo().objective_function_value)


def cfl_direct(p: Cfl) -> float | None:
    """Least cost of the CFL, the textbook strong formulation."""
    m = _Mip()
    n_c, n_w = p.cost.shape
    y = [m.var(float(p.fixed[i]), 0, 1, True) for i in range(n_w)]
    x = [[m.var(float(p.cost[j, i]), 0, float(p.demand[j])) for i in range(n_w)]
         for j in range(n_c)]
    inf = float("inf")
    for j in range(n_c):
        m.row({x[j][i]: 1.0 for i in range(n_w)}, float(p.demand[j]), float(p.demand[j]))
        for i in range(n_w):
            m.row({x[j][i]: 1.0, y[i]: -float(p.demand[j])}, -inf, 0.0)
    for i in range(n_w):
        m.row({**{x[j][i]: 1.0 for j in range(n_c)}, y[i]: -float(p.cap[i])}, -inf, 0.0)
    return m.solve()


def gap_direct(p: Gap) -> float | None:
    """Least cost of the GAP (None: infeasible)."""
    m = _Mip()
    n_a, n_j = p.weight.shape
    x = [[m.var(float(p.cost[i, j]), 0, 1, True) for j in range(n_j)] for i in range(n_a)]
    for j in range(n_j):
        m.row({x[i][j]: 1.0 for i in range(n_a)}, 1.0, 1.0)
    for i in range(n_a):
        m.row({x[i][j]: float(p.weight[i, j]) for j in range(n_j)}, -float("inf"),
              float(p.cap[i]))
    return m.solve()


def without(am: ArrayModel, block: str) -> ArrayModel:
    """A copy of the model without one row block."""
    m = am.fixed(np.zeros(am.n_cols), [])
    out = ArrayModel(name=am.name)
    for b in m.vars.values():
        out.add_vars(b.name, b.labels, lower=b.lower, upper=b.upper, integer=b.integer)
    out._cost = [c.copy() for c in am._cost]
    for c in am.cons.values():
        if c.name != block:
            out.add_cons(c.name, c.labels, [(c.rows, c.cols, c.vals)], lower=c.lower,
                         upper=c.upper)
    return out
