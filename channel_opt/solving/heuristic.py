"""A fast constructive plan and a cheap valid bound, from the model's own arrays.

* **Plan.** Each cell gets the offer option (channel set and levels) with the largest
  stand-alone value (demand of each member at its level times that level's unit
  margin), among the options agreeing with one level per (product, channel), or
  nothing if no option earns money; listings, openings, brands, launches, stock and
  price levels follow from the chosen options; the sales are then the LP with that
  design fixed. If the rules make that design infeasible, the empty design is tried.
  The plan is a MIP start for the solver and the incumbent of last resort when a time
  limit stops the solver before it has one.
* **Bound.** Every cost outside the sales margin is nonnegative and every rule only
  restricts sales, so ``sum over cells of the best option value`` bounds the profit
  from above. It costs one pass over the offers and holds even when the solver
  stops before its root node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.data import ModelData, offer_touches, offer_touches_kind
from ..model.families.capacity import SHELF_SPACE, STOCK
from ..model.families.conflict import COMMISSION_POLICY, OVERLAP, OVERLAP_BUDGET
from ..model.families.core import (
    BRAND_KIND,
    LAUNCH_BRAND,
    LIST_PRODUCT,
    OFFER,
    OPEN_CHANNEL,
    SALES,
    SELL_BRAND,
    USE_CHANNEL,
)
from ..model.families.partners import PARTNER_FLOOR
from ..model.families.pricing import PRICE_LEVEL, PRICE_PARITY
from ..model.linear import ArrayModel
from ..model.records import VarFamily
from ..model.registry import ROW
from .engines import engine_with
from .sensitivity import fixed_design, fixed_design_plan

log = logging.getLogger(__name__)


@dataclass
class Construction:
    """The constructive plan (``x`` is None if no design was feasible) and the bound,
    with where each came from (reported in ``Solution.method``).
    """

    x: np.ndarray | None
    objective: float | None
    bound: float
    origin: str = "constructive plan"
    bound_origin: str = "cheap bound (best set per cell)"


class Clash:
    """Pairs of price levels that cannot both be chosen, read from the model's
    conflict-graph rows (``price_parity``: two binaries, ``x_a + x_b <= 1``), as a
    symmetric adjacency over the rows of ``ModelData.levels``.
    """

    def __init__(self, am: ArrayModel, d: ModelData) -> None:
        n = len(d.levels)
        a = b = np.zeros(0, np.int64)
        if PRICE_PARITY.name in am.cons:
            con = am.cons[PRICE_PARITY.name]
            z = d.levels["z"].to_numpy()
            # the column choosing each level: its price_level, or the listing where
            # the (product, channel) has one level (as the pricing family builds it)
            # (no price_level block where every pair has a single level)
            z_start = am.vars[PRICE_LEVEL.name].start if PRICE_LEVEL.name in am.vars else 0
            col = np.where(z >= 0, z_start + z,
                           am.vars[LIST_PRODUCT.name].start + d.levels["pk"].to_numpy())
            level_of = pd.Series(np.arange(n), index=col)
            order = np.argsort(con.rows, kind="stable")  # two terms per row
            cols = con.cols[order].reshape(-1, 2)
            a = level_of.reindex(cols[:, 0]).to_numpy(np.int64)
            b = level_of.reindex(cols[:, 1]).to_numpy(np.int64)
        src = np.concatenate([a, b])
        dst = np.concatenate([b, a])
        order = np.argsort(src, kind="stable")
        self.src = src[order]
        self.ptr = np.searchsorted(self.src, np.arange(n + 1))
        self.nbr = dst[order]
        self.any = bool(len(a))
        self.prod = d.levels["p"].to_numpy()

    def choose(self, pk: np.ndarray, key: np.ndarray, used: np.ndarray,
               worth: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """One level per (product, channel), no two clashing, by two greedy passes
        (:meth:`greedy`): by ``key`` with the ``used`` levels first (as without
        clashes), and by ``key`` less the keys of the levels it clashes with, every
        level of a (product, channel) with a used level first (a level that shuts out
        more valuable ones comes later). Per product the pass whose levels are
        ``worth`` more wins (``worth``: chosen levels -> value per product).
        """
        used_pk = np.bincount(pk, weights=used, minlength=int(pk.max(initial=-1)) + 1) > 0
        gain = np.maximum(key, 0.0)
        net = key - np.bincount(self.src, weights=gain[self.nbr], minlength=len(key))
        passes = [self.greedy(pk, key, np.where(used, 0, np.where(used_pk[pk], 1, 2))),
                  self.greedy(pk, net, np.where(used_pk[pk], 0, 1))]
        better = worth(passes[1]) > worth(passes[0])
        return np.where(better[self.prod], passes[1], passes[0])

    def greedy(self, pk: np.ndarray, key: np.ndarray, tier: np.ndarray) -> np.ndarray:
        """One level per (product, channel) by increasing ``tier``, then decreasing
        ``key``, each only if no level taken before clashes with it.
        """
        chosen = np.zeros(len(pk), bool)
        done = np.zeros(int(pk.max(initial=-1)) + 1, bool)
        order = np.lexsort((-key, tier))
        # a pair whose first level clashes with nothing takes it at once
        best = order[np.unique(pk[order], return_index=True)[1]]
        free = best[self.ptr[best + 1] == self.ptr[best]]
        chosen[free] = True
        done[pk[free]] = True
        for i in order[~done[pk[order]]]:
            if done[pk[i]] or chosen[self.nbr[self.ptr[i]:self.ptr[i + 1]]].any():
                continue
            chosen[i] = True
            done[pk[i]] = True
        return chosen


def _level_choice(d: ModelData, value: np.ndarray, mem_value: np.ndarray,
                  clash: Clash | None = None) -> np.ndarray:
    """Offers whose members' levels agree with one level per (product, channel).

    A product takes one price level per channel, so cells cannot each pick their own:
    the level of a (product, channel) is the one carrying the most value among the
    cells' best offers (for pairs no best offer uses, the level of largest member
    value); offers using any other level are dropped from the choice. With ``clash``
    (levels that cannot be chosen together, e.g. under the price-parity band) the
    levels are taken greedily by that value, each only if it clashes with none taken
    before; a (product, channel) left without a level is not offered at all.
    """
    mem, s = d.members, d.sales
    lev = s["lev"].to_numpy()[mem["sale"].to_numpy()]
    m_off = mem["offer"].to_numpy()
    top, val = _argmax_per_cell(value, d.offers["cell"].to_numpy())
    in_top = np.zeros(len(d.offers), bool)
    in_top[top[val > 0]] = True
    score = np.bincount(lev, weights=np.where(in_top[m_off], mem_value, 0.0),
                        minlength=len(d.levels))
    used = np.bincount(lev, weights=in_top[m_off], minlength=len(d.levels)) > 0
    pk = d.levels["pk"].to_numpy()
    fallback = np.full(len(d.levels), -np.inf)
    np.maximum.at(fallback, lev, mem_value)
    used_pk = np.bincount(pk, weights=used, minlength=len(d.pk)) > 0
    if clash is not None and clash.any:
        cell_p = d.cells["p"].to_numpy()

        def worth(chosen: np.ndarray) -> np.ndarray:  # per product: what its cells pick
            bad = np.bincount(m_off, weights=~chosen[lev], minlength=len(d.offers)) > 0
            picked = _pick(d, np.where(bad, -np.inf, value))
            return np.bincount(cell_p[cells[picked]], weights=value[picked],
                               minlength=len(d.products))

        cells = d.offers["cell"].to_numpy()
        chosen = clash.choose(pk, np.where(used, score, fallback), used, worth)
    else:
        key = np.where(used_pk[pk], np.where(used, score, -np.inf), fallback)
        order = np.lexsort((-key, pk))
        best = order[np.unique(pk[order], return_index=True)[1]]
        chosen = np.zeros(len(d.levels), bool)
        chosen[best] = True
    bad = np.bincount(m_off, weights=~chosen[lev], minlength=len(d.offers)) > 0
    return ~bad


def construct(am: ArrayModel, d: ModelData, rounds: int = 6,
              time_limit: float | None = None,
              unit_value: np.ndarray | None = None,
              lp_limit: float | None = None) -> Construction:
    """The constructive plan and the cheap upper bound.

    The option values are re-weighted for a few rounds: where the fixed-design LP
    misses a floor row (partner profit, service level, dealer minimum volume), what
    each unit sold adds to that row counts extra in the next choice (:class:`Floors`);
    where shelf space is short, the least valuable store assortment per unit of space
    is dropped. Within a round the cells' options are restricted to one price level
    per (product, channel), no two of a product clashing (price parity).
    With ``time_limit`` (seconds) no new round starts once it has passed.
    ``lp_limit`` (seconds, at least ``time_limit``): how long a round's sales LP may
    run past ``time_limit`` while no plan is found (a stopped LP is lost, and at 10^6
    cells of `capacity` the first one alone takes 175 s); default ``time_limit``.
    ``unit_value`` (per sales column) replaces the unit margins in the option values,
    e.g. margins with the floors and capacities priced by the LP relaxation's duals
    (:func:`~channel_opt.solving.relaxation.priced_sales_values`); the cheap bound is
    always the margins'.
    """
    stop = None if time_limit is None else time.monotonic() + time_limit
    lp_stop = stop if stop is None or lp_limit is None else \
        time.monotonic() + max(time_limit or 0.0, lp_limit)

    def left() -> float | None:  # seconds for the next LP (every LP here is before a plan)
        return None if lp_stop is None else max(0.1, lp_stop - time.monotonic())

    mem, of = d.members, d.offers
    sb = am.vars[SALES.name]
    unit_margin = am.cost[sb.start:sb.start + sb.n]
    unit = np.maximum(unit_margin, 0.0)
    m_sale, m_off = mem["sale"].to_numpy(), mem["offer"].to_numpy()
    dem = mem["demand"].to_numpy()
    hq_mem = dem * unit[m_sale]
    hq = np.bincount(m_off, weights=hq_mem, minlength=len(of))
    cells = of["cell"].to_numpy()
    # every cost outside the sales margin is nonnegative and each cell sells at most the
    # demand of its option at the option's levels: the best option value per cell bounds
    # (compact cells: the sum of their best max_channels_per_cell option values)
    bound = float(np.sum(hq[_pick(d, hq, together=True)]))
    if unit_value is not None:
        hq_mem = dem * np.maximum(unit_value, 0.0)[m_sale]
        hq = np.bincount(m_off, weights=hq_mem, minlength=len(of))
    units = np.bincount(m_off, weights=dem, minlength=len(of))
    if not len(of):  # nothing can be offered: the empty design or nothing
        done = _complete(am, _design_vector(am, d, cells))
        return Construction(done, None if done is None else float(am.cost @ done), bound)
    floors = Floors(am)
    clash = Clash(am, d)
    for _ in range(rounds):
        mem_value = hq_mem + dem * floors.extra()[m_sale]
        value = np.bincount(m_off, weights=mem_value, minlength=len(of))
        value = np.where(_level_choice(d, value, mem_value, clash), value, -np.inf)
        fit = _fit_shelf(am, d, _pick(d, value), value)
        chosen = _fit_overlap_budget(am, d, fit, value, by_cost=True)
        x = _design_vector(am, d, chosen)
        done = _complete(am, x, left())
        if done is None:  # ending the costly overlaps may cost a floor: keep them
            kept = _fit_overlap_budget(am, d, fit, value, by_cost=False)
            if not np.array_equal(kept, chosen):
                x = _design_vector(am, d, kept)
                done = _complete(am, x, left())
        if done is not None:
            return Construction(done, float(am.cost @ done), bound)
        if stop is not None and time.monotonic() > stop:
            break
        if not floors.raise_short(x, _unit_weight(hq, units, unit_margin), left()):
            break
    if stop is not None and time.monotonic() > stop:
        return Construction(None, None, bound)  # no time for the empty design either
    done = _complete(am, _design_vector(am, d, cells[:0]), left())
    if done is not None:
        return Construction(done, float(am.cost @ done), bound)
    done = _serve_all(am, d, units, dem, left)
    if done is not None:
        return Construction(done, float(am.cost @ done), bound)
    return Construction(None, None, bound)


def _serve_all(am: ArrayModel, d: ModelData, units: np.ndarray, dem: np.ndarray,
               left: Callable[[], float | None]) -> np.ndarray | None:
    """The design that can sell the most: every cell gets the option with the most
    demand (compact cells: their max_channels_per_cell largest channels), and every
    channel it needs is opened and used; then the channels and options that sell
    nothing in its sales LP are dropped and the sales solved again.

    For a pure cost-minimization scenario (every margin <= 0, service levels forcing
    sales, capacities to respect) where the value-driven rounds find no feasible
    design: the LP spreads the forced units over the cheapest capacity left.
    """
    mem = d.members
    ok = _level_choice(d, units, dem, Clash(am, d))
    chosen = _pick(d, np.where(ok, units + 1.0, -np.inf), together=True)
    done = _complete(am, _design_vector(am, d, chosen), left())
    if done is None:
        return None
    sb = am.vars[SALES.name]
    for _ in range(2):  # drop what does not sell, solve again
        q = done[sb.start:sb.start + sb.n]
        sells = np.bincount(mem["offer"].to_numpy(), weights=q[mem["sale"].to_numpy()],
                            minlength=len(d.offers)) > 1e-9
        kept = chosen[sells[chosen]]
        if len(kept) == len(chosen):
            break
        again = _complete(am, _design_vector(am, d, kept), left())
        if again is None or am.cost @ again < am.cost @ done:
            break
        done, chosen = again, kept
    return done


def _pick(d: ModelData, value: np.ndarray, *, together: bool = False) -> np.ndarray:
    """The offers chosen by value: per cell with sets, its best option (none unless its
    value is positive); per compact cell (one option per channel and level), its
    ``max_channels_per_cell`` best options with a positive value -- under mnl only
    the best one unless ``together`` (offered together, each sells less than alone).
    """
    cells = d.offers["cell"].to_numpy()
    order = np.lexsort((-value, cells))
    c_sorted = cells[order]
    start = np.searchsorted(c_sorted, c_sorted)  # first position of each one's cell
    rank = np.arange(len(order)) - start
    compact = d.cells["compact"].to_numpy(bool)[c_sorted]
    several = compact if together else compact & ~d.mnl_compact[c_sorted]
    cap = np.where(several, d.cells["cap"].to_numpy()[c_sorted], 1)
    keep = (rank < cap) & (value[order] > 0)
    return np.sort(order[keep])


def _complete(am: ArrayModel, x: np.ndarray,
              time_limit: float | None = None) -> np.ndarray | None:
    """Sales for the design ``x``: the LP with every decision fixed; if that fails, the
    small MIP with only the offered sets fixed (price levels, listings, policies free,
    e.g. to respect the price-parity band), for at most 20 s. Both within
    ``time_limit`` seconds.
    """
    t0 = time.monotonic()
    done = fixed_design_plan(am, x, time_limit=time_limit)
    if done is not None or OFFER.name not in am.vars:
        return done
    mip_limit = 20.0 if time_limit is None else time_limit - (time.monotonic() - t0)
    if mip_limit < 1.0:
        return None
    return fixed_design_plan(am, x, [OFFER.name], time_limit=min(20.0, mip_limit),
                             mip_gap=1e-3)


def _argmax_per_cell(value: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best offer of every cell that has offers, and its value."""
    order = np.lexsort((-value, cells))
    top = order[np.unique(cells[order], return_index=True)[1]]
    return top, value[top]


def _unit_weight(hq: np.ndarray, units: np.ndarray, unit_margin: np.ndarray) -> float:
    """First weight of a unit of demand where a service level is missed: money per unit.

    When no set earns money (every margin <= 0, so ``hq`` is all 0) the scale is the
    largest unit loss instead (at least 1), so that the reweighting still offers sets.
    """
    w = float(np.abs(hq).max(initial=0.0)) / max(float(units.max(initial=0.0)), 1.0)
    if w > 0:
        return w
    return max(float(np.abs(unit_margin[np.isfinite(unit_margin)]).max(initial=0.0)), 1.0)


class Floors:
    """The floor rows of the model (registry role ``floor``: partner profit, service
    levels, dealer minimum volume) and a weight per row, raised where a fixed design
    misses the floor: a sales column is then worth its coefficients in those rows
    times their weights on top of its margin.
    """

    def __init__(self, am: ArrayModel) -> None:
        self.am = am
        self.blocks = [c for c in am.cons.values()
                       if c.name in ROW and ROW[c.name].role == "floor"]
        rows = [c.start + np.arange(c.n) for c in self.blocks]
        self.rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        sb = am.vars[SALES.name]
        lo, _ = am.row_bounds()
        sign = np.where(np.isfinite(lo[self.rows]), 1.0, -1.0)  # as ">=" rows
        a = am.matrix("csr")[self.rows][:, sb.start:sb.start + sb.n]
        self.a = a.multiply(sign[:, None]).tocsr()
        # money floors start at half a unit of money per unit of money short; floors in
        # units at the money a unit earns
        self.money = np.concatenate([np.full(c.n, ROW[c.name].unit == "currency")
                                     for c in self.blocks]) if self.blocks else \
            np.zeros(0, bool)
        self.weight = np.zeros(len(self.rows))

    def extra(self) -> np.ndarray:
        """Per sales column: what it adds to the floors, at their weights."""
        return np.asarray(self.a.T @ self.weight).ravel()

    def raise_short(self, x: np.ndarray, unit_weight: float,
                    time_limit: float | None = None) -> bool:
        """Double the weights of the floor rows the design ``x`` misses (elastic LP of
        the fixed design, within ``time_limit`` seconds); False if none is missed.
        """
        short = self.short(x, time_limit)
        if not short.any():
            return False
        first = np.where(self.money, 0.5, unit_weight)
        self.weight = np.where(short, np.maximum(2 * self.weight, first), self.weight)
        return True

    def short(self, x: np.ndarray, time_limit: float | None = None) -> np.ndarray:
        """Which floor rows the fixed design ``x`` misses: the elastic LP's slacks."""
        from .diagnose import elastic_model  # late: diagnose imports the engines

        out = np.zeros(len(self.rows), bool)
        if not len(self.rows):
            return out
        fd = fixed_design(self.am, x)  # the sales LP of the design alone
        el, _ = elastic_model(fd.model)
        res = engine_with("in_memory").session(el).solve(time_limit=time_limit)
        if res.x is None:
            return out
        at = 0
        for c in self.blocks:
            kept = fd.model.cons.get(c.name)
            if kept is not None:  # its rows that still have a sale to make up
                local = fd.rows[kept.start:kept.start + kept.n] - c.start
                for side, bound in (("upper", kept.upper), ("lower", kept.lower)):
                    name = f"slack_{c.name}_{side}"
                    if name not in el.vars:
                        continue
                    blk = el.vars[name]
                    rows = np.flatnonzero(np.isfinite(bound))
                    hit = res.x[blk.start:blk.start + blk.n] > 1e-6
                    out[at + local[rows[hit]]] = True
            # and those the design alone already misses, whatever it sells
            gone = fd.broken[(fd.broken >= c.start) & (fd.broken < c.start + c.n)]
            out[at + gone - c.start] = True
            at += c.n
        return out


def _fit_shelf(am: ArrayModel, d: ModelData, chosen: np.ndarray,
               value: np.ndarray) -> np.ndarray:
    """Drop the least valuable store assortment (per shelf unit) where shelf space is
    short, moving those cells to their best set without store-stock channels.
    """
    if SHELF_SPACE.name not in am.cons:
        return chosen
    offer_stock = offer_touches(d, d.channels["uses_store_stock"].to_numpy(bool))
    cells = d.offers["cell"].to_numpy()
    alt, alt_value = _best_without(d, value, offer_stock)
    stocked = chosen[offer_stock[chosen]]
    c_cells = cells[stocked]
    p = d.cells["p"].to_numpy()[c_cells]
    r = d.cells["r"].to_numpy()[c_cells]
    loss = value[stocked] - alt_value[c_cells]
    pr = pd.DataFrame({"p": p, "r": r, "loss": loss}).groupby(["p", "r"], as_index=False).sum()
    pr["space"] = d.products["shelf_space"].to_numpy()[pr["p"].to_numpy()]
    pr["per_space"] = pr["loss"] / np.maximum(pr["space"], 1e-12)
    pr = pr.sort_values(["r", "per_space"], ascending=[True, False])
    pr["used"] = pr.groupby("r")["space"].cumsum()
    cap = d.regions["shelf_capacity"].to_numpy()[pr["r"].to_numpy()]
    drop = pr[pr["used"].to_numpy() > cap]
    if not len(drop):
        return chosen
    dropped = pd.MultiIndex.from_frame(drop[["p", "r"]])
    hit = pd.MultiIndex.from_arrays([p, r]).isin(dropped)
    replace = stocked[hit]
    keep = np.setdiff1d(chosen, replace)
    new = alt[cells[replace]]
    return np.concatenate([keep, new[new >= 0]])


def _best_without(d: ModelData, value: np.ndarray, banned: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: the best offer not ``banned`` with a positive value (-1: offer nothing)
    and its value (0 for nothing).
    """
    cells = d.offers["cell"].to_numpy()
    top, val = _argmax_per_cell(np.where(banned, -np.inf, value), cells)
    alt = np.full(len(d.cells), -1)
    alt_value = np.zeros(len(d.cells))
    ok = np.isfinite(val) & (val > 0)
    alt[cells[top[ok]]] = top[ok]
    alt_value[cells[top[ok]]] = val[ok]
    return alt, alt_value


def _fit_overlap_budget(am: ArrayModel, d: ModelData, chosen: np.ndarray,
                        value: np.ndarray, by_cost: bool = True) -> np.ndarray:
    """End the overlaps that are not worth their cost (``by_cost``), then, where more (product,
    region) pairs are sold online and offline than the overlap budget allows, those
    that cost least to end: per pair, move the cells of one side (online or offline,
    the cheaper) to their best set without it.
    """
    if OVERLAP.name not in am.vars:
        return chosen
    ov = am.vars[OVERLAP.name]
    pair_cost = float(-am.cost[ov.start]) if ov.n else 0.0  # one cost for every pair
    budget = int(np.floor(am.cons[OVERLAP_BUDGET.name].upper[0] + 1e-9)) \
        if OVERLAP_BUDGET.name in am.cons else len(d.cells)
    cells = d.offers["cell"].to_numpy()
    c = cells[chosen]
    touch = {side: offer_touches_kind(d, side) for side in ("online", "offline")}
    ch = pd.DataFrame({"offer": chosen, "cell": c, "p": d.cells["p"].to_numpy()[c],
                       "r": d.cells["r"].to_numpy()[c], "online": touch["online"][chosen],
                       "offline": touch["offline"][chosen]})
    sides = ch.groupby(["p", "r"])[["online", "offline"]].any()
    both = sides.index[sides["online"] & sides["offline"]]
    if not len(both):
        return chosen
    ch = ch[pd.MultiIndex.from_frame(ch[["p", "r"]]).isin(both)]
    alts = {}
    for side in ("online", "offline"):
        alt, alt_value = _best_without(d, value, touch[side])
        hit = ch[side].to_numpy()
        ch[f"loss_{side}"] = np.where(hit, value[ch["offer"].to_numpy()] -
                                      alt_value[ch["cell"].to_numpy()], 0.0)
        alts[side] = alt
    pairs = ch.groupby(["p", "r"])[["loss_online", "loss_offline"]].sum()
    pairs["side"] = np.where(pairs["loss_online"] <= pairs["loss_offline"], "online",
                             "offline")
    pairs["loss"] = pairs[["loss_online", "loss_offline"]].min(axis=1)
    costly = (pairs["loss"] < pair_cost) & by_cost
    kept = pairs[~costly]
    ended = pd.concat([pairs[costly], kept.nsmallest(max(len(kept) - budget, 0), "loss")])
    if not len(ended):
        return chosen
    ch = ch.join(ended["side"], on=["p", "r"], how="inner")
    move = ch[np.where(ch["side"] == "online", ch["online"], ch["offline"])]
    moved = move["cell"].to_numpy()
    new = np.where(move["side"].to_numpy() == "online", alts["online"][moved],
                   alts["offline"][moved])
    keep = np.setdiff1d(chosen, move["offer"].to_numpy())
    return np.concatenate([keep, new[new >= 0]])


def _design_vector(am: ArrayModel, d: ModelData, offers: np.ndarray) -> np.ndarray:
    """Integer decisions implied by a choice of one option per cell (sales left at 0)."""
    x = np.zeros(am.n_cols)
    lo, _ = am.bounds()
    x[:] = np.where(am.integrality() > 0, np.maximum(lo, 0.0), 0.0)  # forced stay forced

    def put(rec: VarFamily, idx: np.ndarray) -> None:
        if rec.name in am.vars and len(idx):
            x[am.vars[rec.name].start + np.asarray(idx, np.int64)] = 1.0

    put(OFFER, offers)
    on = np.isin(d.members["offer"].to_numpy(), offers)
    cc_on = np.unique(d.members["cc"].to_numpy()[on])
    cc = d.cc.iloc[cc_on]

    def rows_of(table: pd.DataFrame, keys: list[str], sub: pd.DataFrame) -> np.ndarray:
        pos = pd.MultiIndex.from_frame(table[keys]).get_indexer(
            pd.MultiIndex.from_frame(sub[keys]))
        return np.unique(pos[pos >= 0])

    pk = rows_of(d.pk, ["p", "k"], cc)
    put(LIST_PRODUCT, pk)
    put(OPEN_CHANNEL, rows_of(d.rk, ["r", "k"], cc))
    if USE_CHANNEL.name in am.vars:
        uc = am.vars[USE_CHANNEL.name]
        codes = pd.Index(d.channels["id"]).get_indexer(uc.labels["channel"].astype(str))
        put(USE_CHANNEL, np.flatnonzero(np.isin(codes, cc["k"].to_numpy())))
    put(SELL_BRAND, rows_of(d.bk, ["b", "k"], cc))
    if LAUNCH_BRAND.name in am.vars:
        lb = am.vars[LAUNCH_BRAND.name]
        codes = pd.Index(d.brands["id"]).get_indexer(lb.labels["brand"].astype(str))
        put(LAUNCH_BRAND, np.flatnonzero(np.isin(codes, cc["b"].to_numpy())))
    if PRICE_LEVEL.name in am.vars:
        # the levels of the offered options' members (one per (p,k) by construction)
        lev = d.sales["lev"].to_numpy()[d.members["sale"].to_numpy()[on]]
        z = d.levels["z"].to_numpy()[np.unique(lev)]
        put(PRICE_LEVEL, z[z >= 0])
    if STOCK.name in am.vars:
        st = am.vars[STOCK.name]
        uses = d.channels["uses_store_stock"].to_numpy(bool)[cc["k"].to_numpy()]
        keys = pd.MultiIndex.from_arrays([
            d.products["id"].to_numpy()[cc["p"].to_numpy()[uses]],
            d.regions["id"].to_numpy()[cc["r"].to_numpy()[uses]]])
        labs = pd.MultiIndex.from_arrays([st.labels["product"].astype(str),
                                          st.labels["region"].astype(str)])
        put(STOCK, np.flatnonzero(labs.isin(keys)))
    if COMMISSION_POLICY.name in am.vars and PARTNER_FLOOR.name in am.cons:
        pol = am.vars[COMMISSION_POLICY.name]
        floors = set(am.cons[PARTNER_FLOOR.name].labels["region"].astype(str))
        put(COMMISSION_POLICY, np.flatnonzero(pol.labels["region"].astype(str).isin(floors)))
    if BRAND_KIND.name in am.vars:
        bkv = am.vars[BRAND_KIND.name]
        sold = d.bk.iloc[rows_of(d.bk, ["b", "k"], cc)]
        keys = pd.MultiIndex.from_arrays([d.brands["id"].to_numpy()[sold["b"].to_numpy()],
                                          d.channels["kind"].to_numpy()[sold["k"].to_numpy()]])
        labs = pd.MultiIndex.from_arrays([bkv.labels["brand"].astype(str),
                                          bkv.labels["kind"].astype(str)])
        put(BRAND_KIND, np.flatnonzero(labs.isin(keys)))
    return x
