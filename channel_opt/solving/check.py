"""Check a plan before calling it optimal or feasible, independently of the solver.

Two layers:

1. every row, bound and integrality of the array model holds at the plan
   (catches a wrong or corrupted solution vector from any backend);
2. the plan's tables are re-evaluated from the *scenario* (not from the model's
   arrays): sales within the demand the offered option (channel set and price
   levels) gives by the demand formula, no cell above its market, the demand shown
   equal to the formula's, offered levels the listed ones, offered channels open and
   listed, and the profit recomputed from
   prices and costs equals the reported objective.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from ..model.data import ModelData
from ..model.families.conflict import COMMISSION, COMMISSION_POLICY, OVERLAP
from ..model.families.core import LAUNCH_BRAND, LIST_PRODUCT, OPEN_CHANNEL, SALES, USE_CHANNEL
from ..model.families.partners import SHORTFALL
from ..model.linear import ArrayModel
from ..model.records import VarFamily
from ..scenario import Scenario

log = logging.getLogger(__name__)

TOL = 1e-6


def plan_violations(scen: Scenario, am: ArrayModel, data: ModelData, x: np.ndarray,
                    names: Collection[str] | None = None
                    ) -> tuple[np.ndarray, dict[str, pd.DataFrame], list[str]]:
    """The tidied plan, its result tables (``names`` and those the check reads, see
    :func:`~channel_opt.solving.results.extract_tables`; None: all) and every rule it
    breaks (both layers).
    """
    from .results import extract_tables, tidy_plan  # late: results is the heavier module

    x = tidy_plan(am, data, x)
    bad = check_rows(am, x)
    tables = extract_tables(am, data, x, names)
    return x, tables, bad + check_plan(scen, tables, float(am.cost @ x))


def checked_plan(scen: Scenario, am: ArrayModel, data: ModelData, x: np.ndarray,
                 names: Collection[str] | None = None
                 ) -> tuple[np.ndarray, dict[str, pd.DataFrame], list[str]]:
    """:func:`plan_violations`, where a solver's plan that breaks the check is first
    given the LP of its design (integers fixed as rounded).

    A plan can break the check by the solver's integrality tolerance alone: an option
    "offered" at 1e-9 lets ~1e-6 units sell through it (two towns of ``regional`` did).
    The LP of the rounded design puts every continuous value back in its place; its
    plan is taken only if it passes both layers at no lower profit. A plan that breaks
    a rule for real still does so in the LP (infeasible, or the same breach), and is
    reported as it was.
    """
    from .sensitivity import fixed_design_plan

    x, tables, bad = plan_violations(scen, am, data, x, names)
    if not bad:
        return x, tables, bad
    fixed = fixed_design_plan(am, x)
    if fixed is None:
        return x, tables, bad
    x2, tables2, bad2 = plan_violations(scen, am, data, fixed, names)
    if bad2 or float(am.cost @ x2) < float(am.cost @ x) - 1e-6 * max(1.0, abs(
            float(am.cost @ x))):
        return x, tables, bad
    log.info("the plan broke %s within the solver's tolerances; the LP of its design "
             "gives a clean plan", bad[0])
    return x2, tables2, bad2


def check_rows(am: ArrayModel, x: np.ndarray) -> list[str]:
    """Violated rows, bounds and integrality of the model at ``x``."""
    out: list[str] = []
    lo, up = am.bounds()
    scale = np.maximum(1.0, np.abs(x))
    bad = np.flatnonzero((x < lo - TOL * scale) | (x > up + TOL * scale))
    for j in bad[:10]:
        blk, lab = am.locate_column(int(j))
        out.append(f"bound of {blk}{lab}: value {x[j]:.6g} outside [{lo[j]:g}, {up[j]:g}]")
    integ = am.integrality().astype(bool)
    frac = np.flatnonzero(integ & (np.abs(x - np.rint(x)) > 1e-5))
    for j in frac[:10]:
        blk, lab = am.locate_column(int(j))
        out.append(f"integrality of {blk}{lab}: value {x[j]:.6g}")
    a = am.matrix("csr")
    ax = a @ x
    rlo, rup = am.row_bounds()
    mag = np.maximum(1.0, abs(a) @ np.abs(x))
    viol = np.flatnonzero((ax < rlo - TOL * mag) | (ax > rup + TOL * mag))
    for i in viol[:10]:
        fam, lab = am.locate_row(int(i))
        out.append(f"row {fam}{lab}: {ax[i]:.6g} not in [{rlo[i]:g}, {rup[i]:g}]")
    if len(viol) > 10:
        out.append(f"... {len(viol) - 10} more violated rows")
    return out


def check_plan(scen: Scenario, tables: dict[str, pd.DataFrame], objective: float) -> list[str]:
    """Re-evaluate the plan from the scenario's own tables."""
    out: list[str] = []
    cc = tables["cell_channel"]
    key = _Keys(cc)
    keys = ["product", "region", "segment"]
    share = lookup(scen.shares, keys + ["channel"], "share", key(*keys, "channel"))
    brand = dict(zip(scen.products["id"].tolist(), scen.products["brand"].tolist(),
                     strict=True))
    ramp = lookup(scen.brands, ["id"], "ramp_up",
                  [(brand.get(p),) for p in cc["product"].tolist()])
    market = lookup(scen.cells, keys, "market_size", key(*keys)) * ramp
    offered = cc["offered"].to_numpy(bool)
    # the level each offered channel is offered at: a level multiplies the channel's
    # odds under mnl and its demand under independent (SPEC section 4)
    mult = lookup(scen.price_levels, ["product", "channel", "level"], "demand_multiplier",
                  key("product", "channel", "level"), 1.0)
    cell_id = key.codes(*keys)
    if scen.settings.demand_model == "mnl":
        attr = np.where(offered, share / (1.0 - share) * mult, 0.0)
        denom = 1.0 + np.bincount(cell_id, weights=attr)[cell_id]
        demand = market * attr / denom
    else:
        demand = np.where(offered, market * share * mult, 0.0)
    tot = np.bincount(cell_id, weights=cc["sales"].to_numpy())
    cm = np.bincount(cell_id, weights=market, minlength=len(tot)) / np.maximum(
        1, np.bincount(cell_id, minlength=len(tot)))
    for i in np.flatnonzero(tot > cm * (1 + TOL) + TOL)[:10]:
        out.append(f"cell {i}: total sales {tot[i]:.6g} exceed the market {cm[i]:.6g}")
    q = cc["sales"].to_numpy()
    over = q > demand * (1 + TOL) + TOL
    for i in np.flatnonzero(over)[:10]:
        r = cc.iloc[i]
        out.append(f"sales {q[i]:.6g} of {r['product']} in {r['region']}/{r['segment']} "
                   f"through {r['channel']} exceed the demand {demand[i]:.6g} of the "
                   f"offered option (level {r['level']!r})")
    shown = cc["demand"].to_numpy()
    for i in np.flatnonzero(np.abs(shown - demand) > 1e-6 * np.maximum(1.0, demand))[:10]:
        r = cc.iloc[i]
        out.append(f"demand {shown[i]:.6g} shown for {r['product']} in {r['region']}/"
                   f"{r['segment']} through {r['channel']} is not the formula's "
                   f"{demand[i]:.6g}")
    lev_of = lookup(tables["product_channel"], ["product", "channel"], "level",
                    key("product", "channel"), np.nan, object)
    for i in np.flatnonzero(offered & (cc["level"].to_numpy() != lev_of))[:10]:
        r = cc.iloc[i]
        out.append(f"{r['channel']} is offered to {r['product']}/{r['region']}/"
                   f"{r['segment']} at level {r['level']!r}, but the product's level in "
                   f"the channel is {lev_of[i]!r}")
    is_open = lookup(tables["region_channel"], ["region", "channel"], "open",
                     key("region", "channel"), False, bool)
    is_listed = lookup(tables["product_channel"], ["product", "channel"], "listed",
                       key("product", "channel"), False, bool)
    for what, ok in (("open in the region", is_open), ("listed", is_listed)):
        for i in np.flatnonzero(offered & ~ok)[:10]:
            r = cc.iloc[i]
            out.append(f"{r['channel']} is offered to {r['product']}/{r['region']}/"
                       f"{r['segment']} but not {what}")
    # A loose indicator in an incumbent (say an overlap flagged that is not there) only
    # understates the plan's profit; the solver overstating it is the error.
    grain = _grain(scen, key)
    lines = profit_lines(scen, tables, grain)
    profit = sum(lines.values())
    if not objective <= profit + 1e-6 * max(1.0, abs(objective)) + 1e-4:
        out.append(f"profit recomputed from the plan ({profit:.6f}) is below the reported "
                   f"objective ({objective:.6f}){_line_gaps(lines, tables)}")
    return out + _check_parity(scen, tables) + _check_capacities(scen, tables, grain[1])


class _Keys:
    """The key tuples of a result table's rows, by column list, built once each (the
    checks look the same rows up in several scenario tables).
    """

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self._cache: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}

    def __call__(self, *cols: str) -> list[tuple[Any, ...]]:
        if cols not in self._cache:
            self._cache[cols] = rows_of(self.df, list(cols))
        return self._cache[cols]

    def codes(self, *cols: str) -> np.ndarray:
        """A code per row, equal for equal keys (in order of first appearance)."""
        seen: dict[tuple[Any, ...], int] = {}
        return np.fromiter((seen.setdefault(k, len(seen)) for k in self(*cols)), np.int64,
                           count=len(self.df))


def rows_of(df: pd.DataFrame, cols: list[str]) -> list[tuple[Any, ...]]:
    """The rows of ``df``'s columns ``cols`` as tuples of Python values."""
    return list(zip(*(df[c].tolist() for c in cols), strict=True))


def lookup(table: pd.DataFrame, cols: list[str], value: str, keys: list[tuple[Any, ...]],
           default: Any = np.nan, dtype: Any = float) -> np.ndarray:
    """``table[value]`` at the row whose ``cols`` equal each key (``default`` where no
    row does): a join on the scenario's own ids, by a dictionary (on small tables ten
    times faster than a MultiIndex of Arrow strings, and linear at any size).
    """
    d = dict(zip(rows_of(table, cols), table[value].tolist(), strict=True))
    return np.array([d.get(k, default) for k in keys], dtype=dtype)


def _grain(scen: Scenario, key: _Keys) -> tuple[np.ndarray, np.ndarray]:
    """Per cell_channel row: the variable cost per unit at the planner's grain (the
    region's cost of the channel, else the channel's, plus the product's in the
    channel) and the capacity units one unit takes (product_channels.capacity_use).
    """
    vc = lookup(scen.channels, ["id"], "variable_cost", key("channel"))
    rvc = lookup(scen.region_channels, ["region", "channel"], "variable_cost",
                 key("region", "channel"))
    pkey = key("product", "channel")
    pvc = lookup(scen.product_channels, ["product", "channel"], "variable_cost", pkey)
    pvc = np.where(np.isnan(pvc), 0.0, pvc)
    use = lookup(scen.product_channels, ["product", "channel"], "capacity_use", pkey)
    use = np.where(np.isnan(use), 1.0, use)
    return np.where(np.isnan(rvc), vc, rvc) + pvc, use


def _check_capacities(scen: Scenario, t: dict[str, pd.DataFrame], use: np.ndarray
                      ) -> list[str]:
    """Channel capacities (over all regions) and region-channel capacities, recomputed
    from the plan's sales and the scenario's capacity uses (``use`` per cell_channel
    row, from :func:`_grain`); a channel selling in a region must be open there (so it
    is used).
    """
    rules = scen.settings.rules
    cc = t["cell_channel"]
    units = cc.assign(units=cc["sales"].to_numpy() * use)
    out = []
    checks = []
    if rules.channel_capacity is not None:
        ch_cap = scen.channels.set_index("id")["capacity"]
        got = units.groupby("channel")["units"].sum()
        checks.append(("channel", got, ch_cap.reindex(got.index).to_numpy(float)))
    if rules.region_channel_capacity is not None:
        rc_cap = scen.region_channels.set_index(["region", "channel"])["capacity"]
        got = units.groupby(["region", "channel"])["units"].sum()
        checks.append(("region and channel", got, rc_cap.reindex(got.index).fillna(np.inf)
                       .to_numpy(float)))
    for what, got, cap in checks:
        for i in np.flatnonzero(got.to_numpy() > cap * (1 + TOL) + TOL)[:10]:
            out.append(f"capacity of {what} {got.index[i]}: {got.iloc[i]:.6g} units used, "
                       f"more than {cap[i]:.6g}")
    return out


def _check_parity(scen: Scenario, t: dict[str, pd.DataFrame]) -> list[str]:
    """Chosen prices of a product that the parity band binds (online vs offline, o2o vs
    the side ``o2o_side`` names) further apart than the band.
    """
    rule = scen.settings.rules.price_parity
    if rule is None:
        return []
    kind = scen.channels.set_index("id")["kind"]
    pc = t["product_channel"]
    pr = pc.loc[pc["listed"], ["product", "channel", "price"]]
    pr = pr.assign(kind=kind.reindex(pr["channel"]).to_numpy())
    ref = scen.products.set_index("id")["ref_price"]
    out = []
    for k1, k2 in (("online", "offline"), ("o2o", rule.o2o_side)):
        m = pr[pr["kind"] == k1].merge(pr[pr["kind"] == k2], on="product")
        gap = (m["price_x"] - m["price_y"]).abs().to_numpy()
        lim = rule.band * ref.reindex(m["product"]).to_numpy()
        for i in np.flatnonzero(gap > lim + 1e-9)[:10]:
            r = m.iloc[i]
            out.append(f"prices of {r['product']} in {r['channel_x']} ({r['price_x']:g}) and "
                       f"{r['channel_y']} ({r['price_y']:g}) differ by more than the parity "
                       f"band {rule.band:g} of the reference price")
    return out


def profit_lines(scen: Scenario, t: dict[str, pd.DataFrame],
                 grain: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> dict[VarFamily, float]:
    """The plan's profit per objective term, recomputed from the scenario's prices and
    costs: one entry per variable record with a ``profit_line`` (the sales margin,
    openings, listings, launches, commission, policy, overlap). NaN everywhere when the
    plan's revenue does not follow from its sales and chosen prices.
    """
    ch = scen.channels.set_index("id")
    pc = t["product_channel"]
    sold = pc[pc["sales"] > 0]
    unit_cost = scen.products.set_index("id")["unit_cost"].reindex(sold["product"]).to_numpy()
    k = ch.reindex(sold["channel"])
    # revenue and unit margin from the plan's sales and chosen prices
    cc = t["cell_channel"]
    key = _Keys(cc)
    keys = ["product", "channel"]
    price = lookup(pc, keys, "price", key(*keys))
    rev_check = float(np.nansum(cc["sales"].to_numpy() * price))
    rev = float(cc["revenue"].sum())
    if abs(rev - rev_check) > 1e-6 * max(1.0, abs(rev)):
        return dict.fromkeys(PROFIT_RECORDS, float("nan"))
    s = sold["sales"].to_numpy()
    r = sold["revenue"].to_numpy()
    var = (unit_cost + k["fee_per_unit"].to_numpy()
           + k["return_rate"].to_numpy() * k["return_cost"].to_numpy()) * s
    # variable cost per (cell, channel): region and product grain
    vc, _ = _grain(scen, key) if grain is None else grain
    rcz = t["region_channel"]
    lc = ch["listing_cost"].reindex(pc["channel"]).to_numpy(float)
    plc = lookup(scen.product_channels, keys, "listing_cost", rows_of(pc, keys))
    lc = np.where(np.isnan(plc), lc, plc)
    # a channel open in any region is used: its launch cost
    used = pd.unique(rcz.loc[rcz["open"].to_numpy(bool), "channel"])
    rules = scen.settings.rules
    policy = 0.0
    if rules.commission is not None and rules.commission.decision:
        policy = rules.commission.policy_cost * float(
            np.nansum(t["partners"]["commission_policy"].to_numpy()))
    br = scen.brands.set_index("id")
    sold_brands = set(t["brand_channel"].loc[t["brand_channel"]["sold"], "brand"])
    launches = sum(float(br.loc[b, "launch_cost"]) for b in sold_brands if br.loc[b, "new"])
    overlap = 0.0 if rules.overlap is None else rules.overlap.cost * len(t["overlaps"])
    return {SALES: float(np.sum(r * (1 - k["fee_share"].to_numpy()) - var)
                         - np.sum(cc["sales"].to_numpy() * vc)),
            OPEN_CHANNEL: -float((rcz["open"] * rcz["open_cost"]).sum()),
            USE_CHANNEL: -float(ch["launch_cost"].reindex(used).sum()),
            LIST_PRODUCT: -float((pc["listed"].to_numpy() * lc).sum()),
            LAUNCH_BRAND: -launches,
            COMMISSION: -float(t["partners"]["commission"].sum()),
            COMMISSION_POLICY: -policy,
            OVERLAP: -overlap,
            # the units short are the plan's (the row check holds them to the floors)
            SHORTFALL: -(scen.settings.stochastic.shortfall_cost or 0.0) * float(
                t[SHORTFALL.name]["short"].sum()) if SHORTFALL.name in t else 0.0}


PROFIT_RECORDS: tuple[VarFamily, ...] = (SALES, OPEN_CHANNEL, USE_CHANNEL, LIST_PRODUCT,
                                         LAUNCH_BRAND, COMMISSION, COMMISSION_POLICY, OVERLAP,
                                         SHORTFALL)
"""The variable blocks whose objective term :func:`profit_lines` recomputes: every record
with a ``profit_line`` (a test holds the two equal)."""


def _line_gaps(lines: dict[VarFamily, float], t: dict[str, pd.DataFrame]) -> str:
    """The profit lines where the plan's breakdown says more than the recomputation."""
    plan = t["profit"].groupby("component")["amount"].sum() if "profit" in t else None
    if plan is None:
        return ""
    gaps = [f"{rec.profit_line} {plan.get(rec.profit_line, 0.0):.6g} vs {amount:.6g}"
            for rec, amount in lines.items()
            if plan.get(rec.profit_line, 0.0) > amount + 1e-6 * max(1.0, abs(amount))]
    return f"; lines above their recomputation: {', '.join(gaps)}" if gaps else ""
