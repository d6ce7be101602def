"""The LP relaxation of a model: its bound, its point and its row prices.

Two users: the decomposition starts its multipliers from the LP duals, and a solve
under a time limit (:func:`~channel_opt.solving.pipeline.solve`) reports the LP bound
when the solver stops before its own root bound and prices the floors and capacities
into the constructive plan's option values (:func:`priced_sales_values`).

The duals are returned in the sign that makes ``c − Aᵀπ`` the reduced costs of the
maximization, whatever sign convention HiGHS used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..model.families.core import SALES
from ..model.linear import ArrayModel, HighsArrays, highs_arrays
from ..model.registry import ROW
from .engines import OPTIMAL
from .engines.highs import solve_lp

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
    t0 = time.perf_counter()
    lp = solve_lp(arrays if arrays is not None else highs_arrays(am), time_limit,
                  first_order=first_order)
    seconds = time.perf_counter() - t0
    if lp.x is None or lp.row_dual is None or lp.col_dual is None:
        return Relaxation(lp.status, seconds=seconds)
    pi = lp.row_dual
    at_pi = am.matrix("csc").T @ pi
    if np.linalg.norm(am.cost + at_pi - lp.col_dual) < \
            np.linalg.norm(am.cost - at_pi - lp.col_dual):
        pi = -pi
    # duals of a stopped run (or of PDLP) still seed multipliers and prices; no bound
    bound = lp.value if lp.status == OPTIMAL and not first_order else None
    return Relaxation(lp.status, bound, lp.x, pi, seconds)


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
