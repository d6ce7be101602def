"""The outcome of one solve (:class:`Solution`), its plan statuses and exit codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .diagnose import Diagnosis
from .engines import INFEASIBLE, INTERRUPTED
from .stochastic import StochasticResult

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
    method: dict[str, Any] = field(default_factory=dict)  # how it was solved (decompose)
    stochastic: StochasticResult | None = None  # two-stage model: RP, EV, EEV, WS, VSS, EVPI

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
            "method": self.method,
            "diagnosis": None if self.diagnosis is None else {
                "message": self.diagnosis.message, "families": self.diagnosis.families,
                "conflicts": self.diagnosis.as_table().to_dict("records"),
                "iis_note": self.diagnosis.iis_note,
                "iis": self.diagnosis.iis_table().to_dict("records")},
            **({} if self.stochastic is None else self.stochastic.summary()),
        }
