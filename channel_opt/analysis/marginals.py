"""True marginal values of the binding capacities and floors, by re-solving.

The fixed-design duals (:mod:`channel_opt.solving.sensitivity`, ``basis: fixed
design``) price one more unit of a limit *with the channel design held as planned*;
a floor that forces a costly design reads 0 there. Here each binding limit is moved
by ``−step`` and ``+step`` and the whole design problem is solved again (the model of
the scenario with only that row's bound changed, through the batch executor):
``change_minus`` / ``change_plus`` are the profit changes, ``per_unit_minus`` /
``per_unit_plus`` the same per unit of the limit (``basis: re-solve``), printed next to
the fixed-design value of the same row.

Every re-solve starts from the plan where it stays feasible (a capacity raised, a
floor lowered); a tightened limit may make the scenario infeasible, which reads as an
empty profit and status ``infeasible``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..executor import Progress, run_batch
from ..model import build_array_model
from ..model.registry import ROW
from ..scenario import Scenario, load_scenario
from ..solving import Solution
from ..solving import solve as solve_scenario
from ..solving.backends import SolveOptions, new_highs, run_highs
from ..solving.pipeline import DEFAULT_MIP_GAP

BASIS = "re-solve"
COLUMNS = ["family", "where", "kind", "limit", "used", "step", "profit", "profit_minus",
           "profit_plus", "change_minus", "change_plus", "per_unit_minus", "per_unit_plus",
           "status_minus", "status_plus", "fixed_design_marginal", "basis"]


@dataclass(frozen=True)
class BoundTask:
    """Solve the scenario with row ``index`` of ``family`` bounded at ``limit`` (the
    side the family's role bounds); ``family=None``: the scenario as it is.
    """

    scenario: Scenario
    family: str | None = None
    index: int = 0
    limit: float = 0.0
    start: np.ndarray | None = None
    options: dict[str, Any] = field(default_factory=dict)


def run_bound_task(task: BoundTask) -> tuple[str, float | None]:
    """The batch task: build, change one row bound, solve; (termination, profit)."""
    am, _ = build_array_model(task.scenario)
    if task.family is not None:
        c = am.cons[task.family]
        if ROW[task.family].limit_side == "upper":
            c.upper[task.index] = task.limit
        else:
            c.lower[task.index] = task.limit
    h = new_highs(am)
    o = task.options
    opts = SolveOptions(o.get("time_limit"), o.get("mip_gap", DEFAULT_MIP_GAP),
                        o.get("threads"), o.get("seed"), start=task.start)
    res = run_highs(h, opts, integer=bool(am.integrality().any()), cost=am.cost)
    x = res["x"]
    return res["termination"], None if x is None else float(am.cost @ x)


def binding_rows(sol: Solution, tol: float = 1e-6) -> pd.DataFrame:
    """Capacity and floor rows the plan meets exactly (slack ≤ tol · max(1, |limit|)),
    with ``index`` (the row within its family) and the fixed-design value.
    """
    cap = sol.tables.get("capacity")
    if cap is None or not len(cap):
        return pd.DataFrame(columns=["family", "where", "kind", "limit", "used", "index"])
    cap = cap.assign(index=cap.groupby("family", sort=False).cumcount())
    lim = cap["limit"].to_numpy(float)
    ok = np.isfinite(lim) & (cap["slack"].to_numpy(float) <= tol * np.maximum(1, np.abs(lim)))
    out = cap[ok].reset_index(drop=True)
    sens = sol.sensitivity
    if sens is not None and len(sens):
        fd = sens.set_index(["family", "where"])["marginal_profit"]
        keys = pd.MultiIndex.from_frame(out[["family", "where"]])
        out["fixed_design_marginal"] = fd.reindex(keys).to_numpy()
    else:
        out["fixed_design_marginal"] = np.nan
    return out


def marginals(scenario: Scenario | str | os.PathLike[str], solution: Solution | None = None,
              *, step: float = 0.1, max_rows: int = 20, workers: int | None = None,
              scheduler: str | None = None, mip_gap: float | None = None,
              time_limit: float | None = None, progress: Progress | None = None
              ) -> pd.DataFrame:
    """Re-solve marginal values of the binding capacities and floors of the plan.

    ``step``: the move of each limit as a share of it (``0.1``: ±10 %; a limit of 0
    moves by 1 unit). ``max_rows``: at most this many rows (in the capacity table's
    order). ``solution``: the plan of ``scenario`` (solved here when not given).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    gap = DEFAULT_MIP_GAP if mip_gap is None else mip_gap
    if solution is None:
        solution = solve_scenario(scenario, mip_gap=gap, time_limit=time_limit)
    if not solution.has_plan or solution.x is None:
        raise ValueError("no plan to take marginal values of")
    rows = binding_rows(solution).head(max_rows)
    if not len(rows):
        return pd.DataFrame(columns=COLUMNS)
    opts = {"mip_gap": gap, "time_limit": time_limit}
    x = solution.x
    tasks = [BoundTask(scenario, options=opts, start=x)]
    steps = []
    fams = rows["family"].astype(str).tolist()
    limits = rows["limit"].to_numpy(float)
    index = rows["index"].to_numpy(int)
    for fam, lim, i in zip(fams, limits, index, strict=True):
        d = abs(lim) * step if lim != 0 else 1.0
        steps.append(d)
        upper = ROW[fam].limit_side == "upper"
        for sign in (-1.0, 1.0):
            # the plan stays feasible when a capacity grows or a floor drops
            keeps = (sign > 0) == upper
            tasks.append(BoundTask(scenario, fam, int(i), float(lim + sign * d),
                                   x if keeps else None, opts))
    labels = ["base"] + [f"{f}[{w}] {s}" for f, w in zip(fams, rows["where"], strict=True)
                         for s in ("-", "+")]
    res = run_batch(run_bound_task, tasks, workers=workers, scheduler=scheduler,
                    labels=labels, progress=progress)
    base = res[0][1]
    out = rows[["family", "where", "kind", "limit", "used", "fixed_design_marginal"]].copy()
    out["step"] = steps
    out["profit"] = base
    out["status_minus"] = [res[1 + 2 * i][0] for i in range(len(rows))]
    out["status_plus"] = [res[2 + 2 * i][0] for i in range(len(rows))]
    pm = np.array([np.nan if res[1 + 2 * i][1] is None else res[1 + 2 * i][1]
                   for i in range(len(rows))])
    pp = np.array([np.nan if res[2 + 2 * i][1] is None else res[2 + 2 * i][1]
                   for i in range(len(rows))])
    b = np.nan if base is None else float(base)
    out["profit_minus"], out["profit_plus"] = pm, pp
    out["change_minus"], out["change_plus"] = pm - b, pp - b
    st = np.asarray(steps, float)
    out["per_unit_minus"] = (b - pm) / st  # d profit / d limit from below
    out["per_unit_plus"] = (pp - b) / st
    out["basis"] = BASIS
    return out[COLUMNS]
