"""The PH sub-problems as mpi-sppy's "AML-agnostic" guest: solved by HiGHS from arrays.

mpi-sppy keeps, for every sub-problem, a Pyomo model of its own (the *host*) and a
*guest*: the model in another form, with callouts that mpi-sppy makes by the names of
its own methods (``mpisppy.agnostic``; its AMPL, GAMS and Pyomo guests are the
examples). Here the guest of a sub-problem is its extensive form as HiGHS arrays
(:class:`~channel_opt.model.linear.HighsArrays`), and the host holds only the
first-stage variables, one per design column, in column order. PH's weights ``W``,
penalties ``rho``, averages ``xbar`` and switches ``W_on`` / ``prox_on`` live on the
host (``_mpisppy_model``) and are read at each solve, as are the fixings the xhat spoke
makes on the host's variables: the callouts that only switch them have nothing to do.

Why: a full Pyomo model of an apparel-sized sub-problem (64,502 columns for a bundle
of five scenarios) took 134 MB and its APPSI HiGHS copy more; three cylinders of 40
of them ran out of 24 GB (measured: a rank killed at 7.13 GB during set-up). The
guest's arrays of the same bundle are a few MB, and HiGHS holds one model at a time.

The objective mpi-sppy solves, for a profit ``f`` to maximize, is
``f(x) - W_on * W.x - prox_on * sum(rho_i / 2 * (x_i - xbar_i)^2)``. HiGHS solves no
MIQP, so each square is replaced by its secant over the variable's bounds
``[l, u]``: ``x^2 <= (l + u) x - l u``, exact at both bounds (for a binary, at 0 and
1, mpi-sppy's own linearization of binary prox terms) and above the square between
them. The proximal term only steers PH; the bounds (with ``prox_on`` 0) and the plan
values (with neither term) are those of the model itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..model.linear import HighsArrays, highs_from_arrays
from .engines.highs import highs_threads

# HiGHS' option for each of mpi-sppy's solver options (canonical or translated)
_OPTIONS = {"mipgap": "mip_rel_gap", "mip_rel_gap": "mip_rel_gap", "threads": "threads",
            "time_limit": "time_limit"}


@dataclass
class SubProblem:
    """One PH sub-problem: its arrays, where its first-stage variables are, and the
    plan its next solve starts from.
    """

    arrays: HighsArrays
    nonant: np.ndarray  # the column of each first-stage variable, in the host's order
    x: np.ndarray | None = None  # the start plan, then the last solution (MIP start)


def host_model(name: str, sub: SubProblem, probability: float) -> Any:
    """mpi-sppy's Pyomo model of a sub-problem: its first-stage variables (``x``, with
    the columns' bounds, integrality and start values) under an empty objective of the
    model's sense (mpi-sppy adds its terms to it), the root node and the probability.
    """
    import pyomo.environ as pyo
    from mpisppy.utils import sputils

    arr = sub.arrays
    lo, up = arr.col_lower[sub.nonant], arr.col_upper[sub.nonant]
    integer = arr.integrality[sub.nonant] == 1
    s = pyo.ConcreteModel(name)
    s.x = pyo.Var(range(len(sub.nonant)), dense=True)
    for i, v in s.x.items():
        v.domain = (pyo.Binary if lo[i] >= 0 and up[i] <= 1 else pyo.Integers) \
            if integer[i] else pyo.Reals
        v.setlb(float(lo[i]))
        v.setub(float(up[i]))
        if sub.x is not None:
            v.set_value(float(sub.x[sub.nonant[i]]), skip_validation=True)
    s.obj = pyo.Objective(expr=0.0, sense=pyo.maximize if arr.sense < 0 else pyo.minimize)
    sputils.attach_root_node(s, s.obj, [s.x])
    s._mpisppy_probability = probability
    s._array_sub = sub
    return s


class ArrayGuest:
    """The callouts of mpi-sppy's agnostic mode (``Agnostic(ArrayGuest(), cfg)``)."""

    def solve_one(self, Ag: Any, s: Any, solve_keyword_args: dict[str, Any], gripe: bool,
                  tee: bool = False, need_solution: bool = True) -> None:
        """Solve sub-problem ``s`` with HiGHS; leave what mpi-sppy reads on ``s``:
        ``solution_available``, ``outer_bound`` (HiGHS' dual bound), ``inner_bound``
        (the objective of its solution) and the first-stage values on ``s.x``.
        """
        sub: SubProblem = s._array_sub
        arr = sub.arrays
        nz = sub.nonant
        host = list(s.x.values())  # in the order of sub.nonant
        cost, offset = ph_objective(s, arr, nz)
        lo, up = arr.col_lower.copy(), arr.col_upper.copy()
        fixed = np.array([v.fixed for v in host], bool)
        if fixed.any():
            at = np.array([v.value for v, f in zip(host, fixed, strict=True) if f], float)
            # a candidate from a MIP solution may be a hair off its integer
            at = np.where(arr.integrality[nz[fixed]] == 1, np.round(at), at)
            lo[nz[fixed]] = up[nz[fixed]] = at
        h = highs_from_arrays(replace(arr, cost=cost, col_lower=lo, col_upper=up),
                              offset=offset)
        for key, value in s._solver_plugin.options.items():
            if key in _OPTIONS:
                h.setOptionValue(_OPTIONS[key], int(value) if key == "threads"
                                 else float(value))
                if key == "threads":  # HiGHS' scheduler is sized by its first run
                    highs_threads(int(value))
        integer = bool(arr.integrality.any())
        if integer and solve_keyword_args.get("warmstart") and sub.x is not None:
            start = np.clip(sub.x, lo, up)
            h.setSolution(arr.n_cols, np.arange(arr.n_cols, dtype=np.int32), start)
        h.run()
        info = h.getInfo()
        data = s._mpisppy_data
        if info.primal_solution_status != 2:  # no feasible solution
            data.solution_available = False
            if gripe:
                print(f"HiGHS found no solution of sub-problem {s.name}: "
                      f"{h.modelStatusToString(h.getModelStatus())}")
            return
        x = np.asarray(h.getSolution().col_value, float)
        objective = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if integer else objective
        sub.x = x
        for v, val in zip(host, x[nz].tolist(), strict=True):
            if not v.fixed:
                v.set_value(val, skip_validation=True)
        data.solution_available = True
        data.inner_bound = objective
        data.outer_bound = bound

    # mpi-sppy's switches and fixings are on the host, read by solve_one: nothing to do
    def attach_Ws_and_prox(self, Ag: Any, sname: str, scenario: Any) -> None:
        """W, rho and the switches are the host's (``_mpisppy_model``)."""

    def attach_PH_to_objective(self, Ag: Any, sname: str, scenario: Any, add_duals: bool,
                               add_prox: bool) -> None:
        """The terms are added at each solve (:func:`ph_objective`)."""

    def _disable_prox(self, Ag: Any, scenario: Any) -> None:
        """``prox_on`` is read at the solve."""

    def _disable_W(self, Ag: Any, scenario: Any) -> None:
        """``W_on`` is read at the solve."""

    def _reenable_prox(self, Ag: Any, scenario: Any) -> None:
        """``prox_on`` is read at the solve."""

    def _reenable_W(self, Ag: Any, scenario: Any) -> None:
        """``W_on`` is read at the solve."""

    def _restore_nonants(self, Ag: Any, s: Any) -> None:
        """The host's values and fixings are read at the solve."""

    def _restore_original_fixedness(self, Ag: Any, s: Any) -> None:
        """The host's fixings are read at the solve."""

    def _fix_nonants(self, Ag: Any, s: Any) -> None:
        """The host's fixings are read at the solve."""

    def _fix_root_nonants(self, Ag: Any, s: Any) -> None:
        """The host's fixings are read at the solve."""


def ph_objective(s: Any, arr: HighsArrays, nz: np.ndarray) -> tuple[np.ndarray, float]:
    """The cost vector and constant of the objective mpi-sppy asks for on host ``s``:
    the model's own, less (for a maximization; plus for a minimization) ``W.x`` when
    ``W_on`` and the secant form of the proximal term when ``prox_on``.
    """
    cost = arr.cost.copy()
    offset = 0.0
    m = getattr(s, "_mpisppy_model", None)
    if m is None or not hasattr(m, "W"):  # a model without PH terms (the xhat spoke's)
        return cost, offset
    sign = -1.0 if arr.sense < 0 else 1.0
    keys = list(s._mpisppy_data.nonant_indices)
    if m.W_on.value:
        w = np.array([m.W[k].value for k in keys], float)
        cost[nz] += sign * w
    if m.prox_on.value:
        rho = np.array([m.rho[k].value for k in keys], float)
        xbar = np.array([m.xbars[k].value for k in keys], float)
        lo, up = arr.col_lower[nz], arr.col_upper[nz]
        if not (np.isfinite(lo).all() and np.isfinite(up).all()):
            raise ValueError("a first-stage variable without finite bounds: the proximal "
                             "term has no secant")
        cost[nz] += sign * rho / 2.0 * (lo + up - 2.0 * xbar)
        offset += sign * float(np.sum(rho / 2.0 * (xbar * xbar - lo * up)))
    return cost, offset
