"""An array-backed linear model: the one definition every backend is fed from.

Constraint families (:mod:`channel_opt.model.families`) add *blocks* of variables and
constraints as numpy arrays (bounds, objective, and coefficient triplets). The same
:class:`ArrayModel` is then

* assembled into one sparse matrix and passed to HiGHS in memory
  (:func:`to_highs`, the fast path), or
* turned into a Pyomo ``ConcreteModel`` with one named component per block
  (:func:`to_pyomo`), for every other backend and for inspection.

So the formulation exists once; the two hand-offs cannot disagree about a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

INF = np.inf


@dataclass
class VarBlock:
    """A block of variables: columns ``start .. start+n-1`` of the model."""

    name: str
    labels: pd.DataFrame  # one row per variable, the index columns of the family
    start: int
    lower: np.ndarray
    upper: np.ndarray
    integer: bool
    description: str = ""

    @property
    def n(self) -> int:
        """Number of variables."""
        return len(self.labels)

    @property
    def cols(self) -> np.ndarray:
        """Global column numbers of the block."""
        return np.arange(self.start, self.start + self.n)


@dataclass
class ConBlock:
    """A block of rows ``lower <= A x <= upper`` with coefficients as triplets."""

    name: str
    labels: pd.DataFrame
    rows: np.ndarray  # local row number of each coefficient
    cols: np.ndarray  # global column of each coefficient
    vals: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    description: str = ""
    start: int = 0  # first global row, set when added

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.labels)


@dataclass
class ArrayModel:
    """Variables, constraints and a maximization objective, all as arrays."""

    name: str = "channel_design"
    vars: dict[str, VarBlock] = field(default_factory=dict)
    cons: dict[str, ConBlock] = field(default_factory=dict)
    _cost: list[np.ndarray] = field(default_factory=list)
    objective_name: str = "profit"
    sense: str = "max"
    n_cols: int = 0
    n_rows: int = 0
    _matrices: dict[str, Any] = field(default_factory=dict, repr=False)  # assembled, cached

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the cached matrices (they are rebuilt on demand)."""
        state = dict(self.__dict__)
        state["_matrices"] = {}
        return state

    def add_vars(self, name: str, labels: pd.DataFrame, *, lower: Any = 0.0,
                 upper: Any = INF, integer: bool = False, binary: bool = False,
                 cost: Any = 0.0, description: str = "") -> VarBlock:
        """Add a block of variables; ``binary`` sets integer with bounds [0, 1]."""
        if name in self.vars:
            raise ValueError(f"variable block {name!r} already defined")
        n = len(labels)
        if binary:
            integer = True
            upper = np.minimum(np.broadcast_to(np.asarray(upper, float), (n,)), 1.0)
        lo = np.array(np.broadcast_to(np.asarray(lower, float), (n,)))
        up = np.array(np.broadcast_to(np.asarray(upper, float), (n,)))
        self._matrices.clear()
        blk = VarBlock(name, labels.reset_index(drop=True), self.n_cols, lo, up, integer,
                       description)
        self.vars[name] = blk
        self._cost.append(np.array(np.broadcast_to(np.asarray(cost, float), (n,))))
        self.n_cols += n
        return blk

    def add_cons(self, name: str, labels: pd.DataFrame,
                 terms: list[tuple[np.ndarray, np.ndarray, Any]], *, lower: Any = -INF,
                 upper: Any = INF, description: str = "") -> ConBlock | None:
        """Add a block of rows; each term is (local rows, global cols, coefficients)."""
        if name in self.cons:
            raise ValueError(f"constraint block {name!r} already defined")
        n = len(labels)
        if n == 0:
            return None
        rows = np.concatenate([np.asarray(t[0], np.int64) for t in terms]) if terms else \
            np.zeros(0, np.int64)
        cols = np.concatenate([np.asarray(t[1], np.int64) for t in terms]) if terms else \
            np.zeros(0, np.int64)
        vals = np.concatenate([np.broadcast_to(np.asarray(t[2], float), (len(t[0]),))
                               for t in terms]) if terms else np.zeros(0)
        keep = vals != 0
        if not keep.all():
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
        lo = np.array(np.broadcast_to(np.asarray(lower, float), (n,)))
        up = np.array(np.broadcast_to(np.asarray(upper, float), (n,)))
        # A row without coefficients that admits 0 always holds: leave it out (solvers
        # such as SCIP reject constant constraints). One that excludes 0 stays, so the
        # infeasibility is seen and diagnosed.
        empty = np.bincount(rows, minlength=n) == 0
        drop = empty & (lo <= 0) & (up >= 0)
        if drop.any():
            keep_rows = np.flatnonzero(~drop)
            if not len(keep_rows):
                return None
            renum = np.full(n, -1)
            renum[keep_rows] = np.arange(len(keep_rows))
            rows = renum[rows]
            labels, lo, up, n = labels.iloc[keep_rows], lo[keep_rows], up[keep_rows], \
                len(keep_rows)
        self._matrices.clear()
        blk = ConBlock(name, labels.reset_index(drop=True), rows, cols, vals, lo, up,
                       description, self.n_rows)
        self.cons[name] = blk
        self.n_rows += n
        return blk

    def fixed(self, x: np.ndarray, blocks: list[str] | None = None, *,
              continuous: bool = False) -> ArrayModel:
        """A copy with the columns of ``blocks`` (default: every integer block) fixed at
        ``x`` (rounded for integer blocks); ``continuous`` drops integrality.
        """
        names = [b.name for b in self.vars.values() if b.integer] if blocks is None else blocks
        m = ArrayModel(name=self.name + "_fixed", objective_name=self.objective_name,
                       sense=self.sense)
        for b in self.vars.values():
            lo, up = b.lower, b.upper
            if b.name in names:
                v = x[b.start:b.start + b.n]
                lo = up = np.rint(v) if b.integer else v
            m.add_vars(b.name, b.labels, lower=lo, upper=up,
                       integer=b.integer and not continuous, description=b.description)
        m._cost = [c.copy() for c in self._cost]
        for c in self.cons.values():
            m.add_cons(c.name, c.labels, [(c.rows, c.cols, c.vals)], lower=c.lower,
                       upper=c.upper, description=c.description)
        return m

    @property
    def nnz(self) -> int:
        """Coefficients of the rows as added (duplicates not yet summed)."""
        return sum(len(c.vals) for c in self.cons.values())

    def restricted(self, x: np.ndarray, blocks: list[str] | None = None, *,
                   continuous: bool = False, bounds_from: frozenset[str] = frozenset(),
                   tol: float = 1e-6) -> Restricted:
        """The model left when the columns of ``blocks`` (default: every integer block)
        are fixed at ``x`` (rounded for integer blocks), with those columns taken out:
        their part of every row moves into its bounds, and a row left without a free
        column is taken out too (checked at the fixed values, relative ``tol``).
        ``continuous`` drops integrality. A row of a block in ``bounds_from`` left with
        one free column becomes a bound of that column (rows whose prices nobody reads:
        the caller names them).

        The same optimum as :meth:`fixed` on a model the solver need not presolve:
        with the design fixed at 10^5 cells of `capacity`, HiGHS gets 333,481 of
        1,547,677 columns and, with the demand rows as bounds, 406 of 1,352,224 rows
        (issue 13: HiGHS' copy of the full fixed model was the peak memory of a run,
        and its presolve of the singleton rows took 2 of the LP's 3.6 s, superlinearly
        more at 10^6 cells).
        """
        names = {b.name for b in self.vars.values() if b.integer} if blocks is None \
            else set(blocks)
        base = np.zeros(self.n_cols)
        free = np.ones(self.n_cols, bool)
        lo, up = (a.copy() for a in self.bounds())
        new_col = np.full(self.n_cols, -1, np.int64)
        at = 0
        for b in self.vars.values():
            if b.name in names:
                v = x[b.start:b.start + b.n]
                base[b.start:b.start + b.n] = np.rint(v) if b.integer else v
                free[b.start:b.start + b.n] = False
            else:
                new_col[b.start:b.start + b.n] = np.arange(at, at + b.n)
                at += b.n
        m = ArrayModel(name=self.name + "_restricted", objective_name=self.objective_name,
                       sense=self.sense)
        kept_rows, broken, rows = [], [], []
        for c in self.cons.values():
            on_free = free[c.cols]
            fix = ~on_free
            act = np.bincount(c.rows[fix], weights=c.vals[fix] * base[c.cols[fix]],
                              minlength=c.n)
            n_free = np.bincount(c.rows[on_free], minlength=c.n)
            gone = np.flatnonzero(n_free == 0)
            if len(gone):
                mag = np.maximum(1.0, np.bincount(
                    c.rows[fix], weights=np.abs(c.vals[fix] * base[c.cols[fix]]),
                    minlength=c.n)[gone])
                bad = (act[gone] < c.lower[gone] - tol * mag) | \
                    (act[gone] > c.upper[gone] + tol * mag)
                broken.append(c.start + gone[bad])
            with np.errstate(invalid="ignore"):  # inf - finite stays inf
                lower, upper = c.lower - act, c.upper - act
            keep_row = n_free > 0
            if c.name in bounds_from:  # l <= a x_j <= u: a bound of column j
                single = on_free & (n_free[c.rows] == 1)
                r, j, a = c.rows[single], c.cols[single], c.vals[single]
                with np.errstate(invalid="ignore", divide="ignore"):
                    blo = np.where(a > 0, lower[r] / a, upper[r] / a)
                    bup = np.where(a > 0, upper[r] / a, lower[r] / a)
                np.maximum.at(lo, j, np.where(np.isnan(blo), -INF, blo))
                np.minimum.at(up, j, np.where(np.isnan(bup), INF, bup))
                keep_row &= n_free != 1
            keep = np.flatnonzero(keep_row)
            if not len(keep):
                continue
            renum = np.full(c.n, -1, np.int64)
            renum[keep] = np.arange(len(keep))
            on = on_free & keep_row[c.rows]
            rows.append((c, keep, renum, on, lower[keep], upper[keep]))
            kept_rows.append(c.start + keep)
        kept_cols = []
        for b, cost in zip(self.vars.values(), self._cost, strict=True):
            if b.name not in names:
                sl = slice(b.start, b.start + b.n)
                m.add_vars(b.name, b.labels, lower=lo[sl], upper=up[sl],
                           integer=b.integer and not continuous, cost=cost,
                           description=b.description)
                kept_cols.append(b.cols)
        for c, keep, renum, on, lower_k, upper_k in rows:
            m.add_cons(c.name, c.labels.iloc[keep],
                       [(renum[c.rows[on]], new_col[c.cols[on]], c.vals[on])],
                       lower=lower_k, upper=upper_k, description=c.description)
        return Restricted(m, base, _cat(kept_cols), _cat(kept_rows), _cat(broken),
                          self.n_rows)

    @property
    def cost(self) -> np.ndarray:
        """Objective coefficient of every column (to be maximized)."""
        return np.concatenate(self._cost) if self._cost else np.zeros(0)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Column lower and upper bounds."""
        if not self.vars:
            return np.zeros(0), np.zeros(0)
        return (np.concatenate([b.lower for b in self.vars.values()]),
                np.concatenate([b.upper for b in self.vars.values()]))

    def integrality(self) -> np.ndarray:
        """1 for integer columns, 0 for continuous ones."""
        return np.concatenate([np.full(b.n, int(b.integer), np.int32)
                               for b in self.vars.values()]) if self.vars else \
            np.zeros(0, np.int32)

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Row lower and upper bounds."""
        if not self.cons:
            return np.zeros(0), np.zeros(0)
        return (np.concatenate([c.lower for c in self.cons.values()]),
                np.concatenate([c.upper for c in self.cons.values()]))

    def matrix(self, fmt: str = "csc") -> sp.csc_matrix | sp.csr_matrix:
        """The constraint matrix, duplicate entries summed (CSR or CSC).

        Assembled once per format and kept until a block is added; treat it as
        read-only.
        """
        if fmt not in self._matrices:
            self._matrices[fmt] = self._assemble(fmt)
        return self._matrices[fmt]

    def _assemble(self, fmt: str) -> sp.csc_matrix | sp.csr_matrix:
        nnz = self.nnz
        idx = np.int32 if max(self.n_rows, self.n_cols, nnz) < 2**31 - 1 else np.int64
        rows = np.empty(nnz, idx)
        cols = np.empty(nnz, idx)
        vals = np.empty(nnz, float)
        at = 0
        for c in self.cons.values():  # fill in place: no temporaries per block
            k = len(c.vals)
            np.add(c.rows, c.start, out=rows[at:at + k], casting="unsafe")
            cols[at:at + k] = c.cols
            vals[at:at + k] = c.vals
            at += k
        # scipy compresses in one counting pass and sums duplicate entries
        coo = sp.coo_matrix((vals, (rows, cols)), shape=(self.n_rows, self.n_cols))
        return coo.tocsc() if fmt == "csc" else coo.tocsr()

    def column_names(self) -> list[str]:
        """Readable names ``block[label,...]`` of every column."""
        return [n for b in self.vars.values() for n in _names(b.name, b.labels)]

    def row_names(self) -> list[str]:
        """Readable names ``block[label,...]`` of every row."""
        return [n for c in self.cons.values() for n in _names(c.name, c.labels)]

    def locate_column(self, j: int) -> tuple[str, dict[str, Any]]:
        """Block name and labels of global column ``j``."""
        for b in self.vars.values():
            if b.start <= j < b.start + b.n:
                return b.name, {str(k): v for k, v in b.labels.iloc[j - b.start].items()}
        raise IndexError(j)

    def locate_row(self, i: int) -> tuple[str, dict[str, Any]]:
        """Block name and labels of global row ``i``."""
        for c in self.cons.values():
            if c.start <= i < c.start + c.n:
                return c.name, {str(k): v for k, v in c.labels.iloc[i - c.start].items()}
        raise IndexError(i)

    def values(self, x: np.ndarray, block: str) -> pd.DataFrame:
        """Labels of a variable block with a ``value`` column taken from ``x``."""
        b = self.vars[block]
        return b.labels.assign(value=x[b.start:b.start + b.n])


@dataclass
class Restricted:
    """A model with some columns fixed and taken out (:meth:`ArrayModel.restricted`).

    ``model`` holds the free columns (``cols``: the parent's column of each) and the
    rows that still have one (``rows``: the parent's row of each); ``base`` is a
    parent-length point with the fixed values; ``broken``: the parent rows taken out
    that do not hold at them (then ``model`` has no feasible point that completes
    ``base``). The objective of ``model`` leaves out the fixed columns' part,
    ``parent.cost @ base``.
    """

    model: ArrayModel
    base: np.ndarray
    cols: np.ndarray
    rows: np.ndarray
    broken: np.ndarray
    n_parent_rows: int

    def lift(self, x: np.ndarray) -> np.ndarray:
        """The parent's point: ``base`` with the free columns from ``x``."""
        full = self.base.copy()
        full[self.cols] = x
        return full

    def lift_rows(self, y: np.ndarray) -> np.ndarray:
        """Per parent row: ``y`` on the rows kept, 0 on the rows taken out (their
        activity is fixed, so a change of their bounds changes no optimum).
        """
        full = np.zeros(self.n_parent_rows)
        full[self.rows] = y
        return full


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _names(block: str, labels: pd.DataFrame) -> list[str]:
    parts = [labels[c].astype(str) for c in labels.columns]
    joined = parts[0]
    for p in parts[1:]:
        joined = joined + "," + p
    return (block + "[" + joined + "]").tolist()


@dataclass
class HighsArrays:
    """Everything ``highspy.Highs.passModel`` takes, column-wise (picklable)."""

    n_cols: int
    n_rows: int
    sense: int  # -1 maximize, 1 minimize (HiGHS ObjSense)
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    integrality: np.ndarray
    name: str = ""


def highs_arrays(am: ArrayModel) -> HighsArrays:
    """The model as the arrays HiGHS takes (the CSC matrix assembled once)."""
    a = am.matrix("csc")
    lo, up = am.bounds()
    rlo, rup = am.row_bounds()
    return HighsArrays(am.n_cols, am.n_rows, -1 if am.sense == "max" else 1, am.cost, lo, up,
                       rlo, rup, a.indptr.astype(np.int32, copy=False),
                       a.indices.astype(np.int32, copy=False),
                       a.data.astype(np.float64, copy=False), am.integrality(), am.name)


def highs_from_arrays(arr: HighsArrays, offset: float = 0.0) -> Any:
    """A new quiet in-memory ``highspy.Highs`` holding the model (``offset``: the
    objective's constant).
    """
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    status = h.passModel(arr.n_cols, arr.n_rows, len(arr.value), 1, arr.sense, offset,
                         arr.cost, arr.col_lower, arr.col_upper, arr.row_lower, arr.row_upper,
                         arr.start, arr.index, arr.value, arr.integrality)
    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS rejected the model {arr.name!r} ({arr.n_cols} columns, "
                           f"{arr.n_rows} rows)")
    return h


def to_highs(am: ArrayModel, *, names: bool = False) -> Any:
    """Pass the model to a new in-memory ``highspy.Highs`` instance (column-wise)."""
    h = highs_from_arrays(highs_arrays(am))
    if names:
        for j, n in enumerate(am.column_names()):
            h.passColName(j, n)
        for i, n in enumerate(am.row_names()):
            h.passRowName(i, n)
    return h


def to_pyomo(am: ArrayModel) -> Any:
    """A Pyomo ``ConcreteModel`` with one component per block, named as in the blocks.

    Variables are indexed by their label tuples, constraints likewise, and the
    objective is ``profit`` (or the model's objective name). Each row is built from
    the block's sparse row slice, never by scanning tables, and straight into Pyomo's
    expression objects (``MonomialTermExpression`` terms of a ``LinearExpression``,
    Python floats): multiplying numpy scalars by Pyomo variables went through numpy's
    ufunc machinery per coefficient and made a 28 k-column member take 12-15 s (now
    ~1.5 s; progressive hedging builds one per scenario and rank). A row without
    bounds (a cut freed by the two-stage shortfall option) stays a row, ``-inf <= body
    <= inf``: Pyomo has no other way to hold it, and it constrains nothing.
    """
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

    m = pyo.ConcreteModel(name=am.name)
    col_vars: list[Any] = [None] * am.n_cols
    for b in am.vars.values():
        keys = _keys(b.labels)
        if not keys:
            continue
        dom = pyo.Binary if (b.integer and np.all(b.lower >= 0) and np.all(b.upper <= 1)) \
            else (pyo.Integers if b.integer else pyo.Reals)
        lo = [None if not np.isfinite(x) else x for x in b.lower.tolist()]
        up = [None if not np.isfinite(x) else x for x in b.upper.tolist()]
        v = pyo.Var(keys, domain=dom, bounds=dict(zip(keys, zip(lo, up, strict=True),
                                                      strict=True)),
                    doc=b.description, dense=True)
        m.add_component(b.name, v)
        col_vars[b.start:b.start + b.n] = [v[k] for k in keys]
    csr = am.matrix("csr")
    indptr = csr.indptr.tolist()
    terms = list(map(MonomialTermExpression,
                     zip(csr.data.tolist(), [col_vars[j] for j in csr.indices.tolist()],
                         strict=True)))
    inf = float("inf")
    for c in am.cons.values():
        keys = _keys(c.labels)
        exprs: dict[Any, Any] = {}
        for i, (k, lo_, up_) in enumerate(zip(keys, c.lower.tolist(), c.upper.tolist(),
                                              strict=True)):
            g = c.start + i
            body = LinearExpression(terms[indptr[g]:indptr[g + 1]])
            lo_f, up_f = lo_ > -inf, up_ < inf
            exprs[k] = (lo_ if lo_f else (None if up_f else -inf), body,
                        up_ if up_f else (None if lo_f else inf))
        m.add_component(c.name, pyo.Constraint(keys, rule=exprs, doc=c.description))
    cost = am.cost
    nz = np.flatnonzero(cost)
    m.add_component(am.objective_name, pyo.Objective(
        expr=LinearExpression(list(map(MonomialTermExpression, zip(
            cost[nz].tolist(), [col_vars[j] for j in nz.tolist()], strict=True)))),
        sense=pyo.maximize if am.sense == "max" else pyo.minimize))
    m._array_model_columns = col_vars  # column order, for extracting values
    return m


def _keys(labels: pd.DataFrame) -> list[Any]:
    if labels.shape[1] == 0:
        raise ValueError("every block needs at least one label column")
    if labels.shape[1] == 1:
        return labels.iloc[:, 0].tolist()
    return list(labels.itertuples(index=False, name=None))
