"""Solver engines: the registry of backends (names to classes), what each supports,
and the engine a caller needs.

- :data:`BACKENDS`, :func:`available`, :func:`get` (an :class:`UnknownSolverError`,
  exit 2, for a name not in the registry; :class:`SolverUnavailableError` for one
  not installed here);
- :func:`engine_with`: an installed engine with a feature (``"iis"``, ``"duals"``,
  ``"in_memory"``...), for diagnosis, sensitivity and the constructive heuristic;
- the parts: :mod:`.base` (termination, options, results, features),
  :mod:`.highs` (the HiGHS runner), :mod:`.pyomo` (the Pyomo driver),
  :mod:`.watchdog` (child process, parent-death signal, run folders).
"""

from __future__ import annotations

from ..options import OptionsError
from .base import (
    ERROR,
    FEATURES,
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
    normalize_result,
    relative_gap,
    tighter,
    trivial_result,
)
from .highs import HighsBackend, unsettled_solver
from .pyomo import (
    CbcBackend,
    CplexBackend,
    GlpkBackend,
    GurobiBackend,
    HighsPyomoBackend,
    PyomoBackend,
    ScipBackend,
    XpressBackend,
)
from .watchdog import solve_watched

# in order of preference: engine_with() takes the first installed one with a feature
BACKENDS: dict[str, type[Backend]] = {
    b.name: b for b in (HighsBackend, CbcBackend, GlpkBackend, ScipBackend, HighsPyomoBackend,
                        GurobiBackend, CplexBackend, XpressBackend)
}


class UnknownSolverError(OptionsError):
    """A solver name that is not in the registry (bad input: the command exits 2)."""

    def __init__(self, name: object, problems: list[str] | None = None) -> None:
        self.solver = name
        self.available = available()
        first = (f"option 'solver': unknown solver {name!r}: use one of "
                 f"{', '.join(BACKENDS)} (installed here: {', '.join(self.available)})")
        super().__init__([first, *(problems or [])])


class SolverUnavailableError(ValueError):
    """A known solver that is not installed here (the command exits 4)."""


def available() -> list[str]:
    """Names of the backends usable on this machine."""
    return [n for n, b in BACKENDS.items() if b.is_available()]


def get(name: str) -> Backend:
    """An instance of the named backend."""
    if name not in BACKENDS:
        raise UnknownSolverError(name)
    cls = BACKENDS[name]
    if not cls.is_available():
        raise SolverUnavailableError(f"solver '{name}' is not installed here; available: "
                                     f"{', '.join(available())}")
    return cls()


def engine_with(feature: str) -> Backend:
    """The first installed engine (in the order of :data:`BACKENDS`) that supports
    ``feature``; :class:`SolverUnavailableError` if none does.
    """
    for cls in BACKENDS.values():
        if cls.supports(feature) and cls.is_available():
            return cls()
    raise SolverUnavailableError(f"no installed solver supports {feature!r}")


available_backends = available  # the names the package exports
get_backend = get

__all__ = ["BACKENDS", "ERROR", "FEATURES", "INFEASIBLE", "INTERRUPTED", "LIMIT", "OPTIMAL",
           "TIME_LIMIT", "UNBOUNDED", "Backend", "CbcBackend", "CplexBackend", "GlpkBackend",
           "GurobiBackend", "HighsBackend", "HighsPyomoBackend", "IisOutcome", "Outcome",
           "PyomoBackend", "RawResult", "ScipBackend", "Session", "SolveOptions",
           "SolverUnavailableError", "Termination", "UnknownSolverError", "XpressBackend",
           "available", "available_backends", "engine_with", "get", "get_backend",
           "normalize_result", "relative_gap", "solve_watched", "tighter", "trivial_result",
           "unsettled_solver"]
