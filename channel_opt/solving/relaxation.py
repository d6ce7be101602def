"""The LP relaxation of a model: its bound, its point and its row prices.

Two users: the decomposition starts its multipliers from the LP duals, and a solve
under a time limit (:func:`~channel_opt.solving.pipeline.solve`) reports the LP bound
when the solver stops before its own root bound and prices the floors and capacities
into the constructive plan's option values (:func:`priced_sales_values`).

The duals are returned in the sign that makes ``c − Aᵀπ`` the reduced costs of the
maximization, whatever sign convention HiGHS used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..model.families.core import SALES
from ..model.linear import ArrayModel, HighsArrays, highs_arrays, highs_from_arrays
from ..model.registry import ROW
from .engines import INFEASIBLE, LIMIT, OPTIMAL
from .engines.base import quiet_stdout

PRICED_ROLES = ("floor", "capacity")  # the rows whose duals price a unit sold


@dataclass
class Relaxation:
    """``status``: OPTIMAL, LIMIT (stopped: no bound) or INFEASIBLE. ``bound`` is a valid
    upper bound on the model's optimum (None unless a simplex/crossover optimum);
    ``x`` and ``duals`` are there whenever HiGHS has them (approximate after a limit or
    a first-order method).
    """

    status: str
    bound: float | None = None
    x: np.ndarray | None = None
    duals: np.ndarray | None = None
    seconds: float = 0.0


def relax(am: ArrayModel, time_limit: float | None = None, *, first_order: bool = False,
          arrays: HighsArrays | None = None) -> Relaxation:
    """Solve the LP relaxation of ``am`` (integrality dropped) within ``time_limit``.

    ``first_order`` uses HiGHS' PDLP (faster on large models; its value is then no
    bound); otherwise HiGHS' default LP solver, whose optimum is the bound.
    """
    import time

    import highspy

    t0 = time.perf_counter()
    arr = arrays if arrays is not None else highs_arrays(am)
    with quiet_stdout():
        h = highs_from_arrays(replace(arr, integrality=np.zeros_like(arr.integrality)))
    h.setOptionValue("output_flag", False)
    if first_order:
        h.setOptionValue("solver", "pdlp")
        h.setOptionValue("pdlp_d_gap_tol", 1e-5)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(0.1, float(time_limit)))
    h.run()
    st = h.getModelStatus()
    ms = highspy.HighsModelStatus
    seconds = time.perf_counter() - t0
    if st in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        return Relaxation(INFEASIBLE, seconds=seconds)
    sol = h.getSolution()
    if st != ms.kOptimal and not sol.dual_valid:
        return Relaxation(LIMIT, seconds=seconds)
    x = np.asarray(sol.col_value, float)
    pi = np.asarray(sol.row_dual, float)
    d = np.asarray(sol.col_dual, float)
    at_pi = am.matrix("csc").T @ pi
    if np.linalg.norm(am.cost + at_pi - d) < np.linalg.norm(am.cost - at_pi - d):
        pi = -pi
    if st != ms.kOptimal:  # duals of a stopped run still seed multipliers and prices
        return Relaxation(LIMIT, None, x, pi, seconds)
    value = float(h.getInfo().objective_function_value)
    return Relaxation(OPTIMAL, None if first_order else value, x, pi, seconds)


def priced_sales_values(am: ArrayModel, duals: np.ndarray,
                        roles: tuple[str, ...] = PRICED_ROLES) -> np.ndarray:
    """Per sales column: its unit profit less what it uses of the rows of ``roles``
    (floors and capacities, by the registry) at the LP's prices, ``c_s − Σ_i π_i a_is``.

    A unit sold towards a floor the LP finds binding is worth more than its margin,
    a unit using a scarce capacity less: the constructive plan's option values with
    these prices see the rules that a plain margin does not.
    """
    mask = np.zeros(am.n_rows)
    for name, cb in am.cons.items():
        fam = ROW.get(name)
        if fam is not None and fam.role in roles:
            mask[cb.start:cb.start + cb.n] = 1.0
    sb = am.vars[SALES.name]
    a = am.matrix("csc")[:, sb.start:sb.start + sb.n]
    return am.cost[sb.start:sb.start + sb.n] - a.T @ (duals * mask)
