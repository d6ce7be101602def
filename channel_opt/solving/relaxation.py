"""The LP relaxation of a model: its bound, its point and its row prices.

Two users: the decomposition starts its multipliers from the LP duals, and a solve
under a time limit (:func:`~channel_opt.solving.pipeline.solve`) reports the LP bound
when the solver stops before its own root bound and prices the floors and capacities
into the constructive plan's option values (:func:`priced_sales_values`).

The duals are returned in the sign that makes ``c − Aᵀπ`` the reduced costs of the
maximization, whatever sign convention HiGHS used.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..model.families.core import DEMAND, SALES
from ..model.linear import ArrayModel, HighsArrays, highs_arrays
from ..model.registry import ROW
from .check import check_rows
from .engines import LIMIT, OPTIMAL, engine_with
from .engines.highs import LpResult, solve_lp
from .memory import too_large

log = logging.getLogger(__name__)

PRICED_ROLES = ("floor", "capacity")  # the rows whose duals price a unit sold


@dataclass
class Relaxation:
    """``status``: OPTIMAL, LIMIT (stopped) or INFEASIBLE. ``bound`` is a valid upper
    bound on the model's optimum whenever HiGHS gave duals (:func:`dual_bound`, also
    after a limit or an approximate method; None without duals); ``x`` and ``duals``
    are there whenever HiGHS has them (approximate after a limit, from the interior
    point method without crossover, or from PDLP).
    """

    status: str
    bound: float | None = None
    x: np.ndarray | None = None
    duals: np.ndarray | None = None
    seconds: float = 0.0


def relax(am: ArrayModel, time_limit: float | None = None, *, method: str = "simplex",
          arrays: HighsArrays | None = None) -> Relaxation:
    """Solve the LP relaxation of ``am`` (integrality dropped) within ``time_limit`` by
    ``method`` (``simplex``, ``ipm`` or ``pdlp``:
    :func:`~channel_opt.solving.engines.highs.solve_lp`).

    The bound is the Lagrangian value of the duals HiGHS returns (:func:`dual_bound`),
    valid whatever their accuracy: the optimum of a simplex run, within the solver's
    tolerances of it after the interior point method, and still a bound (a weaker one)
    from a run stopped on its limit (HiGHS hands its last iterate back under a time
    limit: :func:`~channel_opt.solving.engines.highs.solve_lp`); of two concurrent
    runs stopped so, the lower bound is taken.

    Where the solver's copies would not fit in memory (:mod:`.memory`) the concurrent
    method runs the interior point alone, and where one copy does not fit the LP is
    not started (status LIMIT, no bound).
    """
    t0 = time.perf_counter()
    if method == "concurrent" and too_large(am.nnz, copies=2):
        method = "ipm"  # one copy fits where two do not: the method that scales
    why = too_large(am.nnz)
    if why:
        log.warning("LP relaxation not started: %s", why)
        return Relaxation(LIMIT)
    lp = solve_lp(arrays if arrays is not None else highs_arrays(am), time_limit,
                  method=method, rank=lambda r: _priced(am, r)[1])
    pi, bound = _priced(am, lp)
    if pi is None or lp.x is None:
        return Relaxation(lp.status, seconds=time.perf_counter() - t0)
    return Relaxation(lp.status, bound if math.isfinite(bound) else None, lp.x, pi,
                      time.perf_counter() - t0)


def _priced(am: ArrayModel, lp: LpResult) -> tuple[np.ndarray | None, float]:
    """The row prices of an LP run in the sign that makes ``c − Aᵀπ`` the reduced costs
    (whatever HiGHS' convention) and their bound (:func:`dual_bound`); no prices and
    an infinite bound for a run without duals.
    """
    if lp.row_dual is None or lp.col_dual is None:
        return None, math.inf
    pi = signed_duals(am.cost, am.matrix("csc").T @ lp.row_dual, lp.row_dual, lp.col_dual)
    return pi, dual_bound(am, pi)


def signed_duals(cost: np.ndarray, at_pi: np.ndarray, row_dual: np.ndarray,
                 col_dual: np.ndarray) -> np.ndarray:
    """HiGHS' row duals in the sign that makes ``c − Aᵀπ`` the reduced costs of the
    maximization (``at_pi``: ``Aᵀ`` times the row duals as HiGHS gave them).
    """
    if np.linalg.norm(cost + at_pi - col_dual) < np.linalg.norm(cost - at_pi - col_dual):
        return -row_dual
    return row_dual


def dual_bound(am: ArrayModel, pi: np.ndarray) -> float:
    """The Lagrangian bound of row prices ``pi``: an upper bound on the maximum of the
    LP relaxation (so of the MIP) for ANY ``pi``, exact or not.

    With the rows ``l ≤ Ax ≤ u`` priced and the column bounds ``lo ≤ x ≤ up`` kept,
    ``max cᵀx ≤ max_{lo≤x≤up} (c − Aᵀπ)ᵀx + max_{l≤r≤u} πᵀr``, each a sum of terms
    taken at a bound. A price that would need an infinite row side is set to 0 (any
    ``π`` is allowed); a column whose reduced cost needs an infinite bound makes the
    bound infinite, unless one row of the column bounds it there (:func:`_implied`:
    a commission, ``≥ 0`` with no bound of its own, is at most ``R̄`` through
    ``com ≤ R̄ pol``). At the LP's optimal duals it equals the LP optimum; from an
    interior point without crossover or a stopped run it is a little above it: a
    bound computed, not trusted from the solver's tolerances (the "safe dual bound" of
    Neumaier and Shcherbina, 2004).
    """
    row_lo, row_up = am.row_bounds()
    pi = _usable(pi, row_lo, row_up)
    d = am.cost - am.matrix("csc").T @ pi
    lo, up = am.bounds()
    # a reduced cost a hair off 0 (simplex tolerances: 50 demand scenarios of
    # `apparel`) on a side without a bound: the side a row implies
    open_up, open_lo = (d > 0) & ~np.isfinite(up), (d < 0) & ~np.isfinite(lo)
    if open_up.any() or open_lo.any():
        box = (lo, up, row_lo, row_up)
        lo, up = lo.copy(), up.copy()
        for j in np.flatnonzero(open_up):
            up[j] = _implied(am, int(j), box, upper=True)
        for j in np.flatnonzero(open_lo):
            lo[j] = _implied(am, int(j), box, upper=False)
    with np.errstate(invalid="ignore"):  # 0 · inf: a zero price or reduced cost adds 0
        cols = np.where(d > 0, d * up, np.where(d < 0, d * lo, 0.0))
        rows = np.where(pi > 0, pi * row_up, np.where(pi < 0, pi * row_lo, 0.0))
    return float(cols.sum() + rows.sum())


def _implied(am: ArrayModel, j: int,
             box: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], *,
             upper: bool) -> float:
    """The tightest bound on column ``j`` (its upper one if ``upper``, else its lower
    one) that a single row implies from its sides and the other columns' bounds:
    ``a_ij x_j ≤ u_i − Σ_{k≠j} min(a_ik x_k)`` and ``a_ij x_j ≥ l_i − Σ_{k≠j}
    max(a_ik x_k)`` (bound propagation, as a presolve does; every feasible point keeps
    it, so the Lagrangian bound over the tighter box stays valid). ±inf where no row
    gives one. ``box``: the column and row bounds of ``am`` (``lo, up, row_lo, row_up``).
    """
    csc, csr = am.matrix("csc"), am.matrix("csr")
    lo, up, row_lo, row_up = box
    best = math.inf if upper else -math.inf
    for i, a in zip(csc.indices[csc.indptr[j]:csc.indptr[j + 1]],
                    csc.data[csc.indptr[j]:csc.indptr[j + 1]], strict=True):
        if a == 0:
            continue
        ks = csr.indices[csr.indptr[i]:csr.indptr[i + 1]]
        coef = csr.data[csr.indptr[i]:csr.indptr[i + 1]]
        other = ks != j
        ks, coef = ks[other], coef[other]
        with np.errstate(invalid="ignore"):
            least = np.where(coef > 0, coef * lo[ks], coef * up[ks]).sum()
            most = np.where(coef > 0, coef * up[ks], coef * lo[ks]).sum()
        # a x_j <= u - least, and a x_j >= l - most; divided by a (its sign turns them)
        sides = [(row_up[i] - least, a > 0), (row_lo[i] - most, a < 0)]
        for rhs, gives_upper in sides:
            if not math.isfinite(rhs) or gives_upper != upper:
                continue
            value = float(rhs / a)
            best = min(best, value) if upper else max(best, value)
    return best


def _usable(pi: np.ndarray, row_lo: np.ndarray, row_up: np.ndarray) -> np.ndarray:
    """``pi`` with 0 where a price would need an infinite row side."""
    return np.where(((pi > 0) & ~np.isfinite(row_up)) | ((pi < 0) & ~np.isfinite(row_lo)),
                    0.0, pi)


# the row families a partial relaxation prices rather than holds: the demand rows tie
# each cell's sales to its offers, and with them priced at the product blocks' duals
# the LP of the rest is solved whole by the dual simplex in seconds. Measured at 10^4
# cells (seed 0, the blocks' bundle settled): `all` 14 s, within 0.02 % of the LP
# (17,440,225 against 17,436,603; the LP takes 115-250 s, the blocks' own bound
# 17,505,053), `conflict` 5 s, `partners` 2 s, `capacity` 4 s, all within 0.02 %
PRICED_ROWS = (DEMAND.name,)


def partial_relax(am: ArrayModel, pi: np.ndarray, time_limit: float | None = None,
                  priced: tuple[str, ...] = PRICED_ROWS) -> Relaxation:
    """The LP relaxation with the rows of the families ``priced`` moved into the
    objective at the prices ``pi`` (a vector over all rows, e.g. the product blocks'
    duals) and the rest of the LP solved whole by the dual simplex within ``time_limit``:
    a Lagrangian relaxation of those rows only.

    The bound is :func:`dual_bound` of ``pi`` on the priced rows and the LP's duals on
    the rest (the ``duals`` returned), so it is valid for any ``pi`` and also after a
    stopped run (no presolve under a limit: :func:`~.engines.highs.solve_lp`); at the
    optimum it is the value of the LP of the rest, at most ``dual_bound(pi)`` where
    ``pi`` is optimal for the rest given its prices on ``priced``. No point: that LP's
    need not meet the priced rows (the search from it ended lower than from the
    blocks', ``models/decomposition.md`` §7). Status LIMIT without a bound where the
    model has no rows of ``priced`` (that LP would be the whole LP).
    """
    t0 = time.perf_counter()
    mask = _rows_of(am, priced)
    if not mask.any() or too_large(am.nnz):
        return Relaxation(LIMIT, seconds=time.perf_counter() - t0)
    row_lo, row_up = am.row_bounds()
    held = np.flatnonzero(~mask)
    prices = np.where(mask, _usable(pi, row_lo, row_up), 0.0)
    cost = am.cost - am.matrix("csc").T @ prices
    rows = am.matrix("csr")[held]
    cols = np.unique(rows.indices)  # a column in no held row: at its best bound
    a = rows[:, cols].tocsc()
    lo, up = am.bounds()
    arrays = HighsArrays(len(cols), len(held), -1 if am.sense == "max" else 1, cost[cols],
                         lo[cols], up[cols], row_lo[held], row_up[held],
                         a.indptr.astype(np.int32), a.indices.astype(np.int32),
                         a.data.astype(np.float64), am.integrality()[cols],
                         f"{am.name} ({', '.join(priced)} priced)")
    lp = solve_lp(arrays, time_limit, method="simplex")
    if lp.row_dual is None or lp.col_dual is None:
        return Relaxation(lp.status, seconds=time.perf_counter() - t0)
    prices[held] = signed_duals(cost[cols], a.T @ lp.row_dual, lp.row_dual, lp.col_dual)
    bound = dual_bound(am, prices)
    return Relaxation(lp.status, bound if math.isfinite(bound) else None, None, prices,
                      time.perf_counter() - t0)


def _rows_of(am: ArrayModel, families: Iterable[str]) -> np.ndarray:
    """Per row of ``am``: whether it belongs to one of the row ``families``."""
    mask = np.zeros(am.n_rows, bool)
    for name in families:
        if (cb := am.cons.get(name)) is not None:
            mask[cb.start:cb.start + cb.n] = True
    return mask


def priced_sales_values(am: ArrayModel, duals: np.ndarray,
                        roles: tuple[str, ...] | None = PRICED_ROLES) -> np.ndarray:
    """Per sales column: its unit profit less what it uses of the rows of ``roles``
    (floors and capacities, by the registry; None: every row, for prices that are
    0 outside the rows they price) at the LP's prices, ``c_s − Σ_i π_i a_is``.

    A unit sold towards a floor the LP finds binding is worth more than its margin,
    a unit using a scarce capacity less: the constructive plan's option values with
    these prices see the rules that a plain margin does not.
    """
    if roles is not None:
        duals = duals * _rows_of(am, [f.name for f in ROW.values() if f.role in roles])
    sb = am.vars[SALES.name]
    a = am.matrix("csc")[:, sb.start:sb.start + sb.n]
    return am.cost[sb.start:sb.start + sb.n] - a.T @ duals


def lp_method(am: ArrayModel) -> str:
    """The LP method for a relaxation of ``am``: the dual simplex up to
    ``CONCURRENT_FROM_COLUMNS`` columns, above it simplex and interior point side by
    side (``concurrent``), since which is faster depends on the instance (10^3 cells of
    `capacity`, 13,581 columns: simplex 2.6 s, IPM 6.4 s; 10^4 cells, 154,246 columns:
    simplex 171 s, IPM 66 s; `conflict` at 10^4: simplex 47 s, IPM 82-141 s).
    """
    return "concurrent" if am.n_cols >= CONCURRENT_FROM_COLUMNS else "simplex"


CONCURRENT_FROM_COLUMNS = 50_000
INTEGRAL = 1e-6  # an LP value this close to an integer counts as integral


def rounded_plan(am: ArrayModel, x_lp: np.ndarray, time_limit: float | None,
                 mip_gap: float = 1e-4, incumbent: np.ndarray | None = None
                 ) -> np.ndarray | None:
    """A plan from the LP point: every integer column the LP sets integral is fixed
    there and the MIP of the rest is solved (relaxation enforced neighbourhood search,
    RENS: Berthold 2014). Where the LP is nearly integral (the rules of this model at
    scale, issue 13: 1,760 fractional of 121,132 integer columns at 10^4 cells of
    `capacity`) the sub-MIP is small and its plan close to the LP bound.

    The fixings can leave no integer completion (a simplex vertex of `apparel` at 10^4
    cells did, where the interior point's point did not: a floor the LP meets with
    fractional offers that no integral choice among its nonzero ones meets). Then,
    given an ``incumbent`` (a feasible plan), two wider neighbourhoods in turn, in what
    is left of ``time_limit``:

    * only the columns the LP sets integral above their lower bound are fixed (a
      listing, a level, an offer the LP takes whole): every column at 0 is free, so
      what the LP leaves out can come back, within half of what is left;
    * only the columns where the LP and the incumbent agree are fixed and the
      incumbent is the start (RINS: Danna, Rothberg and Le Pape 2005): a sub-MIP that
      always has a plan.

    On generated `apparel` at 10^4 cells (seeds 0, 1, 3, 4, 5) RENS had no plan on
    four; the first of the two took 1.7-3.5 s to a plan within 0.2 % of the LP bound,
    RINS 0.9-9.7 s (benchmarks/README.md, *The LP's ones before RINS*).

    None when none finds a plan within ``time_limit``.
    """
    t0 = time.monotonic()
    integer = am.integrality().astype(bool)
    lo, up = am.bounds()
    value = np.clip(np.rint(x_lp), lo, up)
    integral = integer & (np.abs(x_lp - value) <= INTEGRAL)
    session = engine_with("in_memory").session(am)

    def left() -> float | None:
        return None if time_limit is None else time_limit - (time.monotonic() - t0)

    def within(fixed: np.ndarray, limit: float | None) -> np.ndarray | None:
        cols = np.flatnonzero(fixed)
        session.set_col_bounds(cols, value[cols], value[cols])
        x = session.solve(time_limit=limit, mip_gap=mip_gap).x
        session.set_col_bounds(cols, lo[cols], up[cols])  # the same model, fixings undone
        return x

    x = within(integral, time_limit)
    rest = left()
    if x is not None or incumbent is None or (rest is not None and rest < 0.5):
        return x
    ones = integral & (value > lo)
    if ones.any():  # (none: the whole model)
        log.info("no plan from the LP's integral values: fixing only those above their "
                 "lower bounds")
        x = within(ones, None if rest is None else 0.5 * rest)
        rest = left()
        if x is not None or (rest is not None and rest < 0.5):
            return x
    log.info("no plan from the LP's nonzero integral values: fixing where the LP and "
             "the incumbent agree")
    session.set_start(incumbent)
    return within(integral & (np.abs(incumbent - value) <= INTEGRAL), rest)


def lp_phase(am: ArrayModel, time_limit: float | None, mip_gap: float,
             lp_share: float = 0.8, incumbent: np.ndarray | None = None
             ) -> tuple[Relaxation, np.ndarray | None]:
    """The LP relaxation within ``lp_share`` of ``time_limit`` (by :func:`lp_method`),
    then the plan rounded from it (:func:`rounded_plan`, near ``incumbent`` if that
    fails) in what is left: the bound and
    the plan a run gets before (or instead of) the MIP solver at scale. The plan is
    None when the LP did not finish, no time is left, or the rounding found none; it
    passes the row check otherwise.
    """
    t0 = time.monotonic()
    rel = relax(am, time_limit=None if time_limit is None else lp_share * time_limit,
                method=lp_method(am))
    log.info("LP relaxation (%s): %s in %.1f s%s", lp_method(am), rel.status, rel.seconds,
             "" if rel.bound is None else f", bound {rel.bound:,.2f}")
    left = None if time_limit is None else time_limit - (time.monotonic() - t0)
    if rel.status != OPTIMAL or rel.x is None or (left is not None and left < 0.5):
        return rel, None
    # a tenth of the run's gap: the rounded MIP's own bound is below the LP bound, and
    # at the run's gap its plan would end near the run's gap from the LP bound
    x = rounded_plan(am, rel.x, left, max(1e-6, 0.1 * mip_gap), incumbent)
    if x is None or check_rows(am, x):
        return rel, None
    log.info("plan rounded from the LP: %s", f"{float(am.cost @ x):,.2f}")
    return rel, x
