"""A valid upper bound on the profit that prices the capacities and the fixed costs,
without an LP solve.

The constructive heuristic's bound, ``Σ_c max_o Σ_{k∈o} d_ck(o) max(μ_k, 0)``, drops
every rule: it is what the pipeline reports when the solver has no bound of its own
(a time limit inside HiGHS' root LP), and at 10^4 cells with binding capacities it is
30-50 % above the optimum. This module makes it a Lagrangian bound of the
capacity rows.

**Relaxation.** Drop every cost outside the sales margin (openings, listings,
launches, commission, overlap, policies: all ≥ 0), every row except one option per
cell with its demand (floors and 0/1 rules only restrict), and price the capacity
rows ``A q ≤ b`` whose columns are sales (the registry's capacities: store labour,
DC, dealer, inventory, ...; and every other row of that shape: the cell's market
under independent demand) with ``λ ≥ 0``:

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

**Fixed costs.** The rows that tie 0/1 decisions with a right-hand side of 0 (an
option needs its level, listing and open channel, a level its listing, a listing its
brand, a brand its launch: :func:`_link_rows`) are priced too, ``α`` (``≥ 0`` on a
``≤ 0`` row, free on ``= 0``, ``≤ 0`` on ``≥ 0``): each option pays ``Σ_r α_r a_ro``
out of its value, and each other column of those rows is taken at the bound its
reduced cost ``c_j − (Aᵀα)_j`` points to (its other rows dropped). The profit of a
plan is at most ``L(λ, ν, α)`` for every such ``α`` (its link rows hold, so their
priced terms are ``≥ 0``), and ``α = 0`` gives the old ``L`` less the cost of forced
decisions. Without capacities (`core`) ``min L`` is the model's LP.

**Multipliers.** Sign-based steps per row (Rprop, as for the weights of a neural
network): each row's price moves up where the maximizer over-uses the row and down
where it leaves some unused, by a step of its own that grows by ``GROW`` while the
direction holds and shrinks by ``SHRINK`` when it turns; a row at price 0 with room
left stays put. The first step is a tenth of the row's price scale (the margin its
users earn per unit of the row), so rows in hours, units and shelf units move alike.
The least ``L`` seen is returned; the steps end when ``L`` has not improved by a
millionth in ``PATIENCE`` steps (or at the iterations, the time, or the target).
Each step costs one pass over the offer members.

Why not the subgradient with Polyak's step (used before): one step length for every
row is set by the rows with the largest relative excess, so a single row that many
sales share (the DC's, over 10^6 sales columns) moved a few percent of the way. At
10^6 cells of `capacity` 200 subgradient steps left the maximizer 87 % over the DC's
capacity and the bound at 1,811.5 M; the sign steps from 0 reach a lower bound in
fewer steps (benchmarks/README.md, "The capacities' prices by sign steps").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..model.data import ModelData, offer_touches
from ..model.families.capacity import SHELF_SPACE, STOCK
from ..model.families.core import OFFER, SALES
from ..model.linear import ArrayModel

# the sign steps (see the module docstring): growth while a row's direction holds,
# shrink when it turns, steps without a better bound before they end
GROW, SHRINK, PATIENCE = 1.2, 0.5, 10
# the link rows' steps stall when the bound moves less than this share of its gap
LINK_STALL = 0.05


def _capacity_rows(am: ArrayModel) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None:
    """The rows that cap sales: over sales columns only, nonnegative uses, a finite
    upper limit (the capacities of the registry, and under independent demand each
    cell's market, which a compact cell's several channels share: without its price
    the bound of generated `independent` at 10^4 cells was 21 % above the LP). Their
    matrix on the sales block, their limits and their rows in ``am``; None if none.
    """
    sb = am.vars[SALES.name]
    mats, caps, where = [], [], []
    for c in am.cons.values():
        if not c.n:
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


def _link_rows(am: ArrayModel) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray,
                                         np.ndarray] | None:
    """The rows that tie 0/1 decisions to each other with a right-hand side of 0 (an
    offer needs its level, listing and open channel, a level needs the listing, a
    listing its brand, a brand its launch, ...): every column integer and bounded, each
    row ``≤ 0``, ``= 0`` or ``≥ 0``. Their matrix on all columns, their rows in ``am``
    and the bounds of their prices (``[0, ∞)``, free, ``(-∞, 0]``); None if none.
    """
    col_lo, col_up = am.bounds()
    # integer columns with finite bounds (each at one of them in the relaxation)
    ok = (am.integrality() == 1) & np.isfinite(col_lo) & np.isfinite(col_up)
    mats, where, lo, hi = [], [], [], []
    for c in am.cons.values():
        if not c.n or not ok[c.cols].all():
            continue
        le = (c.upper == 0) & ~np.isfinite(c.lower)
        eq = (c.upper == 0) & (c.lower == 0)
        ge = (c.lower == 0) & ~np.isfinite(c.upper)
        keep = np.flatnonzero(le | eq | ge)
        if not len(keep):
            continue
        m = sp.csr_matrix((c.vals, (c.rows, c.cols)), shape=(c.n, am.n_cols))
        mats.append(m[keep])
        where.append(c.start + keep)
        lo.append(np.where(le[keep], 0.0, -np.inf))
        hi.append(np.where(ge[keep], 0.0, np.inf))
    if not mats:
        return None
    return sp.vstack(mats).tocsr(), np.concatenate(where), np.concatenate(lo), \
        np.concatenate(hi)


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
                   iterations: int = 40, seconds: float = 5.0, gap: float | None = None,
                   links: bool = True) -> float:
    """The least Lagrangian bound ``L(λ, ν, α)`` found (see the module docstring;
    ``L(0)`` is the constructive bound); infinite when the model has nothing to price
    (the caller keeps the bound it has). ``links=False``: the capacities and the shelf
    only, every fixed cost dropped.
    """
    return capacity_prices(am, d, target, iterations=iterations, seconds=seconds, gap=gap,
                           links=links)[0]


# Plans: at most so many rounds of plans at the prices, each after more steps from where
# the last ended (the first plan comes after the steps' first stall), and only while the
# plan is within this many times the gap of the bound: further, the bound is what is
# left open (rows it does not price), which the LP or the product blocks close. At
# 10^4 cells the first plans were 0.8-3.7 % below the bound on `capacity` (seeds 0-3),
# 7.8 % on `apparel`, 19 % on `all`; rounds raised `capacity` to 0.9-1.0 % and left
# the other two where they were (`all` at 10^5: 37 s of steps for nothing)
PLAN_ROUNDS, PLAN_REACH = 4, 5.0


def capacity_prices(am: ArrayModel, d: ModelData, target: float | None = None, *,
                    iterations: int = 40, seconds: float = 5.0, gap: float | None = None,
                    links: bool = True,
                    plans: Callable[[np.ndarray, float], float | None] | None = None
                    ) -> tuple[float, np.ndarray | None]:
    """:func:`capacity_bound` and the prices of the capacity rows that gave it: ``λ`` on
    the capacity rows over sales, ``ν`` on the shelf-space rows, 0 on every other row
    of ``am``, the link rows included (None when no capacity row is priced).
    Valued into the options (:func:`~channel_opt.solving.relaxation.priced_sales_values`)
    they steer a constructive plan away from the scarce capacities without an LP.

    Two rounds of sign steps: the capacities' and the shelf's prices alone (at most
    ``iterations`` steps, until the bound stalls: a millionth in ``PATIENCE`` steps),
    then with the link rows' prices too, from there, until the bound is within ``gap``
    of ``target`` (the plan) or stalls (less than ``LINK_STALL`` of its gap to the
    plan in ``PATIENCE`` steps). Both within ``seconds``.

    ``plans(prices, bound)`` (a Lagrangian heuristic): builds plans with the options
    valued at the capacities' prices and returns the best plan's value (None: none).
    Called when the steps end; while its plan is better than ``target`` and the gap
    is open, that plan is the new target and the steps go on from where they ended
    (at most ``PLAN_ROUNDS`` plans, a later one only within ``seconds`` and while the
    plan is within ``PLAN_REACH`` times ``gap`` of the bound). The steps
    stall against a plan far below the bound long before the capacities' prices are
    settled, and plans at unsettled prices are poor: at 10^4 cells of `capacity` the
    first plan at the prices was 3.7 % below the bound, the fourth 0.99 %.
    """
    pricer = Pricer.of(am, d, links)
    if pricer is None:
        return math.inf, None
    if not len(d.offers):
        return 0.0, None
    stop = time.monotonic() + seconds
    caps = np.arange(pricer.n_mult) < pricer.n_mult - pricer.n_l
    first = pricer.evaluate(np.zeros(pricer.n_mult))
    target = 0.0 if target is None else min(target, first[0])
    steps = SignSteps(pricer, np.zeros(pricer.n_mult), caps, first)
    if caps.any():
        steps.run(target, iterations, stop)
    if pricer.n_l:  # from where the capacities' round ended (or from 0: ``first``)
        steps = SignSteps(pricer, steps.best_mult, np.ones(pricer.n_mult, bool),
                          None if caps.any() else first)
        steps.run(target, iterations, stop, gap)
    if not caps.any():
        return steps.best, None
    for rounds in range(PLAN_ROUNDS if plans is not None else 0):
        got = None if plans is None or (rounds and time.monotonic() > stop) else \
            plans(pricer.row_prices(steps.best_mult), steps.best)
        if got is None or got <= target or not pricer.n_l or (
                gap is not None and not gap * abs(got) < steps.best - got
                <= PLAN_REACH * gap * abs(got)):
            break
        target = got
        steps.run(target, iterations, stop, gap)
    return steps.best, pricer.row_prices(steps.best_mult)


class SignSteps:
    """Sign steps (module docstring) on the ``moving`` multipliers from ``mult``, which
    can be taken up again (:meth:`run`) from where they ended with each row's step
    kept: ``best`` is the least bound seen and ``best_mult`` its multipliers. ``first``:
    ``pricer.evaluate(mult)`` when the caller has it (one pass over the members less).
    """

    def __init__(self, pricer: Pricer, mult: np.ndarray, moving: np.ndarray,
                 first: tuple[float, np.ndarray, np.ndarray] | None = None) -> None:
        self.pricer, self.mult, self.moving = pricer, mult, moving
        self.value, self.g, _ = first if first is not None else pricer.evaluate(mult)
        self.best, self.best_mult = self.value, mult
        self.step = 0.1 * pricer.price_scale()
        self.last = np.zeros(pricer.n_mult)  # each row's last move: +1 up, -1 down, 0 none

    def run(self, target: float, iterations: int, stop: float,
            gap: float | None = None) -> None:
        """At most ``iterations`` steps. Without ``gap`` they end when the bound stalls
        by a millionth of itself, with it when within ``gap`` of ``target`` or when the
        bound stalls by ``LINK_STALL`` of its distance to ``target``.
        """
        pricer, moving = self.pricer, self.moving
        lo, hi = pricer.m_lo, pricer.m_hi
        stall = 0
        for _ in range(iterations):
            if time.monotonic() > stop or self.value - target <= 1e-9 * abs(self.value) or \
                    stall >= PATIENCE or \
                    (gap is not None and self.best - target <= gap * abs(target)):
                break
            up = np.where(moving, -np.sign(self.g), 0.0)  # over-used (g < 0): dearer
            up = np.where(((up > 0) & (self.mult < hi)) | ((up < 0) & (self.mult > lo)),
                          up, 0.0)
            turn = up * self.last
            self.step = np.where(turn > 0, GROW * self.step,
                                 np.where(turn < 0, SHRINK * self.step, self.step))
            self.mult = np.clip(self.mult + up * self.step, lo, hi)
            self.last = np.where(turn < 0, 0.0, up)
            self.value, self.g, _ = pricer.evaluate(self.mult)
            enough = 1e-6 * abs(self.best) if gap is None else \
                max(1e-6 * abs(self.best), LINK_STALL * (self.best - target))
            if self.value < self.best - enough:
                self.best, self.best_mult, stall = self.value, self.mult, 0
            else:
                stall += 1
                if self.value < self.best:
                    self.best, self.best_mult = self.value, self.mult


class Pricer:
    """The relaxation of the module docstring: ``L(λ, ν, α)`` and its maximizer for
    multipliers on the rows that cap sales (first), the shelf-space rows and the link
    rows (last).
    """

    @classmethod
    def of(cls, am: ArrayModel, d: ModelData, links: bool = True) -> Pricer | None:
        """None when the model has no capacity row over sales, no shelf space and (or
        without ``links``) no link rows.
        """
        rows, shelf = _capacity_rows(am), _shelf(am, d)
        link = _link_rows(am) if links and OFFER.name in am.vars else None
        if rows is None and shelf is None and link is None:
            return None
        return cls(am, d, rows, shelf, link)

    def __init__(self, am: ArrayModel, d: ModelData,
                 rows: tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None,
                 shelf: tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray] | None,
                 link: tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray] | None = None
                 ) -> None:
        self.n_rows = am.n_rows
        sb = am.vars[SALES.name]
        self.n_sales = sb.n
        self.margin = am.cost[sb.start:sb.start + sb.n]
        mem, of = d.members, d.offers
        self.n_offers = len(of)
        self.m_sale, self.m_off = mem["sale"].to_numpy(), mem["offer"].to_numpy()
        self.dem = mem["demand"].to_numpy()
        self.cells = of["cell"].to_numpy()
        self.n_cells = len(d.cells)
        self.A: sp.csr_matrix
        self.cap: np.ndarray
        self.where: np.ndarray
        self.A, self.cap, self.where = rows if rows is not None else \
            (sp.csr_matrix((0, sb.n)), np.zeros(0), np.zeros(0, np.int64))
        self.n_a = len(self.cap)
        self.shelf = shelf is not None
        if shelf is not None:
            self.touch, self.cell_pr, S, space_cap = shelf
            keep = np.flatnonzero(np.isfinite(space_cap))
            self.S, self.space_cap = S[keep], space_cap[keep]
            self.shelf_rows = am.cons[SHELF_SPACE.name].start + keep
            self.has_pr = self.cell_pr >= 0
        else:
            self.S, self.space_cap = sp.csr_matrix((0, 0)), np.zeros(0)
            self.shelf_rows = np.zeros(0, np.int64)
        # the link rows: their part on the offers (charged to each option) and on the
        # other columns (each at the bound its reduced cost points to)
        if link is not None:
            m, self.link_rows, lo_l, hi_l = link
            ob = am.vars[OFFER.name]
            mc = m.tocsc()
            self.L_off = mc[:, ob.start:ob.start + ob.n].tocsr()
            used = np.flatnonzero(np.diff(mc.indptr))
            self.des = used[(used < ob.start) | (used >= ob.start + ob.n)]
            self.L_des = mc[:, self.des].tocsr()
            lo, up = am.bounds()
            self.c_des, self.lo_des, self.up_des = am.cost[self.des], lo[self.des], up[self.des]
        else:
            lo_l = hi_l = np.zeros(0)
            self.link_rows = self.des = np.zeros(0, np.int64)
            self.L_off = sp.csr_matrix((0, self.n_offers))
            self.L_des = sp.csr_matrix((0, 0))
            self.c_des = self.lo_des = self.up_des = np.zeros(0)
        self.n_l = len(lo_l)
        self.n_mult = self.n_a + len(self.space_cap) + self.n_l
        # each multiplier's range: capacities and shelf ≥ 0, a link row's by its sense
        self.m_lo = np.concatenate([np.zeros(self.n_mult - self.n_l), lo_l])
        self.m_hi = np.concatenate([np.full(self.n_mult - self.n_l, np.inf), hi_l])
        # compact cells take several options at once (one per channel and level), at
        # most max_channels_per_cell of them: their best positive ones count (under mnl
        # each at its value alone, which offered together it does not reach)
        self.off_compact = d.cells["compact"].to_numpy(bool)[self.cells]
        self.compact = np.flatnonzero(self.off_compact)
        self.cell_cap = d.cells["cap"].to_numpy()
        # only the cells with more options than their cap need their options ranked
        # (the ranking was two thirds of the steps' time at 10^4 cells of `independent`)
        n_opts = np.bincount(self.cells[self.compact], minlength=self.n_cells)
        ranked = (n_opts > self.cell_cap)[self.cells[self.compact]]
        self.ranked, self.unranked = self.compact[ranked], self.compact[~ranked]

    def _taken(self, value: np.ndarray) -> np.ndarray:
        """Per option: a compact cell's, among its cell's ``cap`` best, positive."""
        out = np.zeros(self.n_offers, bool)
        out[self.unranked] = value[self.unranked] > 0
        comp = self.ranked
        if len(comp):
            v, c = value[comp], self.cells[comp]
            order = np.lexsort((-v, c))
            cs = c[order]
            rank = np.arange(len(order)) - np.searchsorted(cs, cs)
            keep = (rank < self.cell_cap[cs]) & (v[order] > 0)
            out[comp[order[keep]]] = True
        return out

    def _best_of(self, value: np.ndarray) -> np.ndarray:
        cells, comp = self.cells, self.off_compact
        best = np.zeros(self.n_cells)  # the empty option is worth 0
        np.maximum.at(best, cells[~comp], value[~comp])
        pos = self._taken(value)
        return best + np.bincount(cells[pos], weights=value[pos], minlength=self.n_cells)

    def evaluate(self, mult: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(L at the multipliers, subgradient ``b - A q`` of the maximizer (the shelf's
        after the capacities'), the maximizer's sales ``q``).
        """
        n_cs = self.n_mult - self.n_l
        lam, nu, alpha = mult[:self.n_a], mult[self.n_a:n_cs], mult[n_cs:]
        cells, m_off, m_sale, dem = self.cells, self.m_off, self.m_sale, self.dem
        unit = np.maximum(self.margin - self.A.T @ lam, 0.0)
        value = np.bincount(m_off, weights=dem * unit[m_sale], minlength=self.n_offers)
        total = float(lam @ self.cap)
        x_des = np.zeros(0)
        if self.n_l:
            value = value - self.L_off.T @ alpha  # what the option's links charge
            rc = self.c_des - self.L_des.T @ alpha
            x_des = np.where(rc > 0, self.up_des, self.lo_des)
            total += float(rc @ x_des)
        best = self._best_of(value)
        g_shelf = np.zeros(0)
        if self.shelf:
            # per (product, region): stock it (cells choose freely, space priced by ν)
            # or not (cells choose among options without store-stock channels)
            touch, cell_pr, has_pr = self.touch, self.cell_pr, self.has_pr
            best_ns = self._best_of(np.where(touch, -np.inf, value))
            n_pr = self.S.shape[1]
            free = np.bincount(cell_pr[has_pr], weights=best[has_pr], minlength=n_pr)
            without = np.bincount(cell_pr[has_pr], weights=best_ns[has_pr], minlength=n_pr)
            price = self.S.T @ nu
            stocked = free - price > without
            total += float(best[~has_pr].sum() + np.where(stocked, free - price, without).sum()
                           + nu @ self.space_cap)
            allowed = ~touch | ~has_pr[cells] | stocked[np.maximum(cell_pr, 0)][cells]
            value = np.where(allowed, value, -np.inf)
            best = np.where(has_pr & ~stocked[np.maximum(cell_pr, 0)], best_ns, best)
            g_shelf = self.space_cap - self.S @ stocked.astype(float)
        else:
            total += float(best.sum())
        n_of = self.n_offers
        top = (value >= best[cells]) & (value > 0) & ~self.off_compact
        # one option per cell with sets: ties go to the first (the argmax of each cell)
        first = np.full(self.n_cells, n_of)
        np.minimum.at(first, cells[top], np.flatnonzero(top))
        chosen = self._taken(value)
        chosen[first[first < n_of]] = True
        on = chosen[m_off] & (unit[m_sale] > 0)
        q = np.bincount(m_sale[on], weights=dem[on], minlength=self.n_sales)
        g_link = -(self.L_off @ chosen.astype(float) + self.L_des @ x_des)  # 0 - a x
        return total, np.concatenate([self.cap - self.A @ q, g_shelf, g_link]), q

    def price_scale(self) -> np.ndarray:
        """Per multiplier, what its row's users earn per unit of the row: for a
        capacity row over sales the margins of its columns over their coefficients;
        for a shelf row the value of its (product, region)s' cells (each its best
        option) over their shelf space. At least a millionth of the largest, so that
        no row starts with a step of 0.
        """
        use = np.asarray(self.A.sum(axis=1)).ravel()
        scale = np.divide(_pattern(self.A) @ np.maximum(self.margin, 0.0), use,
                          out=np.zeros(self.n_a), where=use > 0)
        if self.shelf:
            cell_value = self._best_of(np.bincount(
                self.m_off, weights=self.dem * np.maximum(self.margin, 0.0)[self.m_sale],
                minlength=self.n_offers))
            has = self.has_pr
            pr_value = np.bincount(self.cell_pr[has], weights=cell_value[has],
                                   minlength=self.S.shape[1])
            space = np.asarray(self.S.sum(axis=1)).ravel()
            scale = np.concatenate([scale, np.divide(_pattern(self.S) @ pr_value, space,
                                                     out=np.zeros(len(space)),
                                                     where=space > 0)])
        if self.n_l:
            # a link row: the fixed costs of its columns, each spread over its link rows
            # (a row whose columns cost nothing, e.g. a price level: the median row's)
            deg = np.diff(self.L_des.tocsc().indptr)
            per = np.abs(self.c_des) / np.maximum(deg, 1)
            link = _pattern(self.L_des) @ per
            pos = link[link > 0]
            link = np.where(link > 0, link, float(np.median(pos)) if len(pos) else 0.0)
            scale = np.concatenate([scale, link])
        top = float(scale.max(initial=0.0))
        return np.maximum(scale, 1e-6 * top if top > 0 else 1.0)

    def row_prices(self, mult: np.ndarray) -> np.ndarray:
        """The capacity and shelf multipliers as prices on the rows of the model (0 on
        every other row, the link rows included: the sales values they give are the
        capacities', :func:`~channel_opt.solving.relaxation.priced_sales_values`).
        """
        prices = np.zeros(self.n_rows)
        prices[self.where] = mult[:self.n_a]
        prices[self.shelf_rows] = mult[self.n_a:self.n_mult - self.n_l]
        return prices


def _pattern(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` with every stored coefficient 1 (which columns each row holds)."""
    out = m.copy()
    out.data = np.ones_like(out.data)
    return out
