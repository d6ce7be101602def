"""Solvers driven through a Pyomo ``ConcreteModel``: CBC, GLPK, SCIP, HiGHS through
Pyomo (the reference for the hand-off), Gurobi, CPLEX and Xpress.

Each class maps the solve's options to the solver's names and corrects what Pyomo
misreads (bounds and terminations of the shell solvers are read from their logs).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from typing import Any, ClassVar

import numpy as np

from ...model.linear import ArrayModel, to_pyomo
from .base import (
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
    Termination,
    quiet_stdout,
)
from .highs import check_highs_options, highs_threads
from .watchdog import children_die_with_us, run_temp_dir

log = logging.getLogger(__name__)

MIP_START = frozenset({"integers", "dual_bound", "mip_start"})


class PyomoBackend(Backend):
    """A solver driven through a Pyomo ``ConcreteModel``."""

    pyomo_name: ClassVar[str]
    # our option -> the solver's option name; "log_file" here means the solver takes its
    # log file as an option, otherwise Pyomo's ``logfile`` keyword is used
    option_names: ClassVar[dict[str, str]] = {}
    # False: the interface has no log file; its console output is sent to the file
    logfile_keyword: ClassVar[bool] = True

    @classmethod
    def _factory(cls) -> Any:
        import pyomo.environ as pyo

        return pyo.SolverFactory(cls.pyomo_name)

    @classmethod
    def is_available(cls) -> bool:  # noqa: D102
        try:
            with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
                return bool(cls._factory().available(exception_flag=False))
        except Exception:  # noqa: BLE001
            return False

    @classmethod
    def version(cls) -> str:  # noqa: D102
        try:
            v = cls._factory().version()
            return ".".join(str(p) for p in v) if isinstance(v, tuple) else str(v)
        except Exception:  # noqa: BLE001
            return "unknown"

    @classmethod
    def check_solver_options(cls, options: dict[str, Any]) -> list[str]:
        """Pyomo solvers have no option list to check against: only the options the
        solve sets itself (time limit, gap, threads, seed) are refused.
        """
        reserved = {v: k for k, v in cls.option_names.items()}
        return [f"solver option '{key}': set by the solve itself; use the option "
                f"'{reserved[key]}'" for key in options if key in reserved]

    def _options(self, opts: SolveOptions) -> dict[str, Any]:
        values = {"time_limit": opts.seconds_left(), "mip_gap": opts.mip_gap,
                  "threads": opts.threads, "seed": opts.seed,
                  "log_file": None if opts.log_file is None else str(opts.log_file)}
        # the solver's own options first: the solve's arguments win (they are reserved)
        return {**opts.solver_options,
                **{self.option_names[k]: v for k, v in values.items()
                   if v is not None and k in self.option_names}}

    def _solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        with run_temp_dir() as tmp, children_die_with_us():
            return self._solve_in(am, opts, tmp)

    def _solve_in(self, am: ArrayModel, opts: SolveOptions, tmp: str) -> RawResult:
        from pyomo.opt import SolverStatus
        from pyomo.opt import TerminationCondition as TC

        t0 = time.perf_counter()
        m = to_pyomo(am)
        t1 = time.perf_counter()
        solver = self._factory()
        kw: dict[str, Any] = {"load_solutions": False, "tee": False}
        to_console = bool(opts.log_file) and not self.logfile_keyword
        # a shell solver's log is also where its true bound is: keep one even unasked
        log_path = None
        if self.logfile_keyword and "log_file" not in self.option_names:
            log_path = str(opts.log_file) if opts.log_file else \
                os.path.join(tmp, f"{self.name}.log")
            kw["logfile"] = log_path
        if to_console:
            kw["tee"] = True
        if opts.start is not None and self.supports("mip_start") and _warm_start_capable(solver):
            for v, val in zip(m._array_model_columns, opts.start, strict=True):
                v.set_value(float(val), skip_validation=True)
            kw["warmstart"] = True
        self._prepare(opts)
        try:
            with quiet_stdout(str(opts.log_file)) if to_console else contextlib.nullcontext():
                res = solver.solve(m, options=self._options(opts), **kw)
        except Exception as e:  # noqa: BLE001 - a backend failure is a result, not a crash
            return RawResult(ERROR, None, None, None, self.name, self.version(),
                             f"{type(e).__name__}: {e}", t1 - t0, time.perf_counter() - t1)
        finally:
            log_text = _read_log(log_path, keep=bool(opts.log_file))
        t2 = time.perf_counter()
        tc = res.solver.termination_condition
        term = {TC.optimal: OPTIMAL, TC.maxTimeLimit: TIME_LIMIT, TC.infeasible: INFEASIBLE,
                TC.infeasibleOrUnbounded: INFEASIBLE, TC.unbounded: UNBOUNDED,
                TC.maxIterations: LIMIT, TC.maxEvaluations: LIMIT, TC.userInterrupt: INTERRUPTED,
                TC.feasible: LIMIT, TC.other: LIMIT, TC.locallyOptimal: OPTIMAL,
                TC.globallyOptimal: OPTIMAL}.get(tc, ERROR)
        if res.solver.status == SolverStatus.aborted and term == ERROR:
            term = TIME_LIMIT
        term = self._termination(term, log_text)
        x = obj = None
        if len(res.solution) > 0:
            try:
                m.solutions.load_from(res)
                vals = [v.value for v in m._array_model_columns]
                if all(v is not None for v in vals):
                    x = np.asarray(vals, float)
                    obj = float(am.cost @ x)
            except Exception as e:  # noqa: BLE001
                log.warning("%s: could not load the solution: %s", self.name, e)
        bound = self._bound(res, am.sense, obj, log_text)
        if term == OPTIMAL and bound is None and not opts.mip_gap and obj is not None:
            bound = obj  # only when the solver proved optimality without a gap tolerance
        msg = str(getattr(res.solver, "message", "") or tc)
        return RawResult(term, x, obj, bound, self.name, self.version(), msg, t1 - t0, t2 - t1)

    def _prepare(self, opts: SolveOptions) -> None:
        """Anything the solver needs done in this process before it runs."""

    def _bound(self, res: Any, sense: str, objective: float | None,
               log_text: str) -> float | None:
        """The solver's best bound in the model's own sense, if it reports one."""
        return _pyomo_bound(res, sense)

    def _termination(self, term: Termination, log_text: str) -> Termination:
        """Pyomo's termination, corrected from the solver's log where Pyomo misreads it."""
        return term


def _read_log(path: str | None, keep: bool) -> str:
    if path is None:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
    finally:
        if not keep:
            with contextlib.suppress(OSError):
                os.remove(path)


def _warm_start_capable(solver: Any) -> bool:
    try:
        return bool(solver.warm_start_capable())
    except Exception:  # noqa: BLE001 - an interface without the query takes no start
        return False


def _pyomo_bound(res: Any, sense: str) -> float | None:
    try:
        b = res.problem.upper_bound if sense == "max" else res.problem.lower_bound
        b = float(b)
    except (TypeError, ValueError, AttributeError):
        return None
    return b if math.isfinite(b) else None


class CbcBackend(PyomoBackend):
    """COIN-OR CBC (Debian package ``coinor-cbc``), through Pyomo's shell interface."""

    name = "cbc"
    # no MIP start: CBC 2.10 given the constructive plan of a facility-location
    # scenario returned that plan as "optimal" with its bound equal to it (2,072.48
    # against the true 1,960.22; tests/test_grain_converters.py::test_cfl_larger)
    features: ClassVar[frozenset[str]] = frozenset({"integers", "dual_bound"})
    pyomo_name = "cbc"
    option_names = {"time_limit": "sec", "mip_gap": "ratioGap", "threads": "threads",
                    "seed": "randomSeed"}

    def _options(self, opts: SolveOptions) -> dict[str, Any]:
        o = super()._options(opts)
        if "sec" in o:
            o["timeMode"] = "elapsed"  # CBC's limit is CPU time unless told otherwise
        return o

    def _bound(self, res: Any, sense: str, objective: float | None,
               log_text: str) -> float | None:
        # Pyomo reports the objective as the bound of a run that stopped at the gap
        # tolerance, and at a time limit CBC's internal bound (of the negated objective
        # of a maximization). CBC's own log has the truth.
        return _cbc_log_bound(log_text, sense, objective)


def _cbc_log_bound(text: str, sense: str, objective: float | None) -> float | None:
    """The bound in CBC's log: the gap it exited on, else its last "best possible"."""
    import re

    sign = -1.0 if sense == "max" else 1.0  # CBC minimizes; a maximum is negated
    gap = re.findall(r"Exiting as integer gap of ([-+0-9.eE]+)", text)
    if gap and objective is not None:
        g = abs(float(gap[-1]))
        return objective + g if sense == "max" else objective - g
    best = re.findall(r"best possible ([-+0-9.eE]+)", text)
    if best:
        return sign * float(best[-1])
    if "Result - Optimal solution found" in text:
        return objective  # the search finished without exiting on a gap: proven
    return None


class GlpkBackend(PyomoBackend):
    """GLPK (Debian package ``glpk-utils``), through Pyomo's shell interface."""

    name = "glpk"
    pyomo_name = "glpk"
    option_names = {"time_limit": "tmlim", "mip_gap": "mipgap"}

    # All cut families and hybrid pseudocost branching (flags: value None). Measured on
    # apparel: GLPK's defaults end 600 s at a 0.26% gap; with these it stops at the 1e-4
    # gap in about 7 minutes, and its root bound is tighter.
    flags: ClassVar[dict[str, None]] = {"cuts": None, "pcost": None}

    def _options(self, opts: SolveOptions) -> dict[str, Any]:
        o: dict[str, Any] = {**self.flags, **super()._options(opts)}
        if "tmlim" in o:
            o["tmlim"] = max(1, int(math.ceil(o["tmlim"])))
        return o

    def _termination(self, term: Termination, log_text: str) -> Termination:
        # Pyomo calls a stop at the gap tolerance "feasible"; it is optimal within the gap,
        # as for every other solver
        return OPTIMAL if "MIP GAP TOLERANCE REACHED" in log_text else term

    def _bound(self, res: Any, sense: str, objective: float | None,
               log_text: str) -> float | None:
        # Pyomo reports the objective as the bound when GLPK stops at its gap tolerance;
        # GLPK's progress lines "+ it: mip = best <= bound" have the bound
        bound = _glpk_log_bound(log_text, objective)
        return bound if bound is not None else _pyomo_bound(res, sense)


def _glpk_log_bound(text: str, objective: float | None) -> float | None:
    """The bound on GLPK's last progress line ("tree is empty": the objective)."""
    import re

    lines = re.findall(r"^\+\s*\d+: .*?(?:<=|>=)\s+(.+?)\s*(?:<\s*)?[-0-9.]*%?\s*\(",
                       text, flags=re.MULTILINE)
    if not lines:
        return None
    last = lines[-1].strip()
    if last.startswith("tree is empty"):
        return objective
    try:
        value = float(last.split()[0])
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class ScipBackend(PyomoBackend):
    """SCIP from the ``pyscipopt`` wheel, through Pyomo's ``scip_direct``."""

    name = "scip"
    pyomo_name = "scip_direct"
    option_names = {"time_limit": "limits/time", "mip_gap": "limits/gap",
                    "threads": "parallel/maxnthreads", "seed": "randomization/randomseedshift"}
    logfile_keyword = False


class HighsPyomoBackend(PyomoBackend):
    """HiGHS through Pyomo (``appsi_highs``): the reference for the Pyomo hand-off."""

    name = "highs_pyomo"
    features: ClassVar[frozenset[str]] = MIP_START
    pyomo_name = "appsi_highs"
    option_names = {"time_limit": "time_limit", "mip_gap": "mip_rel_gap",
                    "threads": "threads", "seed": "random_seed", "log_file": "log_file"}

    @classmethod
    def check_solver_options(cls, options: dict[str, Any]) -> list[str]:  # noqa: D102
        return check_highs_options(options)  # HiGHS' own option list

    def _prepare(self, opts: SolveOptions) -> None:
        highs_threads(opts.threads)  # appsi_highs runs highspy in this process


class GurobiBackend(PyomoBackend):
    """Gurobi (licensed), through Pyomo's ``gurobi_direct``."""

    name = "gurobi"
    features: ClassVar[frozenset[str]] = MIP_START
    pyomo_name = "gurobi_direct"
    option_names = {"time_limit": "TimeLimit", "mip_gap": "MIPGap", "threads": "Threads",
                    "seed": "Seed"}


class CplexBackend(PyomoBackend):
    """CPLEX (licensed), through Pyomo's ``cplex_direct``."""

    name = "cplex"
    features: ClassVar[frozenset[str]] = MIP_START
    pyomo_name = "cplex_direct"
    option_names = {"time_limit": "timelimit", "mip_gap": "mip_tolerances_mipgap",
                    "threads": "threads", "seed": "randomseed"}


class XpressBackend(PyomoBackend):
    """FICO Xpress (licensed), through Pyomo's ``xpress_direct``."""

    name = "xpress"
    features: ClassVar[frozenset[str]] = MIP_START
    pyomo_name = "xpress_direct"
    option_names = {"time_limit": "maxtime", "mip_gap": "miprelstop", "threads": "threads",
                    "seed": "randomseed"}


