"""``solve``: a validated scenario in, a checked :class:`Solution` out."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..model import ArrayModel, build_array_model
from ..scenario import Scenario, load_scenario
from .backends import (
    ERROR,
    INFEASIBLE,
    OPTIMAL,
    TIME_LIMIT,
    UNBOUNDED,
    RawResult,
    SolveOptions,
    get_backend,
    solve_watched,
    trivial_result,
)
from .check import check_plan, check_rows
from .diagnose import Diagnosis, diagnose, numerical_warning
from .heuristic import Construction, construct
from .results import extract_tables, kpis, tidy_plan
from .sensitivity import sensitivity as lp_sensitivity

log = logging.getLogger(__name__)

DEFAULT_MIP_GAP = 1e-4  # relative gap at which every backend stops: HiGHS' own default

# Plan status (whether and how good a plan exists), kept apart from termination.
PLAN_OPTIMAL = "optimal"
PLAN_FEASIBLE = "feasible"
PLAN_NONE = "none"
PLAN_INVALID = "invalid"

EXIT_OPTIMAL, EXIT_FEASIBLE, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_FAILURE = 0, 1, 2, 3, 4


@dataclass
class Solution:
    """The outcome of one solve.

    ``termination`` says why the solver stopped (``optimal``, ``time_limit``,
    ``infeasible``, ``unbounded``, ``interrupted``, ``other_limit``, ``error``);
    ``plan_status`` says what plan there is (``optimal``: proven within the gap and
    checked; ``feasible``: checked but not proven optimal; ``none``; ``invalid``: the
    solver's plan broke a rule, see ``violations``).
    """

    scenario_name: str
    scenario_hash: str
    termination: str
    plan_status: str
    objective: float | None
    bound: float | None
    gap: float | None
    solver: str
    solver_version: str
    solver_message: str
    options: dict[str, Any]
    timings: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    kpis: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    sensitivity: pd.DataFrame | None = None
    x: np.ndarray | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)  # e.g. numerically unsafe input

    @property
    def has_plan(self) -> bool:
        """A checked plan (optimal or feasible) is available."""
        return self.plan_status in (PLAN_OPTIMAL, PLAN_FEASIBLE)

    @property
    def exit_code(self) -> int:
        """Command-line exit status: 0 optimal, 1 feasible, 3 infeasible, 4 failure."""
        if self.plan_status == PLAN_OPTIMAL:
            return EXIT_OPTIMAL
        if self.plan_status == PLAN_FEASIBLE:
            return EXIT_FEASIBLE
        if self.termination == INFEASIBLE:
            return EXIT_INFEASIBLE
        return EXIT_FAILURE

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (no tables)."""
        return {
            "scenario": self.scenario_name, "scenario_hash": self.scenario_hash,
            "termination": self.termination, "plan_status": self.plan_status,
            "objective": self.objective, "bound": self.bound, "gap": self.gap,
            "solver": self.solver, "solver_version": self.solver_version,
            "solver_message": self.solver_message, "options": self.options,
            "timings_seconds": self.timings, "kpis": self.kpis,
            "violations": self.violations, "warnings": self.warnings,
            "diagnosis": None if self.diagnosis is None else {
                "message": self.diagnosis.message, "families": self.diagnosis.families,
                "conflicts": self.diagnosis.as_table().to_dict("records"),
                "iis_note": self.diagnosis.iis_note,
                "iis": self.diagnosis.iis_table().to_dict("records")},
        }


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``|bound - objective| / |objective|`` as HiGHS and Gurobi define it: 0 when the
    two agree to 1e-9 (relative), infinite for a zero objective with another bound.
    """
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    if abs(bound - objective) <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return abs(bound - objective) / abs(objective) if objective != 0 else math.inf


def _with_fallback(raw: RawResult, start: Construction, am: ArrayModel) -> RawResult:
    """Use the constructive plan when the solver stopped without a better one, and
    the cheap bound when it is tighter than the solver's (or the solver has none).
    """
    if raw.termination in (OPTIMAL, INFEASIBLE, UNBOUNDED):
        return raw
    if raw.x is not None:
        broken = check_rows(am, raw.x)
        if broken:  # e.g. CBC hands back a fractional point at its time limit
            log.warning("the %s point at %s breaks %d rule(s) (%s): discarded", raw.solver,
                        raw.termination, len(broken), broken[0])
            raw.x = raw.objective = None
    solver_obj = -np.inf if raw.objective is None else raw.objective
    if start.x is not None and start.objective is not None and (
            raw.x is None or solver_obj < start.objective):
        log.warning("the solver stopped (%s) without a better plan: returning the "
                    "constructive plan", raw.termination)
        raw.x, raw.objective = start.x, start.objective
        raw.message += "; plan from the constructive heuristic"
    if raw.bound is None or start.bound < raw.bound:
        raw.bound = start.bound
    return raw


def solve(scenario: Scenario | str | os.PathLike[str], *, solver: str = "highs",
          time_limit: float | None = None,
          mip_gap: float | None = None, threads: int | None = None, seed: int | None = None,
          log_file: str | None = None, sensitivity: bool = True,
          diagnose_infeasible: bool = True) -> Solution:
    """Build, solve, check and extract a scenario.

    ``mip_gap`` defaults to 1e-4 (relative) for every backend. A pure function of its
    arguments: no files are written except the solver log
    (``log_file``), nothing is printed (progress goes to :mod:`logging`). A path is
    loaded with :func:`~channel_opt.scenario.load_scenario` (bad input raises
    :class:`~channel_opt.scenario.ScenarioError`) and the load is timed.
    """
    backend = get_backend(solver)
    if mip_gap is None:  # one default for every backend (their own defaults differ: 0 to 1e-4)
        mip_gap = DEFAULT_MIP_GAP
    timings: dict[str, float] = {}
    if not isinstance(scenario, Scenario):
        t = time.perf_counter()
        scenario = load_scenario(scenario)
        timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    log.info("building the model of %s", scenario.name)
    am, data = build_array_model(scenario)
    timings["build"] = time.perf_counter() - t
    warnings = [w for w in [numerical_warning(am)] if w]
    for w in warnings:
        log.warning("%s", w)
    t = time.perf_counter()
    start = construct(am, data)
    timings["heuristic"] = time.perf_counter() - t
    log.info("model: %d columns, %d rows; constructive plan %s; solving with %s",
             am.n_cols, am.n_rows, "none" if start.objective is None else
             f"{start.objective:,.2f}", solver)
    opts = SolveOptions(time_limit, mip_gap, threads, seed, log_file, start.x)
    raw: RawResult
    if am.n_cols == 0:
        raw = trivial_result(am)
    elif time_limit is None:
        raw = backend.solve(am, opts)
    else:
        raw = solve_watched(solver, am, opts)
    raw = _with_fallback(raw, start, am)
    timings["handoff"] = raw.handoff_seconds
    timings["solve"] = raw.solve_seconds
    t = time.perf_counter()
    options = {"solver": solver, "time_limit": time_limit, "mip_gap": mip_gap,
               "threads": threads, "seed": seed}
    sol = Solution(scenario.name, scenario.hash, raw.termination, PLAN_NONE, raw.objective,
                   raw.bound, relative_gap(raw.objective, raw.bound), raw.solver, raw.version,
                   raw.message, options, timings, warnings=warnings)
    if raw.x is not None and raw.termination != UNBOUNDED:
        x = tidy_plan(am, data, raw.x)
        if float(am.cost @ x) > (raw.objective or -np.inf):
            sol.objective = float(am.cost @ x)
            sol.gap = relative_gap(sol.objective, sol.bound)
        sol.x = x
        sol.violations = check_rows(am, x)
        tables = extract_tables(am, data, x)
        sol.violations += check_plan(scenario, tables, float(am.cost @ x))
        sol.tables = tables
        sol.kpis = kpis(am, data, x, tables)
        if sol.violations:
            sol.plan_status = PLAN_INVALID
            log.error("the %s plan breaks %d rule(s): %s", solver, len(sol.violations),
                      sol.violations[0])
        else:
            proven = raw.termination == OPTIMAL
            sol.plan_status = PLAN_OPTIMAL if proven else PLAN_FEASIBLE
            if sensitivity:
                sol.sensitivity = lp_sensitivity(am, x)
    if raw.termination == INFEASIBLE and diagnose_infeasible:
        sol.diagnosis = diagnose(am, scenario.settings.currency)
        log.warning("%s", sol.diagnosis.message)
    if raw.termination == TIME_LIMIT and sol.has_plan:
        log.warning("time limit reached: returning the incumbent (gap %s)",
                    "unknown" if sol.gap is None else f"{sol.gap:.2%}")
    if raw.termination == ERROR:
        log.error("solver failure: %s", raw.message)
    timings["extract"] = time.perf_counter() - t
    return sol
