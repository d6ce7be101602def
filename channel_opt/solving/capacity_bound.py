"""A valid upper bound on the profit that prices the capacities, without an LP solve.

The constructive heuristic's bound, ``Σ_c max_o Σ_{k∈o} d_ck(o) max(μ_k, 0)``, drops
every rule: it is what the pipeline reports when the solver has no bound of its own
(a time limit inside HiGHS' root LP), and at 10^4 cells with binding capacities it is
30-50 % above the optimum. This module makes it a Lagrangian bound of the
capacity rows.

**Relaxation.** Drop every cost outside the sales margin (openings, listings,
launches, commission, overlap, policies: all ≥ 0), every row except one option per
cell with its demand (floors and 0/1 rules only restrict), and price the capacity
rows ``A q ≤ b`` whose columns are sales (registry role ``capacity``: store labour,
DC, dealer, inventory, ...) with ``λ ≥ 0``:

    L(λ) = λᵀb + Σ_c max(0, max_o Σ_{k∈o} d_ck(o) · max(0, μ_k − (Aᵀλ)_k))

(in a compact cell, which may offer several channels, the sum of its positive options
instead of the best one).

Where shelf space is a rule, its rows ``Σ_p space_p stock_pr ≤ S_r`` are priced
too (``ν ≥ 0``) and the stock decision kept: per (product, region) the better of
stocking it (its cells choose freely, ``ν_r space_p`` paid) and not (its cells choose
among options without store-stock channels), plus ``νᵀS``.

For every ``λ ≥ 0`` and every feasible plan, profit ≤ Σ μ q ≤ Σ μ q + λᵀ(b − A q) ≤
L(λ) (per cell at most one option is offered and each sale lies in ``[0, d]``), so
every ``L(λ)`` is a valid bound and ``L(0)`` is the heuristic's bound.

**Multipliers.** Projected subgradient with Polyak's step toward the best plan known
(the constructive plan, else 0): ``λ ← max(0, λ − θ (L(λ) − target) D g / gᵀDg)``
with ``g = b − A q(λ)``, ``D = diag(1/b²)`` (each row's excess relative to its limit)
and ``θ`` halved after five steps without improvement; the least ``L`` seen is
returned. Each step costs one pass over the offer members.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..model.data import ModelData, offer_touches
from ..model.families.capacity import SHELF_SPACE, STOCK
from ..model.families.core import SALES
from ..model.linear import ArrayModel
from ..model.registry import ROW


def _capacity_rows(am: ArrayModel) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None:
    """The capacity rows over sales columns only (nonnegative uses, a finite upper
    limit): their matrix on the sales block, their limits and their rows in ``am``;
    None if there are none.
    """
    sb = am.vars[SALES.name]
    mats, caps, where = [], [], []
    for c in am.cons.values():
        rec = ROW.get(c.name)
        if rec is None or rec.role != "capacity" or not c.n:
            continue
        inside = (c.cols >= sb.start) & (c.cols < sb.start + sb.n)
        if not inside.all() or (c.vals < 0).any() or np.isfinite(c.lower).any():
            continue
        keep = np.isfinite(c.upper)
        if not keep.any():
            continue
        m = sp.csr_matrix((c.vals, (c.rows, c.cols - sb.start)), shape=(c.n, sb.n))
        mats.append(m[np.flatnonzero(keep)])
        caps.append(c.upper[keep])
        where.append(c.start + np.flatnonzero(keep))
    if not mats:
        return None
    return sp.vstack(mats).tocsr(), np.concatenate(caps), np.concatenate(where)


def _shelf(am: ArrayModel, d: ModelData) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix,
                                                   np.ndarray] | None:
    """The shelf-space rows over ``stock``: per offer whether it needs stock, per cell
    its ``stock[p,r]`` entry (-1: none), the rows' matrix on the stock block and their
    limits; None without shelf space.
    """
    if SHELF_SPACE.name not in am.cons or STOCK.name not in am.vars:
        return None
    stock, c = am.vars[STOCK.name], am.cons[SHELF_SPACE.name]
    touch = offer_touches(d, d.channels["uses_store_stock"].to_numpy(bool))
    pr = pd.MultiIndex.from_arrays([stock.labels["product"].cat.codes.to_numpy(),
                                    stock.labels["region"].cat.codes.to_numpy()])
    cell_pr = pr.get_indexer(pd.MultiIndex.from_arrays([d.cells["p"].to_numpy(),
                                                        d.cells["r"].to_numpy()]))
    m = sp.csr_matrix((c.vals, (c.rows, c.cols - stock.start)), shape=(c.n, stock.n))
    return touch, cell_pr, m, c.upper


def capacity_bound(am: ArrayModel, d: ModelData, target: float | None = None, *,
                   iterations: int = 40, seconds: float = 5.0) -> float:
    """The least Lagrangian bound ``L(λ)`` found (see the module docstring; ``L(0)`` is
    the constructive bound); infinite when the model has no capacity row over sales
    and no shelf space (nothing to price: the caller keeps the bound it has).
    """
    return capacity_prices(am, d, target, iterations=iterations, seconds=seconds)[0]


def capacity_prices(am: ArrayModel, d: ModelData, target: float | None = None, *,
                    iterations: int = 40, seconds: float = 5.0
                    ) -> tuple[float, np.ndarray | None]:
    """:func:`capacity_bound` and the row prices that gave it: ``λ`` on the capacity
    rows over sales, ``ν`` on the shelf-space rows, 0 on every other row of ``am``
    (None when nothing is priced).
    Valued into the options (:func:`~channel_opt.solving.relaxation.priced_sales_values`)
    they steer a constructive plan away from the scarce capacities without an LP.
    """
    rows, shelf = _capacity_rows(am), _shelf(am, d)
    if rows is None and shelf is None:
        return math.inf, None
    sb = am.vars[SALES.name]
    margin = am.cost[sb.start:sb.start + sb.n]
    mem, of = d.members, d.offers
    if not len(of):
        return 0.0, None
    m_sale, m_off = mem["sale"].to_numpy(), mem["offer"].to_numpy()
    dem = mem["demand"].to_numpy()
    cells = of["cell"].to_numpy()
    n_cells = len(d.cells)
    A, cap, where = rows if rows is not None else \
        (sp.csr_matrix((0, sb.n)), np.zeros(0), np.zeros(0, np.int64))
    n_a = len(cap)
    if shelf is not None:
        touch, cell_pr, S, space_cap = shelf
        keep = np.flatnonzero(np.isfinite(space_cap))
        S, space_cap = S[keep], space_cap[keep]
        shelf_rows = am.cons[SHELF_SPACE.name].start + keep
        has_pr = cell_pr >= 0
    else:
        S, space_cap = sp.csr_matrix((0, 0)), np.zeros(0)

    # compact cells may take several options at once (one per channel and level, within
    # a cardinality the relaxation drops): their positive options all count
    compact = d.cells["compact"].to_numpy(bool)
    off_compact = compact[cells]

    def best_of(value: np.ndarray) -> np.ndarray:
        best = np.zeros(n_cells)  # the empty option is worth 0
        np.maximum.at(best, cells[~off_compact], value[~off_compact])
        pos = off_compact & (value > 0)
        return best + np.bincount(cells[pos], weights=value[pos], minlength=n_cells)

    def evaluate(mult: np.ndarray) -> tuple[float, np.ndarray]:
        """(L at the multipliers, subgradient b - A x of the maximizer)."""
        lam, nu = mult[:n_a], mult[n_a:]
        unit = np.maximum(margin - A.T @ lam, 0.0)
        value = np.bincount(m_off, weights=dem * unit[m_sale], minlength=len(of))
        best = best_of(value)
        total = float(lam @ cap)
        g_shelf = np.zeros(0)
        if shelf is not None:
            # per (product, region): stock it (cells choose freely, space priced by ν)
            # or not (cells choose among options without store-stock channels)
            best_ns = best_of(np.where(touch, -np.inf, value))
            n_pr = S.shape[1]
            free = np.bincount(cell_pr[has_pr], weights=best[has_pr], minlength=n_pr)
            without = np.bincount(cell_pr[has_pr], weights=best_ns[has_pr], minlength=n_pr)
            price = S.T @ nu
            stocked = free - price > without
            total += float(best[~has_pr].sum() + np.where(stocked, free - price, without).sum()
                           + nu @ space_cap)
            allowed = ~touch | ~has_pr[cells] | stocked[np.maximum(cell_pr, 0)][cells]
            value = np.where(allowed, value, -np.inf)
            best = np.where(has_pr & ~stocked[np.maximum(cell_pr, 0)], best_ns, best)
            g_shelf = space_cap - S @ stocked.astype(float)
        else:
            total += float(best.sum())
        top = (value >= best[cells]) & (value > 0) & ~off_compact
        # one option per cell with sets: ties go to the first (the argmax of each cell)
        first = np.full(n_cells, len(of))
        np.minimum.at(first, cells[top], np.flatnonzero(top))
        chosen = off_compact & (value > 0)
        chosen[first[first < len(of)]] = True
        on = chosen[m_off] & (unit[m_sale] > 0)
        q = np.bincount(m_sale[on], weights=dem[on], minlength=sb.n)
        return total, np.concatenate([cap - A @ q, g_shelf])

    mult = np.zeros(n_a + len(space_cap))
    base, g = evaluate(mult)
    target = 0.0 if target is None else min(target, base)
    best_bound, value, theta, stall = base, base, 2.0, 0
    best_mult = mult
    stop = time.monotonic() + seconds
    # steps scaled by each row's limit: a relative excess moves every row alike, whatever
    # its unit (hours, units, shelf units)
    scale = 1.0 / np.maximum(np.abs(np.concatenate([cap, space_cap])), 1.0) ** 2
    for _ in range(iterations):
        norm = float(g @ (scale * g))
        if norm <= 0 or time.monotonic() > stop or value - target <= 1e-9 * abs(value):
            break
        mult = np.maximum(0.0, mult - theta * (value - target) / norm * scale * g)
        value, g = evaluate(mult)
        if value < best_bound - 1e-9 * abs(best_bound):
            best_bound, best_mult, stall = value, mult, 0
        else:
            stall += 1
            if stall >= 5:
                theta, stall = theta / 2, 0
    prices = np.zeros(am.n_rows)
    prices[where] = best_mult[:n_a]
    if shelf is not None:
        prices[shelf_rows] = best_mult[n_a:]
    return best_bound, prices
