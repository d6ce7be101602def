"""What every solver engine shares: termination reasons, options, results, features.

A backend is a class declaring its ``features`` (what callers may ask of it with
:meth:`Backend.supports`); it takes an :class:`~channel_opt.model.linear.ArrayModel`
and :class:`SolveOptions` and returns a :class:`RawResult`. Engines that hold a model
in memory (``"in_memory"``) also open a :class:`Session` on it, which diagnosis,
sensitivity and the constructive heuristic use for their LP and small MIP solves,
IIS and duals, without knowing which solver library is behind it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from ...model.linear import ArrayModel

PROGRESS_SECONDS = 10.0  # how often a long MIP solve reports its progress


class Termination(StrEnum):
    """Why a solver stopped (kept apart from whether a plan exists). The values are
    the strings summary.json carries.
    """

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    LIMIT = "other_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    INTERRUPTED = "interrupted"
    ERROR = "error"


OPTIMAL = Termination.OPTIMAL
TIME_LIMIT = Termination.TIME_LIMIT
LIMIT = Termination.LIMIT
INFEASIBLE = Termination.INFEASIBLE
UNBOUNDED = Termination.UNBOUNDED
INTERRUPTED = Termination.INTERRUPTED
ERROR = Termination.ERROR

# What a caller may ask of an engine (``Backend.supports``):
#   integers   solves models with integer columns
#   in_memory  takes the model in memory and opens a Session on it (no files)
#   iis        gives an irreducible infeasible subsystem (Session.iis)
#   dual_bound reports a proven bound on the optimum
#   duals      gives row duals of an LP (Session.solve(...).row_dual)
#   mip_start  takes a feasible plan as a starting solution
FEATURES = ("integers", "in_memory", "iis", "dual_bound", "duals", "mip_start")


@dataclass
class SolveOptions:
    """Options every backend understands."""

    time_limit: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    seed: int | None = None
    log_file: str | None = None
    start: np.ndarray | None = None  # a feasible plan to start from (MIP start)
    progress_seconds: float = PROGRESS_SECONDS  # cadence of the progress log line
    # time.monotonic() by which the solver must stop (the clock is shared by the
    # solver child, so its start-up and the model transfer come out of the limit)
    deadline: float | None = None
    # the solver's own options, by its own names, passed through as given (checked
    # beforehand by the backend's ``check_solver_options``)
    solver_options: dict[str, Any] = field(default_factory=dict)

    def seconds_left(self) -> float | None:
        """The solver's time limit as of now: ``time_limit``, cut to the deadline."""
        if self.deadline is None:
            return self.time_limit
        left = max(0.1, self.deadline - time.monotonic())
        return left if self.time_limit is None else min(self.time_limit, left)

    def watchdog_seconds(self) -> float | None:
        """Wall-clock limit of the outer watchdog: the time limit plus a grace period."""
        if self.time_limit is None:
            return None
        return self.time_limit + max(5.0, 0.2 * self.time_limit)


@dataclass
class RawResult:
    """What a backend returns."""

    termination: str
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    solver: str
    version: str
    message: str
    handoff_seconds: float = 0.0
    solve_seconds: float = 0.0
    process_seconds: float = 0.0  # solver child: start-up, model transfer, result back
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """One solve of a :class:`Session`: plain values, whichever engine ran it."""

    termination: Termination
    x: np.ndarray | None  # a feasible point, if the engine has one
    message: str
    row_value: np.ndarray | None = None  # row activities (LPs solved to optimality)
    row_dual: np.ndarray | None = None  # row duals (engines with "duals", LPs at optimum)


@dataclass
class IisOutcome:
    """An IIS of the LP relaxation, in row and column numbers of the model.

    ``rows``/``cols``: (index, side) with side "lower", "upper" or "both".
    ``failure`` says why there is none (empty lists then).
    """

    rows: list[tuple[int, str]] = field(default_factory=list)
    cols: list[tuple[int, str]] = field(default_factory=list)
    failure: str = ""


class Session:
    """A model held in memory by an engine, solved once or several times."""

    def solve(self, *, time_limit: float | None = None,
              mip_gap: float | None = None) -> Outcome:
        """Solve (again, after bound changes); Ctrl-C or SIGTERM stops it at once."""
        raise NotImplementedError

    def set_col_bounds(self, cols: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray) -> None:
        """Change the bounds of columns ``cols`` for the next solve."""
        raise NotImplementedError

    def set_start(self, x: np.ndarray) -> None:
        """A feasible point the next MIP solve starts from (feature "mip_start")."""
        raise NotImplementedError

    def iis(self, time_limit: float | None = None) -> IisOutcome:
        """An irreducible infeasible subsystem of the LP relaxation (feature "iis")."""
        raise NotImplementedError


class Backend:
    """A solver backend; what it can do is its ``features`` (see ``FEATURES``)."""

    name: ClassVar[str]
    features: ClassVar[frozenset[str]] = frozenset({"integers", "dual_bound"})

    @classmethod
    def supports(cls, feature: str) -> bool:
        """Whether the backend has ``feature`` (one of ``FEATURES``)."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}: use one of {', '.join(FEATURES)}")
        return feature in cls.features

    @classmethod
    def is_available(cls) -> bool:
        """Whether the solver is installed and usable here."""
        raise NotImplementedError

    @classmethod
    def version(cls) -> str:
        """The solver's version string."""
        raise NotImplementedError

    @classmethod
    def check_solver_options(cls, options: dict[str, Any]) -> list[str]:
        """Problems of solver options given by the solver's own names (none: the
        backend has no option list to check against, they go to the solver as given).
        """
        return []

    def session(self, am: ArrayModel, *, relaxation: bool = False) -> Session:
        """The model held in memory (feature "in_memory"); ``relaxation``: as an LP."""
        raise NotImplementedError(f"{self.name} does not hold models in memory")

    def solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        """Solve the model; the result is normalized by :func:`normalize_result`."""
        return normalize_result(self._solve(am, opts), am.sense)

    def _solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        """The solver's own result, before normalization."""
        raise NotImplementedError


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``|bound - objective| / |objective|`` as HiGHS and Gurobi define it: 0 when the
    two agree to 1e-9 (relative), infinite for a zero objective with another bound;
    None without a finite objective and bound. The one gap of the package: runs,
    decomposition, two-stage and frontier points.
    """
    if objective is None or bound is None or not math.isfinite(bound) or \
            not math.isfinite(objective):
        return None
    if abs(bound - objective) <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return abs(bound - objective) / abs(objective) if objective != 0 else math.inf


def tighter(new: float | None, old: float | None) -> bool:
    """Whether ``new`` is an upper bound (not None) below upper bound ``old`` (None:
    none yet): the one test of the two-stage model's several bounds.
    """
    return new is not None and (old is None or new < old)


def normalize_result(raw: RawResult, sense: str) -> RawResult:
    """The one place a backend's result is made consistent before anyone reads it.

    A bound that is not finite, or lies on the wrong side of the solver's own plan
    (below it when maximizing), or comes from a run that failed, is no bound: it
    becomes ``None`` (the pipeline then falls back on the constructive bound).
    """
    failed = raw.termination == ERROR
    if failed or (raw.bound is not None and not math.isfinite(raw.bound)):
        raw.bound = None
    raw.bound = valid_bound(raw.bound, sense, raw.objective)
    return raw


def valid_bound(bound: float | None, sense: str, objective: float | None) -> float | None:
    """``bound`` unless it lies on the wrong side of the incumbent (then it is none)."""
    if bound is None or objective is None:
        return bound
    tol = 1e-9 * max(1.0, abs(objective))
    wrong = bound < objective - tol if sense == "max" else bound > objective + tol
    return None if wrong else bound


def trivial_result(am: ArrayModel) -> RawResult:
    """The outcome of a model without columns (no cell can use any channel): the empty
    plan if every row admits 0, else infeasible. Solvers disagree on such models.
    """
    rlo, rup = am.row_bounds()
    ok = bool(np.all(rlo <= 1e-9) and np.all(rup >= -1e-9))
    return RawResult(OPTIMAL if ok else INFEASIBLE, np.zeros(0) if ok else None,
                     0.0 if ok else None, 0.0 if ok else None, "none", "",
                     "empty model: nothing can be offered")


@contextlib.contextmanager
def quiet_stdout(to: str = os.devnull) -> Iterator[None]:
    """Send writes to stdout, C-level and Python-level, to the file ``to``.

    By default they are silenced: HiGHS prints a banner on construction. SCIP's log
    is sent to the log file this way.
    """
    sys.stdout.flush()
    try:
        fd = os.dup(1)
    except OSError:  # no real stdout (e.g. some embedded interpreters)
        yield
        return
    try:
        # Python-level writes too (pyscipopt routes SCIP's messages through sys.stdout)
        with open(to, "a") as null, contextlib.redirect_stdout(null):
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                _flush_c_stdout()  # C's buffered stdout would spill after the switch back
                os.dup2(fd, 1)
    finally:
        os.close(fd)


def _flush_c_stdout() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to reach: nothing buffered by us
        pass
