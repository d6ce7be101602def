"""The product-block bound: the LP relaxation split by product, the rows across
products priced.

At 10^5 cells the LP relaxation does not finish in a 600 s run on 2 cores (the
interior point needs about 100 s to start and 70 iterations of 15 s; issue 13), and
the bound without it (the best option per cell, capacities priced) is 8-11 % above
the best plan where price levels or floors bind. Yet nearly every row of the model
holds the columns of one product: its cells, listings, price levels, overlap, stock.
The few others cross products: the overlap budget, capacities per region or DC,
partner floors, commission, dealer minimum volumes (tens to hundreds of rows).

**Relaxation.** The products are cut into pieces of about ``PIECE_COLUMNS`` columns
(:func:`~channel_opt.solving.decompose_parts.classify` with ``by="product"``). Each
piece keeps its own rows and a copy of every shared column they use (openings,
brand decisions; the master piece holds the shared columns and the rows of shared
columns only). The rows across products are priced with ``λ`` and every shared
column's cost is split evenly among its copies. Each piece is then an LP of its own.

**Bound.** With ``π`` the pieces' row duals on their rows and ``λ`` on the rows
across products, :func:`~channel_opt.solving.relaxation.dual_bound` ``(π)`` is an
upper bound on the LP (so on the MIP) for any ``π``; it is at most the sum of the
pieces' LP values plus ``λ``'s row terms (a shared column's reduced cost is the sum
of its copies', and ``max(Σ d, 0) ≤ Σ max(d, 0)``). The bound is computed, not
assumed: the same function that bounds a stopped LP.

**Multipliers.** Projected subgradient with Polyak's step toward the best plan known,
scaled by each row's size, as :mod:`.capacity_bound`. On the rows across products
``g = r − A x``, with ``x`` the pieces' points (a shared column the mean of its
copies) and ``r`` the row side ``λ`` prices (at ``λ = 0`` the one nearest ``A x``);
``λ ← proj(λ − θ (L(λ) − target) D g / gᵀDg)``, ``λ ≥ 0`` on rows without a lower
side and ``≤ 0`` on rows without an upper side. After ``STALL`` steps without a
better bound the walk goes back to the best ``λ`` with half the step. A new ``λ``
changes costs only, and each piece's simplex restarts from its last basis (at 10^3
cells of `partners` 0.1 s against 1.0 s from scratch). Where all pieces fit in memory
at once (``PIECE_BYTES_PER_NONZERO``) they stay loaded in HiGHS between steps;
otherwise each piece is loaded from its arrays when it is solved and only its basis
is kept, so that a worker holds one piece at a time (10^6 cells of `capacity`: 130 M
nonzeros, about 36 GB loaded). HiGHS releases the GIL while it solves, so the pieces
run in threads.

**Bundle.** The subgradient walks toward ``λ*`` fast but stalls near it (each step
sees one point per piece). After ``SUBGRADIENT_STEPS`` steps (or
``SUBGRADIENT_SHARE`` of the time, or ``GIVE_UP``) the shares are frozen at the best
``λ``'s and a boxstep bundle (Marsten, Hogan and Blankenship 1975; the cutting-plane
model of Kelley, kept within a box) takes over: every piece point ``x_ik`` seen is a
cut ``μ_i ≥ c_iᵀx_ik − λᵀA_i x_ik`` on the piece's value, and the master LP
``min Σ μ_i + λ's row terms`` over the box ``|λ − centre| ≤ δ`` gives the next ``λ``
(:class:`_Bundle`). The cuts model the pieces' total (``Evaluation.pieces``), which
the bound (merging the copies' reduced costs) may lie below. A step whose total gains
``SERIOUS`` of what the model predicted moves the centre (and widens the box where it
reached its edge); others only add cuts. It stops when the model predicts less than
``CONVERGED`` of gain (or ``CONVERGED_SHARE`` of the run's gap) within the box: the
centre is then within that gain of the best the box holds (by convexity, of the
split's own Lagrangian optimum when the box is not what stops it). The master's primal (its
cuts' weights) is a point that meets the rows across products, a Dantzig-Wolfe
point: the neighbourhood search starts from it.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..model.linear import ArrayModel, highs_from_arrays
from .decompose_parts import COUPLING, MASTER, Piece, Split, build_pieces, classify, with_cost
from .engines import INFEASIBLE, LIMIT, OPTIMAL
from .engines.base import quiet_stdout
from .engines.highs import Cancel, run_threads
from .memory import too_large
from .relaxation import Relaxation, dual_bound, signed_duals

log = logging.getLogger(__name__)

# columns per piece: at 10^4 cells of `conflict` (218,050 columns) 11 pieces of about
# 20,000 solve in 7.0 s against 47-69 s for the whole LP, and bound it within 0.33 %
PIECE_COLUMNS = 20_000
# steps without a time limit (the subgradient's, then the bundle's); under one the
# pipeline steps until its share is used or the bundle stops: at 10^4 cells of `all`
# (seed 0) 30 subgradient steps (14.5 s) bound 17.58 M and the region search from their
# point reaches 17.15 M; 60 s of them 17.51 M and 17.20 M; 30 of them and the bundle
# (converged at step 93, 47 s) 17.5045 M and 17.24 M (LP 17.44 M)
ITERATIONS = 60
# steps in a row without a better bound (each halves the step) after which the walk
# stops: at 10^4 cells of `all` the bound was flat from step 199 to 225 (the last
# 8 s of the blocks' 60), time the region search can use
GIVE_UP = 8
# a step that lowers the bound by less than this share counts as one without a better
# bound (at 10^5 cells of `all` steps 54-68 lowered it by 2e-8 each, 55 in all)
GAIN = 1e-5
# the subgradient's share of the steps: at most this many steps, or this share of the
# time limit, then the bundle (the module docstring); at 10^4 cells of `all` 30 steps
# (15 s) and 45 s of bundle steps reach 17.503 M, the split's own Lagrangian dual (the
# model and the evaluations meet), where 60 s of subgradient steps reach 17.515 M
SUBGRADIENT_STEPS, SUBGRADIENT_SHARE = 30, 0.25
KEEP = 8  # the subgradient's last evaluations whose points seed the bundle's model
# the box's half-width: this share of the largest |λ| the subgradient took. At 10^4
# cells of `all` (seeds 0-2) the bound after 30 s of blocks is 0.10-0.11 % above the
# split's optimum with 0.5, 0.02-0.04 % with 0.2 or 0.1 (its first steps go less far)
BOX = 0.2
AGE = 10  # a cut without weight in this many masters in a row is dropped
# the bundle stops when its model predicts less than this gain (relative), or less than
# this share of the run's ``gap``: a bound settled to a hundredth of the gap is worth
# less than the time it leaves the search for plans
CONVERGED, CONVERGED_SHARE = 1e-6, 0.01
SERIOUS = 0.1  # a step moves the centre when it gains this share of the predicted gain
STALL = 1  # steps without a better bound before the step is halved (from the best λ)
# what the pieces, loaded and solved, take per nonzero of the model (10^5 cells of
# `all`: 5.2 GB over its 18.8 M nonzeros, 296 B); where they would not fit together
# each is loaded when solved (its basis kept). One worker, next to another job: at
# 10^4 cells of `all` 20 % slower steps (40 steps: 45.7 s against 38.2 s); at 10^5 the
# first pass peaks at a third of the memory (2.4 GB against 7.1 GB, 65.5 s and 71.8 s)
PIECE_BYTES_PER_NONZERO = 300
THETA = 0.1  # the first step's share of Polyak's (the target is a plan, below the optimum)


@dataclass
class Evaluation:
    """The pieces solved at one ``λ``: ``bound`` (:func:`dual_bound` of ``pi``; infinite
    when a piece has no optimum) is at most ``pieces``, the sum of the pieces' LP
    values plus ``λ``'s row terms; ``x`` the pieces' point (a shared column at the most
    any copy takes), ``g`` the subgradient on the rows across products.
    """

    status: str
    bound: float = math.inf
    pieces: float = math.inf
    pi: np.ndarray | None = None
    x: np.ndarray | None = None
    g: np.ndarray | None = None


@dataclass
class _Run:
    """One solved piece: its LP value, point and row prices (None: no optimum)."""

    status: str
    value: float = math.nan
    x: np.ndarray | None = None
    duals: np.ndarray | None = None


class ProductBlocks:
    """The pieces of ``am`` by product, solved per ``λ``: ``held`` (default: where
    they fit in memory together, :mod:`.memory`) loaded in HiGHS once, else each
    loaded when solved and started from its last basis.
    """

    def __init__(self, am: ArrayModel, piece_columns: int = PIECE_COLUMNS,
                 workers: int | None = None, held: bool | None = None) -> None:
        self.am = am
        self.split: Split = classify(am, by="product", piece_columns=piece_columns)
        master, pieces = build_pieces(am, self.split)
        self.pieces: list[Piece] = [p for p in (master, *pieces) if p.arrays.n_cols]
        self.master = bool(master.arrays.n_cols)  # the master is pieces[0] when it has columns
        # the rows of each piece in ``am`` (the master's: rows of shared columns only)
        self.rows = [p.rows for p in self.pieces]
        self.cross = self.split.rows_of(COUPLING)
        a = am.matrix("csr")
        self.a_cross = a[self.cross]
        lo, up = am.row_bounds()
        self.row_lo, self.row_up = lo[self.cross], up[self.cross]
        # a shared column's copies: one per piece whose rows use it, and the master's
        # where a master row uses it or no piece does (else the master's column is
        # left without cost: a share there would be a share no piece pays)
        self.shared = self.split.col_key == MASTER
        in_pieces = np.zeros(am.n_cols)
        for p in pieces:
            np.add.at(in_pieces, p.copies, 1.0)
        in_master_rows = np.zeros(am.n_cols, bool)
        in_master_rows[np.unique(a[master.rows].indices)] = True
        self.in_master = self.shared & (in_master_rows | (in_pieces == 0))
        self.copies = np.maximum(in_pieces + self.in_master, 1.0)
        self._held_cols = [np.concatenate([p.cols, p.copies]) for p in self.pieces]
        # per piece, the share of each of its columns' cost it pays (1 for its own
        # columns; a shared column's shares add up to 1 over its copies): even at first
        self.share = [np.where(self._held(i), 1.0 / self.copies[self._cols(i)], 0.0)
                      for i in range(len(self.pieces))]
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        why = too_large(am.nnz, per_nonzero=PIECE_BYTES_PER_NONZERO)
        if held is None and why:
            log.info("product blocks: each piece loaded when solved (together: %s)", why)
        self.held = not why if held is None else held
        self._highs: list[Any] = [None] * len(self.pieces)  # held: loaded once
        self._basis: list[Any] = [None] * len(self.pieces)  # else: the last basis
        self._runs: list[_Run] = []

    def _cols(self, i: int) -> np.ndarray:
        """Columns of ``am`` that piece ``i`` holds: its own, then its copies."""
        return self._held_cols[i]

    def _held(self, i: int) -> np.ndarray:
        """Per column of piece ``i``: whether it pays a share (own columns, copies, and
        the master's shared columns that a master row uses or no piece copies).
        """
        cols = self._cols(i)
        return ~self.shared[cols] | self.in_master[cols] | \
            (np.arange(len(cols)) >= self.pieces[i].n_own)

    def resplit(self, floor: float = 0.05) -> None:
        """Shares of the shared columns in proportion to what each copy took at the last
        evaluation (plus ``floor``): a piece that opens a channel pays more of its cost
        than one that leaves it closed. Any shares keep the bound valid.
        """
        xs = [r.x for r in self._runs if r.x is not None]
        if not xs or len(xs) < len(self._runs):
            return
        used = [np.where(self._held(i) & self.shared[self._cols(i)],
                         np.clip(x, 0.0, None) + floor, 0.0) for i, x in enumerate(xs)]
        total = np.zeros(self.am.n_cols)
        for i, u in enumerate(used):
            np.add.at(total, self._cols(i), u)
        for i, u in enumerate(used):
            cols = self._cols(i)
            shared = self.shared[cols]
            self.share[i] = np.where(shared, u / np.maximum(total[cols], 1e-12),
                                     self.share[i])

    def _solve(self, i: int, cost: np.ndarray, deadline: float | None, cancel: Cancel) -> _Run:
        c = cost[self._cols(i)] * self.share[i]
        if self.held:  # same rows, new costs: the simplex goes on from its basis
            h = self._highs[i]
            h.changeColsCost(len(c), np.arange(len(c), dtype=np.int32), c)
        else:
            h = cancel.watch(self._load(i, c))
            if self._basis[i] is not None:
                h.setBasis(self._basis[i])
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return _Run(LIMIT)
            h.setOptionValue("time_limit", h.getRunTime() + left)  # its clock adds up runs
        h.run()
        if not self.held:
            self._basis[i] = h.getBasis()
        st = h.modelStatusToString(h.getModelStatus())  # highspy stays in engines.highs
        if st != "Optimal":
            return _Run(INFEASIBLE if st == "Infeasible" else LIMIT)
        sol = h.getSolution()
        rd = np.asarray(sol.row_dual)
        if len(rd):
            rd = signed_duals(c, _at(self.pieces[i].arrays, rd), rd, np.asarray(sol.col_dual))
        return _Run(OPTIMAL, float(h.getInfo().objective_function_value),
                    np.asarray(sol.col_value), rd)

    def _load(self, i: int, cost: np.ndarray) -> Any:
        """Piece ``i`` in a new HiGHS instance (its LP, at ``cost``)."""
        h = highs_from_arrays(with_cost(self.pieces[i], cost, integer=False))
        h.setOptionValue("threads", 1)
        return h

    def points(self) -> list[np.ndarray]:
        """The pieces' points at the last evaluation (piece-local, all pieces)."""
        return [r.x for r in self._runs if r.x is not None]

    def evaluate(self, lam: np.ndarray, deadline: float | None = None) -> Evaluation:
        """The pieces solved at ``λ`` (on the rows across products, in ``cross``
        order) by ``deadline`` (``time.monotonic()``; status LIMIT if one is not).
        """
        cost = self.am.cost - self.a_cross.T @ lam  # the rows across products priced
        if not self._runs:  # here, not in the threads: stdout is switched per process
            with quiet_stdout():  # HiGHS prints its banner on the first instance
                for i, p in enumerate(self.pieces if self.held else self.pieces[:1]):
                    h = self._load(i, np.zeros(p.arrays.n_cols))
                    if self.held:
                        self._highs[i] = h
        cancel = Cancel(self._highs if self.held else ())
        runs = run_threads(lambda i: self._solve(i, cost, deadline, cancel), len(self.pieces),
                           self.workers, cancel)
        self._runs = runs
        bad = [r.status for r in runs if r.status != OPTIMAL]
        if bad:
            return Evaluation(INFEASIBLE if INFEASIBLE in bad else LIMIT)
        am = self.am
        pi = np.zeros(am.n_rows)
        pi[self.cross] = lam
        x = np.zeros(am.n_cols)  # own columns; a shared one weighted by the shares
        top = np.zeros(am.n_cols)  # a shared column at the most any copy takes
        for i, (rows, r) in enumerate(zip(self.rows, runs, strict=True)):
            assert r.x is not None and r.duals is not None
            pi[rows] = r.duals
            cols, share = self._cols(i), self.share[i]
            shared = self.shared[cols]
            x[cols[~shared]] = r.x[~shared]
            paid = shared & (share > 0)
            np.add.at(x, cols[paid], share[paid] * r.x[paid])
            np.maximum.at(top, cols[paid], r.x[paid])
        ax = self.a_cross @ x
        # the row side λ prices (at λ = 0 the nearest: the least subgradient)
        side = np.where(lam > 0, self.row_up, np.where(lam < 0, self.row_lo,
                                                        np.clip(ax, self.row_lo, self.row_up)))
        with np.errstate(invalid="ignore"):  # 0 · inf: an unpriced row adds 0
            terms = np.where(lam != 0, lam * side, 0.0)
        pieces = float(sum(r.value for r in runs) + terms.sum())
        return Evaluation(OPTIMAL, dual_bound(am, pi), pieces, pi,
                          np.where(self.shared, top, x), side - ax)


class _Bundle:
    """The boxstep bundle's model of the pieces (module docstring, "Bundle"): cuts,
    each a point of one piece with its value and its terms in the rows across
    products at the shares frozen when the bundle starts.
    """

    def __init__(self, blocks: ProductBlocks, delta: np.ndarray) -> None:
        self.blocks, self.delta = blocks, delta
        # the model's costs, assembled once (``ArrayModel.cost`` concatenates its blocks
        # on every call: per piece and step, 99 of a 10^6-cell run's 727 s of blocks)
        self.cost = blocks.am.cost
        a = blocks.a_cross.tocsc()
        self.a = [a[:, blocks._cols(i)] for i in range(len(blocks.pieces))]
        self.piece: list[int] = []
        self.x: list[np.ndarray] = []  # the piece's point (float32: a cut is a model)
        self.value: list[float] = []
        self.terms: list[np.ndarray] = []
        self.idle: list[int] = []

    def add(self, points: list[np.ndarray]) -> None:
        """One cut per piece: its ``points`` (piece-local, all pieces, one evaluation)."""
        b = self.blocks
        for i, x in enumerate(points):
            v = x.astype(np.float64) * b.share[i]
            self.piece.append(i)
            self.x.append(x.astype(np.float32))
            self.value.append(float(self.cost[b._cols(i)] @ v))
            self.terms.append(self.a[i] @ v)
            self.idle.append(0)

    def master(self, center: np.ndarray, box: bool = True
               ) -> tuple[float, np.ndarray, np.ndarray] | None:
        """The model's least value over ``λ`` within the box around ``center`` (the
        whole ``λ`` space with ``box=False``), its ``λ`` and the cuts' weights (the
        master's primal: per piece they add up to 1); None if HiGHS fails. Cuts without
        weight for ``AGE`` masters in a row are dropped.
        """
        b = self.blocks
        lo, up = b.row_lo, b.row_up
        fu, fl = np.isfinite(up), np.isfinite(lo)
        n_p, m, k = len(b.pieces), len(lo), len(self.piece)
        t = np.array(self.terms)  # k × m
        # min Σ μ_i + upᵀλ⁺ − loᵀλ⁻  s.t.  μ_i + (λ⁺ − λ⁻)ᵀ terms_k ≥ value_k
        cut = sp.hstack([sp.csr_matrix((np.ones(k), (np.arange(k), self.piece)),
                                       shape=(k, n_p)), sp.csr_matrix(t), -sp.csr_matrix(t)])
        cost = np.concatenate([np.ones(n_p), np.where(fu, up, 0.0), -np.where(fl, lo, 0.0)])
        d = self.delta if box else np.full(m, np.inf)
        plus = np.where(fu[:, None], np.column_stack([np.maximum(center - d, 0.0),
                                                      np.maximum(center + d, 0.0)]), 0.0)
        minus = np.where(fl[:, None], np.column_stack([np.maximum(-center - d, 0.0),
                                                       np.maximum(-center + d, 0.0)]), 0.0)
        bounds = np.vstack([np.column_stack([np.full(n_p, -np.inf), np.full(n_p, np.inf)]),
                            plus, minus])
        res = linprog(cost, A_ub=-cut.tocsr(), b_ub=-np.asarray(self.value),
                      bounds=bounds, method="highs")
        if res.status != 0:
            return None
        w = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)
        self.idle = [0 if wk > 0 else n + 1 for wk, n in zip(w, self.idle, strict=True)]
        keep = [j for j, n in enumerate(self.idle) if n < AGE]
        if len(keep) < k:
            w = w[keep]
            for name in ("piece", "x", "value", "terms", "idle"):
                setattr(self, name, [getattr(self, name)[j] for j in keep])
        lam = res.x[n_p:n_p + m] - res.x[n_p + m:]
        return float(res.fun), _project(lam, lo, up), w

    def point(self, w: np.ndarray) -> np.ndarray:
        """The master's point: per piece its cuts' points weighted by ``w`` (each
        piece's add up to 1); a shared column at the most any piece's weighted copy
        takes; within the columns' bounds.
        """
        b = self.blocks
        per = [np.zeros(len(b._cols(i))) for i in range(len(b.pieces))]
        for i, x, wk in zip(self.piece, self.x, w, strict=True):
            if wk > 0:
                per[i] += wk * x
        x = np.zeros(b.am.n_cols)
        top = np.zeros(b.am.n_cols)
        for i, xi in enumerate(per):
            cols, shared = b._cols(i), b.shared[b._cols(i)]
            x[cols[~shared]] = xi[~shared]
            paid = shared & (b.share[i] > 0)
            np.maximum.at(top, cols[paid], xi[paid])
        lo, up = b.am.bounds()  # the points' single precision can round past a bound
        return np.clip(np.where(b.shared, top, x), lo, up)


def _at(arr: Any, rd: np.ndarray) -> np.ndarray:
    """``Aᵀ rd`` of a piece's column-wise arrays."""
    n = np.diff(arr.start)
    return np.bincount(np.repeat(np.arange(arr.n_cols), n), weights=arr.value * rd[arr.index],
                       minlength=arr.n_cols)


def block_relax(am: ArrayModel, time_limit: float | None, *, target: float | None = None,
                lam0: np.ndarray | None = None, iterations: int | None = ITERATIONS,
                gap: float | None = None, piece_columns: int = PIECE_COLUMNS,
                workers: int | None = None, resplit: bool = True, bundle: bool = True
                ) -> Relaxation:
    """The least product-block bound found within ``time_limit`` and ``iterations``
    steps (module docstring), starting from the row prices ``lam0`` (a vector over
    all rows of ``am``, e.g. the capacities' prices; 0 elsewhere) and stepping toward
    ``target`` (the best plan's profit). ``iterations=None``: as many steps as
    ``time_limit`` holds (``ITERATIONS`` without one); with ``gap`` the steps stop
    once the bound is within that relative gap of ``target``.

    Status LIMIT: the bound is valid but not the LP's optimum (it is at or above
    it); without a bound when the first pass over the pieces does not end within
    ``time_limit``; INFEASIBLE when a piece is (so
    the LP is). ``x`` is the bundle master's point where the bundle ran (module
    docstring), else the pieces' point at the best ``λ`` (a shared column at the most
    any copy takes); ``duals`` are the best ``λ``'s row prices.
    """
    t0 = time.monotonic()
    deadline = None if time_limit is None else t0 + time_limit

    def spent() -> float:
        return time.monotonic() - t0

    blocks = ProductBlocks(am, piece_columns, workers)
    lam = np.zeros(len(blocks.cross)) if lam0 is None else lam0[blocks.cross].copy()
    lam = _project(lam, blocks.row_lo, blocks.row_up)
    ev = blocks.evaluate(lam, deadline)
    value, pi, x, g = ev.bound, ev.pi, ev.x, ev.g
    if ev.status != OPTIMAL:
        log.info("product blocks: %s after %.1f s", ev.status, spent())
        return Relaxation(ev.status, seconds=spent())
    log.info("product blocks: %d pieces, %d rows across products; bound %s in %.1f s",
             len(blocks.pieces), len(blocks.cross), f"{value:,.2f}", spent())
    best, best_g, best_share = (value, pi, x, lam), g, list(blocks.share)
    best_pieces = ev.pieces  # the split's own Lagrangian at the best λ (the bundle's model)
    if resplit:
        blocks.resplit()
    if g is None or not len(g) or target is None or not math.isfinite(value):
        return Relaxation(LIMIT, value if math.isfinite(value) else None, x, pi, spent())
    target = min(target, value)
    # steps scaled by each row's size: its limit or, where that is 0 (commission rows),
    # what its columns add up to at the first point; a relative excess moves every row
    # alike, whatever its unit (money, units, hours)
    assert x is not None
    size = np.maximum(abs(blocks.a_cross) @ np.abs(x), np.where(
        np.isfinite(blocks.row_up), np.abs(blocks.row_up), 0.0))
    size = np.maximum(size, np.where(np.isfinite(blocks.row_lo), np.abs(blocks.row_lo), 0.0))
    scale = 1.0 / np.maximum(size, 1.0) ** 2
    theta, stall, failed, first = THETA, 0, 0, spent()
    steps = iterations if iterations is not None else \
        ITERATIONS if time_limit is None else sys.maxsize
    # for the bundle: the largest |λ| per row, the last points and the best λ's points
    reach = np.abs(lam)
    recent: deque[list[np.ndarray]] = deque([blocks.points()], maxlen=KEEP)
    best_points = recent[0]

    def within_gap() -> bool:
        return gap is not None and best[0] - target <= gap * max(abs(target), 1e-9)

    def no_time() -> bool:  # warm passes take a fraction of the first
        return time_limit is not None and spent() + max(0.2 * first, 0.1) > time_limit

    k = 0
    while k < steps:
        norm = float(g @ (scale * g)) if g is not None else 0.0
        if norm <= 0 or value - target <= 1e-9 * abs(value) or within_gap() or no_time():
            return Relaxation(LIMIT, best[0], best[2], best[1], spent())
        if failed >= GIVE_UP:
            break  # the step has been halved GIVE_UP times in a row: it is spent
        if bundle and (k >= SUBGRADIENT_STEPS or (
                time_limit is not None and spent() > SUBGRADIENT_SHARE * time_limit)):
            break
        k += 1
        step = theta * (value - target) / norm
        trial = _project(lam - step * scale * g, blocks.row_lo, blocks.row_up)
        ev = blocks.evaluate(trial, deadline)
        v, p2, x2, g2 = ev.bound, ev.pi, ev.x, ev.g
        if ev.status == OPTIMAL and math.isfinite(v):
            lam, g, value = trial, g2, v
            reach = np.maximum(reach, np.abs(trial))
            if bundle:  # else nobody reads them
                recent.append(blocks.points())
            if v < best[0] - 1e-9 * abs(best[0]):
                failed = 0 if v < best[0] - GAIN * abs(best[0]) else failed + 1
                best, best_g, stall = (v, p2, x2, trial), g2, 0
                best_share = list(blocks.share)
                best_points = recent[-1] if bundle else best_points
                best_pieces = ev.pieces
            else:
                stall, failed = stall + 1, failed + 1
        if ev.status != OPTIMAL or not math.isfinite(v) or stall >= STALL:
            failed += ev.status != OPTIMAL or not math.isfinite(v)
            # back to the best multipliers with half the step
            theta, stall, lam, g, value = theta / 2, 0, best[3], best_g, best[0]
            blocks.share = list(best_share)
        elif resplit:
            blocks.resplit()
        log.info("product blocks step %d: bound %s (best %s), %.1f s", k, f"{v:,.2f}",
                 f"{best[0]:,.2f}", spent())
    if not bundle or k >= steps:
        return Relaxation(LIMIT, best[0], best[2], best[1], spent())
    # the bundle from the best λ, at its shares (frozen: the cuts are valued at them)
    blocks.share = best_share
    model = _Bundle(blocks, BOX * np.maximum(reach, _row_prices(am, blocks)))
    for points in (*recent, best_points):
        model.add(points)
    # the model is of the pieces' total (``Evaluation.pieces``: the split's own
    # Lagrangian, at or above the bound, which merges the copies' reduced costs)
    center, at_center, point, last = best[3], best_pieces, best[2], None
    settled = max(CONVERGED, CONVERGED_SHARE * (gap or 0.0))
    while k < steps and not within_gap() and not no_time():
        m = model.master(center)
        if m is None:
            break
        pred, trial, w = last = m
        if at_center - pred <= settled * max(abs(at_center), 1.0):
            break  # the model gains (next to) nothing within the box: the centre settles
        k += 1
        ev = blocks.evaluate(trial, deadline)
        if ev.status != OPTIMAL or not math.isfinite(ev.bound):
            break
        model.add(blocks.points())
        if ev.bound < best[0]:
            best = (ev.bound, ev.pi, ev.x, trial)
        serious = ev.pieces < at_center - SERIOUS * (at_center - pred)
        if serious:  # a step to the box's edge widens it there
            edge = np.abs(trial - center) >= 0.99 * model.delta
            model.delta = np.where(edge, 2.0 * model.delta, model.delta)
            center, at_center = trial, ev.pieces
        log.info("product blocks bundle step %d: bound %s (pieces %s, model %s, %s step), "
                 "%.1f s", k, f"{ev.bound:,.2f}", f"{ev.pieces:,.2f}", f"{pred:,.2f}",
                 "serious" if serious else "null", spent())
    # the master's point meets the rows across products where its cuts can (the whole
    # λ space: bounded exactly when they can); else the last boxed master's
    m = model.master(center, box=False) or last
    if m is not None:  # the last boxed master's weights: the cuts added since get none
        point = model.point(np.concatenate([m[2], np.zeros(len(model.piece) - len(m[2]))]))
    return Relaxation(LIMIT, best[0], point, best[1], spent())


def _row_prices(am: ArrayModel, blocks: ProductBlocks) -> np.ndarray:
    """Per row across products, a price in its own unit: the median of its costed
    columns' |cost / coefficient| (1 where none has a cost): the box's least
    half-width over ``BOX``, so that it is never 0 on a row the subgradient never
    priced (a box of width 0 would keep that row's ``λ`` where it is).
    """
    a = blocks.a_cross.tocsr()
    m = a.shape[0]
    ratio = np.abs(am.cost[a.indices]) / np.maximum(np.abs(a.data), 1e-12)
    row = np.repeat(np.arange(m), np.diff(a.indptr))
    costed = ratio > 0
    ratio, row = ratio[costed], row[costed]
    ratio = ratio[np.lexsort((ratio, row))]  # by row, then by ratio: each row's run sorted
    n = np.bincount(row, minlength=m)
    first = np.cumsum(n) - n
    has = n > 0
    low, high = (first + (n - 1) // 2)[has], (first + n // 2)[has]  # the middle one or two
    out = np.ones(m)
    out[has] = 0.5 * (ratio[low] + ratio[high])
    return out


def _project(lam: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``λ`` with the sign its row allows: ≥ 0 without a lower side (a ``≤`` row), ≤ 0
    without an upper side (a ``≥`` row), free on a ranged or equality row.
    """
    lam = np.where(~np.isfinite(lo), np.maximum(lam, 0.0), lam)
    return np.where(~np.isfinite(up), np.minimum(lam, 0.0), lam)
