"""The constraint families of the channel-design MIP, one function each.

Every function adds its variables and rows to an :class:`ArrayModel` from index
arrays (never by scanning tables per row). Names match ``models/channel_design.md``.
The core families are always built; optional families only when the scenario
switches them on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..scenario.settings import Commission, Flag, Overlap, PriceParity
from .data import ModelData, kinds_of, labels, offer_touches_kind
from .linear import ArrayModel, VarBlock

ONLINE, OFFLINE = "online", "offline"


@dataclass
class Build:
    """The model under construction and the variable blocks families share."""

    data: ModelData
    am: ArrayModel
    v: dict[str, VarBlock] = field(default_factory=dict)
    idx: dict[str, np.ndarray] = field(default_factory=dict)  # index maps between families

    def col(self, block: str, idx: np.ndarray) -> np.ndarray:
        """Global columns of entries ``idx`` of a variable block."""
        return self.v[block].start + np.asarray(idx, np.int64)


def _group_index(keys: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row number per entry and the position of each group's first entry."""
    if isinstance(keys, pd.DataFrame):
        codes, uniq = pd.MultiIndex.from_frame(keys).factorize()
        first = np.unique(codes, return_index=True)[1]
        return codes.astype(np.int64), first
    codes, uniq = pd.factorize(keys, sort=True)
    first = np.unique(codes, return_index=True)[1]
    return codes.astype(np.int64), first


# ---------------------------------------------------------------- core decisions


def define_channel_opening(b: Build, rule: None) -> None:
    """``open_channel[r,k]``: channel k operates in region r (fixed cost)."""
    d = b.data
    lower = np.zeros(len(d.rk))
    b.v["open_channel"] = b.am.add_vars(
        "open_channel", labels(d, region=d.rk["r"], channel=d.rk["k"]), binary=True,
        lower=lower, cost=-d.rk["open_cost"].to_numpy(),
        description="1 if the channel operates in the region")


def define_listings(b: Build, rule: None) -> None:
    """``list_product[p,k]`` and ``sell_brand[b,k]``; ``listing_needs_brand``."""
    d, am = b.data, b.am
    b.v["list_product"] = am.add_vars(
        "list_product", labels(d, product=d.pk["p"], channel=d.pk["k"]), binary=True,
        cost=-d.channels["listing_cost"].to_numpy()[d.pk["k"].to_numpy()],
        description="1 if the product is listed in the channel")
    b.v["sell_brand"] = am.add_vars(
        "sell_brand", labels(d, brand=d.bk["b"], channel=d.bk["k"]), binary=True,
        description="1 if the brand is sold through the channel")
    bk = pd.MultiIndex.from_frame(d.bk[["b", "k"]])
    pb = d.products["b"].to_numpy()[d.pk["p"].to_numpy()]
    j = bk.get_indexer(pd.MultiIndex.from_arrays([pb, d.pk["k"].to_numpy()]))
    n = len(d.pk)
    am.add_cons("listing_needs_brand", labels(d, product=d.pk["p"], channel=d.pk["k"]),
                [(np.arange(n), b.col("list_product", np.arange(n)), 1.0),
                 (np.arange(n), b.col("sell_brand", j), -1.0)], upper=0.0,
                description="a product is listed only where its brand is sold")


def define_brand_launch(b: Build, rule: None) -> None:
    """``launch_brand[b]`` for new brands; ``brand_launch[b,k]``: selling launches it."""
    d, am = b.data, b.am
    new = d.brands["new"].to_numpy(bool)
    bk = d.bk[new[d.bk["b"].to_numpy()]].reset_index()
    if not len(bk):
        return
    nb = np.unique(bk["b"].to_numpy())
    b.v["launch_brand"] = am.add_vars(
        "launch_brand", labels(d, brand=nb), binary=True,
        cost=-d.brands["launch_cost"].to_numpy()[nb],
        description="1 if the new brand is launched")
    pos = np.searchsorted(nb, bk["b"].to_numpy())
    n = len(bk)
    am.add_cons("brand_launch", labels(d, brand=bk["b"], channel=bk["k"]),
                [(np.arange(n), b.col("sell_brand", bk["index"].to_numpy()), 1.0),
                 (np.arange(n), b.col("launch_brand", pos), -1.0)], upper=0.0,
                description="selling a new brand in any channel launches it")


def define_price_levels(b: Build, rule: None) -> None:
    """``price_level[p,k,l]`` where a product-channel has several levels.

    ``price_one_level[p,k]``: a listed product takes exactly one level. Offers and
    sales at a level are linked to it by ``offer_needs_level`` (in
    :func:`define_offers_and_demand`, built after this family).
    """
    d, am = b.data, b.am
    lv = d.levels[d.levels["z"].to_numpy() >= 0].reset_index()
    if not len(lv):
        return
    b.v["price_level"] = am.add_vars(
        "price_level", labels(d, product=lv["p"], channel=lv["k"], level=lv["level"]),
        binary=True, description="1 if the product is sold at this price level in the channel")
    rows, first = _group_index(lv["pk"].to_numpy())
    pks = lv["pk"].to_numpy()[first]
    am.add_cons("price_one_level", labels(d, product=d.pk["p"].to_numpy()[pks],
                                          channel=d.pk["k"].to_numpy()[pks]),
                [(rows, b.col("price_level", np.arange(len(lv))), 1.0),
                 (np.arange(len(pks)), b.col("list_product", pks), -1.0)],
                lower=0.0, upper=0.0, description="a listed product has exactly one price level")


def _sales_labels(d: ModelData, idx: np.ndarray) -> pd.DataFrame:
    s = d.sales
    return labels(d, product=s["p"].to_numpy()[idx], region=s["r"].to_numpy()[idx],
                  segment=s["s"].to_numpy()[idx], channel=s["k"].to_numpy()[idx],
                  level=d.levels["level"].to_numpy()[s["lev"].to_numpy()[idx]])


def _cc_labels(d: ModelData, idx: np.ndarray | None = None) -> pd.DataFrame:
    cc = d.cc if idx is None else d.cc.iloc[idx]
    return labels(d, product=cc["p"], region=cc["r"], segment=cc["s"], channel=cc["k"])


def sales_unit_margin(d: ModelData) -> np.ndarray:
    """HQ's margin per unit of each sales column (before fixed costs and commission)."""
    s = d.sales
    ch = d.channels
    k = s["k"].to_numpy()
    price = s["price"].to_numpy()
    return (price * (1.0 - ch["fee_share"].to_numpy()[k])
            - d.products["unit_cost"].to_numpy()[s["p"].to_numpy()]
            - ch["variable_cost"].to_numpy()[k] - ch["fee_per_unit"].to_numpy()[k]
            - ch["return_rate"].to_numpy()[k] * ch["return_cost"].to_numpy()[k])


def level_columns(b: Build) -> np.ndarray:
    """Per sales column: the decision that chooses its level, ``price_level[p,k,l]``
    where ``(p,k)`` has several levels, else ``list_product[p,k]``.
    """
    d = b.data
    s = d.sales
    z = d.levels["z"].to_numpy()[s["lev"].to_numpy()]
    xcol = b.col("list_product", d.levels["pk"].to_numpy()[s["lev"].to_numpy()])
    if "price_level" not in b.v:
        return xcol
    return np.where(z >= 0, b.col("price_level", np.maximum(z, 0)), xcol)


def define_offers_and_demand(b: Build, rule: None) -> None:
    """Offer option per cell (a channel set and a level per member) and its exact demand.

    ``offer[c,o]`` picks at most one option per cell (``offer_one_set``); a member at a
    level needs that level chosen (``offer_needs_level``: the price level, or the
    listing where the product has one level in the channel) and the channel open
    (``offer_needs_open``); each sales column is bounded by the demand the chosen
    option gives the channel at that level (``demand``), and, for the independent
    model, the cell's sales by its market (``cell_market``).
    """
    d, am = b.data, b.am
    of, mem, s, cc = d.offers, d.members, d.sales, d.cc
    b.v["offer"] = am.add_vars(
        "offer", labels(d, product=d.cells["p"].to_numpy()[of["cell"].to_numpy()],
                        region=d.cells["r"].to_numpy()[of["cell"].to_numpy()],
                        segment=d.cells["s"].to_numpy()[of["cell"].to_numpy()],
                        set=of["set"]), binary=True,
        description="1 if exactly this offer option (channel set and levels) is offered to "
        "the cell")
    n_s = len(s)
    b.v["sales"] = am.add_vars("sales", _sales_labels(d, np.arange(n_s)),
                               upper=s["dmax"].to_numpy(), cost=sales_unit_margin(d),
                               description="units sold in the cell through the channel at "
                               "the price level")
    rows, first = _group_index(of["cell"].to_numpy())
    cells_w = of["cell"].to_numpy()[first]
    am.add_cons("offer_one_set", labels(d, product=d.cells["p"].to_numpy()[cells_w],
                                        region=d.cells["r"].to_numpy()[cells_w],
                                        segment=d.cells["s"].to_numpy()[cells_w]),
                [(rows, b.col("offer", np.arange(len(of))), 1.0)], upper=1.0,
                description="at most one offer option per cell")
    off_cols = b.col("offer", mem["offer"].to_numpy())
    sale = mem["sale"].to_numpy()
    all_s = np.arange(n_s)
    am.add_cons("offer_needs_level", _sales_labels(d, all_s),
                [(sale, off_cols, 1.0), (all_s, level_columns(b), -1.0)], upper=0.0,
                description="a channel is offered at a price level only if the product is "
                "listed in it at that level")
    n = len(cc)
    rk = pd.MultiIndex.from_frame(d.rk[["r", "k"]])
    rk_pos = rk.get_indexer(pd.MultiIndex.from_frame(cc[["r", "k"]]))
    am.add_cons("offer_needs_open", _cc_labels(d),
                [(mem["cc"].to_numpy(), off_cols, 1.0),
                 (np.arange(n), b.col("open_channel", rk_pos), -1.0)], upper=0.0,
                description="a channel is offered only in regions where it is open")
    am.add_cons("demand", _sales_labels(d, all_s),
                [(all_s, b.col("sales", all_s), 1.0),
                 (sale, off_cols, -mem["demand"].to_numpy())], upper=0.0,
                description="sales at a level within the demand the offered option gives "
                "the channel")
    if d.scenario.settings.demand_model == "independent":
        rows, first = _group_index(s["cell"].to_numpy())
        cw = s["cell"].to_numpy()[first]
        am.add_cons("cell_market", labels(d, product=d.cells["p"].to_numpy()[cw],
                                          region=d.cells["r"].to_numpy()[cw],
                                          segment=d.cells["s"].to_numpy()[cw]),
                    [(rows, b.col("sales", all_s), 1.0)],
                    upper=d.cells["market"].to_numpy()[cw],
                    description="total sales of a cell within its market")


# ---------------------------------------------------------------- optional families


def define_brand_single_kind(b: Build, rule: None) -> None:
    """``brand_kind[b,kind]``: brands marked single_kind sell through one channel kind."""
    d, am = b.data, b.am
    single = d.brands["single_kind"].to_numpy(bool)
    bk = d.bk[single[d.bk["b"].to_numpy()]].reset_index()
    if not len(bk):
        return
    bkind = pd.DataFrame({"b": bk["b"], "kind": kinds_of(d, bk["k"].to_numpy())})
    pairs = bkind.drop_duplicates().sort_values(["b", "kind"]).reset_index(drop=True)
    b.v["brand_kind"] = am.add_vars("brand_kind", labels(d, brand=pairs["b"],
                                                         kind=pairs["kind"]),
                                    binary=True, description="1 if the brand is sold through "
                                    "channels of this kind")
    pos = pd.MultiIndex.from_frame(pairs).get_indexer(pd.MultiIndex.from_frame(bkind))
    n = len(bk)
    am.add_cons("brand_kind_link", labels(d, brand=bk["b"], channel=bk["k"]),
                [(np.arange(n), b.col("sell_brand", bk["index"].to_numpy()), 1.0),
                 (np.arange(n), b.col("brand_kind", pos), -1.0)], upper=0.0,
                description="a brand sold in a channel uses that channel's kind")
    rows, first = _group_index(pairs["b"].to_numpy())
    am.add_cons("brand_one_kind", labels(d, brand=pairs["b"].to_numpy()[first]),
                [(rows, b.col("brand_kind", np.arange(len(pairs))), 1.0)], upper=1.0,
                description="at most one channel kind per single-kind brand")


def parity_kind_pairs(rule: PriceParity | None) -> list[tuple[str, str]]:
    """Pairs of channel kinds whose prices the parity band binds (SPEC 5.1).

    The band binds prices a customer sees side by side: online-kind against
    offline-kind, and the o2o-kind prices (BOPIS, ship-from-store) against the kind of
    the side they are shown on, ``rules.price_parity.o2o_side`` (``online``, the web
    shop, unless the scenario says ``offline``, the store).
    """
    side = ONLINE if rule is None else rule.o2o_side
    return [(ONLINE, OFFLINE), ("o2o", side)]


def define_price_parity(b: Build, rule: PriceParity) -> None:
    """``price_parity``: no two prices of a product that the band binds further apart
    than the band.

    The band binds online-kind against offline-kind channels and o2o-kind channels
    against the side they are shown on (:func:`parity_kind_pairs`). For every such pair
    of channels of one product, every pair of levels whose prices differ by more than
    ``band * ref_price`` cannot both be chosen (a conflict-graph inequality; no big-M).
    """
    d, am = b.data, b.am
    band = rule.band
    lv = d.levels
    kind = kinds_of(d, lv["k"].to_numpy())
    z_of_lev = lv["z"].to_numpy()
    zcol = np.where(z_of_lev >= 0, b.col("price_level", np.maximum(z_of_lev, 0)), -1) \
        if "price_level" in b.v else np.full(len(lv), -1)
    xcol = b.col("list_product", lv["pk"].to_numpy())
    lvc = lv.assign(col=np.where(zcol >= 0, zcol, xcol))
    pairs = pd.concat([lvc[kind == k1].merge(lvc[kind == k2], on="p", suffixes=("_a", "_b"))
                       for k1, k2 in parity_kind_pairs(rule)],
                      ignore_index=True)
    ref = d.products["ref_price"].to_numpy()[pairs["p"].to_numpy()]
    bad = np.abs(pairs["price_a"].to_numpy() - pairs["price_b"].to_numpy()) > band * ref + 1e-9
    pairs = pairs[bad].reset_index(drop=True)
    n = len(pairs)
    ids = d.channels["id"].to_numpy()
    am.add_cons("price_parity",
                labels(d, product=pairs["p"], channel=pairs["k_a"].to_numpy(),
                       level=pairs["level_a"], other_channel=ids[pairs["k_b"].to_numpy()],
                       other_level=pairs["level_b"]),
                [(np.arange(n), pairs["col_a"].to_numpy(), 1.0),
                 (np.arange(n), pairs["col_b"].to_numpy(), 1.0)], upper=1.0,
                description="two prices of a product that customers see side by side "
                "within the band")


def define_overlap(b: Build, rule: Overlap) -> None:
    """``overlap[p,r]``: product sold in region through online and offline kinds.

    ``overlap_online[c]`` / ``overlap_offline[c]`` lift ``online_sold[p,r]`` /
    ``offline_sold[p,r]`` above the cell's offered set; ``overlap_pair[p,r]`` sets
    ``overlap >= online_sold + offline_sold - 1``; ``overlap_budget`` caps the count;
    the conflict cost is charged in the objective.
    """
    d, am = b.data, b.am
    of = d.offers
    t_on, t_off = offer_touches_kind(d, ONLINE), offer_touches_kind(d, OFFLINE)
    cell_on = np.zeros(len(d.cells), bool)
    cell_on[of["cell"].to_numpy()[t_on]] = True
    cell_off = np.zeros(len(d.cells), bool)
    cell_off[of["cell"].to_numpy()[t_off]] = True
    c = d.cells
    pr_on = set(zip(c["p"].to_numpy()[cell_on], c["r"].to_numpy()[cell_on], strict=True))
    pr_off = set(zip(c["p"].to_numpy()[cell_off], c["r"].to_numpy()[cell_off], strict=True))
    both = sorted(pr_on & pr_off)
    if not both:
        return
    pr = pd.DataFrame(both, columns=["p", "r"])
    lab = labels(d, product=pr["p"], region=pr["r"])
    for name, desc in (("online_sold", "online"), ("offline_sold", "offline")):
        b.v[name] = am.add_vars(name, lab, upper=1.0, description=f"1 if the product is "
                                f"offered through an {desc}-kind channel in the region")
    b.v["overlap"] = am.add_vars("overlap", lab, upper=1.0, cost=-rule.cost,
                                 description="1 if the product is sold both online and "
                                 "offline in the region")
    pr_idx = pd.MultiIndex.from_frame(pr)
    for name, touch, var in (("overlap_online", t_on, "online_sold"),
                             ("overlap_offline", t_off, "offline_sold")):
        oi = np.flatnonzero(touch)
        cell = of["cell"].to_numpy()[oi]
        pos = pr_idx.get_indexer(pd.MultiIndex.from_arrays([c["p"].to_numpy()[cell],
                                                            c["r"].to_numpy()[cell]]))
        keep = pos >= 0
        oi, cell, pos = oi[keep], cell[keep], pos[keep]
        rows, first = _group_index(cell)
        cw = cell[first]
        am.add_cons(name, labels(d, product=c["p"].to_numpy()[cw], region=c["r"].to_numpy()[cw],
                                 segment=c["s"].to_numpy()[cw]),
                    [(rows, b.col("offer", oi), 1.0),
                     (np.arange(len(cw)), b.col(var, pos[first]), -1.0)], upper=0.0,
                    description=f"{var} covers every cell offered such a channel")
    n = len(pr)
    r = np.arange(n)
    am.add_cons("overlap_pair", lab,
                [(r, b.col("online_sold", r), 1.0), (r, b.col("offline_sold", r), 1.0),
                 (r, b.col("overlap", r), -1.0)], upper=1.0,
                description="overlap >= online_sold + offline_sold - 1")
    if rule.max_pairs is not None:
        am.add_cons("overlap_budget", pd.DataFrame({"scope": ["all"]}),
                    [(np.zeros(n, np.int64), b.col("overlap", r), 1.0)],
                    upper=float(rule.max_pairs),
                    description="most (product, region) pairs sold online and offline")


def _online_revenue_terms(b: Build) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sales columns of online-kind channels: (index, region, revenue per unit, max rev)."""
    d = b.data
    s = d.sales
    idx = np.flatnonzero(kinds_of(d, s["k"].to_numpy()) == ONLINE)
    price = s["price"].to_numpy()[idx]
    ub = b.v["sales"].upper[idx]
    return idx, s["r"].to_numpy()[idx], price, price * ub


def define_commission(b: Build, rule: Commission) -> None:
    """Commission sharing: ``commission[r]`` = share x online revenue of the region.

    Always paid (``commission_def``), or per region by decision ``commission_policy[r]``
    with the exact linearization ``commission_lower`` / ``commission_upper_revenue`` /
    ``commission_upper_policy`` bounded by the region's largest possible online revenue
    (no arbitrary big-M).
    """
    d, am = b.data, b.am
    idx, reg, price, maxrev = _online_revenue_terms(b)
    regs = np.unique(reg)
    if not len(regs):
        return
    theta = rule.share
    lab = labels(d, region=regs)
    b.v["commission"] = am.add_vars("commission", lab, cost=-1.0,
                                    description="commission paid to the region's stores")
    b.idx["commission_regions"] = regs
    rows = np.searchsorted(regs, reg)
    n = len(regs)
    r = np.arange(n)
    rev = (rows, b.col("sales", idx), -theta * price)
    com = (r, b.col("commission", r), 1.0)
    if not rule.decision:
        am.add_cons("commission_def", lab, [com, rev], lower=0.0, upper=0.0,
                    description="commission = share x online revenue of the region")
        return
    rbar = theta * np.bincount(rows, weights=maxrev, minlength=n)
    b.v["commission_policy"] = am.add_vars(
        "commission_policy", lab, binary=True, cost=-rule.policy_cost,
        description="1 if the region's stores get the commission share")
    pol = b.col("commission_policy", r)
    am.add_cons("commission_lower", lab, [com, rev, (r, pol, -rbar)], lower=-rbar,
                description="commission >= share x revenue when the policy is on")
    am.add_cons("commission_upper_revenue", lab, [com, rev], upper=0.0,
                description="commission <= share x revenue")
    am.add_cons("commission_upper_policy", lab, [com, (r, pol, -rbar)], upper=0.0,
                description="no commission without the policy")


def partner_income_per_unit(d: ModelData) -> np.ndarray:
    """Offline partners' income per unit of each sales column (fees and margin share)."""
    s = d.sales
    k = s["k"].to_numpy()
    ch = d.channels
    return ch["fee_per_unit"].to_numpy()[k] + ch["fee_share"].to_numpy()[k] * s["price"].to_numpy()


def define_partner_floor(b: Build, rule: Flag) -> None:
    """``partner_floor[r]``: partner fees, margins and commission at least the floor."""
    d, am = b.data, b.am
    floor = d.regions["partner_profit_floor"].to_numpy()
    regs = np.flatnonzero(floor > 0)
    if not len(regs):
        return
    s = d.sales
    pos = np.full(len(d.regions), -1)
    pos[regs] = np.arange(len(regs))
    row = pos[s["r"].to_numpy()]
    inc = partner_income_per_unit(d)
    keep = (row >= 0) & (inc != 0)
    terms = [(row[keep], b.col("sales", np.flatnonzero(keep)), inc[keep])]
    if "commission" in b.v:
        cr = pos[b.idx["commission_regions"]]
        ok = cr >= 0
        terms.append((cr[ok], b.col("commission", np.flatnonzero(ok)), 1.0))
    am.add_cons("partner_floor", labels(d, region=regs), terms, lower=floor[regs],
                description="offline partners' profit in the region at least its floor")


def _by_group(b: Build, name: str, group: np.ndarray, coef: np.ndarray, cap: np.ndarray,
              label: pd.DataFrame, sense: str, description: str) -> None:
    """One row per group: sum of coef x sales over the group's sales columns vs cap."""
    keep = np.isfinite(cap[group]) & (coef != 0) if sense == "<=" else (coef != 0)
    grp_ok = np.isfinite(cap) if sense == "<=" else cap > 0
    groups = np.flatnonzero(grp_ok)
    if not len(groups):
        return
    pos = np.full(len(cap), -1)
    pos[groups] = np.arange(len(groups))
    row = pos[group]
    keep &= row >= 0
    idx = np.flatnonzero(keep)
    bounds = {"upper": cap[groups]} if sense == "<=" else {"lower": cap[groups]}
    b.am.add_cons(name, label.iloc[groups].reset_index(drop=True),
                  [(row[idx], b.col("sales", idx), coef[idx])], description=description,
                  **bounds)


def _channel_coef(d: ModelData, values: np.ndarray) -> np.ndarray:
    return values[d.sales["k"].to_numpy()]


def define_store_labour(b: Build, rule: Flag) -> None:
    """``store_labour[r]``: O2O picking/hand-over and in-store returns within the hours."""
    d = b.data
    ch = d.channels
    per_unit = (ch["labour_hours"].to_numpy()
                + ch["return_rate"].to_numpy() * ch["return_labour_hours"].to_numpy())
    _by_group(b, "store_labour", d.sales["r"].to_numpy(), _channel_coef(d, per_unit),
              d.regions["store_labour_hours"].to_numpy(), labels(d, region=d.regions.index),
              "<=", "store labour used by O2O units and returns within the region's hours")


def define_dealer_capacity(b: Build, rule: Flag) -> None:
    """``dealer_capacity[r]``: dealer units within the region's dealer capacity."""
    d = b.data
    _by_group(b, "dealer_capacity", d.sales["r"].to_numpy(),
              _channel_coef(d, d.channels["dealer_use"].to_numpy()),
              d.regions["dealer_capacity"].to_numpy(), labels(d, region=d.regions.index),
              "<=", "dealer units within the region's dealer capacity")


def define_dc_capacity(b: Build, rule: float) -> None:
    """``dc_capacity``: units shipped from the distribution centre within its capacity."""
    d = b.data
    _by_group(b, "dc_capacity", np.zeros(len(d.sales), np.int64),
              _channel_coef(d, d.channels["dc_use"].to_numpy()), np.array([rule]),
              pd.DataFrame({"scope": ["all"]}), "<=",
              "distribution-centre units within its capacity")


def define_inventory(b: Build, rule: Flag) -> None:
    """``inventory[p]``: units sold of a product within its available inventory."""
    d = b.data
    _by_group(b, "inventory", d.sales["p"].to_numpy(), np.ones(len(d.sales)),
              d.products["inventory"].to_numpy(), labels(d, product=d.products.index),
              "<=", "units sold within the product's inventory")


def define_service_level(b: Build, rule: Flag) -> None:
    """``service_level[r]``: at least a share of the region's market served."""
    d = b.data
    c = d.cells
    market = np.bincount(c["r"].to_numpy(), weights=c["market"].to_numpy(),
                         minlength=len(d.regions))
    floor = d.regions["service_level"].to_numpy() * market
    _by_group(b, "service_level", d.sales["r"].to_numpy(), np.ones(len(d.sales)), floor,
              labels(d, region=d.regions.index), ">=",
              "units sold in the region at least its service level x market")


def define_cell_service_level(b: Build, rule: float) -> None:
    """``cell_service_level[c]``: at least a share of every cell's market served."""
    d = b.data
    c = d.cells
    _by_group(b, "cell_service_level", d.sales["cell"].to_numpy(), np.ones(len(d.sales)),
              rule * c["market"].to_numpy(),
              labels(d, product=c["p"], region=c["r"], segment=c["s"]), ">=",
              "units sold in the cell at least the service share of its market")


def define_dealer_min_volume(b: Build, rule: Flag) -> None:
    """``dealer_min_volume[r,k]``: an open dealer channel gets at least the minimum."""
    d, am = b.data, b.am
    vmin = d.regions["dealer_min_volume"].to_numpy()
    dealer = d.channels["dealer_use"].to_numpy() > 0
    rk = d.rk
    sel = np.flatnonzero(dealer[rk["k"].to_numpy()] & (vmin[rk["r"].to_numpy()] > 0))
    if not len(sel):
        return
    s = d.sales
    rk_idx = pd.MultiIndex.from_frame(rk[["r", "k"]].iloc[sel])
    row = rk_idx.get_indexer(pd.MultiIndex.from_frame(s[["r", "k"]]))
    si = np.flatnonzero(row >= 0)
    n = len(sel)
    am.add_cons("dealer_min_volume", labels(d, region=rk["r"].to_numpy()[sel],
                                            channel=rk["k"].to_numpy()[sel]),
                [(row[si], b.col("sales", si), 1.0),
                 (np.arange(n), b.col("open_channel", sel), -vmin[rk["r"].to_numpy()[sel]])],
                lower=0.0, description="an open dealer channel sells at least the minimum")


def define_shelf_space(b: Build, rule: Flag) -> None:
    """``stock[p,r]`` store assortment; ``offer_needs_stock``; ``shelf_space[r]``."""
    d, am = b.data, b.am
    uses = d.channels["uses_store_stock"].to_numpy(bool)
    cci = np.flatnonzero(uses[d.cc["k"].to_numpy()])
    if not len(cci):
        return
    cc = d.cc.iloc[cci]
    pr = cc[["p", "r"]].drop_duplicates().sort_values(["p", "r"]).reset_index(drop=True)
    b.v["stock"] = am.add_vars("stock", labels(d, product=pr["p"], region=pr["r"]),
                               binary=True, description="1 if the region's stores stock the "
                               "product")
    pos = pd.MultiIndex.from_frame(pr).get_indexer(pd.MultiIndex.from_frame(cc[["p", "r"]]))
    row_of_cc = np.full(len(d.cc), -1)
    row_of_cc[cci] = np.arange(len(cci))
    mem = d.members
    mr = row_of_cc[mem["cc"].to_numpy()]
    mk = mr >= 0
    am.add_cons("offer_needs_stock", _cc_labels(d, cci),
                [(mr[mk], b.col("offer", mem["offer"].to_numpy()[mk]), 1.0),
                 (np.arange(len(cci)), b.col("stock", pos), -1.0)], upper=0.0,
                description="a store-stock channel is offered only if the stores stock it")
    cap = d.regions["shelf_capacity"].to_numpy()
    space = d.products["shelf_space"].to_numpy()[pr["p"].to_numpy()]
    regs = np.flatnonzero(np.isfinite(cap))
    rpos = np.full(len(cap), -1)
    rpos[regs] = np.arange(len(regs))
    row = rpos[pr["r"].to_numpy()]
    k = (row >= 0) & (space > 0)
    am.add_cons("shelf_space", labels(d, region=regs),
                [(row[k], b.col("stock", np.flatnonzero(k)), space[k])], upper=cap[regs],
                description="shelf space of the stocked assortment within the region's "
                "capacity")


def define_channel_forcing(b: Build, rule: None) -> None:
    """``force`` rules: fix the matching decisions to 1 (``force_segment`` rows for
    segments).

    Validation has made sure every force rule has at least one decision to fix
    (a rule with none, e.g. one whose every target is forbidden, is refused there).
    """
    d, am = b.data, b.am
    forced = [r for r in d.scenario.settings.channel_rules if r.action == "force"]
    if not forced:
        return
    ch_ids = d.channels["id"].to_numpy()
    kinds = d.channels["kind"].to_numpy()
    seg_rows: list[np.ndarray] = []
    for fr in forced:
        def match(k: np.ndarray, rule: object = fr) -> np.ndarray:
            if getattr(rule, "channel", None) is not None:
                return ch_ids[k] == rule.channel  # type: ignore[attr-defined]
            return kinds[k] == rule.kind  # type: ignore[attr-defined]
        if fr.segment is not None:
            s_code = int(np.flatnonzero(d.segments["id"].to_numpy() == fr.segment)[0])
            hit = np.flatnonzero(match(d.cc["k"].to_numpy()) & (d.cc["s"].to_numpy() == s_code))
            seg_rows.append(hit)
            continue
        if fr.product is not None or fr.season is not None:
            blk, tab = "list_product", d.pk
            ok = match(tab["k"].to_numpy())
            if fr.product is not None:
                ok &= d.products["id"].to_numpy()[tab["p"].to_numpy()] == fr.product
            else:
                ins = d.products["in_season"].to_numpy(bool)[tab["p"].to_numpy()]
                ok &= ins if fr.season == "in" else ~ins
        elif fr.brand is not None:
            blk, tab = "sell_brand", d.bk
            ok = match(tab["k"].to_numpy()) & (
                d.brands["id"].to_numpy()[tab["b"].to_numpy()] == fr.brand)
        else:
            blk, tab = "open_channel", d.rk
            ok = match(tab["k"].to_numpy())
            if fr.region is not None:
                ok &= d.regions["id"].to_numpy()[tab["r"].to_numpy()] == fr.region
        b.v[blk].lower[np.flatnonzero(ok)] = 1.0
    if seg_rows:
        cci = np.unique(np.concatenate(seg_rows))
        pos = np.full(len(d.cc), -1)
        pos[cci] = np.arange(len(cci))
        mem = d.members
        mr = pos[mem["cc"].to_numpy()]
        mk = mr >= 0
        am.add_cons("force_segment", _cc_labels(d, cci),
                    [(mr[mk], b.col("offer", mem["offer"].to_numpy()[mk]), 1.0)], lower=1.0,
                    description="forced channels are offered to every cell of the segment")
