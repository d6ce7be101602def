"""Partner families: the offline partners' profit floor, the dealer minimum volume and
the service levels (regional and per cell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...scenario.settings import Flag
from ..data import ModelData, labels
from ..records import RowFamily, Step, VarFamily, hand_test
from .conflict import COMMISSION
from .core import OPEN_CHANNEL, SALES, Build, sales_by_group


def partner_income_per_unit(d: ModelData) -> np.ndarray:
    """Offline partners' income per unit of each sales column (fees and margin share)."""
    s = d.sales
    k = s["k"].to_numpy()
    ch = d.channels
    return ch["fee_per_unit"].to_numpy()[k] + ch["fee_share"].to_numpy()[k] * s["price"].to_numpy()


def define_partner_floor(b: Build, rule: Flag) -> None:
    """``partner_floor[r]``: partner fees, margins and commission at least the floor."""
    d = b.data
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
    terms = [(row[keep], b.col(SALES, np.flatnonzero(keep)), inc[keep])]
    if b.has(COMMISSION):
        cr = pos[b.idx["commission_regions"]]
        ok = cr >= 0
        terms.append((cr[ok], b.col(COMMISSION, np.flatnonzero(ok)), 1.0))
    b.add_cons(PARTNER_FLOOR, labels(d, region=regs), terms, lower=floor[regs],
               description="offline partners' profit in the region at least its floor")


def define_dealer_min_volume(b: Build, rule: Flag) -> None:
    """``dealer_min_volume[r,k]``: an open dealer channel gets at least the minimum."""
    d = b.data
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
    b.add_cons(DEALER_MIN_VOLUME, labels(d, region=rk["r"].to_numpy()[sel],
                                         channel=rk["k"].to_numpy()[sel]),
               [(row[si], b.col(SALES, si), 1.0),
                (np.arange(n), b.col(OPEN_CHANNEL, sel), -vmin[rk["r"].to_numpy()[sel]])],
               lower=0.0, description="an open dealer channel sells at least the minimum")


def define_service_level(b: Build, rule: Flag) -> None:
    """``service_level[r]``: at least a share of the region's market served."""
    d = b.data
    c = d.cells
    market = np.bincount(c["r"].to_numpy(), weights=c["market"].to_numpy(),
                         minlength=len(d.regions))
    floor = d.regions["service_level"].to_numpy() * market
    sales_by_group(b, SERVICE_LEVEL, d.sales["r"].to_numpy(), np.ones(len(d.sales)), floor,
                   labels(d, region=d.regions.index), ">=",
                   "units sold in the region at least its service level x market")


def define_cell_service_level(b: Build, rule: float) -> None:
    """``cell_service_level[c]``: at least a share of every cell's market served."""
    d = b.data
    c = d.cells
    sales_by_group(b, CELL_SERVICE_LEVEL, d.sales["cell"].to_numpy(), np.ones(len(d.sales)),
                   rule * c["market"].to_numpy(),
                   labels(d, product=c["p"], region=c["r"], segment=c["s"]), ">=",
                   "units sold in the cell at least the service share of its market")


# ---------------------------------------------------------------- records

VARIABLES: tuple[VarFamily, ...] = ()

PARTNER_FLOOR = RowFamily("partner_floor", "partner_floor", define_partner_floor, "floor", "region",
                          "[r]", "`Σ_{c∈r} π_ckl q_ckl + commission_r ≥ floor_r`",
                          "partner profit floor", "short by", "currency",
                          hand_test("test_partner_floor_forces_store"))
SERVICE_LEVEL = RowFamily("service_level", "service_level", define_service_level, "floor", "region",
                          "[r]", "`Σ_{c∈r} Σ q ≥ σ_r Σ_{c∈r} D_c`", "regional service level",
                          "short by", "units", hand_test("test_service_level"))
CELL_SERVICE_LEVEL = RowFamily("cell_service_level", "cell_service_level",
                               define_cell_service_level, "floor", "cell", "[c]",
                               "`Σ_{k,l} q_ckl ≥ σ D_c`", "cell service level", "short by", "units",
                               hand_test("test_cell_service_level"))
DEALER_MIN_VOLUME = RowFamily("dealer_min_volume", "dealer_min_volume", define_dealer_min_volume,
                              "floor", "region_channel", "[r,k]",
                              "`Σ_{c∈r,l} q_ckl ≥ V_r open_rk` for dealer channels (`dealer_use > "
                              "0`)", "dealer minimum volume", "short by", "units",
                              hand_test("test_dealer_min_volume"))

ROWS: tuple[RowFamily, ...] = (PARTNER_FLOOR, SERVICE_LEVEL, CELL_SERVICE_LEVEL, DEALER_MIN_VOLUME)

BUILD_STEPS: tuple[Step, ...] = (
    (110, define_partner_floor),
    (120, define_dealer_min_volume),
    (180, define_service_level),
    (190, define_cell_service_level),
)
"""(build step, builder) of this theme's builders."""
