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
    INTERRUPTED,
    OPTIMAL,
    TIME_LIMIT,
    UNBOUNDED,
    RawResult,
    SolveOptions,
    get_backend,
    normalize_result,
    solve_watched,
    trivial_result,
)
from .budget import MIN_PHASE_SECONDS, Budget
from .capacity_bound import capacity_bound
from .check import check_plan, check_rows
from .diagnose import Diagnosis, diagnose, numerical_warning
from .heuristic import Construction, construct
from .options import check_options
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
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


@dataclass(eq=False)
class Solution:
    """The outcome of one solve.

    ``termination`` says why the solver stopped (``optimal``, ``time_limit``,
    ``infeasible``, ``unbounded``, ``interrupted``, ``other_limit``, ``error``);
    ``plan_status`` says what plan there is (``optimal``: proven within the gap and
    checked; ``feasible``: checked but not proven optimal; ``none``; ``invalid``: the
    solver's plan broke a rule, see ``violations``).

    Solutions pickle, and two are equal when their :attr:`content_hash` is (the same
    scenario, outcome and plan; timings and messages aside).
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
    def content_hash(self) -> str:
        """SHA-256 of the scenario's hash, the outcome (statuses, objective, bound,
        solver, options) and the plan vector; the result tables follow from these.
        """
        import hashlib
        import json

        h = hashlib.sha256(json.dumps(
            [self.scenario_hash, self.termination, self.plan_status, self.objective,
             self.bound, self.solver, self.solver_version, self.options],
            sort_keys=True, default=str).encode())
        if self.x is not None:
            h.update(np.ascontiguousarray(self.x, dtype=float).tobytes())
        return h.hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Solution):
            return NotImplemented
        return self.content_hash == other.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)

    @property
    def has_plan(self) -> bool:
        """A checked plan (optimal or feasible) is available."""
        return self.plan_status in (PLAN_OPTIMAL, PLAN_FEASIBLE)

    @property
    def exit_code(self) -> int:
        """Command-line exit status: 0 optimal, 1 feasible, 3 infeasible, 4 failure,
        130 interrupted.
        """
        if self.termination == INTERRUPTED:
            return EXIT_INTERRUPTED
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

    Not after a solver failure or an interrupt: those report what the solver had,
    and nothing in its place (a failed run must not look like a feasible one).
    """
    if raw.termination in (OPTIMAL, INFEASIBLE, UNBOUNDED, ERROR, INTERRUPTED):
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
    raw = normalize_result(raw, am.sense)  # the solver's bound against the plan now kept
    if math.isfinite(start.bound) and (raw.bound is None or start.bound < raw.bound):
        raw.bound = start.bound  # (infinite when the constructive plan was skipped)
    return raw


def solve(scenario: Scenario | str | os.PathLike[str], *, solver: str = "highs",
          time_limit: float | None = None,
          mip_gap: float | None = None, threads: int | None = None, seed: int | None = None,
          log_file: str | None = None, sensitivity: bool = True,
          diagnose_infeasible: bool = True, budget: Budget | None = None) -> Solution:
    """Build, solve, check and extract a scenario.

    ``mip_gap`` defaults to 1e-4 (relative) for every backend. A pure function of its
    arguments: no files are written except the solver log
    (``log_file``), nothing is printed (progress goes to :mod:`logging`). A path is
    loaded with :func:`~channel_opt.scenario.load_scenario` (bad input raises
    :class:`~channel_opt.scenario.ScenarioError`) and the load is timed.

    ``time_limit`` covers the whole call (``budget``, if given, is the deadline of
    a run that started earlier, e.g. with the load): the constructive plan is cut
    short or skipped when the budget is short, the solver gets what is left after a
    reserve for extraction, the diagnosis of an infeasible model and the
    sensitivity LP get the rest. The call returns within the limit plus the grace
    of :func:`~channel_opt.solving.budget.grace_seconds`. Every phase is in
    ``timings``. Ctrl-C (:class:`KeyboardInterrupt`) stops the solver and goes on.
    """
    check_options(scenario, solver=solver, time_limit=time_limit, mip_gap=mip_gap,
                  threads=threads, seed=seed, log_file=log_file, sensitivity=sensitivity,
                  diagnose_infeasible=diagnose_infeasible)
    if budget is None:
        budget = Budget(time_limit)
    time_limit = budget.limit
    backend = get_backend(solver)
    if mip_gap is None:  # one default for every backend (their own defaults differ: 0 to 1e-4)
        mip_gap = DEFAULT_MIP_GAP
    timings: dict[str, float] = {}
    if not isinstance(scenario, Scenario):
        t = time.perf_counter()
        scenario = load_scenario(scenario)
        timings["load"] = time.perf_counter() - t
    options = {"solver": solver, "time_limit": time_limit, "mip_gap": mip_gap,
               "threads": threads, "seed": seed}
    if budget.expired():  # the load used it all: not even a model
        log.warning("time limit: used up before the model was built (%s)", budget.describe())
        return Solution(scenario.name, scenario.hash, TIME_LIMIT, PLAN_NONE, None, None, None,
                        solver, backend.version(), "not started: the time limit was used up "
                        "before the model was built", options, timings)
    t = time.perf_counter()
    log.info("building the model of %s", scenario.name)
    am, data = build_array_model(scenario)
    timings["build"] = time.perf_counter() - t
    warnings = [w for w in [numerical_warning(am)] if w]
    for w in warnings:
        log.warning("%s", w)
    t = time.perf_counter()
    # the constructive plan may take half of what is left for solving: under a short
    # limit it is often the only plan (measured: 10^4 cells, 30 s: the solver finds none)
    heur_limit = budget.phase_limit(0.5, reserve=budget.post_solve_reserve())
    if heur_limit is not None and heur_limit < 0.5 * MIN_PHASE_SECONDS:
        log.warning("time limit: no time for the constructive plan (%s)", budget.describe())
        start = Construction(None, None, math.inf)
    else:
        start = construct(am, data, time_limit=heur_limit)
        # the bound reported when the solver has none: capacities priced (no LP solve)
        start.bound = min(start.bound, capacity_bound(
            am, data, start.objective, seconds=5.0 if heur_limit is None else 0.1 * heur_limit))
    timings["heuristic"] = time.perf_counter() - t
    solver_limit = budget.phase_limit(reserve=budget.post_solve_reserve())
    log.info("model: %d columns, %d rows; constructive plan %s; solving with %s%s",
             am.n_cols, am.n_rows, "none" if start.objective is None else
             f"{start.objective:,.2f}", solver,
             "" if solver_limit is None else f" for at most {solver_limit:.1f} s")
    opts = SolveOptions(solver_limit, mip_gap, threads, seed, log_file, start.x,
                        deadline=None if solver_limit is None else
                        time.monotonic() + solver_limit)
    raw: RawResult
    if am.n_cols == 0:
        raw = trivial_result(am)
    elif solver_limit is None:
        raw = backend.solve(am, opts)
    elif solver_limit < MIN_PHASE_SECONDS:
        log.warning("time limit: no time left for the solver (%s)", budget.describe())
        raw = RawResult(TIME_LIMIT, None, None, None, solver, backend.version(),
                        "not started: the time limit was used up before the solve")
    else:
        raw = solve_watched(solver, am, opts, kill_after=budget.hard_stop())
    raw = _with_fallback(raw, start, am)
    timings["handoff"] = raw.handoff_seconds
    timings["solve"] = raw.solve_seconds
    if raw.process_seconds:
        timings["process"] = raw.process_seconds  # solver child start-up and transfer
    t = time.perf_counter()
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
            if sensitivity and budget.allows():
                t_s = time.perf_counter()
                sol.sensitivity = lp_sensitivity(am, x)
                timings["sensitivity"] = time.perf_counter() - t_s
            elif sensitivity:
                log.warning("time limit: sensitivity skipped (%s)", budget.describe())
    timings["extract"] = time.perf_counter() - t - timings.get("sensitivity", 0.0)
    if raw.termination == INFEASIBLE and diagnose_infeasible:
        t = time.perf_counter()
        sol.diagnosis = _diagnose(am, scenario.settings.currency, budget)
        timings["diagnosis"] = time.perf_counter() - t
        log.info("%s", sol.diagnosis.message)
    if raw.termination == TIME_LIMIT and sol.has_plan:
        log.warning("time limit reached: returning the incumbent (gap %s)",
                    "unknown" if sol.gap is None else f"{sol.gap:.2%}")
    if raw.termination == ERROR:
        log.error("solver failure: %s", raw.message)
    return sol


def _diagnose(am: ArrayModel, currency: str, budget: Budget) -> Diagnosis:
    """The diagnosis under what is left of the budget; says when it was skipped or cut."""
    left = budget.phase_limit()
    if left is not None and left < MIN_PHASE_SECONDS:
        log.warning("time limit: diagnosis skipped (%s)", budget.describe())
        return Diagnosis(message="the scenario is infeasible; the diagnosis was skipped: "
                         "the time limit was used up (run again with a longer limit)")
    return diagnose(am, currency, time_limit=left)
