"""Capacity families: store labour, dealer capacity, distribution-centre capacity,
product inventory, the stores' shelf space (with the stock decision it needs) and the
channels' own capacities at the planner's grain (over all regions, per region).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...scenario.settings import Flag
from ..data import ModelData, labels, offer_touches
from ..records import RowFamily, Step, VarFamily, grain_test, hand_test
from .core import (
    OFFER,
    OPEN_CHANNEL,
    SALES,
    USE_CHANNEL,
    Build,
    cc_labels,
    group_index,
    sales_by_group,
)


def _channel_coef(d: ModelData, values: np.ndarray) -> np.ndarray:
    return values[d.sales["k"].to_numpy()]


def define_store_labour(b: Build, rule: Flag) -> None:
    """``store_labour[r]``: O2O picking/hand-over and in-store returns within the hours."""
    d = b.data
    ch = d.channels
    per_unit = (ch["labour_hours"].to_numpy()
                + ch["return_rate"].to_numpy() * ch["return_labour_hours"].to_numpy())
    sales_by_group(b, STORE_LABOUR, d.sales["r"].to_numpy(), _channel_coef(d, per_unit),
                   d.regions["store_labour_hours"].to_numpy(), labels(d, region=d.regions.index),
                   "<=", "store labour used by O2O units and returns within the region's hours")


def define_dealer_capacity(b: Build, rule: Flag) -> None:
    """``dealer_capacity[r]``: dealer units within the region's dealer capacity."""
    d = b.data
    sales_by_group(b, DEALER_CAPACITY, d.sales["r"].to_numpy(),
                   _channel_coef(d, d.channels["dealer_use"].to_numpy()),
                   d.regions["dealer_capacity"].to_numpy(), labels(d, region=d.regions.index),
                   "<=", "dealer units within the region's dealer capacity")


def define_dc_capacity(b: Build, rule: float) -> None:
    """``dc_capacity``: units shipped from the distribution centre within its capacity."""
    d = b.data
    sales_by_group(b, DC_CAPACITY, np.zeros(len(d.sales), np.int64),
                   _channel_coef(d, d.channels["dc_use"].to_numpy()), np.array([rule]),
                   pd.DataFrame({"scope": ["all"]}), "<=",
                   "distribution-centre units within its capacity")


def define_inventory(b: Build, rule: Flag) -> None:
    """``inventory[p]``: units sold of a product within its available inventory."""
    d = b.data
    sales_by_group(b, INVENTORY, d.sales["p"].to_numpy(), np.ones(len(d.sales)),
                   d.products["inventory"].to_numpy(), labels(d, product=d.products.index),
                   "<=", "units sold within the product's inventory")


def define_shelf_space(b: Build, rule: Flag) -> None:
    """``stock[p,r]`` store assortment; ``offer_needs_stock``; ``shelf_space[r]``."""
    d = b.data
    uses = d.channels["uses_store_stock"].to_numpy(bool)
    cci = np.flatnonzero(uses[d.cc["k"].to_numpy()])
    if not len(cci):
        return
    cc = d.cc.iloc[cci]
    pr = cc[["p", "r"]].drop_duplicates().sort_values(["p", "r"]).reset_index(drop=True)
    b.add_vars(STOCK, labels(d, product=pr["p"], region=pr["r"]),
               binary=True, description="1 if the region's stores stock the "
               "product")
    pos = pd.MultiIndex.from_frame(pr).get_indexer(pd.MultiIndex.from_frame(cc[["p", "r"]]))
    row_of_cc = np.full(len(d.cc), -1)
    row_of_cc[cci] = np.arange(len(cci))
    mem = d.members
    mr = row_of_cc[mem["cc"].to_numpy()]
    mk = mr >= 0
    b.add_cons(OFFER_NEEDS_STOCK, cc_labels(d, cci),
               [(mr[mk], b.col(OFFER, mem["offer"].to_numpy()[mk]), 1.0),
                (np.arange(len(cci)), b.col(STOCK, pos), -1.0)], upper=0.0,
               description="a store-stock channel is offered only if the stores stock it")
    # cut: in a cell with sets (one option at most) the options holding any store-stock
    # channel sum to at most stock_pr; the LP cannot offer half the store and half
    # BOPIS on half a stock (compact cells may offer several channels: not there)
    oi = np.flatnonzero(offer_touches(d, uses)
                        & ~d.cells["compact"].to_numpy(bool)[d.offers["cell"].to_numpy()])
    cell = d.offers["cell"].to_numpy()[oi]
    rows, first = group_index(cell)
    cw = cell[first]
    c = d.cells
    spos = pd.MultiIndex.from_frame(pr).get_indexer(pd.MultiIndex.from_arrays(
        [c["p"].to_numpy()[cw], c["r"].to_numpy()[cw]]))
    b.add_cons(OFFER_STOCK_CELL, labels(d, product=c["p"].to_numpy()[cw],
                                        region=c["r"].to_numpy()[cw],
                                        segment=c["s"].to_numpy()[cw]),
               [(rows, b.col(OFFER, oi), 1.0),
                (np.arange(len(cw)), b.col(STOCK, spos), -1.0)], upper=0.0,
               description="a cell is offered store-stock channels only if the stores stock "
               "the product")
    cap = d.regions["shelf_capacity"].to_numpy()
    space = d.products["shelf_space"].to_numpy()[pr["p"].to_numpy()]
    regs = np.flatnonzero(np.isfinite(cap))
    rpos = np.full(len(cap), -1)
    rpos[regs] = np.arange(len(regs))
    row = rpos[pr["r"].to_numpy()]
    k = (row >= 0) & (space > 0)
    b.add_cons(SHELF_SPACE, labels(d, region=regs),
               [(row[k], b.col(STOCK, np.flatnonzero(k)), space[k])], upper=cap[regs],
               description="shelf space of the stocked assortment within the region's "
               "capacity")


def forced_units(d: ModelData) -> np.ndarray:
    """Per region: units the service levels force it to sell (0 where none): the larger
    of its cells' ``cell_service_level`` shares and its own ``service_level``.
    """
    rules = d.scenario.settings.rules
    c = d.cells
    r, market = c["r"].to_numpy(), c["market"].to_numpy()
    n_r = len(d.regions)
    out: np.ndarray = np.zeros(n_r)
    if rules.cell_service_level is not None:
        out = np.bincount(r, weights=rules.cell_service_level * market, minlength=n_r)
    if rules.service_level is not None:
        out = np.maximum(out, d.regions["service_level"].to_numpy()
                         * np.bincount(r, weights=market, minlength=n_r))
    return out


def _cover_terms(d: ModelData, scope: np.ndarray, group: np.ndarray, n_groups: int,
                 cap: np.ndarray) -> np.ndarray:
    """Per group (a channel, or a region-channel pair): the most units the sales columns
    ``scope`` of that group can sell at an integer point, ``min(cap / least capacity
    use, Σ of the largest demand of each of its (cell, channel) pairs)``.
    """
    s = d.sales
    g = group[scope]
    use = s["capacity_use"].to_numpy()[scope]
    umin = np.full(n_groups, np.inf)
    np.minimum.at(umin, g, use)
    cc = s["cc"].to_numpy()[scope]
    best = np.zeros(len(d.cc))
    np.maximum.at(best, cc, s["dmax"].to_numpy()[scope])
    ucc, first = np.unique(cc, return_index=True)
    dsum = np.bincount(g[first], weights=best[ucc], minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_cap = np.where(umin > 0, cap / umin, np.inf)
    return np.minimum(by_cap, dsum)


def define_channel_capacity(b: Build, rule: Flag) -> None:
    """``channel_capacity[k]``: ``Σ u_pk q ≤ C_k use_k``, the capacity available only when
    the channel is used (the capacity x use link: no big-M); and where service levels
    force units, ``capacity_cover``: the channels used must be able to carry them.

    The cover is ``Σ_k a_k use_k ≥ F − Σ_{k without use_channel} a_k`` over the regions
    with forced units ``F`` (:func:`forced_units`), ``a_k`` = the most units channel k
    can sell there (its capacity over the least capacity use, at most the demand it
    can reach), each ``a_k`` cut to the right-hand side (valid for 0/1 ``use``).
    """
    d = b.data
    cap = d.channels["capacity"].to_numpy()
    pos = b.idx[USE_CHANNEL.name]
    ks = np.flatnonzero(np.isfinite(cap) & (pos >= 0))
    s = d.sales
    k, u = s["k"].to_numpy(), s["capacity_use"].to_numpy()
    row = np.full(len(cap), -1)
    row[ks] = np.arange(len(ks))
    si = np.flatnonzero((row[k] >= 0) & (u > 0))
    b.add_cons(CHANNEL_CAPACITY, labels(d, channel=ks),
                [(row[k[si]], b.col(SALES, si), u[si]),
                 (np.arange(len(ks)), b.col(USE_CHANNEL, pos[ks]), -cap[ks])], upper=0.0,
                description="capacity units used within the channel's capacity, available "
                "only when the channel is used")
    need = forced_units(d)
    scope = np.flatnonzero(need[s["r"].to_numpy()] > 0)
    if not len(scope) or not len(ks):
        return
    a = _cover_terms(d, scope, k, len(cap), cap)
    reach = np.zeros(len(cap), bool)
    reach[k[scope]] = True
    with_use = np.flatnonzero(reach & (pos >= 0))
    rhs = need.sum() - a[reach & (pos < 0)].sum()
    if rhs <= 0:
        return  # the channels without a use decision can carry it
    a_use = np.minimum(a[with_use], rhs)
    b.add_cons(CAPACITY_COVER, pd.DataFrame({"scope": ["all"]}),
                [(np.zeros(len(with_use), np.int64), b.col(USE_CHANNEL, pos[with_use]),
                  a_use)], lower=rhs,
                description="the channels used can carry the units the service levels force")


def define_region_channel_capacity(b: Build, rule: Flag) -> None:
    """``region_channel_capacity[r,k]``: ``Σ_{c∈r} u_pk q ≤ C_rk open_rk``, available only
    where the channel is open; and per region with forced units ``F_r``,
    ``region_capacity_cover[r]``: ``Σ_k min(a_rk, F_r) open_rk ≥ F_r``, ``a_rk`` the most
    units channel k can sell in r (its capacities over the least capacity use, at most
    the demand it can reach there).
    """
    d = b.data
    rk, s = d.rk, d.sales
    cap = rk["capacity"].to_numpy()
    if d.scenario.settings.rules.channel_capacity is not None:  # the channel's bounds too
        cap = np.minimum(cap, d.channels["capacity"].to_numpy()[rk["k"].to_numpy()])
    own = np.flatnonzero(np.isfinite(rk["capacity"].to_numpy()))
    rk_of = pd.MultiIndex.from_frame(rk[["r", "k"]]).get_indexer(
        pd.MultiIndex.from_frame(s[["r", "k"]]))
    u = s["capacity_use"].to_numpy()
    row = np.full(len(rk), -1)
    row[own] = np.arange(len(own))
    si = np.flatnonzero((row[rk_of] >= 0) & (u > 0))
    b.add_cons(REGION_CHANNEL_CAPACITY, labels(d, region=rk["r"].to_numpy()[own],
                                                  channel=rk["k"].to_numpy()[own]),
                [(row[rk_of[si]], b.col(SALES, si), u[si]),
                 (np.arange(len(own)), b.col(OPEN_CHANNEL, own),
                  -rk["capacity"].to_numpy()[own])], upper=0.0,
                description="capacity units used in the region within the channel's "
                "capacity there, available only where it is open")
    need = forced_units(d)
    scope = np.flatnonzero(need[s["r"].to_numpy()] > 0)
    if not len(scope):
        return
    a = _cover_terms(d, scope, rk_of, len(rk), cap)
    r_of = rk["r"].to_numpy()
    sel = np.flatnonzero((need[r_of] > 0) & np.isfinite(a))
    regs, rrow = np.unique(r_of[sel], return_inverse=True)
    b.add_cons(REGION_CAPACITY_COVER, labels(d, region=regs),
                [(rrow, b.col(OPEN_CHANNEL, sel), np.minimum(a[sel], need[r_of[sel]]))],
                lower=need[regs], description="the channels open in the region can carry "
                "the units its service levels force")


# ---------------------------------------------------------------- records

STOCK = VarFamily("stock", "shelf_space", define_shelf_space, "design", "product_region", "(p,r)",
                  "binary", "region's stores stock the product (shelf space)", None,
                  hand_test("test_shelf_space"))

VARIABLES: tuple[VarFamily, ...] = (STOCK,)

STORE_LABOUR = RowFamily("store_labour", "store_labour", define_store_labour, "capacity", "region",
                         "[r]", "`Σ_{c∈r} (h_k + rr_k h^ret_k) q ≤ H_r`", "store labour hours",
                         "over by", "h", hand_test("test_store_labour"))
DEALER_CAPACITY = RowFamily("dealer_capacity", "dealer_capacity", define_dealer_capacity,
                            "capacity", "region", "[r]", "`Σ_{c∈r} dealer_use_k q ≤ C^dealer_r`",
                            "dealer capacity", "over by", "units",
                            hand_test("test_dealer_capacity"))
DC_CAPACITY = RowFamily("dc_capacity", "dc_capacity", define_dc_capacity, "capacity", "global",
                        "[all]", "`Σ dc_use_k q ≤ C^DC`", "distribution-centre capacity", "over by",
                        "units", hand_test("test_dc_capacity"))
INVENTORY = RowFamily("inventory", "inventory", define_inventory, "capacity", "product", "[p]",
                      "`Σ_{r,s,k,l} q_(p,r,s)kl ≤ I_p`", "inventory", "over by", "units",
                      hand_test("test_inventory"))
OFFER_NEEDS_STOCK = RowFamily("offer_needs_stock", "shelf_space", define_shelf_space, "structure",
                              "product_region", "[c,k]", "`w_ck ≤ stock_pr` for channels with "
                              "`uses_store_stock`", "offer needs stock",
                              test=hand_test("test_shelf_space"))
OFFER_STOCK_CELL = RowFamily(
    "offer_stock_cell", "shelf_space", define_shelf_space, "cut", "product_region", "[c]",
    "`Σ_{o: M∩K^stock≠∅} offer_co ≤ stock_pr` in cells with sets (`K^stock`: channels with "
    "`uses_store_stock`; at most one option per cell)", "store-stock options need stock",
    test="tests/test_formulation_strength.py::test_offer_stock_cell")
SHELF_SPACE = RowFamily("shelf_space", "shelf_space", define_shelf_space, "capacity", "region",
                        "[r]", "`Σ_p space_p stock_pr ≤ S_r`", "shelf space", "over by",
                        "shelf units", hand_test("test_shelf_space"))

CHANNEL_CAPACITY = RowFamily("channel_capacity", "channel_capacity", define_channel_capacity,
                             "capacity", "channel", "[k]", "`Σ_{c,l} u_pk q_ckl ≤ C_k use_k`",
                             "channel capacity", "over by", "units",
                             grain_test("test_channel_capacity_hand"))
CAPACITY_COVER = RowFamily("capacity_cover", "channel_capacity", define_channel_capacity, "cut",
                           "global", "[all]", "`Σ_k min(a_k, F') use_k ≥ F'`, `F' = F − Σ_{k "
                           "without use} a_k`; `F`: units the service levels force, `a_k = "
                           "min(C_k / min u_pk, Σ_c d̄_ck)` over the cells of regions with forced "
                           "units", "channel capacities cover the forced units",
                           test=grain_test("test_capacity_cover_is_valid"))
REGION_CHANNEL_CAPACITY = RowFamily(
    "region_channel_capacity", "region_channel_capacity", define_region_channel_capacity,
    "capacity", "region_channel", "[r,k]", "`Σ_{c∈r,l} u_pk q_ckl ≤ C_rk open_rk`",
    "region channel capacity", "over by", "units", grain_test("test_region_channel_capacity_hand"))
REGION_CAPACITY_COVER = RowFamily(
    "region_capacity_cover", "region_channel_capacity", define_region_channel_capacity, "cut",
    "region", "[r]", "`Σ_k min(a_rk, F_r) open_rk ≥ F_r`; `F_r`: units the service levels force "
    "in `r`, `a_rk = min(C_rk, C_k) / min u_pk` at most `Σ_{c∈r} d̄_ck`",
    "region's channel capacities cover its forced units",
    test=grain_test("test_region_channel_capacity_hand"))

ROWS: tuple[RowFamily, ...] = (
    STORE_LABOUR, DEALER_CAPACITY, DC_CAPACITY, INVENTORY, OFFER_NEEDS_STOCK, OFFER_STOCK_CELL,
    SHELF_SPACE,
    CHANNEL_CAPACITY, CAPACITY_COVER, REGION_CHANNEL_CAPACITY, REGION_CAPACITY_COVER,
)

BUILD_STEPS: tuple[Step, ...] = (
    (130, define_store_labour),
    (140, define_dc_capacity),
    (150, define_dealer_capacity),
    (160, define_inventory),
    (170, define_shelf_space),
    (175, define_channel_capacity),
    (176, define_region_channel_capacity),
)
"""(build step, builder) of this theme's builders."""
