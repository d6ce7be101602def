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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.data import ModelData, offer_touches, offer_touches_kind
from ..model.families import partner_income_per_unit
from ..model.families.capacity import SHELF_SPACE, STOCK
from ..model.families.conflict import COMMISSION_POLICY, OVERLAP_BUDGET
from ..model.families.core import (
    BRAND_KIND,
    LAUNCH_BRAND,
    LIST_PRODUCT,
    OFFER,
    OPEN_CHANNEL,
    SALES,
    SELL_BRAND,
)
from ..model.families.partners import PARTNER_FLOOR
from ..model.families.pricing import PRICE_LEVEL
from ..model.linear import ArrayModel
from ..model.records import VarFamily
from ..model.registry import ROW
from .backends import new_highs
from .sensitivity import fixed_design_lp

log = logging.getLogger(__name__)


@dataclass
class Construction:
    """The constructive plan (``x`` is None if no design was feasible) and the bound."""

    x: np.ndarray | None
    objective: float | None
    bound: float


def _level_choice(d: ModelData, value: np.ndarray, mem_value: np.ndarray) -> np.ndarray:
    """Offers whose members' levels agree with one level per (product, channel).

    A product takes one price level per channel, so cells cannot each pick their own:
    the level of a (product, channel) is the one carrying the most value among the
    cells' best offers (for pairs no best offer uses, the level of largest member
    value); offers using any other level are dropped from the choice.
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
    fallback = np.full(len(d.levels), -np.inf)
    np.maximum.at(fallback, lev, mem_value)
    used_pk = np.bincount(d.levels["pk"].to_numpy(), weights=used, minlength=len(d.pk)) > 0
    key = np.where(used_pk[d.levels["pk"].to_numpy()], np.where(used, score, -np.inf),
                   fallback)
    order = np.lexsort((-key, d.levels["pk"].to_numpy()))
    best = order[np.unique(d.levels["pk"].to_numpy()[order], return_index=True)[1]]
    chosen = np.zeros(len(d.levels), bool)
    chosen[best] = True
    bad = np.bincount(m_off, weights=~chosen[lev], minlength=len(d.offers)) > 0
    return ~bad


def construct(am: ArrayModel, d: ModelData, rounds: int = 6,
              time_limit: float | None = None) -> Construction:
    """The constructive plan and the cheap upper bound.

    The option values are re-weighted for a few rounds: where the fixed-design LP
    misses a partner floor or a service level, the partners' income or the units of
    that region count extra in the next choice; where shelf space is short, the
    least valuable store assortment per unit of space is dropped. Within a round the
    cells' options are restricted to one price level per (product, channel).
    With ``time_limit`` (seconds) no new round starts once it has passed.
    """
    stop = None if time_limit is None else time.monotonic() + time_limit

    def left() -> float | None:  # seconds for the next LP, cut to the limit
        return None if stop is None else max(0.1, stop - time.monotonic())

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
    bound = float(np.sum(np.maximum(_argmax_per_cell(hq, cells)[1], 0.0)))
    region = d.cells["r"].to_numpy()[cells]
    n_r = len(d.regions)
    partner_mem = dem * partner_income_per_unit(d)[m_sale]
    partner = np.bincount(m_off, weights=partner_mem, minlength=len(of))
    units = np.bincount(m_off, weights=dem, minlength=len(of))
    if not len(of):  # nothing can be offered: the empty design or nothing
        done = _complete(am, _design_vector(am, d, cells))
        return Construction(done, None if done is None else float(am.cost @ done), bound)
    lam = np.zeros(n_r)
    mu = np.zeros(n_r)
    for _ in range(rounds):
        value = hq + lam[region] * partner + mu[region] * units
        mem_value = hq_mem + lam[region[m_off]] * partner_mem + mu[region[m_off]] * dem
        value = np.where(_level_choice(d, value, mem_value), value, -np.inf)
        top, val = _argmax_per_cell(value, cells)
        chosen = _fit_overlap_budget(am, d, _fit_shelf(am, d, top[val > 0], value), value)
        x = _design_vector(am, d, chosen)
        done = _complete(am, x, left())
        if done is not None:
            return Construction(done, float(am.cost @ done), bound)
        if stop is not None and time.monotonic() > stop:
            break
        short = _short_regions(am, d, x, left())
        if short is None:
            break
        floor_r, service_r = short
        lam = np.where(floor_r, np.maximum(2 * lam, 0.5), lam)
        mu = np.where(service_r, np.maximum(2 * mu, _unit_weight(hq, units, unit_margin)),
                      mu)
    if stop is not None and time.monotonic() > stop:
        return Construction(None, None, bound)  # no time for the empty design either
    done = _complete(am, _design_vector(am, d, cells[:0]), left())
    if done is not None:
        return Construction(done, float(am.cost @ done), bound)
    return Construction(None, None, bound)


def _complete(am: ArrayModel, x: np.ndarray,
              time_limit: float | None = None) -> np.ndarray | None:
    """Sales for the design ``x``: the LP with every decision fixed; if that fails, the
    small MIP with only the offered sets fixed (price levels, listings, policies free,
    e.g. to respect the price-parity band), for at most 20 s. Both within
    ``time_limit`` seconds.
    """
    h = new_highs(fixed_design_lp(am, x))
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    t0 = time.monotonic()
    h.run()
    if h.getInfo().primal_solution_status == 2:
        return np.asarray(h.getSolution().col_value, float)
    if OFFER.name not in am.vars:
        return None
    mip_limit = 20.0 if time_limit is None else time_limit - (time.monotonic() - t0)
    if mip_limit < 1.0:
        return None
    h = new_highs(am.fixed(x, [OFFER.name]))
    h.setOptionValue("time_limit", min(20.0, mip_limit))
    h.setOptionValue("mip_rel_gap", 1e-3)
    h.run()
    if h.getInfo().primal_solution_status == 2:
        return np.asarray(h.getSolution().col_value, float)
    return None


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


def _short_regions(am: ArrayModel, d: ModelData, x: np.ndarray,
                   time_limit: float | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Regions whose floors the fixed design misses (elastic LP, within ``time_limit``
    seconds; none found if it is cut): money floors (partner profit) and floors in units
    (service levels, dealer minimum volume), told apart by the registry's unit of each
    floor family.
    """
    from .diagnose import diagnose  # late: diagnose imports this package's backends

    dg = diagnose(fixed_design_lp(am, x), iis=False, time_limit=time_limit)
    floor_r = np.zeros(len(d.regions), bool)
    service_r = np.zeros(len(d.regions), bool)
    regions = {str(r): i for i, r in enumerate(d.regions["id"])}
    for c in dg.conflicts:
        r = regions.get(str(c.where.get("region")))
        fam = ROW.get(c.family)
        if r is None or fam is None or fam.role != "floor":
            continue
        if fam.unit == "currency":  # a money floor: the partners' income counts extra
            floor_r[r] = True
        else:  # a floor in units: the units of the region count extra
            service_r[r] = True
    if not (floor_r.any() or service_r.any()):
        return None
    return floor_r, service_r


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
                        value: np.ndarray) -> np.ndarray:
    """Where more (product, region) pairs are sold online and offline than the overlap
    budget allows, end the overlaps that cost least to end: per pair, move the cells
    of one side (online or offline, the cheaper) to their best set without it.
    """
    if OVERLAP_BUDGET.name not in am.cons:
        return chosen
    budget = int(np.floor(am.cons[OVERLAP_BUDGET.name].upper[0] + 1e-9))
    cells = d.offers["cell"].to_numpy()
    c = cells[chosen]
    touch = {side: offer_touches_kind(d, side) for side in ("online", "offline")}
    ch = pd.DataFrame({"offer": chosen, "cell": c, "p": d.cells["p"].to_numpy()[c],
                       "r": d.cells["r"].to_numpy()[c], "online": touch["online"][chosen],
                       "offline": touch["offline"][chosen]})
    sides = ch.groupby(["p", "r"])[["online", "offline"]].any()
    both = sides.index[sides["online"] & sides["offline"]]
    excess = len(both) - budget
    if excess <= 0:
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
    ended = pairs.nsmallest(excess, "loss")
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
