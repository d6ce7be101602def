"""Result tables and KPIs from a plan (the column vector of the array model)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model.data import ModelData, kinds_of, labels
from ..model.families import parity_kind_pairs, partner_income_per_unit, sales_unit_margin
from ..model.families.capacity import STOCK
from ..model.families.conflict import COMMISSION, COMMISSION_POLICY
from ..model.families.core import (
    LAUNCH_BRAND,
    LIST_PRODUCT,
    OFFER,
    OPEN_CHANNEL,
    SALES,
    SELL_BRAND,
)
from ..model.families.pricing import PRICE_LEVEL
from ..model.linear import ArrayModel, VarBlock
from ..model.records import VarFamily
from ..model.registry import LIMITED, VAR


def tidy_plan(am: ArrayModel, d: ModelData, x: np.ndarray) -> np.ndarray:
    """Switch off design decisions nothing uses (zero-cost listings, openings...).

    Solvers may leave a free binary at 1 when nothing depends on it; a planner
    should not read "listed" for a product no cell is offered. Unused decisions with
    a nonnegative cost are set to 0 unless forced; this never lowers the profit and
    never breaks a row (every such decision only appears on the "capacity" side of
    its linking rows). The caller re-checks the plan anyway.
    """
    x = x.copy()
    y = np.rint(_val(am, x, OFFER, len(d.offers))) > 0.5
    mem = d.members
    cc_used = np.zeros(len(d.cc), bool)
    cc_used[mem["cc"].to_numpy()[y[mem["offer"].to_numpy()]]] = True
    cc = d.cc

    def used_of(keys: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
        idx = pd.MultiIndex.from_frame(table)
        pos = idx.get_indexer(pd.MultiIndex.from_frame(keys))
        out = np.zeros(len(table), bool)
        out[pos[cc_used]] = True
        return out

    def clear(rec: VarFamily, used: np.ndarray) -> None:
        b = _block(am, rec)
        if b is None:
            return
        sl = x[b.start:b.start + b.n]
        off = ~used & (b.lower <= 0) & (am.cost[b.start:b.start + b.n] <= 0)
        sl[off] = 0.0

    used_pk = used_of(cc[["p", "k"]], d.pk[["p", "k"]])
    clear(LIST_PRODUCT, used_pk)
    clear(OPEN_CHANNEL, used_of(cc[["r", "k"]], d.rk[["r", "k"]]))
    lp = am.vars[LIST_PRODUCT.name]
    listed = np.rint(x[lp.start:lp.start + lp.n]) > 0.5
    bk_used = pd.MultiIndex.from_frame(d.bk[["b", "k"]]).isin(pd.MultiIndex.from_arrays(
        [d.products["b"].to_numpy()[d.pk["p"].to_numpy()[listed]],
         d.pk["k"].to_numpy()[listed]]))
    clear(SELL_BRAND, np.asarray(bk_used))
    if _block(am, PRICE_LEVEL) is not None:
        multi = d.levels["z"].to_numpy() >= 0
        clear(PRICE_LEVEL, listed[d.levels["pk"].to_numpy()[multi]])
    st = _block(am, STOCK)
    if st is not None:
        clear(STOCK, used_of(cc[["p", "r"]], st.labels.assign(
            p=pd.Index(d.products["id"]).get_indexer(st.labels["product"]),
            r=pd.Index(d.regions["id"]).get_indexer(st.labels["region"]))[["p", "r"]]))
    lb = _block(am, LAUNCH_BRAND)
    if lb is not None:
        sold = np.rint(_val(am, x, SELL_BRAND, len(d.bk))) > 0.5
        codes = pd.Index(d.brands["id"]).get_indexer(lb.labels["brand"])
        clear(LAUNCH_BRAND, np.isin(codes, d.bk["b"].to_numpy()[sold]))
    return x


def _block(am: ArrayModel, rec: VarFamily) -> VarBlock | None:
    """The variable block of ``rec`` (None where the model has none)."""
    return am.vars.get(rec.name)


def _val(am: ArrayModel, x: np.ndarray, rec: VarFamily, n: int) -> np.ndarray:
    """The plan's values of the block of ``rec`` (``n`` zeros where the model has none)."""
    b = _block(am, rec)
    return np.zeros(n) if b is None else x[b.start:b.start + b.n]


def extract_tables(am: ArrayModel, d: ModelData, x: np.ndarray) -> dict[str, pd.DataFrame]:
    """Every result table of a plan."""
    s, cc = d.sales, d.cc
    q = _val(am, x, SALES, len(s))
    q = np.where(np.abs(q) < 1e-9, 0.0, q)
    price = s["price"].to_numpy()
    rev = q * price
    margin = q * sales_unit_margin(d)
    partner = q * partner_income_per_unit(d)
    y = np.rint(_val(am, x, OFFER, len(d.offers)))
    mem = d.members
    offered = np.bincount(mem["cc"].to_numpy(), weights=y[mem["offer"].to_numpy()],
                          minlength=len(cc))
    dem = np.bincount(mem["cc"].to_numpy(), weights=y[mem["offer"].to_numpy()]
                      * mem["demand"].to_numpy(), minlength=len(cc))
    cc_sales = np.bincount(s["cc"].to_numpy(), weights=q, minlength=len(cc))
    cc_rev = np.bincount(s["cc"].to_numpy(), weights=rev, minlength=len(cc))
    cc_margin = np.bincount(s["cc"].to_numpy(), weights=margin, minlength=len(cc))
    # the level of each offered channel is the one of the chosen option's member: the
    # demand shown is the demand at that level, so "sales <= demand" reads off the table
    lev_names = d.levels["level"].astype(str).to_numpy()
    on = y[mem["offer"].to_numpy()] > 0.5
    cc_level = np.full(len(cc), "", dtype=object)
    cc_level[mem["cc"].to_numpy()[on]] = lev_names[
        s["lev"].to_numpy()[mem["sale"].to_numpy()[on]]]
    cell_channel = labels(d, categorical=False, product=cc["p"], region=cc["r"], segment=cc["s"],
                          channel=cc["k"]).assign(
        offered=offered > 0.5, demand=dem, sales=cc_sales, revenue=cc_rev, margin=cc_margin,
        level=cc_level)

    def agg(keys: list[str], codes: dict[str, np.ndarray]) -> pd.DataFrame:
        df = pd.DataFrame({**codes, "sales": q, "revenue": rev, "margin": margin,
                           "partner_income": partner})
        return df.groupby(keys, sort=True).sum().reset_index()

    pk = d.pk
    listed = np.rint(_val(am, x, LIST_PRODUCT, len(pk)))
    pc = agg(["p", "k"], {"p": s["p"].to_numpy(), "k": s["k"].to_numpy()})
    pc = pk[["p", "k"]].merge(pc, on=["p", "k"], how="left").fillna(0.0)
    chosen = d.levels.assign(sold=0.0)
    lev_sales = np.bincount(s["lev"].to_numpy(), weights=q, minlength=len(d.levels))
    chosen["sold"] = lev_sales
    # chosen level: its price_level value, or the listing for a single level
    z = d.levels["z"].to_numpy()
    multi = z >= 0
    zl = listed[d.levels["pk"].to_numpy()].astype(float)
    if _block(am, PRICE_LEVEL) is not None:
        zl[multi] = np.rint(_val(am, x, PRICE_LEVEL, int(multi.sum())))[z[multi]]
    chosen = chosen[zl > 0.5]
    pos = chosen.set_index("pk")
    product_channel = labels(d, categorical=False, product=pc["p"], channel=pc["k"]).assign(
        listed=listed > 0.5,
        level=pos["level"].reindex(range(len(pk))).fillna("").to_numpy(),
        price=pos["price"].reindex(range(len(pk))).to_numpy(),
        sales=pc["sales"].to_numpy(), revenue=pc["revenue"].to_numpy(),
        margin=pc["margin"].to_numpy())

    rk = d.rk
    opened = np.rint(_val(am, x, OPEN_CHANNEL, len(rk)))
    rc = agg(["r", "k"], {"r": s["r"].to_numpy(), "k": s["k"].to_numpy()})
    rc = rk[["r", "k"]].merge(rc, on=["r", "k"], how="left").fillna(0.0)
    region_channel = labels(d, categorical=False, region=rk["r"], channel=rk["k"]).assign(
        open=opened > 0.5, open_cost=rk["open_cost"].to_numpy(),
        sales=rc["sales"].to_numpy(), revenue=rc["revenue"].to_numpy(),
        margin=rc["margin"].to_numpy())

    bk = d.bk
    sold_b = np.rint(_val(am, x, SELL_BRAND, len(bk)))
    bcodes = d.cells["b"].to_numpy()[s["cell"].to_numpy()]
    bc = agg(["b", "k"], {"b": bcodes, "k": s["k"].to_numpy()})
    bc = bk[["b", "k"]].merge(bc, on=["b", "k"], how="left").fillna(0.0)
    brand_channel = labels(d, categorical=False, brand=bk["b"], channel=bk["k"]).assign(
        sold=sold_b > 0.5, sales=bc["sales"].to_numpy(), revenue=bc["revenue"].to_numpy())

    # partners per region
    reg = d.regions
    inc = np.bincount(s["r"].to_numpy(), weights=partner, minlength=len(reg))
    com = np.zeros(len(reg))
    blk = _block(am, COMMISSION)
    if blk is not None:
        rcodes = pd.Index(reg["id"]).get_indexer(blk.labels["region"])
        com[rcodes] = x[blk.start:blk.start + blk.n]
    pol = np.full(len(reg), np.nan)
    blk = _block(am, COMMISSION_POLICY)
    if blk is not None:
        rcodes = pd.Index(reg["id"]).get_indexer(blk.labels["region"])
        pol[rcodes] = np.rint(x[blk.start:blk.start + blk.n]) + 0.0
    floor = reg["partner_profit_floor"].to_numpy()
    partners = pd.DataFrame({"region": reg["id"], "fees_and_margin": inc, "commission": com,
                             "partner_profit": inc + com, "floor": floor,
                             "floor_active": (floor > 0)
                             & (d.scenario.settings.rules.partner_floor is not None),
                             "commission_policy": pol})

    # capacity use per row of every capacity / floor family
    rows = am.matrix("csr") @ x
    cap_parts = []
    for fam in LIMITED:
        c = am.cons.get(fam.name)
        if c is None:
            continue
        used = rows[c.start:c.start + c.n]
        upper = fam.limit_side == "upper"
        limit = c.upper if upper else c.lower
        where: pd.Series | list[str] = (
            c.labels.astype(str).apply(lambda r: ",".join(r), axis=1) if c.n else [])
        cap_parts.append(pd.DataFrame({
            "family": fam.name, "where": np.asarray(where, dtype=object), "used": used,
            "limit": limit, "kind": "capacity" if upper else "floor",
            "slack": (limit - used) if upper else (used - limit),
        }))
    capacity = pd.concat(cap_parts, ignore_index=True) if cap_parts else pd.DataFrame(
        columns=["family", "where", "used", "limit", "kind", "slack"])
    capacity["utilization"] = np.where(capacity["limit"].to_numpy(float) > 0,
                                       capacity["used"].to_numpy(float)
                                       / np.where(capacity["limit"].to_numpy(float) > 0,
                                                  capacity["limit"].to_numpy(float), 1.0),
                                       np.nan)

    # overlaps from offered channels (independent of the overlap family being on)
    kind = kinds_of(d, cc["k"].to_numpy())
    off = offered > 0.5
    pr = pd.DataFrame({"p": cc["p"], "r": cc["r"], "online": off & (kind == "online"),
                       "offline": off & (kind == "offline")})
    pr = pr.groupby(["p", "r"], sort=True)[["online", "offline"]].any().reset_index()
    ov = pr[pr["online"] & pr["offline"]]
    overlaps = labels(d, categorical=False, product=ov["p"], region=ov["r"])

    prices = product_channel.loc[product_channel["listed"],
                                 ["product", "channel", "level", "price"]].reset_index(drop=True)
    return {"cell_channel": cell_channel, "product_channel": product_channel,
            "region_channel": region_channel, "brand_channel": brand_channel,
            "partners": partners, "capacity": capacity, "overlaps": overlaps,
            "prices": prices, "price_gaps": price_gaps(d, prices),
            "profit": profit_breakdown(am, d, x), "channel_map": channel_map(d, cell_channel)}


PROFIT_COLUMNS = ["component", "channel", "amount", "revenue", "product_cost",
                  "variable_cost", "partner_fees", "returns_cost"]


def profit_breakdown(am: ArrayModel, d: ModelData, x: np.ndarray) -> pd.DataFrame:
    """Where the profit comes from: one line per objective term, summing to the objective.

    ``amount`` is each term's share of ``cost @ x`` read off the model's own objective,
    so the lines add up to the objective exactly: the sales margin, channel openings
    and listings per channel, then brand launches, commission, the commission policy
    and the overlap cost (any other block with an objective term gets its own line).
    The sales-margin lines also split the margin into revenue and the costs taken
    from it (``revenue - product_cost - variable_cost - partner_fees - returns_cost``).
    """
    rows: list[dict[str, Any]] = []
    ids = d.channels["id"].to_numpy()

    def part(block: str) -> np.ndarray:  # the objective terms of a block, by its name
        b = am.vars[block]
        return am.cost[b.start:b.start + b.n] * x[b.start:b.start + b.n]

    s = d.sales
    q = _val(am, x, SALES, len(s))
    k = s["k"].to_numpy()
    ch = d.channels
    detail = {
        "revenue": q * s["price"].to_numpy(),
        "product_cost": q * d.products["unit_cost"].to_numpy()[s["p"].to_numpy()],
        "variable_cost": q * ch["variable_cost"].to_numpy()[k],
        "partner_fees": q * partner_income_per_unit(d),
        "returns_cost": q * (ch["return_rate"].to_numpy() * ch["return_cost"].to_numpy())[k],
    }
    n_k = len(ch)
    margin = np.bincount(k, weights=part(SALES.name), minlength=n_k) \
        if _block(am, SALES) is not None else np.zeros(n_k)
    det = {name: np.bincount(k, weights=v, minlength=n_k) for name, v in detail.items()}
    for j in range(n_k):
        rows.append({"component": _profit_line(SALES.name), "channel": ids[j], "amount": margin[j],
                     **{name: v[j] for name, v in det.items()}})
    per_channel = ((OPEN_CHANNEL, d.rk), (LIST_PRODUCT, d.pk))  # lines per channel
    for rec, table in per_channel:
        if _block(am, rec) is None:
            continue
        amt = np.bincount(table["k"].to_numpy(), weights=part(rec.name), minlength=n_k)
        rows += [{"component": _profit_line(rec.name), "channel": ids[j], "amount": amt[j]}
                 for j in np.flatnonzero(amt != 0)]
    done = {SALES.name} | {rec.name for rec, _ in per_channel}
    for block in am.vars:
        if block in done:
            continue
        terms = part(block)
        b = am.vars[block]
        if terms.any() or am.cost[b.start:b.start + b.n].any():  # a cost, even if unpaid
            rows.append({"component": _profit_line(block), "channel": "",
                         "amount": float(terms.sum())})
    out = pd.DataFrame(rows, columns=PROFIT_COLUMNS)
    out["amount"] = out["amount"].astype(float) + 0.0  # no -0.0 in the table
    return out


def _profit_line(block: str) -> str:
    """The profit-breakdown line of a variable block's objective term (the registry's)."""
    rec = VAR.get(block)
    return rec.profit_line if rec is not None and rec.profit_line else block


def price_gaps(d: ModelData, prices: pd.DataFrame) -> pd.DataFrame:
    """Per listed product: the largest gap between two chosen prices the parity band
    binds (online-kind vs offline-kind, o2o-kind vs its side), as money and as a share
    of the reference price, the pair, the band and whether the gap is within it.

    Without the price-parity rule the pairs are those of its default sides and
    ``band`` / ``within_band`` are empty.
    """
    rule = d.scenario.settings.rules.price_parity
    kind = d.channels.set_index("id")["kind"]
    pr = prices.assign(kind=kind.reindex(prices["channel"]).to_numpy())
    parts = [pr[pr["kind"] == k1].merge(pr[pr["kind"] == k2], on="product",
                                        suffixes=("_a", "_b"))
             for k1, k2 in parity_kind_pairs(rule)]
    pairs = pd.concat(parts, ignore_index=True)
    ref = d.products.set_index("id")["ref_price"]
    cols = ["product", "ref_price", "gap", "gap_share", "pair", "band", "within_band"]
    products = pd.Series(pd.unique(prices["product"]), dtype=object)
    out = pd.DataFrame({"product": products,
                        "ref_price": ref.reindex(products).to_numpy(float)})
    if len(pairs):
        pairs["gap"] = (pairs["price_a"] - pairs["price_b"]).abs()
        top = pairs.sort_values(["product", "gap"], ascending=[True, False], kind="stable") \
            .drop_duplicates("product")

        def side(c: str) -> pd.Series:  # "online promo 61.49"; the implicit level unnamed
            lev = top[f"level_{c}"].astype(str)
            return (top[f"channel_{c}"] + np.where(lev == "ref", "", " " + lev) + " "
                    + top[f"price_{c}"].map("{:.2f}".format))

        top = top.assign(pair=side("a") + " vs " + side("b"))
        out = out.merge(top[["product", "gap", "pair"]], on="product", how="left")
    else:
        out = out.assign(gap=np.nan, pair="")
    out["pair"] = out["pair"].fillna("")
    out["gap_share"] = out["gap"] / out["ref_price"]
    out["band"] = np.nan if rule is None else rule.band
    share = out["gap_share"].to_numpy(float)
    within = pd.array(share <= (np.inf if rule is None else rule.band) + 1e-9, dtype="boolean")
    within[np.isnan(share) | (rule is None)] = pd.NA
    out["within_band"] = within
    return out[cols]


NOT_OFFERED, NOT_ELIGIBLE = "-", "(none eligible)"


def channel_map(d: ModelData, cell_channel: pd.DataFrame) -> pd.DataFrame:
    """Product x region: the channels offered (any segment), ``+``-joined; ``-`` where
    channels are eligible but none is offered, ``(none eligible)`` where no channel is.
    """
    cc = cell_channel
    prod, reg = d.products["id"].to_numpy(), d.regions["id"].to_numpy()
    keys = pd.MultiIndex.from_product([prod, reg], names=["product", "region"])
    cell = pd.Series(NOT_ELIGIBLE, index=keys, dtype=object)
    cell[keys.isin(pd.MultiIndex.from_frame(cc[["product", "region"]]))] = NOT_OFFERED
    off = cc.loc[cc["offered"], ["product", "region", "channel"]].drop_duplicates() \
        .sort_values(["product", "region", "channel"])
    sets = off.groupby(["product", "region"])["channel"].agg("+".join)
    cell[sets.index] = sets
    grid = pd.DataFrame(cell.to_numpy().reshape(len(prod), len(reg)), columns=reg)
    grid.insert(0, "product", prod)
    return grid


def kpis(am: ArrayModel, d: ModelData, x: np.ndarray,
         tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Headline numbers of a plan."""
    cc = tables["cell_channel"]
    market = float(d.cells["market"].sum())
    sold = float(cc["sales"].sum())
    cap = tables["capacity"]
    util = cap[cap["kind"] == "capacity"]["utilization"]
    launched = []
    blk = _block(am, LAUNCH_BRAND)
    if blk is not None:
        on = np.rint(x[blk.start:blk.start + blk.n]) > 0.5
        launched = blk.labels["brand"][on].tolist()
    return {
        "profit": float(am.cost @ x),
        "revenue": float(cc["revenue"].sum()),
        "units_sold": sold,
        "market_units": market,
        "lost_sales_units": market - sold,
        "overlap_count": len(tables["overlaps"]),
        "channels_opened": int(tables["region_channel"]["open"].sum()),
        "listings": int(tables["product_channel"]["listed"].sum()),
        "commission_paid": float(tables["partners"]["commission"].sum()),
        "brands_launched": launched,
        "max_capacity_utilization": float(util.max()) if len(util.dropna()) else None,
    }
