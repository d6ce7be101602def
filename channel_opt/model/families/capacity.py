"""Capacity families: store labour, dealer capacity, distribution-centre capacity,
product inventory and the stores' shelf space (with the stock decision it needs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...scenario.settings import Flag
from ..data import ModelData, labels
from ..records import RowFamily, Step, VarFamily, hand_test
from .core import OFFER, Build, cc_labels, sales_by_group


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
SHELF_SPACE = RowFamily("shelf_space", "shelf_space", define_shelf_space, "capacity", "region",
                        "[r]", "`Σ_p space_p stock_pr ≤ S_r`", "shelf space", "over by",
                        "shelf units", hand_test("test_shelf_space"))

ROWS: tuple[RowFamily, ...] = (
    STORE_LABOUR, DEALER_CAPACITY, DC_CAPACITY, INVENTORY, OFFER_NEEDS_STOCK, SHELF_SPACE,
)

BUILD_STEPS: tuple[Step, ...] = (
    (130, define_store_labour),
    (140, define_dc_capacity),
    (150, define_dealer_capacity),
    (160, define_inventory),
    (170, define_shelf_space),
)
"""(build step, builder) of this theme's builders."""
