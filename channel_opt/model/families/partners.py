"""Partner families: the offline partners' profit floor, the dealer minimum volume and
the service levels (regional and per cell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...scenario.settings import Flag
from ..data import ModelData, best_option_per_cc, kinds_of, labels
from ..records import RowFamily, Step, VarFamily, hand_test
from .conflict import COMMISSION
from .core import ONLINE, OPEN_CHANNEL, SALES, Build, sales_by_group

STRENGTH = "tests/test_formulation_strength.py::"


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


def partner_reach(b: Build) -> np.ndarray:
    """``U_rk`` per (region, channel) of ``d.rk``: the most partner income (fees, margin
    share, and for online-kind channels the commission ``θ P`` where commission is
    modelled) the channel can bring its region.

    Per cell at most one option is offered, at one level per channel: the channel's
    best member value ``(π + θP) d_ck(o)`` over the cell's options bounds its income
    from the cell, and only while the channel is open (``w_ck ≤ open_rk``).
    """
    d = b.data
    s, mem = d.sales, d.members
    sale = mem["sale"].to_numpy()
    per_unit = np.maximum(partner_income_per_unit(d)[sale], 0.0)
    com = d.scenario.settings.rules.commission
    if com is not None and b.has(COMMISSION):  # commission <= θ x online revenue
        online = kinds_of(d, s["k"].to_numpy()[sale]) == ONLINE
        per_unit = per_unit + np.where(online, com.share * s["price"].to_numpy()[sale], 0.0)
    reach_cc = best_option_per_cc(d, per_unit * mem["demand"].to_numpy())
    rk = pd.MultiIndex.from_frame(d.rk[["r", "k"]])
    pos = rk.get_indexer(pd.MultiIndex.from_frame(d.cc[["r", "k"]]))
    return np.bincount(pos, weights=reach_cc, minlength=len(d.rk))


MAX_COVER_CHANNELS = 12  # channels of one region beyond which only the count cut is made


def floor_covers(reach: np.ndarray, floor: float) -> tuple[list[np.ndarray], int]:
    """The minimal covers of ``Σ_k reach_k y_k ≥ floor`` over binary ``y``: sets ``S``
    with ``Σ_{k∉S} reach_k < floor`` (so some member of ``S`` must be 1) none of whose
    proper subsets is one; and ``m``, the fewest members whose reach sums to the floor.

    ``([], 0)`` if even all together cannot reach the floor (the floor row reports
    that). With more than :data:`MAX_COVER_CHANNELS` channels only ``m`` is computed.
    """
    n = len(reach)
    total = float(reach.sum())
    tol = 1e-9 * max(1.0, floor)
    if total < floor - tol:
        return [], 0
    top = np.cumsum(np.sort(reach)[::-1])
    m = int(np.searchsorted(top, floor - tol) + 1)
    if n > MAX_COVER_CHANNELS:
        return [], m
    masks = np.arange(1, 2 ** n)
    member = (masks[:, None] >> np.arange(n)[None, :]) & 1
    outside = total - member @ reach
    cover = outside < floor - tol
    # minimal: dropping any member leaves a non-cover (outside + reach_j >= floor)
    minimal = cover & np.all((member == 0) | (outside[:, None] + reach[None, :] >= floor - tol),
                             axis=1)
    return [np.flatnonzero(row) for row in member[minimal]], m


def define_partner_floor_cover(b: Build, rule: Flag) -> None:
    """``partner_floor_cover[r,S]``: cover cuts of the partner floor on the openings.

    Partner income through channel ``k`` (with the commission it can carry) is at most
    ``U_rk open_rk`` (:func:`partner_reach`), so the floor implies the knapsack
    ``Σ_k U_rk open_rk ≥ floor_r``. For every minimal cover ``S`` of it (the channels
    outside ``S`` cannot reach the floor together): ``Σ_{k∈S} open_rk ≥ 1``; where at
    least ``m ≥ 2`` channels are needed: ``Σ_k open_rk ≥ m``. Valid for every integer
    plan meeting the floor; the LP relaxation could meet it with fractions of several
    openings.
    """
    d = b.data
    if PARTNER_FLOOR.name not in b.am.cons:
        return
    floor = d.regions["partner_profit_floor"].to_numpy()
    reach = partner_reach(b)
    rk_r, rk_k = d.rk["r"].to_numpy(), d.rk["k"].to_numpy()
    ids = d.channels["id"].to_numpy()
    sets: list[np.ndarray] = []
    lows: list[float] = []
    for r in np.flatnonzero(floor > 0):
        sel = np.flatnonzero((rk_r == r) & (reach > 0))
        covers, m = floor_covers(reach[sel], float(floor[r]))
        for cols, low in [(sel[c], 1.0) for c in covers] + ([(sel, float(m))] if m >= 2 else []):
            sets.append(cols)
            lows.append(low)
    if not sets:
        return
    row_of = np.repeat(np.arange(len(sets)), [len(x) for x in sets])
    b.add_cons(PARTNER_FLOOR_COVER,
               labels(d, region=[int(rk_r[x[0]]) for x in sets],
                      channels=[";".join(ids[rk_k[x]]) for x in sets]),
               [(row_of, b.col(OPEN_CHANNEL, np.concatenate(sets)), 1.0)], lower=np.array(lows),
               description="channels of which one (or the count) must be open to reach the "
               "partner floor")


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


def define_shortfall(b: Build, cost: float) -> None:
    """``shortfall[f,i]``: in a demand scenario of the two-stage model, the units by which
    floor row ``i`` of family ``f`` (every row family of role ``floor``, of any theme)
    falls short, paid at ``cost`` per unit of the row's bound (built last: after every
    floor row, its columns after every other block). The cuts of the floors' rule
    families are freed: they assume the floor holds.
    """
    from ..registry import rows_with  # the registry collects this module

    am = b.am
    floor = {r.name for r in rows_with("floor")}
    # a floor's cuts (e.g. partner_floor_cover: the openings a floor needs) are valid only
    # where the floor must hold: with a shortfall they would cut off optimal plans, so
    # their rows are freed (kept, for the row numbering, without bounds)
    floor_switches = {r.switch for r in rows_with("floor")}
    for cut in rows_with("cut"):
        if cut.switch in floor_switches and cut.name in am.cons:
            c = am.cons[cut.name]
            c.lower, c.upper = np.full(c.n, -np.inf), np.full(c.n, np.inf)
    floors = [c for c in am.cons.values() if c.name in floor]  # in model (row) order
    if not floors:
        return
    names = am.row_names()
    labels = pd.DataFrame({"family": [c.name for c in floors for _ in range(c.n)],
                           "row": [n[len(c.name):] for c in floors
                                   for n in names[c.start:c.start + c.n]]})
    blk = b.add_vars(SHORTFALL, labels, lower=0.0, cost=-cost,
                     description="units short of a floor, paid at the shortfall cost")
    at = blk.start
    for c in floors:
        c.rows = np.concatenate([c.rows, np.arange(c.n)])
        c.cols = np.concatenate([c.cols, np.arange(at, at + c.n)])
        c.vals = np.concatenate([c.vals, np.ones(c.n)])
        at += c.n
    am._matrices.clear()


# ---------------------------------------------------------------- records

SHORTFALL = VarFamily("shortfall", "shortfall_cost", define_shortfall, "operations", "region",
                      "[f,i]", "continuous ≥ 0",
                      "units by which floor row `i` of family `f` (partner floor, service "
                      "levels, dealer minimum volume) falls short in a demand scenario, paid "
                      "at `stochastic.shortfall_cost` per unit of the row's bound; only in "
                      "the two-stage model (without it floors hold in every scenario)",
                      profit_line="shortfall cost", test="tests/test_stochastic.py::"
                      "test_floors_hold_in_every_scenario_or_cost_the_shortfall")

VARIABLES: tuple[VarFamily, ...] = (SHORTFALL,)

PARTNER_FLOOR = RowFamily("partner_floor", "partner_floor", define_partner_floor, "floor", "region",
                          "[r]", "`Σ_{c∈r} π_ckl q_ckl + commission_r ≥ floor_r`",
                          "partner profit floor", "short by", "currency",
                          hand_test("test_partner_floor_forces_store"))
PARTNER_FLOOR_COVER = RowFamily(
    "partner_floor_cover", "partner_floor", define_partner_floor_cover, "cut", "region", "[r,S]",
    "`Σ_{k∈S} open_rk ≥ 1` for every minimal cover `S` of `Σ_k U_rk open_rk ≥ floor_r` "
    "(`U_rk = Σ_{c∈r} max_{o∋k} (π_kℓ + θP_kℓ[k online]) d_ck(o)`); `Σ_k open_rk ≥ m_r` "
    "where `m_r ≥ 2` channels are needed", "partner floor cover",
    test=STRENGTH + "test_partner_floor_cover")
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

ROWS: tuple[RowFamily, ...] = (PARTNER_FLOOR, PARTNER_FLOOR_COVER, SERVICE_LEVEL,
                                CELL_SERVICE_LEVEL, DEALER_MIN_VOLUME)

BUILD_STEPS: tuple[Step, ...] = (
    (110, define_partner_floor),
    (115, define_partner_floor_cover),
    (120, define_dealer_min_volume),
    (180, define_service_level),
    (190, define_cell_service_level),
    (1000, define_shortfall),  # last: after every floor row of every theme
)
"""(build step, builder) of this theme's builders."""
