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

import numpy as np
import pandas as pd

from ..model.families.conflict import COMMISSION, COMMISSION_POLICY, OVERLAP
from ..model.families.core import LAUNCH_BRAND, LIST_PRODUCT, OPEN_CHANNEL, SALES
from ..model.linear import ArrayModel
from ..model.records import VarFamily
from ..scenario import Scenario

TOL = 1e-6


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
    keys = ["product", "region", "segment"]
    sh = scen.shares.set_index(keys + ["channel"])["share"]
    share = sh.reindex(pd.MultiIndex.from_frame(cc[keys + ["channel"]])).to_numpy()
    cells = scen.cells.set_index(keys)["market_size"]
    ramp = scen.products.set_index("id")["brand"].map(scen.brands.set_index("id")["ramp_up"])
    market = cells.reindex(pd.MultiIndex.from_frame(cc[keys])).to_numpy() * \
        ramp.reindex(cc["product"]).to_numpy()
    offered = cc["offered"].to_numpy(bool)
    # the level each offered channel is offered at: a level multiplies the channel's
    # odds under mnl and its demand under independent (SPEC section 4)
    pl = scen.price_levels.set_index(["product", "channel", "level"])["demand_multiplier"]
    mult = pl.reindex(pd.MultiIndex.from_frame(cc[["product", "channel", "level"]]
                                               .astype(str))).fillna(1.0).to_numpy()
    cell_id = pd.MultiIndex.from_frame(cc[keys]).factorize()[0]
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
    pc_level = tables["product_channel"].set_index(["product", "channel"])["level"]
    lev_of = pc_level.reindex(pd.MultiIndex.from_frame(cc[["product", "channel"]])).to_numpy()
    for i in np.flatnonzero(offered & (cc["level"].to_numpy() != lev_of))[:10]:
        r = cc.iloc[i]
        out.append(f"{r['channel']} is offered to {r['product']}/{r['region']}/"
                   f"{r['segment']} at level {r['level']!r}, but the product's level in "
                   f"the channel is {lev_of[i]!r}")
    rc = tables["region_channel"].set_index(["region", "channel"])["open"]
    is_open = rc.reindex(pd.MultiIndex.from_frame(cc[["region", "channel"]])).fillna(False)
    pc = tables["product_channel"].set_index(["product", "channel"])["listed"]
    is_listed = pc.reindex(pd.MultiIndex.from_frame(cc[["product", "channel"]])).fillna(False)
    for what, ok in (("open in the region", is_open.to_numpy(bool)),
                     ("listed", is_listed.to_numpy(bool))):
        for i in np.flatnonzero(offered & ~ok)[:10]:
            r = cc.iloc[i]
            out.append(f"{r['channel']} is offered to {r['product']}/{r['region']}/"
                       f"{r['segment']} but not {what}")
    # A loose indicator in an incumbent (say an overlap flagged that is not there) only
    # understates the plan's profit; the solver overstating it is the error.
    lines = profit_lines(scen, tables)
    profit = sum(lines.values())
    if not objective <= profit + 1e-6 * max(1.0, abs(objective)) + 1e-4:
        out.append(f"profit recomputed from the plan ({profit:.6f}) is below the reported "
                   f"objective ({objective:.6f}){_line_gaps(lines, tables)}")
    return out + _check_parity(scen, tables)


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


def profit_lines(scen: Scenario, t: dict[str, pd.DataFrame]) -> dict[VarFamily, float]:
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
    keys = ["product", "channel"]
    price = pc.set_index(keys)["price"].reindex(pd.MultiIndex.from_frame(cc[keys])).to_numpy()
    rev_check = float(np.nansum(cc["sales"].to_numpy() * price))
    rev = float(cc["revenue"].sum())
    if abs(rev - rev_check) > 1e-6 * max(1.0, abs(rev)):
        return dict.fromkeys(PROFIT_RECORDS, float("nan"))
    s = sold["sales"].to_numpy()
    r = sold["revenue"].to_numpy()
    var = (unit_cost + k["variable_cost"].to_numpy() + k["fee_per_unit"].to_numpy()
           + k["return_rate"].to_numpy() * k["return_cost"].to_numpy()) * s
    rcz = t["region_channel"]
    lc = ch["listing_cost"].reindex(pc["channel"]).to_numpy()
    rules = scen.settings.rules
    policy = 0.0
    if rules.commission is not None and rules.commission.decision:
        policy = rules.commission.policy_cost * float(
            np.nansum(t["partners"]["commission_policy"].to_numpy()))
    br = scen.brands.set_index("id")
    sold_brands = set(t["brand_channel"].loc[t["brand_channel"]["sold"], "brand"])
    launches = sum(float(br.loc[b, "launch_cost"]) for b in sold_brands if br.loc[b, "new"])
    overlap = 0.0 if rules.overlap is None else rules.overlap.cost * len(t["overlaps"])
    return {SALES: float(np.sum(r * (1 - k["fee_share"].to_numpy()) - var)),
            OPEN_CHANNEL: -float((rcz["open"] * rcz["open_cost"]).sum()),
            LIST_PRODUCT: -float((pc["listed"].to_numpy() * lc).sum()),
            LAUNCH_BRAND: -launches,
            COMMISSION: -float(t["partners"]["commission"].sum()),
            COMMISSION_POLICY: -policy,
            OVERLAP: -overlap}


PROFIT_RECORDS: tuple[VarFamily, ...] = (SALES, OPEN_CHANNEL, LIST_PRODUCT, LAUNCH_BRAND,
                                         COMMISSION, COMMISSION_POLICY, OVERLAP)
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
