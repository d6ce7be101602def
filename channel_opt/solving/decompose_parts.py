"""The pieces of the region decomposition: which columns and rows belong to a region.

The family registry says which variable blocks are *regional* (their coupling is an
index holding a region: cell, product_region, region, region_channel) and which are
*global* (listings, price levels, brand decisions, launches, brand kinds). Every
regional column gets the region of its labels. A row is then classified by the
regions of its regional columns:

- none: a **master** row (only global columns: ``listing_needs_brand``,
  ``price_one_level``, ``price_parity``, brand kinds and launches);
- one: a row of that **region** (it may hold global columns, e.g.
  ``offer_needs_level``: those get a region copy);
- several: a **coupling** row (inventory per product, DC capacity, the overlap
  budget), dualized in the Lagrangian.

Each piece (the master, one per region) is a self-contained :class:`HighsArrays`
whose objective is filled in per call; :func:`solve_piece` is the module-level task
the batch executor runs in worker processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..model.linear import ArrayModel, HighsArrays, highs_from_arrays
from ..model.registry import ROW, VAR
from .backends import _quiet_stdout, highs_threads

REGIONAL = frozenset({"cell", "product_region", "region", "region_channel"})
# the couplings whose index holds a product: the blocks of the product split (issue 13)
PRODUCT_KEYED = frozenset({"cell", "product_region", "product_channel", "product"})
KEYED = {"region": REGIONAL, "product": PRODUCT_KEYED}
MASTER, COUPLING = -1, -2  # row kinds besides a piece's index


class DecompositionError(ValueError):
    """The model cannot be split by region (a regional block without a region label)."""


@dataclass
class Split:
    """Columns and rows of a model by piece (a region, or a run of products)."""

    keys: list[str]  # the pieces' names
    col_key: np.ndarray  # piece of each column, MASTER (-1) for a shared one
    row_kind: np.ndarray  # piece, MASTER (-1) or COUPLING (-2) of each row

    def cols_of(self, r: int) -> np.ndarray:
        """Global column numbers of piece ``r`` (MASTER: the shared columns)."""
        return np.flatnonzero(self.col_key == r)

    def cols_by_piece(self) -> list[np.ndarray]:
        """Every piece's ``cols_of``, in one sorting pass (not one scan per piece)."""
        return _by_piece(self.col_key, len(self.keys))

    def rows_of(self, kind: int) -> np.ndarray:
        """Global row numbers of a piece, the master or the coupling rows."""
        return np.flatnonzero(self.row_kind == kind)

    def rows_by_piece(self) -> list[np.ndarray]:
        """Every piece's ``rows_of``, in one sorting pass (at 10^6 cells, 805 pieces
        of 13.9 M rows, one scan per piece was a quarter of the blocks' set-up).
        """
        return _by_piece(self.row_kind, len(self.keys))


def _by_piece(key: np.ndarray, n: int) -> list[np.ndarray]:
    """Per piece ``0 .. n-1``, the positions where ``key`` is that piece (ascending);
    the negative keys (MASTER, COUPLING) are left out. One stable sort.
    """
    order = np.argsort(key, kind="stable")
    counts = np.bincount(key[key >= 0], minlength=n)
    start = int(np.count_nonzero(key < 0))  # the negative keys sort first
    return np.split(order[start:], np.cumsum(counts)[:-1])


def classify(am: ArrayModel, by: str = "region", piece_columns: int | None = None) -> Split:
    """Pieces of columns (from the registry and the labels) and kinds of rows.

    ``by`` is the label that keys a piece: ``region`` (a block whose registry coupling
    holds a region is split by it, the others are shared) or ``product`` (likewise
    for a coupling that holds a product). With ``piece_columns``, consecutive keys are
    merged into pieces of about that many columns (one product is a few dozen
    columns per region: solved one by one, the pieces would cost more to hand over
    than to solve).
    """
    keyed = KEYED[by]
    keys: dict[str, int] = {}
    col_key = np.full(am.n_cols, MASTER, np.int64)
    for b in am.vars.values():
        rec = VAR.get(b.name)
        if rec is None:
            raise DecompositionError(f"variable block {b.name!r} has no registry record")
        if rec.coupling not in keyed:
            continue
        if by not in b.labels.columns:
            raise DecompositionError(f"block {b.name!r} (coupling {rec.coupling}) has no "
                                     f"{by} label")
        # each label's code in order of first appearance, the labels named once each
        # (at 10^6 cells mapping 16 M strings one by one took 12 of the blocks' 38 s
        # of set-up)
        codes, uniques = pd.factorize(b.labels[by], use_na_sentinel=False)
        ids = np.array([keys.setdefault(str(u), len(keys)) for u in uniques], np.int64)
        col_key[b.start:b.start + b.n] = ids[codes]
    names = list(keys)
    if piece_columns is not None and names:
        size = np.bincount(col_key[col_key >= 0], minlength=len(names))
        piece = np.cumsum(size) // max(1, piece_columns)
        piece = np.unique(piece, return_inverse=True)[1]  # pieces 0, 1, ... (none empty)
        first = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
        last = np.r_[first[1:], len(names)] - 1
        names = [names[a] if a == z else f"{names[a]}..{names[z]}"
                 for a, z in zip(first, last, strict=True)]
        col_key = np.where(col_key >= 0, piece[np.maximum(col_key, 0)], MASTER)
    return Split(names, col_key, _row_kinds(am, col_key))


def _row_kinds(am: ArrayModel, col_key: np.ndarray) -> np.ndarray:
    """Per row: the piece of its keyed columns, MASTER (none) or COUPLING (several)."""
    a = am.matrix("csr")
    reg = col_key[a.indices]
    big = np.iinfo(np.int64).max
    lo_key = np.where(reg >= 0, reg, big)  # smallest piece of a row (big: none)
    hi_key = np.where(reg >= 0, reg, -1)  # largest piece of a row (-1: none)
    nnz_row = np.diff(a.indptr)
    row_kind = np.full(am.n_rows, MASTER, np.int64)
    has = np.flatnonzero(nnz_row > 0)
    if len(has) and len(reg):
        starts = a.indptr[has]
        rmin = np.minimum.reduceat(lo_key, starts)
        rmax = np.maximum.reduceat(hi_key, starts)
        one = (rmax >= 0) & (rmin == rmax)
        several = (rmax >= 0) & (rmin != rmax)
        row_kind[has[one]] = rmax[one]
        row_kind[has[several]] = COUPLING
    return row_kind


def registry_agrees(am: ArrayModel, split: Split) -> list[str]:
    """Disagreements between the row classification and the registry's row coupling
    (empty when they agree).

    A family whose registry coupling is regional (cell, product_region, region,
    region_channel) has every row inside one region; a row spanning regions (a
    coupling row) only comes from a family whose coupling is ``product`` or ``global``
    (a sum over a product's or the whole model's cells); a master row (global columns
    only) never comes from a regional family.
    """
    out = []
    for c in am.cons.values():
        rec = ROW.get(c.name)
        if rec is None:
            out.append(f"row block {c.name!r} has no registry record")
            continue
        kinds = split.row_kind[c.start:c.start + c.n]
        if rec.coupling in REGIONAL and (kinds < 0).any():
            out.append(f"{c.name}: registry coupling {rec.coupling} but "
                       f"{int((kinds < 0).sum())} row(s) outside one region")
        if (kinds == COUPLING).any() and rec.coupling not in ("product", "global"):
            out.append(f"{c.name}: registry coupling {rec.coupling} yet a row spans regions")
    return out


@dataclass
class Piece:
    """One subproblem: its own columns (``cols``) then copies of global columns
    (``copies``), its rows, as arrays whose cost is set per solve.
    """

    name: str
    cols: np.ndarray
    copies: np.ndarray
    arrays: HighsArrays
    rows: np.ndarray  # its rows in the model

    @property
    def n_own(self) -> int:
        """Number of own columns (the copies follow them)."""
        return len(self.cols)


def _piece(name: str, a_rows: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray,
           copies: np.ndarray, lo: np.ndarray, up: np.ndarray, integ: np.ndarray,
           rlo: np.ndarray, rup: np.ndarray) -> Piece:
    allc = np.concatenate([cols, copies])
    if len(rows):
        # every entry of the rows is on a column of the piece: each is renumbered by a
        # search in its sorted columns (scipy's column slice scans every column of the
        # model per piece: at 10^6 cells 805 times 16 M)
        order = np.argsort(allc, kind="stable")
        at = np.searchsorted(allc[order], a_rows.indices)
        if (at >= len(allc)).any() or not np.array_equal(allc[order][at], a_rows.indices):
            raise DecompositionError(f"piece {name}: its rows hold columns it has not")
        sub = sp.csr_matrix((a_rows.data, order[at], a_rows.indptr),
                            shape=(len(rows), len(allc))).tocsc()
        sub.sort_indices()
    else:
        sub = sp.csc_matrix((0, len(allc)))
    arr = HighsArrays(len(allc), len(rows), -1, np.zeros(len(allc)), lo[allc].copy(),
                      up[allc].copy(), rlo[rows].copy(), rup[rows].copy(),
                      sub.indptr.astype(np.int32), sub.indices.astype(np.int32),
                      sub.data.astype(np.float64), integ[allc].copy(), name)
    return Piece(name, cols, copies, arr, rows)


def build_pieces(am: ArrayModel, split: Split) -> tuple[Piece, list[Piece]]:
    """The master piece (global columns, master rows) and one piece per region (its
    columns and rows, plus copies of the global columns its rows use).
    """
    a = am.matrix("csr")
    lo, up = am.bounds()
    rlo, rup = am.row_bounds()
    integ = am.integrality()
    rows = split.rows_of(MASTER)
    master = _piece("master", a[rows], rows, split.cols_of(MASTER), np.zeros(0, np.int64),
                    lo, up, integ, rlo, rup)
    out = []
    for name, rows, cols in zip(split.keys, split.rows_by_piece(), split.cols_by_piece(),
                                strict=True):
        ar = a[rows]
        used = np.unique(ar.indices)
        copies = used[split.col_key[used] == MASTER].astype(np.int64)
        out.append(_piece(name, ar, rows, cols, copies, lo, up, integ, rlo, rup))
    return master, out


@dataclass
class PieceTask:
    """What a worker needs to solve one piece once (picklable)."""

    arrays: HighsArrays
    time_limit: float | None
    mip_gap: float
    start: np.ndarray | None = None
    threads: int | None = None  # 1 when workers run side by side (no oversubscription)
    deadline: float | None = None  # time.monotonic() by which it stops (system-wide clock)


@dataclass
class PieceResult:
    """A piece's outcome: ``bound`` is a valid upper bound on its optimum (the MIP dual
    bound when the solve stopped on a limit), ``None`` when HiGHS gave none.
    """

    status: str  # optimal, infeasible, limit, error
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    seconds: float = 0.0


def with_cost(piece: Piece, cost: np.ndarray, *, fix_copies: np.ndarray | None = None,
              lower: np.ndarray | None = None, upper: np.ndarray | None = None,
              integer: bool = True) -> HighsArrays:
    """The piece's arrays with an objective (and optionally the copies fixed at the
    values ``fix_copies``, own bounds replaced, integrality dropped).
    """
    arr = replace(piece.arrays, cost=np.asarray(cost, float))
    if fix_copies is not None or lower is not None or upper is not None:
        lo, up = arr.col_lower.copy(), arr.col_upper.copy()
        if lower is not None:
            lo[:piece.n_own] = lower
        if upper is not None:
            up[:piece.n_own] = upper
        if fix_copies is not None and len(piece.copies):
            lo[piece.n_own:] = up[piece.n_own:] = fix_copies
        arr = replace(arr, col_lower=lo, col_upper=up)
    if not integer:
        arr = replace(arr, integrality=np.zeros_like(arr.integrality))
    return arr


def solve_piece(task: PieceTask) -> PieceResult:
    """Solve one piece with HiGHS (the task the executor runs, in any process)."""
    import time

    t0 = time.perf_counter()
    arr = task.arrays
    if arr.n_cols == 0:
        ok = bool(np.all(arr.row_lower <= 1e-9) and np.all(arr.row_upper >= -1e-9))
        return PieceResult("optimal" if ok else "infeasible", np.zeros(0),
                           0.0 if ok else None, 0.0 if ok else None)
    with _quiet_stdout():  # HiGHS prints its banner on the first instance
        h = highs_from_arrays(arr)
    return run_piece(h, task, t0)


def run_piece(h: Any, task: PieceTask, t0: float) -> PieceResult:
    """Solve a piece already loaded in HiGHS as ``h`` (from ``task.arrays``; loading
    switches stdout, which is per process, so threads load in the main thread and run
    here); ``t0`` is ``time.perf_counter()`` at the task's start.
    """
    import time

    import highspy

    arr = task.arrays
    limit = task.time_limit
    if task.deadline is not None:  # the batch's deadline counts from this task's start
        left = task.deadline - time.monotonic()
        if left < 0.05:
            return PieceResult("limit", None, None, None)
        limit = left if limit is None else min(limit, left)
    integer = bool(np.any(arr.integrality))
    if limit is not None:
        h.setOptionValue("time_limit", max(0.05, float(limit)))
    h.setOptionValue("mip_rel_gap", float(task.mip_gap))
    if task.threads is not None:
        highs_threads(task.threads)
        h.setOptionValue("threads", int(task.threads))
    if task.start is not None and integer and len(task.start) == arr.n_cols:
        h.setSolution(arr.n_cols, np.arange(arr.n_cols, dtype=np.int32),
                      np.asarray(task.start, float))
    h.run()
    st = h.getModelStatus()
    MS = highspy.HighsModelStatus
    info = h.getInfo()
    has = info.primal_solution_status == 2
    x = np.asarray(h.getSolution().col_value, float) if has else None
    obj = float(info.objective_function_value) if has else None
    if task.start is not None and x is not None and obj is not None and \
            abs(float(arr.cost @ x) - obj) > 1e-6 * max(1.0, abs(obj)):
        # HiGHS 1.16 may hand back the start's values next to a better objective
        # (engines.highs.run_highs): solve again from a clean state without the start
        h.clearSolver()
        h.run()
        st, info = h.getModelStatus(), h.getInfo()
        if info.primal_solution_status == 2:
            x = np.asarray(h.getSolution().col_value, float)
            obj = float(info.objective_function_value)
        else:
            obj = float(arr.cost @ x)
    status = {MS.kOptimal: "optimal", MS.kInfeasible: "infeasible",
              MS.kUnboundedOrInfeasible: "infeasible", MS.kTimeLimit: "limit",
              MS.kIterationLimit: "limit", MS.kInterrupt: "limit"}.get(st, "error")
    bound: float | None
    if integer:
        bound = float(info.mip_dual_bound)
        if not math.isfinite(bound):
            bound = None
        if status == "optimal" and obj is not None and bound is not None:
            bound = max(bound, obj)  # never below the piece's own plan
    else:
        bound = obj if status == "optimal" else None
    return PieceResult(status, x, obj, bound, time.perf_counter() - t0)
