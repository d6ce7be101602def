"""The exact profit–overlap Pareto frontier (ε-constraint on the overlap count).

Two objectives: profit (maximize) and the number of (product, region) pairs sold
both online and offline (``overlap_count``, minimize). The frontier is computed in
the AUGMECON2 manner (Mavrotas & Florios 2013) on one :class:`ArrayModel` per worker:

1. **Payoff table by lexicographic optimization**: max profit, then the fewest
   overlaps at that profit (the frontier's upper end ``e_hi``); fewest overlaps, then
   the most profit there (its lower end ``e_lo``). Both run as tasks of the batch;
   each second stage starts from the first stage's plan; the fewest overlaps at the
   most profit gets at most twice the first stage's time (cut short, it leaves a
   feasible end point: the points below are still exact, and a dominated end point
   is dropped by the final filter).
2. The model gets a slack column ``s ≥ 0`` in the overlap budget row, which becomes
   ``Σ overlap + s = ε``, and the objective is augmented to ``profit + δ s``: among the
   plans of equal profit the solver prefers the one with fewer overlaps, so every
   reported point is efficient (not merely weakly efficient).
3. ``points=None`` (all Pareto points): ε descends from ``e_hi``; after the solve at ε
   the slack shows that every ε' in ``[ε - s, ε]`` gives the same plan, so the next ε is
   ``ε - s - 1`` (the AUGMECON2 jump) — one solve per Pareto point plus one. With
   ``points=N``: N values of ε spread evenly over ``[e_lo, e_hi]``, solved in ascending
   order so each point is warm-started (MIP start) from its neighbour's plan, which is
   feasible for the looser budget. Either way the ε range is split into contiguous
   chunks, one task per worker of the executor.

``δ`` is the solve's optimality tolerance spread over the range (``mip_gap · |P| /
(e_hi − e_lo)``): the augmentation can never cost more profit than the solver may
leave anyway, so no Pareto point is traded away for a smaller count. A point that is
dominated within that tolerance (a tie the solver did not break) is dropped at the end.
Only the overlap budget row's bounds and the slack's cost change between solves:
the model is built once per task.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import output
from ..executor import Progress, get_executor
from ..model import build_array_model
from ..model.families.conflict import OVERLAP, OVERLAP_BUDGET
from ..model.linear import INF, ArrayModel
from ..scenario import Scenario, load_scenario
from ..scenario.tables import MAX_VALUE
from ..solving.backends import OPTIMAL, SolveOptions, new_highs, relative_gap, run_highs
from ..solving.check import checked_plan
from ..solving.heuristic import construct
from ..solving.pipeline import DEFAULT_MIP_GAP, PLAN_FEASIBLE, PLAN_INVALID, PLAN_OPTIMAL
from ..solving.results import kpis
from .batch import KPI_COLUMNS, SolveTask, md_table, pyplot, run_solve, write_batch_folder
from .overrides import apply_overrides

log = logging.getLogger("channel_opt")

BUDGET_ROW = OVERLAP_BUDGET.name
SECOND_STAGE_MIN_SECONDS = 30.0  # least time of a payoff row's lexicographic second stage
SLACK = "overlap_slack"


def frontier_scenario(scenario: Scenario) -> Scenario:
    """The scenario with the overlap family on (cost 0 if it was off) and its budget
    row present but not binding (``max_pairs`` at the largest allowed value): the
    frontier sets the budget itself.
    """
    ov = scenario.settings.rules.overlap
    changes: dict[str, Any] = {"rules.overlap.max_pairs": MAX_VALUE}
    if ov is None:
        changes["rules.overlap.cost"] = 0.0
    return apply_overrides(scenario, changes)


@dataclass
class _Model:
    """One worker's augmented model and its HiGHS instance."""

    am: ArrayModel
    data: Any
    h: Any
    row: int  # the overlap budget row
    slack: int  # the slack column
    overlap: np.ndarray  # the overlap columns


def _augmented(scen: Scenario, with_start: bool = False) -> tuple[_Model | None,
                                                                  np.ndarray | None]:
    """Build the model once, add the slack to the budget row; ``None`` when no
    (product, region) pair can overlap. The constructive plan if ``with_start``.
    """
    am, data = build_array_model(scen)
    if OVERLAP.name not in am.vars or BUDGET_ROW not in am.cons:
        return None, None
    start = construct(am, data).x if with_start else None
    blk = am.add_vars(SLACK, pd.DataFrame({"scope": ["all"]}), lower=0.0, upper=INF,
                      description="unused overlap budget (the AUGMECON2 slack)")
    c = am.cons[BUDGET_ROW]
    c.rows = np.append(c.rows, 0)
    c.cols = np.append(c.cols, blk.start)
    c.vals = np.append(c.vals, 1.0)
    am._matrices.clear()
    ov = am.vars[OVERLAP.name]
    m = _Model(am, data, new_highs(am), c.start, blk.start, ov.cols)
    if start is not None:
        start = np.append(start, 0.0)
    return m, start


def _solve(m: _Model, opts: SolveOptions, cost: np.ndarray, lo: float, up: float,
           start: np.ndarray | None) -> dict[str, Any]:
    m.h.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
    m.h.changeRowBounds(m.row, lo, up)
    opts.start = None if start is None else _with_slack(m, start, up)
    t = time.perf_counter()
    res = run_highs(m.h, opts, integer=True, cost=cost)  # checks the plan vs objective
    res["seconds"] = time.perf_counter() - t
    return res


def _with_slack(m: _Model, x: np.ndarray, eps: float) -> np.ndarray:
    """A plan with the slack set for the budget ``eps`` (0 for a free row)."""
    x = x.copy()
    used = float(np.rint(x[m.overlap]).sum())
    x[m.slack] = max(0.0, eps - used) if math.isfinite(eps) else 0.0
    return x


@dataclass(frozen=True)
class FrontierTask:
    """Points of the frontier for one worker: ``mode`` ``"payoff_profit"``,
    ``"payoff_overlap"``, ``"grid"`` (the given ε, ascending) or ``"jump"`` (from
    ``eps[0]`` down to ``eps[1]``, jumping by the slack).
    """

    scenario: Scenario
    mode: str
    eps: tuple[int, ...] = ()
    delta: float = 0.0
    start: np.ndarray | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _point(m: _Model, scen: Scenario, res: dict[str, Any], eps: float | None
           ) -> dict[str, Any] | None:
    """A solved point as a row (None when the solve found no plan)."""
    if res["x"] is None:
        return None
    am, data = m.am, m.data
    x, _, bad = checked_plan(scen, am, data, res["x"], ())  # a row: no table kept
    profit = float(am.cost @ x)
    k = kpis(am, data, x)
    if eps is not None and k["overlap_count"] > eps + 1e-6:
        bad.append(f"{k['overlap_count']} overlaps above the budget {eps}")
    status = PLAN_INVALID if bad else (PLAN_OPTIMAL if res["termination"] == OPTIMAL
                                       else PLAN_FEASIBLE)
    row = {"epsilon": eps, "overlap_count": int(k["overlap_count"]), "objective": profit,
           "plan_status": status, "termination": res["termination"],
           "bound": res["bound"], "gap": relative_gap(profit, res["bound"]),
           "solve_seconds": res.get("seconds")}
    row.update({c: k.get(c) for c in KPI_COLUMNS if c not in ("profit", "overlap_count")})
    row["x"] = x
    return row


def run_frontier_task(task: FrontierTask) -> list[dict[str, Any]]:
    """The batch task: build the augmented model once and solve the task's points."""
    m, start = _augmented(task.scenario, with_start=task.mode == "payoff_profit")
    o = task.options
    opts = SolveOptions(o.get("time_limit"), o.get("mip_gap", DEFAULT_MIP_GAP),
                        o.get("threads"), o.get("seed"))
    if m is None:  # no pair can overlap: the frontier is the one plan of most profit
        am, data = build_array_model(task.scenario)
        plain = _Model(am, data, new_highs(am), -1, -1, np.zeros(0, np.int64))
        res = run_highs(plain.h, opts, integer=bool(am.integrality().any()))
        pt = _point(plain, task.scenario, res, None)
        return [] if pt is None else [{**pt, "payoff": "no overlap possible"}]
    base = m.am.cost
    neg_overlap = np.zeros_like(base)
    neg_overlap[m.overlap] = -1.0
    rows: list[dict[str, Any]] = []
    if task.mode in ("payoff_profit", "payoff_overlap"):
        first_profit = task.mode == "payoff_profit"
        t0 = time.monotonic()
        res = _solve(m, opts, base if first_profit else neg_overlap, -INF, INF, start)
        if res["x"] is None:
            return rows
        x1 = res["x"]
        # the second stage starts from the first's plan and gets at most twice its time
        # (30 s at least): cut short, its end of the range is merely feasible, and the
        # first budget below it (the jump) still finds the exact point
        # (the profit stage after the fewest overlaps is a full solve: not capped)
        cap = max(SECOND_STAGE_MIN_SECONDS, 2.0 * (time.monotonic() - t0))
        if first_profit:
            opts.time_limit = cap if opts.time_limit is None else min(opts.time_limit, cap)
        if first_profit:  # second: fewest overlaps at (within the gap of) that profit
            nz = np.flatnonzero(base).astype(np.int32)
            floor = res["objective"] - opts.mip_gap * max(1.0, abs(res["objective"]))
            m.h.addRow(floor, INF, len(nz), nz, base[nz])
            res2 = _solve(m, opts, neg_overlap, -INF, INF, x1)
            m.h.changeRowBounds(m.h.getNumRow() - 1, -INF, INF)
        else:  # second: the most profit at the fewest overlaps
            e_lo = float(np.rint(x1[m.overlap]).sum())
            res2 = _solve(m, opts, base, e_lo, e_lo, x1)
        pt = _point(m, task.scenario, res2 if res2["x"] is not None else res, None)
        if pt is not None and first_profit:  # the profit solve's bound, not the count's
            pt["bound"] = res["bound"]
            pt["gap"] = relative_gap(pt["objective"], res["bound"])
        if pt is not None:
            pt["payoff"] = "max profit, then fewest overlaps" if first_profit else \
                "fewest overlaps, then max profit"
            rows.append(pt)
        return rows
    aug = base.copy()
    aug[m.slack] = task.delta
    prev = task.start
    if task.mode == "grid":
        for eps in task.eps:
            res = _solve(m, opts, aug, eps, eps, prev)
            pt = _point(m, task.scenario, res, eps)
            if pt is not None:
                rows.append(pt)
                prev = res["x"]  # feasible for the next (looser) budget: its MIP start
        return rows
    eps_f, lo = float(task.eps[0]), float(task.eps[1])
    while eps_f >= lo:
        res = _solve(m, opts, aug, eps_f, eps_f, prev)
        prev = None  # a plan of this budget breaks the next (tighter) one
        pt = _point(m, task.scenario, res, eps_f)
        if pt is None:
            break  # no plan at this budget: none below either
        rows.append(pt)
        eps_f = min(eps_f, float(pt["overlap_count"])) - 1.0  # the jump over the slack
    return rows


def _chunks(values: Sequence[int], n: int) -> list[list[int]]:
    n = max(1, min(n, len(values)))
    size = math.ceil(len(values) / n)
    return [list(values[i:i + size]) for i in range(0, len(values), size)]


def pareto_filter(df: pd.DataFrame, tol: float) -> pd.DataFrame:
    """The points no other point dominates (fewer or equal overlaps and at least the
    profit less ``tol`` x |profit|), one per overlap count, by overlap count.
    """
    df = df.sort_values(["overlap_count", "objective"], ascending=[True, False],
                        kind="stable").drop_duplicates("overlap_count")
    keep, best = [], -math.inf
    for i, p in zip(df.index, df["objective"].to_numpy(float), strict=True):
        if p > best + tol * max(1.0, abs(p)):
            keep.append(i)
            best = p
    return df.loc[keep].reset_index(drop=True)


def frontier(scenario: Scenario | str | os.PathLike[str], points: int | str | None = None, *,
             workers: int | None = None, scheduler: str | None = None,
             out: str | os.PathLike[str] | None = None,
             input_path: str | os.PathLike[str] | None = None, overwrite: bool = False,
             plots: bool = True, xlsx: bool = False, current: bool = True,
             mip_gap: float | None = None, time_limit: float | None = None,
             threads: int | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """The profit–overlap Pareto frontier, a row per point by overlap count: columns
    ``overlap_count``, ``objective`` (profit), ``plan_status``, ``gap``, ``epsilon`` (the
    budget solved), KPIs and ``current`` (the point of the scenario's own plan).

    ``points``: ``None`` or ``"all"`` every Pareto point; ``N`` about N points spread
    over the range (fewer when budgets share a point). ``current``: also solve the
    scenario as given and mark its plan (its point need not be on the frontier if the
    scenario has an overlap cost). ``time_limit`` and ``mip_gap`` apply per solve.
    """
    if not isinstance(scenario, Scenario):
        input_path = scenario if input_path is None else input_path
        scenario = load_scenario(scenario)
    if out is not None:
        output.check_target(out, scenario, input_path, overwrite=overwrite)
    n_points = None if points in (None, "all") else int(points)
    if n_points is not None and n_points < 2:
        raise ValueError(f"points must be 'all' or at least 2, got {points}")
    fscen = frontier_scenario(scenario)
    gap = DEFAULT_MIP_GAP if mip_gap is None else mip_gap
    opts = {"mip_gap": gap, "time_limit": time_limit, "threads": threads}
    ex = get_executor(workers, scheduler)
    try:
        first: list[Any] = [FrontierTask(fscen, "payoff_profit", options=opts),
                            FrontierTask(fscen, "payoff_overlap", options=opts)]
        if current:
            first.append(SolveTask(scenario, {"mip_gap": gap, "time_limit": time_limit,
                                              "threads": threads, "sensitivity": False}))
        res = ex.map(_first_stage, first, labels=["payoff: profit", "payoff: overlap",
                                                  "current plan"][:len(first)],
                     progress=progress)
        hi, lo = res[0], res[1]
        if not hi or not lo:
            raise ValueError("the scenario has no plan: no frontier")
        e_hi, e_lo = hi[0]["overlap_count"], lo[0]["overlap_count"]
        p_hi = hi[0]["objective"]
        delta = gap * max(1.0, abs(p_hi)) / max(1, e_hi - e_lo)
        tasks = _point_tasks(fscen, n_points, e_lo, e_hi, delta, lo[0]["x"],
                             opts, ex.workers)
        log.info("frontier of %s: overlaps %d..%d, %d task(s)", scenario.name, e_lo, e_hi,
                 len(tasks))
        found = ex.map(run_frontier_task, tasks, progress=progress) if tasks else []
    finally:
        ex.close()
    rows = [r for rs in found for r in rs] + hi + lo
    table = pareto_filter(pd.DataFrame(rows), gap)
    payoff = pd.DataFrame(hi + lo).drop(columns=["x"])
    cur = res[2] if current else None
    table["current"] = False
    if cur is not None and cur.has_plan:
        same = (table["overlap_count"] == cur.kpis["overlap_count"]) & (
            (table["objective"] - float(cur.kpis["profit"])).abs()
            <= gap * max(1.0, abs(float(cur.kpis["profit"]))))
        table["current"] = same.to_numpy()
    table = table.drop(columns=["x", "payoff"], errors="ignore")
    if out is not None:
        def fill(d: Path) -> None:
            _write_frontier(d, table, payoff, scenario, cur, plots, xlsx)

        write_batch_folder(out, scenario, input_path, fill, overwrite=overwrite)
    return table


def _first_stage(task: FrontierTask | SolveTask) -> Any:
    """Payoff rows or the current plan's solution (one batch for both)."""
    return run_frontier_task(task) if isinstance(task, FrontierTask) else run_solve(task)


def _point_tasks(fscen: Scenario, n_points: int | None, e_lo: int, e_hi: int, delta: float,
                 x_lo: np.ndarray, opts: dict[str, Any],
                 workers: int) -> list[FrontierTask]:
    if e_hi <= e_lo:
        return []
    if n_points is None:  # jump mode on [e_lo + 1, e_hi - 1] in contiguous intervals
        values = list(range(e_lo + 1, e_hi))
        parts = _chunks(values, workers)[::-1] if values else []  # the top interval first
        # no MIP start: a plan of a looser budget breaks a tighter one
        return [FrontierTask(fscen, "jump", (p[-1], p[0]), delta, None, opts) for p in parts]
    grid = sorted({int(round(v)) for v in np.linspace(e_lo, e_hi, n_points)} - {e_hi})
    grid = [g for g in grid if g > e_lo]
    parts = _chunks(grid, workers) if grid else []
    # the fewest-overlaps plan fits every budget: each chunk starts from it
    return [FrontierTask(fscen, "grid", tuple(p), delta, x_lo, opts) for p in parts]


def _write_frontier(d: Path, table: pd.DataFrame, payoff: pd.DataFrame, scen: Scenario,
                    cur: Any, plots: bool, xlsx: bool) -> None:
    table.to_csv(d / "frontier.csv", index=False)
    payoff.to_csv(d / "payoff.csv", index=False)
    images = frontier_plot(d, table, cur, scen.settings.currency) if plots else []
    cc = scen.settings.currency
    s = [f"# Profit–overlap frontier: {scen.name}", "",
         f"{len(table)} Pareto point(s): the most profit ({cc}) for each number of "
         "(product, region) pairs sold both online and offline; no point is dominated. "
         "`epsilon` is the overlap budget solved for the point.", "",
         md_table(table, 200, "frontier.csv"), "",
         "## Payoff table (lexicographic optimization)", "", md_table(payoff), ""]
    if cur is not None and cur.has_plan:
        on = bool(table["current"].any())
        s += ["## The current plan", "",
              f"The scenario as given: profit {float(cur.kpis['profit']):,.2f} {cc} with "
              f"{cur.kpis['overlap_count']} overlap(s) — "
              + ("a point of the frontier (marked)." if on else
                 "not on the frontier (its overlap cost or budget trades profit for "
                 "fewer overlaps differently)."), ""]
    if images:
        s += ["## Plot", ""] + [f"![{i}]({i})" for i in images] + [""]
    (d / "report.md").write_text("\n".join(s), encoding="utf-8")
    if xlsx:
        from ..output_xlsx import write_workbook

        write_workbook(d / "frontier.xlsx", {"frontier": table, "payoff": payoff},
                       {"scenario": scen.name, "scenario_hash": scen.hash,
                        "points": len(table)})


def frontier_plot(d: Path, table: pd.DataFrame, cur: Any, currency: str) -> list[str]:
    """Profit against the overlap count, the current plan marked."""
    plt = pyplot()
    if plt is None or not len(table):
        return []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.step(table["overlap_count"], table["objective"], where="post", color="#999999",
            lw=0.8)
    ax.plot(table["overlap_count"], table["objective"], "o", label="Pareto point")
    if cur is not None and cur.has_plan:
        ax.plot([cur.kpis["overlap_count"]], [float(cur.kpis["profit"])], "*", ms=14,
                color="red", label="current plan")
    ax.set_xlabel("overlap count (product, region pairs sold online and offline)")
    ax.set_ylabel(f"profit ({currency})")
    ax.set_title("Profit–overlap frontier")
    ax.legend(frameon=False)
    fig.savefig(d / "frontier.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return ["frontier.png"]
