"""``solve``: a validated scenario in, a checked :class:`Solution` out."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..model import ArrayModel, build_array_model
from ..model.data import ModelData
from ..scenario import Scenario, load_scenario
from ..scenario.demand import expected_value_scenario, has_demand_scenarios
from .blocks import block_relax
from .budget import MIN_PHASE_SECONDS, Budget
from .capacity_bound import capacity_prices
from .check import check_rows, checked_plan
from .decompose import choose_method, decompose
from .diagnose import Diagnosis, diagnose, numerical_warning
from .engines import (
    ERROR,
    INFEASIBLE,
    INTERRUPTED,
    LIMIT,
    OPTIMAL,
    TIME_LIMIT,
    UNBOUNDED,
    Backend,
    RawResult,
    SolveOptions,
    get_backend,
    normalize_result,
    relative_gap,
    solve_watched,
    trivial_result,
)
from .heuristic import Construction, construct
from .memory import give_back, too_large
from .neighbourhood import neighbourhood_search
from .options import OptionsError, check_options
from .relaxation import (
    Relaxation,
    lp_phase,
    partial_relax,
    priced_sales_values,
    rounded_plan,
)
from .results import kpis
from .sensitivity import sensitivity as lp_sensitivity
from .solution import (  # noqa: F401 (re-exported: the statuses belong to a solve)
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    PLAN_FEASIBLE,
    PLAN_INVALID,
    PLAN_NONE,
    PLAN_OPTIMAL,
    Solution,
)
from .stochastic import METHOD_EF, METHOD_PH, solve_two_stage

log = logging.getLogger(__name__)

DEFAULT_MIP_GAP = 1e-4  # relative gap at which every backend stops: HiGHS' own default

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
        log.warning("the solver stopped (%s) without a better plan: returning the %s",
                    raw.termination, start.origin)
        raw.x, raw.objective = start.x, start.objective
        raw.message += f"; plan: {start.origin}"
        raw.extra["plan_origin"] = start.origin
    raw = normalize_result(raw, am.sense)  # the solver's bound against the plan now kept
    if math.isfinite(start.bound) and (raw.bound is None or start.bound < raw.bound):
        raw.bound = start.bound  # (infinite when the constructive plan was skipped)
        raw.extra["bound_origin"] = start.bound_origin
    return raw


def solve(scenario: Scenario | str | os.PathLike[str], *, solver: str = "highs",
          time_limit: float | None = None,
          mip_gap: float | None = None, threads: int | None = None, seed: int | None = None,
          log_file: str | None = None, sensitivity: bool = True,
          diagnose_infeasible: bool = True, budget: Budget | None = None,
          solver_options: dict[str, Any] | None = None, method: str = "auto",
          workers: int | None = None, deterministic: bool = False,
          ranks: int = 3, result_tables: bool = True) -> Solution:
    """Build, solve, check and extract a scenario.

    ``mip_gap`` defaults to 1e-4 (relative) for every backend. ``solver_options``
    passes the solver's own options by its own names (``{"mip_heuristic_effort":
    0.3}``), checked against the backend's option list where it has one (HiGHS);
    they are recorded in ``options``. A pure function of its
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
    A small model (:func:`in_process`) is solved in this process, without the
    watchdog, and gets the constructive plan only if the solver stops short.

    ``method``: ``monolithic`` (one MIP), ``decompose`` (by region, with a Lagrangian
    bound: ``models/decomposition.md``; ``workers`` processes solve the regions) or
    ``auto`` (decompose large multi-region scenarios, see
    :func:`~channel_opt.solving.decompose.choose_method`).

    A scenario with demand scenarios is solved as the two-stage stochastic model
    (extensive form, :mod:`~channel_opt.solving.stochastic`; ``stochastic`` holds RP,
    EV, EEV, WS, VSS and EVPI); ``deterministic=True`` solves its expected-value
    problem instead (every market and share at its mean). ``method="ph"`` solves it
    by progressive hedging through mpi-sppy on ``ranks`` MPI ranks instead of the
    extensive form (:mod:`~channel_opt.solving.stochastic_ph`).

    ``result_tables=False`` makes only the result tables the plan check reads (a sweep
    row without a folder); the check and the KPIs are the same.
    """
    check_options(scenario, solver=solver, time_limit=time_limit, mip_gap=mip_gap,
                  threads=threads, seed=seed, log_file=log_file, sensitivity=sensitivity,
                  diagnose_infeasible=diagnose_infeasible, solver_options=solver_options)
    choose_method(method, solver, 0, 0, workers)  # bad values raise before anything runs
    solver_options = dict(solver_options or {})
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
    how = choose_method(method, solver, len(scenario.cells), len(scenario.regions), workers)
    options = {"solver": solver, "time_limit": time_limit, "mip_gap": mip_gap,
               "threads": threads, "seed": seed, "solver_options": solver_options}
    two_stage = has_demand_scenarios(scenario) and not deterministic
    if method == "ph" and not two_stage:
        raise OptionsError(["method: ph solves the two-stage model: it needs rows in "
                            "'demand_scenarios' (and no --deterministic)"])
    if method == "decompose" and two_stage:
        raise OptionsError(["method: decompose does not solve the two-stage model (use the "
                            "extensive form, ph, or --deterministic)"])
    if has_demand_scenarios(scenario):
        if not deterministic:
            return _two_stage(scenario, options, timings, budget, log_file, method, ranks)
        stated_hash = scenario.hash
        scenario = expected_value_scenario(scenario)
        object.__setattr__(scenario, "hash", stated_hash)  # the solved file's hash
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
    small = in_process(am, backend)
    # where even the constructive phase's LP share would not hold the LP (the product
    # blocks take its place), the MIP's root LP cannot fit in the tenth left: it is not
    # started (10^4-10^5 `all`: it never found a plan) and the phase takes its time
    no_mip = time_limit is not None and not small and how != "decompose" and \
        not _lp_fits(am, CONSTRUCT_SHARE * (budget.phase_limit() or 0.0))
    t = time.perf_counter()
    start: Construction | None = None
    rel: Relaxation | None = None
    if not small:  # small models: only if the solver stops short (see below)
        start, rel = _construct(am, data, budget, share=1.0 if no_mip else CONSTRUCT_SHARE,
                                reserve=budget.post_solve_reserve(am.nnz), mip_gap=mip_gap,
                                lp=how != "decompose")
        timings["heuristic"] = time.perf_counter() - t
    solver_limit = budget.phase_limit(reserve=budget.post_solve_reserve(am.nnz))
    no_mip = no_mip and start is not None and start.x is not None
    log.info("model: %d columns, %d rows; constructive plan %s; %s%s", am.n_cols, am.n_rows,
             "deferred" if start is None else "none" if start.objective is None else
             f"{start.objective:,.2f}", "no solver" if no_mip else f"solving with {solver}",
             "" if solver_limit is None or no_mip else f" for at most {solver_limit:.1f} s")
    opts = SolveOptions(solver_limit, mip_gap, threads, seed, log_file,
                        None if start is None else start.x,
                        deadline=None if solver_limit is None else
                        time.monotonic() + solver_limit, solver_options=solver_options)
    raw: RawResult
    # under a time limit, a plan within the gap of a bound (the LP's, or the priced
    # capacities') needs no solver
    proven = None if start is None or time_limit is None else \
        relative_gap(start.objective, start.bound)
    if am.n_cols == 0:
        raw = trivial_result(am)
    elif proven is not None and proven <= mip_gap and start is not None:
        log.info("the %s is within the gap of the bound (%s, %.3g): the solver is not "
                 "started", start.origin, start.bound_origin, proven)
        raw = RawResult(OPTIMAL, start.x, start.objective, start.bound, solver,
                        backend.version(), f"not started: the {start.origin} is within "
                        f"the gap of the bound ({start.bound_origin})",
                        extra={"plan_origin": start.origin,
                               "bound_origin": start.bound_origin})
    elif no_mip and start is not None:
        why = f"its root LP alone needs about {am.n_cols / LP_COLUMNS_PER_SECOND:.0f} s"
        log.warning("time limit: the solver is not started (%s)", why)
        raw = RawResult(TIME_LIMIT, start.x, start.objective, start.bound, solver,
                        backend.version(), f"not started: {why}", extra={
                            "plan_origin": start.origin, "bound_origin": start.bound_origin})
    elif solver_limit is not None and solver_limit < MIN_PHASE_SECONDS:
        log.warning("time limit: no time left for the solver (%s)", budget.describe())
        raw = RawResult(TIME_LIMIT, None, None, None, solver, backend.version(),
                        "not started: the time limit was used up before the solve")
    elif how != "decompose" and not small and (too_big := too_large(am.nnz)):
        log.warning("the solver is not started: %s", too_big)
        raw = RawResult(LIMIT, None, None, None, solver, backend.version(),
                        f"not started: {too_big}")
    elif how == "decompose":
        raw = decompose(am, opts, workers=workers, relaxation=rel)
    elif solver_limit is None or small:
        raw = backend.solve(am, opts)
    else:
        raw = solve_watched(solver, am, opts, kill_after=budget.hard_stop())
    if start is None:
        start = Construction(None, None, math.inf)
        if raw.termination in (TIME_LIMIT, LIMIT) and am.n_cols:
            t = time.perf_counter()  # the solver stopped short: the incumbent of last resort
            start = _construct(am, data, budget, share=0.5)[0]  # half the reserve
            timings["heuristic"] = time.perf_counter() - t
    raw = _with_fallback(raw, start, am)
    timings["handoff"] = raw.handoff_seconds
    timings["solve"] = raw.solve_seconds
    if raw.process_seconds:
        timings["process"] = raw.process_seconds  # solver child start-up and transfer
    t = time.perf_counter()
    sol = Solution(scenario.name, scenario.hash, raw.termination, PLAN_NONE, raw.objective,
                   raw.bound, relative_gap(raw.objective, raw.bound), raw.solver, raw.version,
                   raw.message, options, timings, warnings=warnings,
                   method={"method": how, **{k: v for k, v in raw.extra.items()
                                             if k != "trace"}})
    if raw.x is not None and raw.termination != UNBOUNDED:
        x, tables, sol.violations = checked_plan(scenario, am, data, raw.x,
                                                 None if result_tables else ())
        if float(am.cost @ x) > (raw.objective or -np.inf):
            sol.objective = float(am.cost @ x)
            sol.gap = relative_gap(sol.objective, sol.bound)
        sol.x = x
        sol.tables = tables
        sol.kpis = kpis(am, data, x)
        if sol.violations:
            sol.plan_status = PLAN_INVALID
            log.error("the %s plan breaks %d rule(s): %s", solver, len(sol.violations),
                      sol.violations[0])
        else:
            proven = raw.termination == OPTIMAL
            sol.plan_status = PLAN_OPTIMAL if proven else PLAN_FEASIBLE
            if sensitivity and budget.allows():
                t_s = time.perf_counter()
                sol.sensitivity = lp_sensitivity(am, x, time_limit=budget.phase_limit())
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


# models up to this size are solved without the watchdog: HiGHS keeps its time limit
# on them (its presolve overruns were seen at millions of nonzeros), and the child's
# start-up (1-2 s, 10 s on a busy machine) is a large part of their solve time
IN_PROCESS_NONZEROS = 100_000


def in_process(am: ArrayModel, backend: Backend) -> bool:
    """Whether the model is solved in this process, without the watchdog's child and
    with the constructive plan deferred: a small model (at most
    ``IN_PROCESS_NONZEROS`` matrix entries) for an engine holding it in memory
    (HiGHS), whose time limit is then kept to a fraction of a second and which a
    Ctrl-C or SIGTERM cancels (``run_interruptible``). Measured: the child's start-up
    and the constructive plan were most of the wall time of small solves
    (``benchmarks/overhead.py``).
    """
    return backend.supports("in_memory") and \
        am.nnz <= IN_PROCESS_NONZEROS


# of what the constructive plan leaves of its phase, what the LP relaxation may take;
# the rest is for the plan rounded from it and the plan at the LP's prices. The LP (by
# simplex and interior point side by side on large models) carries the run at scale:
# at 10^4 cells HiGHS' MIP does not finish its root within 120 s, while the LP takes
# 28-141 s (core 28, capacity 66, conflict 47-141 on a quiet machine) and its rounded
# plan is within 0.4 % of its bound. So the phase may take most of the budget: on
# models the MIP can solve, the LP and the rounding end early and leave the rest to it
LP_SHARE = 0.85
# of the budget, what the constructive phase (plans, LP, rounding) may take before the
# solver; what it does not use goes to the solver (all of it where the solver's root LP
# would not fit in the rest: `no_mip` in `solve`)
CONSTRUCT_SHARE = 0.9
# of the time limit, what the plain constructive plan may take (issue 13: at most 10 %)
PLAN_SHARE = 0.1
# a plan at other option values (the capacities' prices) solves the same sales LP as
# the plain one: where that took longer than ``PLAN_SHARE`` (10^6 cells of `capacity`:
# 210 s, its LP of 3.4 M columns 175 s) each may take this many times as long, else
# it would stop short of its LP and leave nothing (the priced plans took 10^5 cells of
# `capacity` from 9.7 % to 2.9 % below the priced bound)
PLAN_AGAIN = 1.25
# at most so many sign steps on the capacities' prices (within a tenth of the phase;
# they end sooner once the bound stops improving): at 10^6 cells of `capacity` they
# end after about 40 steps (31 s) at 1,725.8 M, the plan at their prices 1.95 % below,
# where 200 subgradient steps (161 s) had left 1,811.5 M and a plan 8.6 % below
PRICE_STEPS = 200
# columns of the LP relaxation solved per second (simplex and interior point side by
# side on 2 cores; 10^4 cells: `capacity` 154 k columns in 66 s, `conflict` 218 k in
# 47-69 s, `all` 213 k in 186 s; 10^5 cells, 1.5-2.2 M columns: not in 600 s). Where
# the LP is not expected to finish within its share of the phase, the product blocks
# take its place (issue 13: at 10^4 cells, run before the LP, they cost `capacity`
# and `apparel` 24-40 s where the LP finishes anyway; at 10^5 cells of `all` the LP
# started after them did not finish, and the run peaked at 10 GB)
LP_COLUMNS_PER_SECOND = 2_000


def _lp_fits(am: ArrayModel, phase: float) -> bool:
    """Whether the LP relaxation is expected to finish in its share of a ``phase``
    of that many seconds (else the blocks replace it, and no MIP could solve it first).
    """
    return am.n_cols <= LP_COLUMNS_PER_SECOND * LP_SHARE * phase


# of the phase left, what the product blocks' steps may take (they step until it is
# used or the gap is met: their point guides the neighbourhood search), and of what they
# leave, the plan rounded from their point (10^5 `conflict`: a first pass 40 s)
BLOCK_SHARE, BLOCK_ROUND_SHARE = 0.6, 0.5
# the neighbourhoods of the search that ends the phase, taking turns pass by pass: the
# regions' free the regional columns only; the products' free a product's listings
# and price levels too, which a region's MIP keeps where the plan put them (10^4 cells
# of `all`, three seeds, 45 s: 1.31-1.64 % below the blocks' bound by region alone,
# 1.09-1.39 % products first, 1.18-1.29 % regions first). Products first: their MIPs
# are small, while at 10^5 cells of `all` (seed 1) two regions' MIPs ran 4-20 times
# past their time limits in HiGHS' root cut separation: 2.26 % against 3.65-4.24 %
# regions first (seed 0: 1.64 % against 1.69 %); since then the regions' MIPs are cut
# into boxes that keep their limits (`neighbourhood.REGION_COLUMNS`)
SEARCH_BY = ("product", "region")
BLOCK_ORIGIN = "product blocks (the LP by product, rows across products priced)"
# of what the blocks leave of the phase, what the LP with the demand rows priced at
# their duals may take (`relaxation.partial_relax`; 10^4 cells of `all`: 13-16 s)
PARTIAL_SHARE = 0.5
PARTIAL_ORIGIN = "LP with the demand rows priced at the product blocks' duals"
# its dual simplex grows about with the square of the columns: at 10^4 cells of `all`
# 208,666 columns in 12.8 s (`conflict` 4.9 s, `capacity` 2.7 s), at 10^5 cells 2.05 M
# not in 400 s; it is started where twice the 10^4 time, scaled so, fits its share
PARTIAL_SECONDS = (200_000, 26.0)


def _partial_fits(am: ArrayModel, seconds: float) -> bool:
    """Whether the LP with the demand rows priced is expected to end in ``seconds``."""
    cols, took = PARTIAL_SECONDS
    return seconds > 1.0 and took * (am.n_cols / cols) ** 2 <= seconds


def _construct(am: ArrayModel, data: ModelData, budget: Budget, share: float,
               reserve: float = 0.0, mip_gap: float = DEFAULT_MIP_GAP, lp: bool = True
               ) -> tuple[Construction, Relaxation | None]:
    """The constructive phase within ``share`` of what the budget leaves after
    ``reserve`` (skipped, with a warning, when that is under half a second): first
    the constructive plan, within ``PLAN_SHARE`` of the time limit.

    Under a time limit (the solver may stop before its own root bound) the LP
    relaxation follows, within ``LP_SHARE`` of what the plan left of the phase: its
    Lagrangian value is the bound reported if the solver has none better
    (:func:`~channel_opt.solving.relaxation.dual_bound`), its point is rounded into a
    plan (:func:`~channel_opt.solving.relaxation.rounded_plan`) and its row prices value
    the options of a second constructive plan
    (:func:`~channel_opt.solving.relaxation.priced_sales_values`); the best plan is
    kept. Where the LP is not expected to finish within its share
    (``LP_COLUMNS_PER_SECOND``), the product blocks take its place (:func:`_blocks`).
    What is left of the phase improves the plan region by region and product by
    product (:func:`~channel_opt.solving.neighbourhood.neighbourhood_search`, from the
    relaxation's point). The relaxation is returned with it (None when not solved). ``lp=False``
    leaves the LP, the blocks and the neighbourhood search out (the decomposition solves the
    LP within its own time, and starts from split costs when it does not finish).
    """
    limit = budget.phase_limit(share, reserve=reserve)
    if limit is not None and limit < 0.5 * MIN_PHASE_SECONDS:
        log.warning("time limit: no time for the constructive plan (%s)", budget.describe())
        return Construction(None, None, math.inf), None
    t0 = time.monotonic()

    def left() -> float | None:
        return None if limit is None else limit - (time.monotonic() - t0)

    def keep(x: np.ndarray | None, how: str) -> None:
        if x is None or check_rows(am, x):
            return
        value = float(am.cost @ x)
        if start.objective is None or value > start.objective:
            log.info("%s: %s (before: %s)", how, f"{value:,.2f}", start.objective)
            start.x, start.objective, start.origin = x, value, how

    def plan_limit(took: float = 0.0) -> float | None:
        return None if limit is None or budget.limit is None else \
            min(left() or 0.0, max(PLAN_SHARE * budget.limit, PLAN_AGAIN * took))

    t_plan = time.monotonic()
    # a plan is worth more than the phases after it: a sales LP still running at the
    # tenth of the limit goes on (10^6 cells of `capacity`: 175 s; it was stopped at its
    # 180 s and run again from the start, 191 s), while no new round starts
    start = construct(am, data, time_limit=plan_limit(), lp_limit=left())
    if start.x is None and budget.limit is not None and (left() or 0.0) > 1.0:
        # no plan from the rounds started within a tenth of the limit: more rounds
        log.warning("no constructive plan in %.0f s: it gets what is left of the phase",
                    PLAN_SHARE * budget.limit)
        t_plan = time.monotonic()
        keep(construct(am, data, time_limit=left()).x, start.origin)
    took = time.monotonic() - t_plan  # what the plan that found one took
    log.info("%s: %s in %.1f s", start.origin,
             "none" if start.objective is None else f"{start.objective:,.2f}", took)
    # the bound reported when the solver has none: capacities and fixed costs priced
    # (no LP solve), and plans with their options valued at the capacities' prices

    def plans(prices: np.ndarray, bound: float) -> float | None:
        # at the prices that settle the bound the options using a scarce capacity are
        # often worth 0 (exactly what it earns); at half of them they keep a value.
        # Every row the steps priced counts (independent demand: the cells' markets)
        for scale in (1.0, 0.5) if prices.any() else ():
            within = relative_gap(start.objective, min(bound, start.bound))
            if within is not None and within <= mip_gap:
                break
            keep(construct(am, data, time_limit=plan_limit(took),
                           unit_value=priced_sales_values(am, scale * prices, None)).x,
                 "constructive plan at the capacities' prices")
        return start.objective

    priced, prices = capacity_prices(am, data, start.objective, iterations=PRICE_STEPS,
                                     seconds=5.0 if limit is None else 0.1 * limit,
                                     gap=mip_gap, plans=plans)
    if priced < start.bound:
        start.bound, start.bound_origin = priced, \
            "capacities and fixed costs priced (Lagrangian steps)"
        log.info("%s: bound %s", start.bound_origin, f"{priced:,.2f}")
    gap = relative_gap(start.objective, start.bound)
    phase_left = left()
    # where the LP is not expected to finish within its share, the product blocks
    # take its place: a stopped LP's bound is weaker and it leaves no point to round
    blocks = lp and phase_left is not None and phase_left > 1.0 and \
        not _lp_fits(am, phase_left)
    point = None  # a relaxation's point, for the neighbourhood search
    if blocks and phase_left is not None and (gap is None or gap > mip_gap):
        gap, point = _blocks(am, data, start, keep, prices, BLOCK_SHARE * phase_left, left,
                             mip_gap)
    rel = None
    phase_left = left()
    if lp and not blocks and (gap is None or gap > mip_gap) and phase_left is not None \
            and phase_left > 1.0:
        rel, x = lp_phase(am, phase_left, mip_gap, lp_share=LP_SHARE,  # bound, point
                          incumbent=start.x)
        keep(x, "plan rounded from the LP")
        phase_left = left()
        # the options valued at the LP's prices (no duals from an infeasible LP)
        if rel.duals is not None and (phase_left is None or phase_left > 0.5):
            keep(construct(am, data, time_limit=phase_left,
                           unit_value=priced_sales_values(am, rel.duals)).x,
                 "constructive plan at the LP's prices")
    if rel is not None and rel.bound is not None and rel.bound < start.bound:
        start.bound, start.bound_origin = rel.bound, "LP relaxation" \
            if rel.status == OPTIMAL else "LP relaxation, stopped at its limit"
    point = rel.x if rel is not None and rel.status == OPTIMAL else point
    # what the phase has left: the plan improved region by region and product by product
    # (the rules that bind per region, which rounding a relaxation's point leaves
    # unsolved, and the product-level choices: `all`)
    gap, phase_left = relative_gap(start.objective, start.bound), left()
    if lp and start.x is not None and (gap is None or gap > mip_gap) \
            and phase_left is not None and phase_left > 1.0:
        keep(neighbourhood_search(am, start.x, phase_left, point=point,
                                  stop_at=(start.bound, mip_gap),
                                  mip_gap=max(1e-6, 0.1 * mip_gap), by=SEARCH_BY),
             "plan improved region by region and product by product")
    return start, rel


def _blocks(am: ArrayModel, data: ModelData, start: Construction,
            keep: Callable[[np.ndarray | None, str], None], prices: np.ndarray | None,
            limit: float, left: Callable[[], float | None], mip_gap: float
            ) -> tuple[float | None, np.ndarray | None]:
    """The product blocks' bound within ``limit`` (:func:`~.blocks.block_relax`, from
    the capacities' ``prices``), then, where it is expected to end in its share, the LP
    with the demand rows priced at their duals (:func:`~.relaxation.partial_relax`), a
    plan rounded from the blocks' point and one at the best bound's row prices in what
    the run's phase has ``left``; the gap after them and the blocks' point.
    """
    blk = block_relax(am, limit, target=start.objective, lam0=prices, iterations=None,
                      gap=mip_gap)
    give_back()  # the pieces' solvers, freed in their threads' arenas, before RENS loads
    if blk.bound is not None and blk.bound < start.bound:
        start.bound, start.bound_origin = blk.bound, BLOCK_ORIGIN
    gap, rest = relative_gap(start.objective, start.bound), left()
    duals = blk.duals
    if duals is not None and (gap is None or gap > mip_gap) and rest is not None and \
            _partial_fits(am, PARTIAL_SHARE * rest):
        # the copies' split keeps the blocks' bound 0.3-0.4 % above the LP; the LP with
        # only the demand rows priced at the blocks' duals is within 0.02 % of it
        part = partial_relax(am, duals, PARTIAL_SHARE * rest)
        log.info("%s: %s in %.1f s%s", PARTIAL_ORIGIN, part.status, part.seconds,
                 "" if part.bound is None else f", bound {part.bound:,.2f}")
        if part.bound is not None and part.bound < start.bound:
            start.bound, start.bound_origin = part.bound, PARTIAL_ORIGIN
            duals = part.duals
        gap, rest = relative_gap(start.objective, start.bound), left()
    if blk.x is not None and (gap is None or gap > mip_gap) and rest is not None and rest > 1.0:
        # RENS only: where the point's integral values leave no plan, the search
        # that follows fixes where the point and the plan agree region by region (at
        # 10^4 cells of `all` RINS on the whole model took 45 s and found nothing)
        if whole := too_large(am.nnz):  # RENS holds a solver copy of the whole model
            log.info("no plan rounded from the product blocks: %s", whole)
        else:
            keep(rounded_plan(am, blk.x, BLOCK_ROUND_SHARE * rest, max(1e-6, 0.1 * mip_gap)),
                 "plan rounded from the product blocks")
            gap = relative_gap(start.objective, start.bound)
    rest = left()
    if duals is not None and (gap is None or gap > mip_gap) and rest is not None \
            and rest > 0.5:
        keep(construct(am, data, time_limit=rest,
                       unit_value=priced_sales_values(am, duals)).x,
             "constructive plan at the product blocks' prices")
        gap = relative_gap(start.objective, start.bound)
    return gap, blk.x


def _two_stage(scenario: Scenario, options: dict[str, Any], timings: dict[str, float],
               budget: Budget, log_file: str | None, method: str, ranks: int) -> Solution:
    """The two-stage model as a :class:`Solution`: the first-stage plan checked in every
    demand scenario, the result tables stacked by scenario, the expected profit.
    """
    out, res = solve_two_stage(scenario, solver=options["solver"],
                               time_limit=budget.phase_limit(), mip_gap=options["mip_gap"],
                               threads=options["threads"], seed=options["seed"],
                               log_file=log_file, ranks=ranks,
                               method=METHOD_PH if method == "ph" else METHOD_EF)
    raw = out["raw"]
    timings.update(out["timings"])
    sol = Solution(scenario.name, scenario.hash, raw.termination, PLAN_NONE, out["objective"],
                   raw.bound, relative_gap(out["objective"], raw.bound), raw.solver,
                   raw.version, raw.message,
                   {**options, "model": "two_stage", "method": method}, timings,
                   tables=out["tables"], kpis=out["kpis"], violations=out["violations"],
                   x=out["x"], stochastic=res)
    if out["x"] is not None:
        sol.plan_status = PLAN_INVALID if sol.violations else \
            PLAN_OPTIMAL if raw.termination == OPTIMAL else PLAN_FEASIBLE
    return sol


def _diagnose(am: ArrayModel, currency: str, budget: Budget) -> Diagnosis:
    """The diagnosis under what is left of the budget; says when it was skipped or cut."""
    left = budget.phase_limit()
    if left is not None and left < MIN_PHASE_SECONDS:
        log.warning("time limit: diagnosis skipped (%s)", budget.describe())
        return Diagnosis(message="the scenario is infeasible; the diagnosis was skipped: "
                         "the time limit was used up (run again with a longer limit)")
    return diagnose(am, currency, time_limit=left)
