"""HiGHS through highspy: the model is passed in memory as one sparse matrix.

The only module of the package, with ``model/linear.py::to_highs``, that imports
highspy. Besides the MIP backend it gives the in-memory :class:`HighsSession` that
diagnosis (elastic LP, IIS), sensitivity (duals) and the constructive heuristic
(LPs and small MIPs) use through :func:`~channel_opt.solving.engines.engine_with`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

import numpy as np

from ...model.linear import ArrayModel, HighsArrays, highs_from_arrays, to_highs
from .base import (
    ERROR,
    INFEASIBLE,
    INTERRUPTED,
    LIMIT,
    OPTIMAL,
    TIME_LIMIT,
    UNBOUNDED,
    Backend,
    IisOutcome,
    Outcome,
    RawResult,
    Session,
    SolveOptions,
    Termination,
    quiet_stdout,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# options the solve sets from its own arguments: not to be given as solver options
HIGHS_RESERVED = {"time_limit": "time_limit", "mip_rel_gap": "mip_gap", "threads": "threads",
                  "random_seed": "seed", "log_file": "log_file"}


def highs_threads(threads: int | None) -> None:
    """Let the next HiGHS run in this thread use ``threads`` threads.

    HiGHS keeps one task scheduler per calling thread, sized by the thread count of
    the first run; a later run asking for another count fails ("global scheduler has
    already been initialized"). Shutting this thread's scheduler down lets the next
    run start one of the size asked for; schedulers of other threads are untouched.
    Runs without a thread count (``threads`` 0, HiGHS' default) accept any scheduler.
    """
    if threads is None:
        return
    import highspy

    highspy.Highs.resetGlobalScheduler(True)


def new_highs(am: ArrayModel) -> Any:
    """The model passed to an in-memory HiGHS instance, quietly."""
    with quiet_stdout():
        return to_highs(am)


def highs_version() -> str:
    """The installed highspy's version."""
    try:
        from importlib.metadata import version

        return version("highspy")
    except Exception:  # noqa: BLE001
        import highspy

        return str(getattr(highspy, "__version__", "unknown"))


def check_highs_options(options: dict[str, Any]) -> list[str]:
    """Problems of HiGHS options: unknown names, values of the wrong type or out of
    range (checked on a scratch instance), options the solve sets itself.
    """
    if not options:
        return []
    import highspy

    OT = highspy.HighsOptionType
    kinds = {OT.kBool: (bool,), OT.kInt: (int,), OT.kDouble: (int, float), OT.kString: (str,)}
    problems = []
    with quiet_stdout():
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        for key, value in options.items():
            if key in HIGHS_RESERVED:
                problems.append(f"solver option '{key}': set by the solve itself; use "
                                f"the option '{HIGHS_RESERVED[key]}'")
                continue
            status, kind = h.getOptionType(key)
            if status != highspy.HighsStatus.kOk:
                problems.append(f"solver option '{key}': HiGHS has no such option")
                continue
            want = kinds.get(kind, ())
            if not isinstance(value, want) or (bool not in want and isinstance(value, bool)):
                problems.append(f"solver option '{key}': HiGHS wants "
                                f"{'/'.join(t.__name__ for t in want)}, not "
                                f"{type(value).__name__} {value!r}")
                continue
            if kind == OT.kDouble and isinstance(value, int | float):
                value = float(value)
            if h.setOptionValue(key, value) != highspy.HighsStatus.kOk:
                problems.append(f"solver option '{key}': HiGHS refuses the value {value!r}")
    return problems


class HighsBackend(Backend):
    """HiGHS through highspy: the model is passed in memory as one sparse matrix."""

    name = "highs"
    features: ClassVar[frozenset[str]] = frozenset(
        {"integers", "in_memory", "iis", "dual_bound", "duals", "mip_start"})

    @classmethod
    def is_available(cls) -> bool:  # noqa: D102
        try:
            import highspy  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def version(cls) -> str:  # noqa: D102
        return highs_version()

    @classmethod
    def check_solver_options(cls, options: dict[str, Any]) -> list[str]:  # noqa: D102
        return check_highs_options(options)

    def session(self, am: ArrayModel, *, relaxation: bool = False) -> HighsSession:  # noqa: D102
        return HighsSession(am, relaxation=relaxation)

    def _solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        import time

        t0 = time.perf_counter()
        h = new_highs(am)
        t1 = time.perf_counter()
        out = run_highs(h, opts, integer=bool(am.integrality().any()), cost=am.cost)
        t2 = time.perf_counter()
        return RawResult(out["termination"], out["x"], out["objective"], out["bound"],
                         self.name, self.version(), out["message"], t1 - t0, t2 - t1)


def _termination(h: Any) -> Termination:
    import highspy

    MS = highspy.HighsModelStatus
    return {
        MS.kOptimal: OPTIMAL, MS.kTimeLimit: TIME_LIMIT, MS.kInfeasible: INFEASIBLE,
        MS.kUnbounded: UNBOUNDED, MS.kUnboundedOrInfeasible: INFEASIBLE,
        MS.kInterrupt: INTERRUPTED, MS.kIterationLimit: LIMIT,
        MS.kSolutionLimit: LIMIT, MS.kObjectiveBound: LIMIT, MS.kObjectiveTarget: LIMIT,
    }.get(h.getModelStatus(), ERROR)


def run_highs(h: Any, opts: SolveOptions, *, integer: bool,
              cost: np.ndarray | None = None) -> dict[str, Any]:
    """Set the options, run HiGHS and read the outcome as plain values.

    ``integer``: whether the model has integer columns (known from the ArrayModel;
    asking HiGHS would copy the whole model out with ``getLp``). ``cost``: the
    objective coefficients (``ArrayModel.cost``), to check the plan against the
    reported objective: HiGHS 1.16 with presolve can hand back the MIP start's values
    next to a better objective (tiny with ``rules.overlap.cost=0``: objective 8,520,
    plan 8,180). Then the model is solved again from a clean state without the start,
    and if that finds nothing in the time left, the start stands at its own value.
    """
    out = _run_highs_once(h, opts, integer=integer)
    x, obj = out["x"], out["objective"]
    if cost is None or opts.start is None or x is None or obj is None or \
            abs(float(cost @ x) - obj) <= 1e-6 * max(1.0, abs(obj)):
        return out
    log.warning("HiGHS returned the MIP start's plan (%.6g) with objective %.6g: solving "
                "again without the start", float(cost @ x), obj)
    h.clearSolver()
    first = out
    out = _run_highs_once(h, replace(opts, start=None), integer=integer)
    if out["x"] is None:
        out = {**first, "objective": float(cost @ first["x"])}
    return out


def _run_highs_once(h: Any, opts: SolveOptions, *, integer: bool) -> dict[str, Any]:
    if opts.log_file:
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", str(opts.log_file))
    for key, value in opts.solver_options.items():  # checked by check_highs_options
        h.setOptionValue(key, float(value) if isinstance(value, int) and
                         not isinstance(value, bool) and
                         isinstance(h.getOptionValue(key)[1], float) else value)
    limit = opts.seconds_left()
    if limit is not None:
        h.setOptionValue("time_limit", float(limit))
    if opts.mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(opts.mip_gap))
    if opts.threads is not None:
        h.setOptionValue("threads", int(opts.threads))
        highs_threads(opts.threads)
    if opts.seed is not None:
        h.setOptionValue("random_seed", int(opts.seed))
    if opts.start is not None and integer:
        n = h.getNumCol()
        h.setSolution(n, np.arange(n, dtype=np.int32), np.asarray(opts.start, float))
    if integer and log.isEnabledFor(logging.INFO):
        h.cbMipInterrupt.subscribe(_Progress(opts.progress_seconds))
    run_interruptible(h)
    term = _termination(h)
    info = h.getInfo()
    has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, float) if has else None
    obj = float(info.objective_function_value) if has else None
    bound: float | None
    if integer:
        bound = float(info.mip_dual_bound)
        if not math.isfinite(bound):
            bound = None
    else:
        bound = obj if term == OPTIMAL else None
    return {"termination": term, "x": x, "objective": obj, "bound": bound,
            "message": h.modelStatusToString(h.getModelStatus())}


class HighsSession(Session):
    """A model held by one quiet HiGHS instance (see :class:`Session`)."""

    def __init__(self, am: ArrayModel, *, relaxation: bool = False) -> None:
        self.h = new_highs(am)
        self.h.setOptionValue("output_flag", False)
        if relaxation:
            self.h.setOptionValue("solve_relaxation", True)

    def solve(self, *, time_limit: float | None = None,
              mip_gap: float | None = None) -> Outcome:
        """Run HiGHS on the model as it now is (see :meth:`Session.solve`)."""
        h = self.h
        if time_limit is not None:
            h.setOptionValue("time_limit", max(0.0, float(time_limit)))
        if mip_gap is not None:
            h.setOptionValue("mip_rel_gap", float(mip_gap))
        run_interruptible(h)
        term = _termination(h)
        has = h.getInfo().primal_solution_status == 2
        sol = h.getSolution() if has else None
        out = Outcome(term, None if sol is None else np.asarray(sol.col_value, float),
                      h.modelStatusToString(h.getModelStatus()))
        if sol is not None and term == OPTIMAL:
            out.row_value = np.asarray(sol.row_value, float)
            if sol.dual_valid:
                out.row_dual = np.asarray(sol.row_dual, float)
        return out

    def set_col_bounds(self, cols: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray) -> None:
        """Change column bounds in place (``changeColsBounds``)."""
        self.h.changeColsBounds(len(cols), np.asarray(cols, np.int32),
                                np.asarray(lower, float), np.asarray(upper, float))

    def set_start(self, x: np.ndarray) -> None:
        """The MIP start of the next solve (``setSolution``)."""
        n = self.h.getNumCol()
        self.h.setSolution(n, np.arange(n, dtype=np.int32), np.asarray(x, float))

    def iis(self, time_limit: float | None = None) -> IisOutcome:
        """The IIS of the LP relaxation from HiGHS (``getIis``): elastic LP, then
        deletion filtering down to an irreducible set (HiGHS' default "light"
        strategy only catches rows infeasible on their own bounds).
        """
        import highspy

        h = self.h
        h.setOptionValue("solve_relaxation", True)
        if time_limit is not None:
            h.setOptionValue("time_limit", float(time_limit))
            h.setOptionValue("iis_time_limit", float(time_limit))
        h.run()
        term = _termination(h)
        if term != INFEASIBLE or h.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
            if term == OPTIMAL:
                return IisOutcome(failure="the LP relaxation is feasible: the conflict lies "
                                  "in the yes/no decisions, so there is no IIS of rows and "
                                  "bounds to show")
            return IisOutcome(failure="HiGHS could not settle the LP relaxation "
                              f"({h.modelStatusToString(h.getModelStatus())}); no IIS")
        h.setOptionValue("iis_strategy", int(highspy.IisStrategy.kIisStrategyFromLp)
                         | int(highspy.IisStrategy.kIisStrategyIrreducible))
        try:
            status, iis = h.getIis()
        except Exception as e:  # noqa: BLE001 - the elastic diagnosis stands without it
            return IisOutcome(failure=f"HiGHS could not compute an IIS ({type(e).__name__}: "
                              f"{e})")
        if status == highspy.HighsStatus.kError or not iis.valid_ or \
                not len(iis.row_index_) + len(iis.col_index_):
            return IisOutcome(failure="HiGHS could not compute an IIS within its time limit")
        sure = int(highspy.IisStatus.kIisStatusInConflict)
        row_status, col_status = np.asarray(iis.row_status_), np.asarray(iis.col_status_)
        if len(row_status) and (row_status[np.asarray(iis.row_index_, int)] != sure).any() or \
                len(col_status) and (col_status[np.asarray(iis.col_index_, int)] != sure).any():
            # stopped before the deletion filter was done: thousands of members that are
            # not all needed would be noise, not a diagnosis
            limit = "" if time_limit is None else f" within {time_limit:g} s"
            return IisOutcome(failure=f"HiGHS could not reduce the conflict to an "
                              f"irreducible set{limit} ({len(iis.row_index_)} rows and "
                              f"{len(iis.col_index_)} bounds may be involved); see the "
                              "elastic diagnosis above")
        bs = highspy.IisBoundStatus
        sides = {int(bs.kIisBoundStatusLower): "lower", int(bs.kIisBoundStatusUpper): "upper",
                 int(bs.kIisBoundStatusBoxed): "both"}  # free / dropped: no bound needed
        rows = [(int(i), sides[int(c)]) for i, c in zip(iis.row_index_, iis.row_bound_,
                                                        strict=True) if int(c) in sides]
        cols = [(int(j), sides[int(c)]) for j, c in zip(iis.col_index_, iis.col_bound_,
                                                        strict=True) if int(c) in sides]
        return IisOutcome(rows, cols)


@dataclass
class LpResult:
    """An LP relaxation run by HiGHS: ``status`` OPTIMAL, LIMIT or INFEASIBLE; the
    value, point and duals as HiGHS left them (``duals_valid``: HiGHS says they are).
    """

    status: Termination
    value: float | None = None
    x: np.ndarray | None = None
    row_dual: np.ndarray | None = None
    col_dual: np.ndarray | None = None


LP_METHODS = ("simplex", "ipm", "pdlp", "concurrent")


def solve_lp(arrays: HighsArrays, time_limit: float | None = None, *,
             method: str = "simplex", rank: Callable[[LpResult], float] | None = None
             ) -> LpResult:
    """The LP relaxation of a model given as HiGHS arrays (integrality dropped), by
    ``method``: HiGHS' dual simplex, its interior point method without crossover
    (``ipm``; its point is approximate), PDLP (first order, to a duality gap of 1e-5),
    or ``concurrent``: simplex and interior point side by side, one thread each, the
    first to settle the LP wins and the other is cancelled (which is faster depends on
    the instance: at 10^4 cells the simplex took 47 s on `conflict` where the IPM took
    82-141 s, and 171 s on `capacity` where the IPM took 66 s). An approximate point
    and its duals still give a valid bound: see
    :func:`~channel_opt.solving.relaxation.dual_bound`. Where neither concurrent run
    settles the LP, the result with duals of least ``rank`` is taken (the relaxation
    ranks them by their bound).
    """
    if method not in LP_METHODS:
        raise ValueError(f"unknown LP method {method!r}: use one of {', '.join(LP_METHODS)}")
    if method == "concurrent":
        return _concurrent_lp(arrays, time_limit, rank)
    h = _lp_highs(arrays, method, time_limit)
    run_interruptible(h)
    return _lp_result(h)


def _lp_highs(arrays: HighsArrays, method: str, time_limit: float | None) -> Any:
    with quiet_stdout():
        h = highs_from_arrays(replace(arrays, integrality=np.zeros_like(arrays.integrality)))
    h.setOptionValue("output_flag", False)
    if method == "pdlp":
        h.setOptionValue("solver", "pdlp")
        h.setOptionValue("pdlp_d_gap_tol", 1e-5)
    elif method == "ipm":
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
    if time_limit is not None and method in ("simplex", "ipm"):
        # a run stopped on its limit hands back its last iterate only without presolve
        # (HiGHS postsolves no unfinished solve), and that iterate's Lagrangian value is
        # a bound (relaxation.dual_bound). The dual simplex's iterates are dual
        # feasible: at 10^4 cells of `all`, stopped at 100 s of its 186 s, 0.5 % above
        # the LP where the bound without it was 25 % above. Without presolve both
        # methods took about as long to the end (IPM on `conflict`: 74.6 s vs 69.3 s)
        h.setOptionValue("presolve", "off")
    if time_limit is not None:
        h.setOptionValue("time_limit", max(0.1, float(time_limit)))
    return h


def _lp_result(h: Any) -> LpResult:
    import highspy

    st = h.getModelStatus()
    ms = highspy.HighsModelStatus
    if st in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        return LpResult(INFEASIBLE)
    sol = h.getSolution()
    if st != ms.kOptimal and not sol.dual_valid:
        return LpResult(LIMIT)
    return LpResult(OPTIMAL if st == ms.kOptimal else LIMIT,
                    float(h.getInfo().objective_function_value),
                    np.asarray(sol.col_value, float), np.asarray(sol.row_dual, float),
                    np.asarray(sol.col_dual, float))


def _concurrent_lp(arrays: HighsArrays, time_limit: float | None,
                   rank: Callable[[LpResult], float] | None = None) -> LpResult:
    """Dual simplex and interior point in two threads (HiGHS releases the GIL while it
    runs): the first result that settles the LP (optimal or infeasible) is taken and
    the other run is cancelled through HiGHS' interrupt callback; if neither settles
    it, the result with duals of least ``rank`` (the first without one).
    """
    import highspy

    runs = [_lp_highs(arrays, m, time_limit) for m in ("simplex", "ipm")]
    threads = []
    for h in runs:
        h.HandleUserInterrupt = True  # cancelSolve() then stops it at its next check
        threads.append(threading.Thread(target=h.run, daemon=True))
        threads[-1].start()
    ms = highspy.HighsModelStatus
    settled = (ms.kOptimal, ms.kInfeasible, ms.kUnboundedOrInfeasible)
    results: dict[int, LpResult] = {}
    try:
        while len(results) < len(runs):
            for i, (h, t) in enumerate(zip(runs, threads, strict=True)):
                if i not in results and not t.is_alive():
                    results[i] = _lp_result(h)
                    if h.getModelStatus() in settled:
                        return results[i]
            time.sleep(0.02)
    finally:
        for h, t in zip(runs, threads, strict=True):
            if t.is_alive():
                h.cancelSolve()
        _settle(lambda: any(t.is_alive() for t in threads), 5.0, threads)
    with_duals = [r for r in results.values() if r.row_dual is not None]
    if rank is not None and len(with_duals) > 1:
        with_duals.sort(key=rank)
    return with_duals[0] if with_duals else results[0]


_UNSETTLED: list[Any] = []  # HiGHS threads still running after an interrupt


def _settle(running: Callable[[], bool], seconds: float, threads: Iterable[Any]) -> None:
    """Give cancelled HiGHS runs up to ``seconds`` to stop, looking every 0.05 s; the
    ``threads`` count as unsettled (:func:`unsettled_solver`) if ``running()`` still
    holds. Never ``Thread.join``: in Python 3.11 a join that Ctrl-C interrupts marks the
    thread stopped while it still runs (bpo-45274), and a daemon thread still in HiGHS
    when the interpreter exits aborts it (std::terminate). A second Ctrl-C ends the
    wait early; the first interrupt is the one that goes on.
    """
    end = time.monotonic() + seconds
    try:
        while running() and time.monotonic() < end:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        if running():
            _UNSETTLED.extend(threads)


def unsettled_solver() -> bool:
    """Whether an interrupted HiGHS solve is still running in its thread (HiGHS
    checks for interrupts only between phases, at times 30 s apart): the command line
    then leaves with ``os._exit`` instead of waiting, or aborting in C++ at exit.
    """
    return any(t.is_alive() for t in _UNSETTLED)


def run_interruptible(h: Any, settle_seconds: float = 1.0) -> None:
    """``h.run()`` in HiGHS' own thread while this one waits, so that Ctrl-C or
    SIGTERM (a :class:`KeyboardInterrupt`) is seen within 0.1 s: the solve is
    cancelled, given ``settle_seconds`` to stop, and the interrupt goes on.

    Off the main thread (no signals there) it is a plain ``h.run()``.
    """
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(h, "startSolve"):
        h.run()
        return
    h.HandleUserInterrupt = True  # interrupt callbacks watch for cancelSolve()
    thread = h.startSolve()
    try:
        while not h.wait(0.1)[0]:
            pass
    except KeyboardInterrupt:
        h.cancelSolve()
        _settle(thread.is_alive, settle_seconds, [thread])
        raise


class Cancel:
    """HiGHS instances that worker threads run, stopped together when the main thread
    is interrupted (:func:`run_threads`). Each watched instance's interrupt callbacks
    look for ``cancelSolve()``; one watched after the cancel stops at its first check.
    """

    def __init__(self, highs: Iterable[Any] = ()) -> None:
        self._lock = threading.Lock()
        self._highs: list[Any] = []
        self.cancelled = False
        for h in highs:
            self.watch(h)

    def watch(self, h: Any) -> Any:
        """``h``, its solves from now on stopped by :meth:`cancel`."""
        h.HandleUserInterrupt = True  # subscribes the callbacks (once per instance)
        with self._lock:
            self._highs.append(h)
            if self.cancelled:
                h.cancelSolve()
        return h

    def cancel(self) -> None:
        """Stop every watched instance's solve, and those watched from now on."""
        with self._lock:
            self.cancelled = True
            for h in self._highs:
                h.cancelSolve()


def run_threads(fn: Callable[[int], T], n: int, workers: int, cancel: Cancel,
                settle_seconds: float = 1.0) -> list[T]:
    """``[fn(0), ..., fn(n - 1)]`` on ``workers`` threads (HiGHS releases the GIL while
    it solves). The main thread waits in steps of 0.1 s, so Ctrl-C or SIGTERM (a
    :class:`KeyboardInterrupt`) is seen at once: the HiGHS instances of ``cancel`` are
    cancelled, no new item starts, the threads get ``settle_seconds`` to stop, and the
    interrupt goes on (a thread still in HiGHS then counts as :func:`unsettled_solver`).
    Before, the pool waited for its running MIPs, up to their time limits: Ctrl-C at
    8 s of a 120-s run of 10^3 cells of `all` ended it 50 s later. An exception of
    ``fn`` is raised here after the threads end.
    """
    out: list[Any] = [None] * n
    errors: list[BaseException] = []
    todo = iter(range(n))
    lock = threading.Lock()
    running = [min(max(workers, 1), n)]
    done = threading.Event()

    def work() -> None:
        try:
            while not cancel.cancelled and not errors:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                try:
                    out[i] = fn(i)
                except BaseException as e:  # noqa: BLE001 - raised again in the caller
                    errors.append(e)
        finally:
            with lock:
                running[0] -= 1
                if running[0] <= 0:
                    done.set()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(running[0])]
    if not threads:
        done.set()
    for t in threads:
        t.start()
    # waited for on an event, not by Thread.join (see _settle)
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        cancel.cancel()
        _settle(lambda: not done.is_set(), settle_seconds, threads)
        raise
    if errors:
        raise errors[0]
    return out


class _Progress:
    """A progress line (time, best plan, bound, gap) every ``every`` seconds of a MIP."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.next = every

    def __call__(self, event: Any) -> None:
        d = event.data_out
        if d.running_time < self.next:
            return
        self.next = d.running_time + self.every
        plan = d.mip_primal_bound
        log.info("solving: %.0f s, best plan %s, bound %s, gap %s", d.running_time,
                 f"{plan:,.2f}" if math.isfinite(plan) else "none yet",
                 f"{d.mip_dual_bound:,.2f}" if math.isfinite(d.mip_dual_bound) else "none",
                 f"{d.mip_gap:.4%}" if math.isfinite(plan) and math.isfinite(d.mip_gap)
                 else "n/a")
