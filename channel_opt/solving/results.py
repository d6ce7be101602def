"""Result tables and KPIs from a plan (the column vector of the array model)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from ..model.data import ModelData, kinds_of, labels, mnl_compact_sales, sales_odds
from ..model.families import parity_kind_pairs, partner_income_per_unit, sales_unit_margin
from ..model.families.capacity import STOCK
from ..model.families.conflict import COMMISSION, COMMISSION_POLICY
from ..model.families.core import (
    LAUNCH_BRAND,
    LIST_PRODUCT,
    OFFER,
    OFFER_VOLUME,
    OPEN_CHANNEL,
    SALES,
    SELL_BRAND,
    USE_CHANNEL,
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
        pos = pd.Index(_pair_key(table, keys)).get_indexer(pd.Index(_pair_key(keys, table)))
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
    uc = _block(am, USE_CHANNEL)
    if uc is not None:
        oc = am.vars[OPEN_CHANNEL.name]
        is_open = np.rint(x[oc.start:oc.start + oc.n]) > 0.5
        codes = pd.Index(d.channels["id"]).get_indexer(uc.labels["channel"].astype(str))
        clear(USE_CHANNEL, np.isin(codes, d.rk["k"].to_numpy()[is_open]))
    lp = am.vars[LIST_PRODUCT.name]
    listed = np.rint(x[lp.start:lp.start + lp.n]) > 0.5
    sold = pd.DataFrame({"b": d.products["b"].to_numpy()[d.pk["p"].to_numpy()[listed]],
                         "k": d.pk["k"].to_numpy()[listed]})
    bk = d.bk[["b", "k"]]
    clear(SELL_BRAND, np.isin(_pair_key(bk, sold), _pair_key(sold, bk)))
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


def _pair_key(df: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """One integer per row of the two code columns of ``df`` (equal for equal pairs, and
    comparable with the keys of ``other``'s rows: ``_pair_key(other, df)``).
    """
    a, b = (df.iloc[:, i].to_numpy(np.int64) for i in (0, 1))
    n = int(max(np.abs(df.iloc[:, 1].to_numpy(np.int64)).max(initial=0),
                np.abs(other.iloc[:, 1].to_numpy(np.int64)).max(initial=0))) + 2
    return a * n + b + 1  # codes from -1 up: distinct pairs stay distinct


def _block(am: ArrayModel, rec: VarFamily) -> VarBlock | None:
    """The variable block of ``rec`` (None where the model has none)."""
    return am.vars.get(rec.name)


def _val(am: ArrayModel, x: np.ndarray, rec: VarFamily, n: int) -> np.ndarray:
    """The plan's values of the block of ``rec`` (``n`` zeros where the model has none)."""
    b = _block(am, rec)
    return np.zeros(n) if b is None else x[b.start:b.start + b.n]


# the result tables the plan check reads (:func:`~channel_opt.solving.check.check_plan`):
# always made; the others (capacity, prices, price_gaps, profit, channel_map) on request
CHECK_TABLES = ("cell_channel", "product_channel", "region_channel", "brand_channel",
                "partners", "overlaps")


def _sales(am: ArrayModel, d: ModelData, x: np.ndarray) -> np.ndarray:
    """Units sold per sales column (values within 1e-9 of 0 read as 0)."""
    q = _val(am, x, SALES, len(d.sales))
    return np.where(np.abs(q) < 1e-9, 0.0, q)


def _offered(am: ArrayModel, d: ModelData, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rounded offer decisions and, per (cell, channel), how many offered options
    hold it (> 0.5: offered).
    """
    y = np.rint(_val(am, x, OFFER, len(d.offers)))
    mem = d.members
    return y, np.bincount(mem["cc"].to_numpy(), weights=y[mem["offer"].to_numpy()],
                          minlength=len(d.cc))


def _overlap_pairs(d: ModelData, offered: np.ndarray) -> np.ndarray:
    """The (product, region) pairs, as ``p * n_regions + r``, offered both an online and
    an offline channel (independent of the overlap family being on).
    """
    cc = d.cc
    kind = kinds_of(d, cc["k"].to_numpy())
    off = offered > 0.5
    n_r = len(d.regions)
    flat = cc["p"].to_numpy() * n_r + cc["r"].to_numpy()  # (product, region), sorted
    both = (np.bincount(flat, off & (kind == "online"), len(d.products) * n_r) > 0) & \
        (np.bincount(flat, off & (kind == "offline"), len(d.products) * n_r) > 0)
    return np.flatnonzero(both)


def _capacity_rows(am: ArrayModel, x: np.ndarray
                   ) -> list[tuple[Any, Any, np.ndarray, np.ndarray, bool]]:
    """(family, row block, use, limit, upper) of every capacity / floor block."""
    out = []
    for fam in LIMITED:
        c = am.cons.get(fam.name)
        if c is None:
            continue
        upper = fam.limit_side == "upper"
        used, limit = use_and_limit(am, c.name, x, upper)
        out.append((fam, c, used, limit, upper))
    return out


def _utilization(used: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Use over limit where the limit is positive, NaN elsewhere."""
    lim = np.asarray(limit, float)
    return np.where(lim > 0, np.asarray(used, float) / np.where(lim > 0, lim, 1.0), np.nan)


def extract_tables(am: ArrayModel, d: ModelData, x: np.ndarray,
                   names: Collection[str] | None = None) -> dict[str, pd.DataFrame]:
    """The result tables of a plan: every one, or ``names`` and the check's
    (:data:`CHECK_TABLES`), e.g. for a sweep point whose tables nobody writes.
    """
    def want(name: str) -> bool:
        return names is None or name in names

    s, cc = d.sales, d.cc
    q = _sales(am, d, x)
    price = s["price"].to_numpy()
    rev = q * price
    margin = q * sales_unit_margin(d)
    partner = q * partner_income_per_unit(d)
    y, offered = _offered(am, d, x)
    mem = d.members
    dem = np.bincount(mem["cc"].to_numpy(), weights=y[mem["offer"].to_numpy()]
                      * mem["demand"].to_numpy(), minlength=len(cc))
    vol = _block(am, OFFER_VOLUME)
    if vol is not None:  # compact mnl cells: the demand is odds x volume
        sale = mnl_compact_sales(d)
        e = sales_odds(d)[sale]
        cci = s["cc"].to_numpy()[sale]
        dem[np.unique(cci)] = 0.0
        dem += np.bincount(cci, weights=e * x[vol.start:vol.start + vol.n], minlength=len(cc))
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

    n_k = len(d.channels)
    sk = s["k"].to_numpy()
    pk = d.pk
    listed = np.rint(_val(am, x, LIST_PRODUCT, len(pk)))
    pc = _sums_per_row([pk["p"].to_numpy(), pk["k"].to_numpy()], [s["p"].to_numpy(), sk],
                       (len(d.products), n_k), q, rev, margin)
    # chosen level: its price_level value, or the listing for a single level
    z = d.levels["z"].to_numpy()
    multi = z >= 0
    zl = listed[d.levels["pk"].to_numpy()].astype(float)
    if _block(am, PRICE_LEVEL) is not None:
        zl[multi] = np.rint(_val(am, x, PRICE_LEVEL, int(multi.sum())))[z[multi]]
    chosen = zl > 0.5
    at = d.levels["pk"].to_numpy()[chosen]
    if len(np.unique(at)) < len(at):
        raise ValueError("the plan chooses two price levels of one product and channel")
    level = np.full(len(pk), "", dtype=object)
    level[at] = d.levels["level"].to_numpy(object)[chosen]
    chosen_price = np.full(len(pk), np.nan)
    chosen_price[at] = d.levels["price"].to_numpy(float)[chosen]
    product_channel = labels(d, categorical=False, product=pk["p"], channel=pk["k"]).assign(
        listed=listed > 0.5, level=level, price=chosen_price, sales=pc[0], revenue=pc[1],
        margin=pc[2])

    rk = d.rk
    opened = np.rint(_val(am, x, OPEN_CHANNEL, len(rk)))
    rc = _sums_per_row([rk["r"].to_numpy(), rk["k"].to_numpy()], [s["r"].to_numpy(), sk],
                       (len(d.regions), n_k), q, rev, margin)
    region_channel = labels(d, categorical=False, region=rk["r"], channel=rk["k"]).assign(
        open=opened > 0.5, open_cost=rk["open_cost"].to_numpy(),
        variable_cost=rk["variable_cost"].to_numpy(), sales=rc[0], revenue=rc[1],
        margin=rc[2])

    bk = d.bk
    sold_b = np.rint(_val(am, x, SELL_BRAND, len(bk)))
    bcodes = d.cells["b"].to_numpy()[s["cell"].to_numpy()]
    bc = _sums_per_row([bk["b"].to_numpy(), bk["k"].to_numpy()], [bcodes, sk],
                       (len(d.brands), n_k), q, rev)
    brand_channel = labels(d, categorical=False, brand=bk["b"], channel=bk["k"]).assign(
        sold=sold_b > 0.5, sales=bc[0], revenue=bc[1])

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

    n_r = len(d.regions)
    ov = _overlap_pairs(d, offered)
    out = {"cell_channel": cell_channel, "product_channel": product_channel,
           "region_channel": region_channel, "brand_channel": brand_channel,
           "partners": partners,
           "overlaps": labels(d, categorical=False, product=ov // n_r, region=ov % n_r)}
    if want("capacity"):  # use and limit per row of every capacity / floor family
        cap_parts = []
        for fam, c, used, limit, upper in _capacity_rows(am, x):
            where = [",".join(t) for t in zip(*(c.labels[col].astype(str).tolist()
                                                 for col in c.labels.columns), strict=True)]
            cap_parts.append(pd.DataFrame({
                "family": fam.name, "where": np.asarray(where, dtype=object), "used": used,
                "limit": limit, "kind": "capacity" if upper else "floor",
                "slack": (limit - used) if upper else (used - limit),
            }))
        capacity = pd.concat(cap_parts, ignore_index=True) if cap_parts else pd.DataFrame(
            columns=["family", "where", "used", "limit", "kind", "slack"])
        capacity["utilization"] = _utilization(capacity["used"].to_numpy(float),
                                               capacity["limit"].to_numpy(float))
        out["capacity"] = capacity
    if want("prices") or want("price_gaps"):
        prices = product_channel.loc[product_channel["listed"],
                                     ["product", "channel", "level", "price"]
                                     ].reset_index(drop=True)
        if want("prices"):
            out["prices"] = prices
        if want("price_gaps"):
            out["price_gaps"] = price_gaps(d, prices)
    if want("profit"):
        out["profit"] = profit_breakdown(am, d, x)
    if want("channel_map"):
        out["channel_map"] = channel_map(d, cell_channel)
    return {k: out[k] for k in RESULT_TABLES if k in out}


# every result table, in the order a result folder and its report list them
RESULT_TABLES = ("cell_channel", "product_channel", "region_channel", "brand_channel",
                 "partners", "capacity", "overlaps", "prices", "price_gaps", "profit",
                 "channel_map")


def _sums_per_row(table: list[np.ndarray], rows: list[np.ndarray], dims: tuple[int, ...],
                  *weights: np.ndarray) -> list[np.ndarray]:
    """Per row of a table keyed by codes (``table``: one code array per key column):
    the sums of each of ``weights`` over the sales columns with the same key (``rows``),
    0 where none has it.
    """
    pos = pd.Index(np.ravel_multi_index(table, dims)).get_indexer(
        pd.Index(np.ravel_multi_index(rows, dims)))
    ok = pos >= 0
    return [np.bincount(pos[ok], weights=w[ok], minlength=len(table[0])) for w in weights]


def use_and_limit(am: ArrayModel, block: str, x: np.ndarray, upper: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Use and limit of every row of a capacity or floor block at ``x``.

    A row may carry the decision its limit depends on (``Σ u q ≤ C use_k``, ``Σ q ≥
    V open_rk``): the terms of integer columns belong to the limit (``C`` where the
    channel is used, 0 where not), the continuous terms are the use.
    """
    c = am.cons[block]
    integ = am.integrality().astype(bool)[c.cols]
    xv = c.vals * x[c.cols]
    used = np.bincount(c.rows[~integ], weights=xv[~integ], minlength=c.n)
    on = np.bincount(c.rows[integ], weights=xv[integ], minlength=c.n)
    return used, (c.upper if upper else c.lower) - on


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
        "variable_cost": q * s["variable_cost"].to_numpy(),
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
    kind = dict(zip(d.channels["id"].tolist(), d.channels["kind"].tolist(), strict=True))
    ref = dict(zip(d.products["id"].tolist(), d.products["ref_price"].tolist(), strict=True))
    prod, chan = prices["product"].tolist(), prices["channel"].tolist()
    lev, price = prices["level"].astype(str).tolist(), prices["price"].tolist()
    rows_of: dict[tuple[Any, Any], list[int]] = {}  # (product, kind) -> rows, in order
    for i, (p, c) in enumerate(zip(prod, chan, strict=True)):
        rows_of.setdefault((p, kind.get(c)), []).append(i)
    best: dict[Any, tuple[float, int, int]] = {}  # product -> the first widest pair
    for k1, k2 in parity_kind_pairs(rule):
        for i, (p, c) in enumerate(zip(prod, chan, strict=True)):
            if kind.get(c) != k1:
                continue
            for j in rows_of.get((p, k2), []):
                g = abs(price[i] - price[j])
                if p not in best or g > best[p][0]:
                    best[p] = (g, i, j)

    def side(i: int) -> str:  # "online promo 61.49"; the implicit level unnamed
        return f"{chan[i]}{'' if lev[i] == 'ref' else ' ' + lev[i]} {price[i]:.2f}"

    products = list(dict.fromkeys(prod))
    refs = np.array([ref.get(p, np.nan) for p in products], dtype=float)
    gap = np.array([best[p][0] if p in best else np.nan for p in products], dtype=float)
    share = gap / refs
    within = pd.array(share <= (np.inf if rule is None else rule.band) + 1e-9, dtype="boolean")
    within[np.isnan(share) | (rule is None)] = pd.NA
    return pd.DataFrame({
        "product": pd.Series(products, dtype=object), "ref_price": refs, "gap": gap,
        "gap_share": share,
        "pair": pd.Series([f"{side(best[p][1])} vs {side(best[p][2])}" if p in best else ""
                           for p in products], dtype="str"),
        "band": np.nan if rule is None else rule.band, "within_band": within})


NOT_OFFERED, NOT_ELIGIBLE = "-", "(none eligible)"


def channel_map(d: ModelData, cell_channel: pd.DataFrame) -> pd.DataFrame:
    """Product x region: the channels offered (any segment), ``+``-joined; ``-`` where
    channels are eligible but none is offered, ``(none eligible)`` where no channel is.
    """
    prod, reg = d.products["id"].to_numpy(), d.regions["id"].to_numpy()
    p, r = d.cc["p"].to_numpy(), d.cc["r"].to_numpy()  # the rows of cell_channel
    assert len(p) == len(cell_channel)
    grid = np.full((len(prod), len(reg)), NOT_ELIGIBLE, dtype=object)
    grid[p, r] = NOT_OFFERED
    sets: dict[tuple[int, int], set[str]] = {}
    on = cell_channel["offered"].to_numpy(bool)
    for pi, ri, k in zip(p[on].tolist(), r[on].tolist(),
                         cell_channel["channel"].to_numpy(object)[on].tolist(), strict=True):
        sets.setdefault((pi, ri), set()).add(k)
    for (pi, ri), ks in sets.items():
        grid[pi, ri] = "+".join(sorted(ks))
    out = pd.DataFrame(grid, columns=reg)
    out.insert(0, "product", prod)
    return out


def kpis(am: ArrayModel, d: ModelData, x: np.ndarray,
         tables: dict[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """Headline numbers of a plan, from the plan vector itself (the numbers the result
    tables show, without building them: a sweep row needs only these). ``tables`` is
    not read (accepted from callers that have them).
    """
    q = _sales(am, d, x)
    market = float(d.cells["market"].sum())
    sold = float(q.sum())
    _, offered = _offered(am, d, x)
    util = [_utilization(used, limit) for _, _, used, limit, upper in _capacity_rows(am, x)
            if upper]
    u = np.concatenate(util) if util else np.zeros(0)
    com = _block(am, COMMISSION)
    launched = []
    blk = _block(am, LAUNCH_BRAND)
    if blk is not None:
        on = np.rint(x[blk.start:blk.start + blk.n]) > 0.5
        launched = blk.labels["brand"][on].tolist()
    return {
        "profit": float(am.cost @ x),
        "revenue": float((q * d.sales["price"].to_numpy()).sum()),
        "units_sold": sold,
        "market_units": market,
        "lost_sales_units": market - sold,
        "overlap_count": len(_overlap_pairs(d, offered)),
        "channels_opened": int((np.rint(_val(am, x, OPEN_CHANNEL, len(d.rk))) > 0.5).sum()),
        "listings": int((np.rint(_val(am, x, LIST_PRODUCT, len(d.pk))) > 0.5).sum()),
        "commission_paid": 0.0 if com is None else float(x[com.start:com.start + com.n].sum()),
        "brands_launched": launched,
        "max_capacity_utilization": float(np.nanmax(u)) if (~np.isnan(u)).any() else None,
    }
