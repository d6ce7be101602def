"""The options of :func:`~channel_opt.solving.solve`, checked before any work is done.

Every option is checked at once and every problem is reported in one
:class:`OptionsError` (a ``ValueError``; the command line exits 2 on it); an unknown
solver is its subclass ``engines.UnknownSolverError``, which lists the backends.
``solver_options`` (the solver's own option names) are checked against the
backend's own option list where it has one (HiGHS: name, type and range). Numbers
must be numbers: a string such as ``time_limit="60"`` is refused rather than
guessed at, as are booleans where a count is expected.
"""

from __future__ import annotations

import math
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

MAX_SEED = 2**31 - 1  # the largest seed every backend takes (HiGHS' random_seed)


class OptionsError(ValueError):
    """Raised with every problem of the solve options at once."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in the solve options:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def _number(v: Any) -> Any:
    """Refuse strings and booleans where a number is expected (no silent coercion)."""
    if isinstance(v, bool | str | bytes):
        raise ValueError(f"must be a number, not {type(v).__name__} {v!r}")
    return v


class Options(BaseModel):
    """The validated options of one solve (see :func:`check_options`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    solver: str
    time_limit: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    seed: int | None = None
    log_file: str | None = None
    sensitivity: bool = True
    diagnose_infeasible: bool = True
    solver_options: dict[str, Any] | None = None

    @field_validator("solver_options", mode="before")
    @classmethod
    def _solver_options(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, dict):
            raise ValueError(f"must be a dict of the solver's option names to values, "
                             f"not {type(v).__name__}")
        for key, value in v.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"option names must be strings, not {key!r}")
            if not isinstance(value, bool | int | float | str):
                raise ValueError(f"'{key}' must be a number, True/False or a string, "
                                 f"not {type(value).__name__}")
        return dict(v)

    @field_validator("time_limit", "mip_gap", "threads", "seed", mode="before")
    @classmethod
    def _no_strings(cls, v: Any) -> Any:
        return None if v is None else _number(v)

    @field_validator("log_file", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, os.PathLike):
            return os.fspath(v)
        raise ValueError(f"must be a file path (str or os.PathLike) or None, not {v!r}")

    @field_validator("solver")
    @classmethod
    def _known_solver(cls, v: str) -> str:
        from .engines import BACKENDS

        if v not in BACKENDS:
            raise ValueError(f"unknown solver {v!r}: use one of {', '.join(BACKENDS)}")
        return v

    @field_validator("time_limit")
    @classmethod
    def _time_limit(cls, v: float | None) -> float | None:
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ValueError(f"must be a finite number of seconds > 0 or None, not {v!r}")
        return v

    @field_validator("mip_gap")
    @classmethod
    def _mip_gap(cls, v: float | None) -> float | None:
        if v is not None and not (math.isfinite(v) and 0 <= v < 1):
            raise ValueError(f"must be a relative gap in [0, 1), not {v!r}")
        return v

    @field_validator("threads")
    @classmethod
    def _threads(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"must be a whole number >= 1 or None, not {v!r}")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int | None) -> int | None:
        if v is not None and not 0 <= v <= MAX_SEED:
            raise ValueError(f"must be a whole number in [0, {MAX_SEED}], not {v!r}")
        return v

    @field_validator("sensitivity", "diagnose_infeasible", mode="before")
    @classmethod
    def _flag(cls, v: Any) -> Any:
        if not isinstance(v, bool):
            raise ValueError(f"must be True or False, not {v!r}")
        return v


def check_options(scenario: object, **options: Any) -> Options:
    """Check the arguments of :func:`~channel_opt.solving.solve` before any work.

    ``scenario`` must be a :class:`~channel_opt.scenario.Scenario` or a path
    (``TypeError`` otherwise); every bad option is listed in one
    :class:`OptionsError`, each naming the option, the rule and the value given.
    """
    from ..scenario import Scenario

    if not isinstance(scenario, Scenario | str | os.PathLike):
        raise TypeError("solve() needs a Scenario (from load_scenario or "
                        "Scenario.from_frames) or the path of a scenario file, not "
                        f"{type(scenario).__name__}")
    from .engines import BACKENDS, UnknownSolverError

    solver = options.get("solver")
    unknown = not isinstance(solver, str) or solver not in BACKENDS
    try:
        checked = Options.model_validate(options)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = ".".join(str(p) for p in err["loc"]) or "options"
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown option: use one of {', '.join(Options.model_fields)}"
            elif not err["type"].startswith("value_error"):
                msg = f"{msg} (got {err.get('input')!r})"
            if name != "solver" or not unknown:
                problems.append(f"option '{name}': {msg}")
        if unknown:
            raise UnknownSolverError(solver, problems) from None
        raise OptionsError(problems) from None
    problems = BACKENDS[checked.solver].check_solver_options(checked.solver_options or {})
    if problems:
        raise OptionsError(problems)
    return checked
