"""Region decomposition: a Lagrangian bound and plans built region by region.

The math is in ``models/decomposition.md``. In short: the model splits into a master
(global columns, master rows) and one MIP per region (its columns, its rows, and
copies ``y^r`` of the global columns those rows use). The copy constraints
``y^r = z`` are dualized with free multipliers ``λ_r``; the coupling rows (several
regions in one row) with sign-constrained multipliers ``μ``. For any multipliers
``L(λ, μ) = master + Σ_r region_r + Σ_i (up_i μ_i⁺ − lo_i μ_i⁻)`` is an upper bound on
the optimum when every piece contributes a valid upper bound of its own (its MIP dual
bound). Multipliers start from the LP relaxation's duals (``L`` then equals the LP
bound or better) and follow the subgradient method with the Polyak step.

Plans: three candidates for the global decisions (the regions' wishes projected onto
the master rows, the Lagrangian master's choice, the LP solution rounded) are fixed,
the regions re-solved with the coupling rows priced by ``μ``, and an LP over the
continuous columns with every integer column fixed repairs the coupling rows (a short
MIP of the whole model with the global decisions fixed when the LP cannot).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..executor import Executor, get_executor
from ..model.linear import ArrayModel, HighsArrays, highs_arrays
from .backends import (
    INFEASIBLE,
    LIMIT,
    OPTIMAL,
    TIME_LIMIT,
    RawResult,
    SolveOptions,
    relative_gap,
)
from .check import check_rows
from .decompose_parts import (
    COUPLING,
    MASTER,
    Piece,
    PieceResult,
    PieceTask,
    Split,
    build_pieces,
    classify,
    solve_piece,
    with_cost,
)
from .relaxation import Relaxation, lp_method, relax, rounded_plan

log = logging.getLogger(__name__)

SERIAL_BELOW_COLUMNS = 20_000  # smaller models solve their regions in this process


@dataclass
class DecomposeSettings:
    """Knobs of the multiplier method (defaults measured on the benchmark families)."""

    max_iterations: int = 200
    # Polyak step factor, halved after `patience` non-improving steps; from the LP duals
    # the start is near the Lagrangian dual's optimum and long steps only leave it
    # (measured on conflict, 10^3 cells: α = 1 lost 0.5 % of bound per step)
    alpha: float = 1.0
    alpha_from_lp: float = 0.25
    patience: int = 3
    alpha_min: float = 1e-3
    plan_every: int = 3  # build a plan every so many iterations (and at the first)
    piece_gap: float | None = None  # relative gap of the region MIPs (default mip_gap/10)


@dataclass
class Trace:
    """One line of progress per iteration."""

    iteration: int
    bound: float | None  # L(λ, μ) of this iteration (None: a piece gave no bound)
    best_bound: float
    best_plan: float | None
    gap: float | None
    alpha: float
    seconds: float


@dataclass
class _State:
    lam: list[np.ndarray]
    mu: np.ndarray
    best_bound: float = math.inf
    bound_origin: str = "none"
    best_x: np.ndarray | None = None
    best_obj: float = -math.inf
    plan_origin: str = "none"
    trace: list[Trace] = field(default_factory=list)


class Decomposition:
    """The split model, its coupling rows and the multiplier loop."""

    def __init__(self, am: ArrayModel, split: Split | None = None) -> None:
        self.am = am
        self.split = split or classify(am)
        self.master, self.pieces = build_pieces(am, self.split)
        a = am.matrix("csr")
        self.k_rows = self.split.rows_of(COUPLING)
        self.a_k = a[self.k_rows]
        rlo, rup = am.row_bounds()
        self.k_lo, self.k_up = rlo[self.k_rows], rup[self.k_rows]
        self.cost = am.cost
        self.integer = am.integrality().astype(bool)
        self._full: HighsArrays | None = None
        self.deadline: float | None = None  # time.monotonic() by which every piece stops
        self.repairs = 0  # plans whose coupling rows the regions broke and a repair fixed
        # column vectors whose global decisions are offered to the regions in every plan
        # (the LP relaxation's support, the constructive plan)
        self.hints: list[np.ndarray] = []
        self.lp_x: np.ndarray | None = None  # the LP relaxation's solution, once solved

    # ------------------------------------------------------------ multipliers
    def project_mu(self, mu: np.ndarray) -> np.ndarray:
        """μ ≥ 0 on rows with only an upper side, ≤ 0 with only a lower side (a max
        problem), free on ranged and equality rows.
        """
        mu = mu.copy()
        mu[~np.isfinite(self.k_lo)] = np.maximum(mu[~np.isfinite(self.k_lo)], 0.0)
        mu[~np.isfinite(self.k_up)] = np.minimum(mu[~np.isfinite(self.k_up)], 0.0)
        return mu

    def constant(self, mu: np.ndarray) -> float:
        """``Σ up_i μ_i⁺ + lo_i min(μ_i, 0)``: the dualized rows' right-hand sides."""
        pos, neg = np.maximum(mu, 0.0), np.minimum(mu, 0.0)
        return float(np.dot(np.where(pos > 0, self.k_up, 0.0), pos)
                     + np.dot(np.where(neg < 0, self.k_lo, 0.0), neg))

    def adjusted_cost(self, mu: np.ndarray) -> np.ndarray:
        """``c − A_Kᵀ μ``: every column's objective with the coupling rows priced."""
        return self.cost - self.a_k.T @ mu if len(mu) else self.cost.copy()

    def zero_multipliers(self) -> tuple[list[np.ndarray], np.ndarray]:
        """λ = 0, μ = 0."""
        return [np.zeros(len(p.copies)) for p in self.pieces], np.zeros(len(self.k_rows))

    def multipliers_from_costs(self) -> tuple[list[np.ndarray], np.ndarray]:
        """μ = 0 and every global column's cost split evenly over the regions that copy
        it (λ_r = c_g / n_g): each region pays its share of a listing, an opening or a
        launch, and the master column costs nothing. The start when there are no LP
        duals (the LP did not finish in its time): with λ = 0 every region would use
        every global decision for free, and the bound is about the cheap one.
        """
        n_copies = np.zeros(self.am.n_cols)
        for p in self.pieces:
            np.add.at(n_copies, p.copies, 1.0)
        lam = [self.cost[p.copies] / n_copies[p.copies] for p in self.pieces]
        return lam, np.zeros(len(self.k_rows))

    def multipliers_from_duals(self, pi: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """λ_r = A_{r,copies}ᵀ π_r and μ = π on the coupling rows: with these the
        Lagrangian of the LP relaxation equals the LP bound.
        """
        a = self.am.matrix("csr")
        lam = []
        for p in self.pieces:
            rows = p.rows
            lam.append(np.asarray(a[rows][:, p.copies].T @ pi[rows]).ravel()
                       if len(p.copies) else np.zeros(0))
        return lam, self.project_mu(pi[self.k_rows])

    def full_arrays(self) -> HighsArrays:
        """The whole model as HiGHS arrays (built once)."""
        if self._full is None:
            self._full = highs_arrays(self.am)
        return self._full

    def lp_duals(self, time_limit: float | None, rel: Relaxation | None = None
                 ) -> tuple[str, float | None, np.ndarray | None]:
        """Status, bound and row duals of the LP relaxation (duals in the sign that makes
        ``c − Aᵀπ`` the reduced costs; :func:`~channel_opt.solving.relaxation.relax`).

        Large relaxations are solved by the interior point method
        (:func:`~channel_opt.solving.relaxation.lp_method`; PDLP, used before, took 98 s
        where the simplex took 2.6 s at 10^3 cells of `capacity`): its approximate
        duals still give a bound (:func:`~channel_opt.solving.relaxation.dual_bound`)
        and seed the multipliers.
        Duals of a run stopped on its limit are a start too. ``rel``: the relaxation
        the caller already solved (the pipeline's, under a time limit), not solved again.
        """
        if rel is None or rel.x is None:
            rel = relax(self.am, time_limit, arrays=self.full_arrays(),
                        method=lp_method(self.am))
        if rel.status == INFEASIBLE:
            return INFEASIBLE, None, None
        if rel.x is not None:
            self.lp_x = rel.x
            self.hints.append(rel.x)
        return rel.status, rel.bound, rel.duals

    # ------------------------------------------------------------ one Lagrangian
    def lagrangian_tasks(self, lam: list[np.ndarray], mu: np.ndarray, adj: np.ndarray,
                         limit: float | None, gap: float,
                         starts: list[np.ndarray | None]) -> list[PieceTask]:
        """Master task then one task per region for the multipliers (λ, μ)."""
        lam_sum = np.zeros(self.am.n_cols)
        for p, lr in zip(self.pieces, lam, strict=True):
            np.add.at(lam_sum, p.copies, lr)
        m = self.master
        tasks = [PieceTask(with_cost(m, adj[m.cols] - lam_sum[m.cols]), limit, gap,
                           start=starts[0])]
        for p, lr, s in zip(self.pieces, lam, starts[1:], strict=True):
            tasks.append(PieceTask(with_cost(p, np.concatenate([adj[p.cols], lr])), limit,
                                   gap, start=s))
        return tasks

    def timed(self, task: PieceTask) -> PieceTask:
        """The task with the decomposition's deadline."""
        return replace(task, deadline=self.deadline)

    def evaluate(self, ex: Executor, lam: list[np.ndarray], mu: np.ndarray,
                 limit: float | None, gap: float,
                 starts: list[np.ndarray | None] | None = None
                 ) -> tuple[float | None, list[PieceResult], np.ndarray]:
        """``L(λ, μ)`` (None when a piece gave no bound; -inf when one is infeasible),
        the pieces' results (master first) and the priced costs ``c − A_Kᵀμ``.
        """
        adj = self.adjusted_cost(mu)
        tasks = self.lagrangian_tasks(lam, mu, adj, limit, gap,
                                      starts or [None] * (len(self.pieces) + 1))
        tasks = [replace(t, deadline=self.deadline, threads=1 if ex.workers > 1 else None)
                 for t in tasks]
        res = ex.map(solve_piece, tasks, labels=["master"] + [p.name for p in self.pieces],
                     progress=_quiet)
        if any(r.status == "infeasible" for r in res):
            return -math.inf, res, adj
        bounds = [r.bound for r in res]
        if any(b is None for b in bounds):
            return None, res, adj
        return float(sum(b for b in bounds if b is not None)) + self.constant(mu), res, adj

    def assemble(self, z: np.ndarray, results: list[PieceResult]) -> np.ndarray:
        """The full column vector: global columns from ``z``, regional ones from the
        regions' own columns (copies dropped).
        """
        x = np.zeros(self.am.n_cols)
        x[self.master.cols] = z
        for p, res in zip(self.pieces, results, strict=True):
            assert res.x is not None
            x[p.cols] = res.x[:p.n_own]
        return x

    def subgradient(self, mu: np.ndarray, x: np.ndarray,
                    results: list[PieceResult]) -> tuple[list[np.ndarray], np.ndarray]:
        """∂L/∂λ_r = y^r − z, ∂L/∂μ = rhs − A_K x (the side μ's sign selects), with
        components that would push μ out of its sign set zeroed.
        """
        g_lam = []
        for p, res in zip(self.pieces, results, strict=True):
            assert res.x is not None
            g_lam.append(res.x[p.n_own:] - x[p.copies])
        ax = self.a_k @ x if len(mu) else np.zeros(0)
        g_up = np.where(np.isfinite(self.k_up), self.k_up - ax, np.inf)
        g_lo = np.where(np.isfinite(self.k_lo), self.k_lo - ax, -np.inf)
        g = np.where(mu > 0, g_up, np.where(mu < 0, g_lo, 0.0))
        at0 = mu == 0  # a violated side opens it; a slack side keeps μ at 0
        g = np.where(at0 & (g_up < 0), g_up, g)
        g = np.where(at0 & (g_lo > 0), g_lo, g)
        g = np.where(np.isfinite(g), g, 0.0)
        return g_lam, g

    # ------------------------------------------------------------ plans
    def project_globals(self, adj: np.ndarray, z: np.ndarray, results: list[PieceResult],
                        limit: float | None, wishes: np.ndarray | None = None
                        ) -> np.ndarray | None:
        """Global decisions the regions want, made to satisfy the master rows: the
        master MIP maximizing ``M · (Σ_r y^r + z/2) + c`` (``M`` above every cost).
        """
        want = np.zeros(self.am.n_cols)
        if wishes is not None:  # given (the rounded LP solution)
            want += wishes
        else:
            for p, res in zip(self.pieces, results, strict=True):
                if res.x is not None and len(p.copies):
                    np.add.at(want, p.copies, used_copies(p, res.x))
            for h in self.hints:
                want += h > 1e-6
        m = self.master
        base = adj[m.cols]
        big = float(np.abs(base).sum()) + 1.0
        obj = big * want[m.cols] + base
        cont = ~self.integer[m.cols]
        obj[cont] = base[cont]
        res = solve_piece(self.timed(PieceTask(with_cost(m, obj), limit, 1e-9)))
        return None if res.x is None else res.x

    def plan(self, ex: Executor, adj: np.ndarray, z: np.ndarray,
             lag: list[PieceResult], limit: float | None, gap: float) -> np.ndarray | None:
        """A feasible plan from the global decisions, or None.

        Three candidates for the global decisions, re-solved in one batch: the
        regions' wishes projected onto the master rows (every wish granted where the
        rows allow), the Lagrangian master's own choice ``z`` (which weighs a
        decision's cost, e.g. a brand launch, against what the multipliers say the
        regions gain), and the LP relaxation's solution rounded at 1/2 and projected.
        Regions are re-solved with the decisions fixed; the better checked plan wins.
        """
        zw = self.project_globals(adj, z, lag, limit)
        zr = None if self.lp_x is None else self.project_globals(
            adj, z, lag, limit, wishes=(self.lp_x >= 0.5).astype(float))
        cands = [c for c in (zw, np.rint(z), zr) if c is not None]
        threads = 1 if ex.workers > 1 else None
        tasks = []
        for zg in cands:
            zfull = np.zeros(self.am.n_cols)
            zfull[self.master.cols] = zg
            tasks += [PieceTask(with_cost(p, np.concatenate([adj[p.cols],
                                                             np.zeros(len(p.copies))]),
                                          fix_copies=zfull[p.copies]), limit, gap,
                                threads=threads, deadline=self.deadline)
                      for p in self.pieces]
        res = ex.map(solve_piece, tasks, labels=[t.arrays.name for t in tasks],
                     progress=_quiet)
        n = len(self.pieces)
        best: np.ndarray | None = None
        for k, zg in enumerate(cands):
            variant = res[k * n:(k + 1) * n]
            if any(r.x is None for r in variant):
                continue
            x: np.ndarray | None = self.assemble(zg, variant)
            if len(self.k_rows) and x is not None:
                x = self.repair(x, zg, limit)
            if x is None:
                continue
            x = self.drop_unused(x)
            if not check_rows(self.am, x) and (
                    best is None or float(self.cost @ x) > float(self.cost @ best)):
                best = x
        return best

    def drop_unused(self, x: np.ndarray) -> np.ndarray:
        """Global decisions offered to the regions but used by none switched off: those
        in no row with a nonzero regional column, free or with a cost, kept where a
        master row needs them (a listing of a used level, the brand of a listing).
        """
        a = self.am.matrix("csc")
        glob = self.master.cols
        on = glob[(np.rint(x[glob]) > 0.5) & (self.cost[glob] <= 0) & self.integer[glob]
                  & (self.am.bounds()[0][glob] <= 0)]
        if not len(on):
            return x
        regional = self.split.col_key >= 0
        row_busy = (abs(a[:, regional]) @ np.abs(x[regional])) > 1e-9
        off = on[~((abs(a[:, on]).T @ row_busy.astype(float)) > 0)]
        rows = self.split.rows_of(MASTER)
        am_rows = self.am.matrix("csr")[rows]
        rlo, rup = self.am.row_bounds()
        lo, up = rlo[rows], rup[rows]
        for _ in range(10):  # put back what a broken master row needs, until none breaks
            if not len(off):
                return x
            y = x.copy()
            y[off] = 0.0
            ax = am_rows @ y
            bad = (ax > up + 1e-9) | (ax < lo - 1e-9)
            if not bad.any():
                return y if not check_rows(self.am, y) else x
            need = np.unique(am_rows[np.flatnonzero(bad)].indices)
            off = np.setdiff1d(off, need)
        return x

    def repair(self, x: np.ndarray, zg: np.ndarray, limit: float | None) -> np.ndarray | None:
        """The coupling rows made to hold: an LP over the continuous columns with every
        integer column fixed; if that is infeasible, a short MIP of the whole model with
        the global decisions fixed (started from ``x``).
        """
        arr = self.full_arrays()
        lo, up = arr.col_lower.copy(), arr.col_upper.copy()
        xi = np.rint(x)
        lo[self.integer] = up[self.integer] = xi[self.integer]
        ax = self.a_k @ x
        if np.any(ax > self.k_up + 1e-7 * np.maximum(1.0, np.abs(self.k_up))) or \
                np.any(ax < self.k_lo - 1e-7 * np.maximum(1.0, np.abs(self.k_lo))):
            self.repairs += 1
        lp = solve_piece(self.timed(PieceTask(replace(arr, col_lower=lo, col_upper=up,
                                           integrality=np.zeros_like(arr.integrality)),
                                   limit, 1e-9)))
        if lp.status == "optimal" and lp.x is not None:
            out = lp.x.copy()
            out[self.integer] = xi[self.integer]
            return out
        lo, up = arr.col_lower.copy(), arr.col_upper.copy()
        g = self.master.cols[self.integer[self.master.cols]]
        lo[g] = up[g] = np.rint(zg[self.integer[self.master.cols]])
        mip = solve_piece(self.timed(PieceTask(replace(arr, col_lower=lo, col_upper=up),
                                    None if limit is None else 0.5 * limit, 1e-4, start=x)))
        return mip.x


def used_copies(p: Piece, x: np.ndarray) -> np.ndarray:
    """1 where the region's copy is on *and* used: it shares a row with a nonzero
    column of the region (an offer needing the level, say); a copy left on where
    nothing of the region needs it is no wish for the global decision.
    """
    arr = p.arrays
    import scipy.sparse as sp

    a = sp.csc_matrix((np.abs(arr.value), arr.index, arr.start),
                      shape=(arr.n_rows, arr.n_cols))
    active = (a[:, :p.n_own] @ np.abs(x[:p.n_own])) > 1e-9
    touched = (a[:, p.n_own:].T @ active.astype(float)) > 0
    return (np.rint(x[p.n_own:]) > 0.5) & touched


def _quiet(done: int, total: int) -> None:
    """Region batches report through the iteration line, not per task."""


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def decompose(am: ArrayModel, opts: SolveOptions, *, workers: int | None = None,
              executor: Executor | None = None,
              settings: DecomposeSettings | None = None,
              relaxation: Relaxation | None = None) -> RawResult:
    """Solve ``am`` by region decomposition; the result reads like a backend's.

    ``opts.start`` (the constructive plan), when it passes the row check, is the first
    incumbent. ``opts.mip_gap`` stops the loop; ``opts.deadline``/``time_limit`` bound it.
    ``extra`` holds the method, iterations, trace, LP bound and the bound's origin.
    ``relaxation``: the LP relaxation, if the caller has solved it already.
    """
    from .backends import HighsBackend

    cfg = settings or DecomposeSettings()
    t_start = time.perf_counter()
    deadline = opts.deadline if opts.deadline is not None else (
        None if opts.time_limit is None else time.monotonic() + opts.time_limit)
    gap_target = 1e-4 if opts.mip_gap is None else opts.mip_gap
    piece_gap = cfg.piece_gap if cfg.piece_gap is not None else max(1e-6, gap_target / 10)
    dec = Decomposition(am)
    dec.deadline = deadline
    n_reg = len(dec.pieces)
    log.info("decompose: %d regions, %d master rows, %d coupling rows",
             n_reg, len(dec.split.rows_of(MASTER)), len(dec.k_rows))
    version = HighsBackend.version()
    left = _left(deadline)
    status, lp_bound, pi = dec.lp_duals(None if left is None else 0.5 * left, relaxation)
    if status == INFEASIBLE:
        return RawResult(INFEASIBLE, None, None, None, "highs", version,
                         "decompose: the LP relaxation is infeasible",
                         solve_seconds=time.perf_counter() - t_start,
                         extra={"method": "decompose", "iterations": 0})
    lam, mu = dec.multipliers_from_duals(pi) if pi is not None else \
        dec.multipliers_from_costs()
    st = _State(lam, mu)
    if lp_bound is not None:
        st.best_bound, st.bound_origin = lp_bound, "LP relaxation"
    left = _left(deadline)
    if status == OPTIMAL and dec.lp_x is not None and (left is None or left > 1.0):
        x_lp = rounded_plan(am, dec.lp_x, None if left is None else 0.25 * left,
                            piece_gap, opts.start)  # rounded from the LP: a first incumbent
        if x_lp is not None and not check_rows(am, x_lp):
            st.best_x, st.best_obj = x_lp, float(am.cost @ x_lp)
            st.plan_origin = "rounded from the LP relaxation"
            dec.hints.append(x_lp)
    if opts.start is not None and len(opts.start) == am.n_cols and \
            float(am.cost @ opts.start) > st.best_obj and not check_rows(am, opts.start):
        st.best_x, st.best_obj = opts.start.copy(), float(am.cost @ opts.start)
        st.plan_origin = "constructive plan"
        dec.hints.append(opts.start)
    own = executor is None
    ex = executor if executor is not None else get_executor(
        workers if workers is not None else (1 if am.n_cols < SERIAL_BELOW_COLUMNS else None))
    alpha, stall, it = cfg.alpha_from_lp if pi is not None else cfg.alpha, 0, 0
    starts: list[np.ndarray | None] = [None] * (n_reg + 1)
    termination = LIMIT
    try:
        for it in range(1, cfg.max_iterations + 1):
            left = _left(deadline)
            if left is not None and left <= 0.5:
                termination = TIME_LIMIT
                break
            # the bound's pieces may take 60 % of what is left: a plan needs the rest
            dec.deadline = None if left is None else time.monotonic() + 0.6 * left
            value, res, adj = dec.evaluate(ex, st.lam, st.mu, None, piece_gap, starts)
            dec.deadline = deadline
            if value == -math.inf:  # a relaxation of the model is infeasible: so is it
                bad = ["master", *(p.name for p in dec.pieces)][
                    [r.status for r in res].index("infeasible")]
                return RawResult(INFEASIBLE, None, None, None, "highs", version,
                                 f"decompose: piece {bad} is infeasible",
                                 solve_seconds=time.perf_counter() - t_start,
                                 extra={"method": "decompose", "iterations": it})
            if any(r.x is None for r in res):
                termination = TIME_LIMIT
                break
            starts = [r.x for r in res]
            if value is not None and value < st.best_bound - 1e-9 * max(1.0, abs(value)):
                st.best_bound, st.bound_origin = value, f"Lagrangian, iteration {it}"
                stall = 0
            else:
                stall += 1
            z = res[0].x
            assert z is not None
            if it == 1 or it % cfg.plan_every == 0:
                left = _left(deadline)
                x = dec.plan(ex, adj, z, res[1:], None if left is None else 0.5 * left,
                             piece_gap)
                if x is not None and not check_rows(am, x):
                    obj = float(am.cost @ x)
                    if obj > st.best_obj:
                        st.best_x, st.best_obj = x, obj
                        st.plan_origin = f"regions re-solved, iteration {it}"
            now = relative_gap(st.best_obj, st.best_bound)
            st.trace.append(Trace(it, value, st.best_bound, st.best_x is not None and
                                  st.best_obj or None, now, alpha,
                                  time.perf_counter() - t_start))
            log.info("decompose %3d: bound %s (best %s), best plan %s, gap %s, step %.3g",
                     it, "n/a" if value is None else f"{value:,.2f}",
                     f"{st.best_bound:,.2f}", "none" if st.best_x is None else
                     f"{st.best_obj:,.2f}", "n/a" if now is None else f"{now:.3%}", alpha)
            if now is not None and now <= gap_target:
                termination = OPTIMAL
                break
            if stall >= cfg.patience:
                alpha, stall = alpha / 2, 0
            if alpha < cfg.alpha_min:
                break
            g_lam, g_mu = dec.subgradient(st.mu, dec.assemble(z, res[1:]), res[1:])
            norm2 = float(sum(np.dot(g, g) for g in g_lam) + np.dot(g_mu, g_mu))
            if norm2 <= 1e-18:  # the pieces agree and the coupling rows hold
                if value is not None and st.best_x is None:
                    x = dec.assemble(z, res[1:])
                    if not check_rows(am, x):
                        st.best_x, st.best_obj = x, float(am.cost @ x)
                break
            ref = value if value is not None else st.best_bound
            target = st.best_obj if st.best_x is not None else ref - 0.01 * abs(ref) - 1.0
            step = alpha * max(ref - target, 1e-9 * max(1.0, abs(ref))) / norm2
            st.lam = [lr - step * g for lr, g in zip(st.lam, g_lam, strict=True)]
            st.mu = dec.project_mu(st.mu - step * g_mu)
    finally:
        if own:
            ex.close()
    plan_obj = st.best_obj if st.best_x is not None else None
    bound = st.best_bound if math.isfinite(st.best_bound) else None
    gap = relative_gap(st.best_obj, st.best_bound)
    if termination != OPTIMAL and gap is not None and gap <= gap_target:
        termination = OPTIMAL
    msg = (f"decompose: {it} iteration(s), {n_reg} regions; bound from "
           f"{st.bound_origin}; plan from {st.plan_origin}")
    log.info("%s", msg)
    extra: dict[str, Any] = {
        "method": "decompose", "iterations": it, "regions": n_reg,
        "coupling_rows": len(dec.k_rows), "lp_bound": lp_bound, "repairs": dec.repairs,
        "bound_origin": st.bound_origin, "plan_origin": st.plan_origin,
        "trace": [t.__dict__ for t in st.trace]}
    return RawResult(termination, st.best_x, plan_obj, bound, "highs", version, msg,
                     solve_seconds=time.perf_counter() - t_start, extra=extra)


METHODS = ("auto", "monolithic", "decompose", "ph")  # ph: two-stage only (stochastic_ph)
# `auto` decomposes from this many cells: none yet. Measured (benchmarks/README.md,
# "Decomposition"), one MIP with the LP phase reached the gap sooner at every size
# tried: 10^4 cells of conflict (0.22 % in 52 s against 1.04 % at the limit), capacity
# (0.14 % in 83 s against 7.2 %); 10^5 cells of apparel (0.21 % in 378 s against
# 0.48 % in 467 s). `--method decompose` stays available.
AUTO_MIN_CELLS = math.inf


def choose_method(method: str, solver: str, n_cells: int, n_regions: int,
                  workers: int | None) -> str:
    """``monolithic`` or ``decompose`` for a requested method; bad values raise
    :class:`~channel_opt.solving.options.OptionsError`.

    ``auto`` would decompose with HiGHS from :data:`AUTO_MIN_CELLS` cells and two
    regions (infinite: one MIP measured faster at every size tried).
    """
    from .options import OptionsError

    problems = []
    if method not in METHODS:
        problems.append(f"method: {method!r} is not one of {', '.join(METHODS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        problems.append(f"workers: {workers!r} is not a whole number of at least 1")
    if method == "decompose" and solver != "highs":
        problems.append(f"method: decompose solves its regions with highs, not {solver!r}")
    if problems:
        raise OptionsError(problems)
    if method == "auto":
        return "decompose" if (solver == "highs" and n_cells >= AUTO_MIN_CELLS
                               and n_regions >= 2) else "monolithic"
    return method
