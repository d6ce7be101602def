"""Core families: channel openings, listings and brands, brand launch, offers and
demand, one channel kind per brand, forced decisions; and :class:`Build`, the model
under construction, with the index helpers the other themes share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import ModelData, kinds_of, labels
from ..linear import INF, ArrayModel, VarBlock
from ..records import ALWAYS, RowFamily, Step, VarFamily, hand_test

ONLINE, OFFLINE = "online", "offline"


@dataclass
class Build:
    """The model under construction and the variable blocks families share.

    Builders add blocks through their records (:meth:`add_vars`, :meth:`add_cons`) and
    find the blocks of other families the same way (:meth:`col`, :meth:`has`), so a
    block name is written once, in its record.
    """

    data: ModelData
    am: ArrayModel
    v: dict[str, VarBlock] = field(default_factory=dict)
    idx: dict[str, np.ndarray] = field(default_factory=dict)  # index maps between families
    # per price level (row of ``data.levels``): the column of the decision that chooses
    # it (``price_level``, or ``list_product`` for a single level); set by the pricing theme
    level_col: np.ndarray | None = None

    def add_vars(self, rec: VarFamily, labels: pd.DataFrame, *, lower: Any = 0.0,
                 upper: Any = INF, binary: bool = False, cost: Any = 0.0,
                 description: str = "") -> VarBlock:
        """Add the variable block of record ``rec``."""
        blk = self.am.add_vars(rec.name, labels, lower=lower, upper=upper, binary=binary,
                               cost=cost, description=description)
        self.v[rec.name] = blk
        return blk

    def add_cons(self, rec: RowFamily, labels: pd.DataFrame,
                 terms: list[tuple[np.ndarray, np.ndarray, Any]], *, lower: Any = -INF,
                 upper: Any = INF, description: str = "") -> None:
        """Add the row block of record ``rec`` (nothing if ``labels`` is empty)."""
        self.am.add_cons(rec.name, labels, terms, lower=lower, upper=upper,
                         description=description)

    def has(self, rec: VarFamily) -> bool:
        """Whether the variable block of ``rec`` has been built."""
        return rec.name in self.v

    def block(self, rec: VarFamily) -> VarBlock:
        """The variable block of ``rec``."""
        return self.v[rec.name]

    def col(self, rec: VarFamily, idx: np.ndarray) -> np.ndarray:
        """Global columns of entries ``idx`` of the variable block of ``rec``."""
        return self.v[rec.name].start + np.asarray(idx, np.int64)


def group_index(keys: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row number per entry and the position of each group's first entry."""
    if isinstance(keys, pd.DataFrame):
        codes, uniq = pd.MultiIndex.from_frame(keys).factorize()
        first = np.unique(codes, return_index=True)[1]
        return codes.astype(np.int64), first
    codes, uniq = pd.factorize(keys, sort=True)
    first = np.unique(codes, return_index=True)[1]
    return codes.astype(np.int64), first


def sales_labels(d: ModelData, idx: np.ndarray) -> pd.DataFrame:
    """Labels (product, region, segment, channel, level) of sales columns ``idx``."""
    s = d.sales
    return labels(d, product=s["p"].to_numpy()[idx], region=s["r"].to_numpy()[idx],
                  segment=s["s"].to_numpy()[idx], channel=s["k"].to_numpy()[idx],
                  level=d.levels["level"].to_numpy()[s["lev"].to_numpy()[idx]])


def cc_labels(d: ModelData, idx: np.ndarray | None = None) -> pd.DataFrame:
    """Labels (product, region, segment, channel) of cell-channel pairs ``idx`` (all)."""
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
    where ``(p,k)`` has several levels, else ``list_product[p,k]`` (the pricing theme,
    built first, sets :attr:`Build.level_col`).
    """
    assert b.level_col is not None, "the price levels are built before the offers"
    return b.level_col[b.data.sales["lev"].to_numpy()]


def sales_by_group(b: Build, rec: RowFamily, group: np.ndarray, coef: np.ndarray,
                   cap: np.ndarray, label: pd.DataFrame, sense: str, description: str) -> None:
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
    lab = label.iloc[groups].reset_index(drop=True)
    terms = [(row[idx], b.col(SALES, idx), coef[idx])]
    if sense == "<=":
        b.add_cons(rec, lab, terms, upper=cap[groups], description=description)
    else:
        b.add_cons(rec, lab, terms, lower=cap[groups], description=description)


def define_channel_opening(b: Build, rule: None) -> None:
    """``open_channel[r,k]``: channel k operates in region r (fixed cost)."""
    d = b.data
    lower = np.zeros(len(d.rk))
    b.add_vars(OPEN_CHANNEL, labels(d, region=d.rk["r"], channel=d.rk["k"]), binary=True,
               lower=lower, cost=-d.rk["open_cost"].to_numpy(),
               description="1 if the channel operates in the region")


def define_listings(b: Build, rule: None) -> None:
    """``list_product[p,k]`` and ``sell_brand[b,k]``; ``listing_needs_brand``."""
    d = b.data
    b.add_vars(LIST_PRODUCT, labels(d, product=d.pk["p"], channel=d.pk["k"]), binary=True,
               cost=-d.channels["listing_cost"].to_numpy()[d.pk["k"].to_numpy()],
               description="1 if the product is listed in the channel")
    b.add_vars(SELL_BRAND, labels(d, brand=d.bk["b"], channel=d.bk["k"]), binary=True,
               description="1 if the brand is sold through the channel")
    bk = pd.MultiIndex.from_frame(d.bk[["b", "k"]])
    pb = d.products["b"].to_numpy()[d.pk["p"].to_numpy()]
    j = bk.get_indexer(pd.MultiIndex.from_arrays([pb, d.pk["k"].to_numpy()]))
    n = len(d.pk)
    b.add_cons(LISTING_NEEDS_BRAND, labels(d, product=d.pk["p"], channel=d.pk["k"]),
               [(np.arange(n), b.col(LIST_PRODUCT, np.arange(n)), 1.0),
                (np.arange(n), b.col(SELL_BRAND, j), -1.0)], upper=0.0,
               description="a product is listed only where its brand is sold")


def define_brand_launch(b: Build, rule: None) -> None:
    """``launch_brand[b]`` for new brands; ``brand_launch[b,k]``: selling launches it."""
    d = b.data
    new = d.brands["new"].to_numpy(bool)
    bk = d.bk[new[d.bk["b"].to_numpy()]].reset_index()
    if not len(bk):
        return
    nb = np.unique(bk["b"].to_numpy())
    b.add_vars(LAUNCH_BRAND, labels(d, brand=nb), binary=True,
               cost=-d.brands["launch_cost"].to_numpy()[nb],
               description="1 if the new brand is launched")
    pos = np.searchsorted(nb, bk["b"].to_numpy())
    n = len(bk)
    b.add_cons(BRAND_LAUNCH, labels(d, brand=bk["b"], channel=bk["k"]),
               [(np.arange(n), b.col(SELL_BRAND, bk["index"].to_numpy()), 1.0),
                (np.arange(n), b.col(LAUNCH_BRAND, pos), -1.0)], upper=0.0,
               description="selling a new brand in any channel launches it")


def define_offers_and_demand(b: Build, rule: None) -> None:
    """Offer option per cell (a channel set and a level per member) and its exact demand.

    ``offer[c,o]`` picks at most one option per cell (``offer_one_set``); a member at a
    level needs that level chosen (``offer_needs_level``: the price level, or the
    listing where the product has one level in the channel) and the channel open
    (``offer_needs_open``); each sales column is bounded by the demand the chosen
    option gives the channel at that level (``demand``), and, for the independent
    model, the cell's sales by its market (``cell_market``).
    """
    d = b.data
    of, mem, s, cc = d.offers, d.members, d.sales, d.cc
    oc = of["cell"].to_numpy()
    b.add_vars(OFFER, labels(d, product=d.cells["p"].to_numpy()[oc],
                             region=d.cells["r"].to_numpy()[oc],
                             segment=d.cells["s"].to_numpy()[oc], set=of["set"]),
               binary=True, description="1 if exactly this offer option (channel set and "
               "levels) is offered to the cell")
    n_s = len(s)
    b.add_vars(SALES, sales_labels(d, np.arange(n_s)), upper=s["dmax"].to_numpy(),
               cost=sales_unit_margin(d), description="units sold in the cell through the "
               "channel at the price level")
    rows, first = group_index(of["cell"].to_numpy())
    cells_w = of["cell"].to_numpy()[first]
    b.add_cons(OFFER_ONE_SET, labels(d, product=d.cells["p"].to_numpy()[cells_w],
                                     region=d.cells["r"].to_numpy()[cells_w],
                                     segment=d.cells["s"].to_numpy()[cells_w]),
               [(rows, b.col(OFFER, np.arange(len(of))), 1.0)], upper=1.0,
               description="at most one offer option per cell")
    off_cols = b.col(OFFER, mem["offer"].to_numpy())
    sale = mem["sale"].to_numpy()
    all_s = np.arange(n_s)
    b.add_cons(OFFER_NEEDS_LEVEL, sales_labels(d, all_s),
               [(sale, off_cols, 1.0), (all_s, level_columns(b), -1.0)], upper=0.0,
               description="a channel is offered at a price level only if the product is "
               "listed in it at that level")
    n = len(cc)
    rk = pd.MultiIndex.from_frame(d.rk[["r", "k"]])
    rk_pos = rk.get_indexer(pd.MultiIndex.from_frame(cc[["r", "k"]]))
    b.add_cons(OFFER_NEEDS_OPEN, cc_labels(d),
               [(mem["cc"].to_numpy(), off_cols, 1.0),
                (np.arange(n), b.col(OPEN_CHANNEL, rk_pos), -1.0)], upper=0.0,
               description="a channel is offered only in regions where it is open")
    b.add_cons(DEMAND, sales_labels(d, all_s),
               [(all_s, b.col(SALES, all_s), 1.0),
                (sale, off_cols, -mem["demand"].to_numpy())], upper=0.0,
               description="sales at a level within the demand the offered option gives "
               "the channel")
    if d.scenario.settings.demand_model == "independent":
        rows, first = group_index(s["cell"].to_numpy())
        cw = s["cell"].to_numpy()[first]
        b.add_cons(CELL_MARKET, labels(d, product=d.cells["p"].to_numpy()[cw],
                                       region=d.cells["r"].to_numpy()[cw],
                                       segment=d.cells["s"].to_numpy()[cw]),
                   [(rows, b.col(SALES, all_s), 1.0)], upper=d.cells["market"].to_numpy()[cw],
                   description="total sales of a cell within its market")


def define_brand_single_kind(b: Build, rule: None) -> None:
    """``brand_kind[b,kind]``: brands marked single_kind sell through one channel kind."""
    d = b.data
    single = d.brands["single_kind"].to_numpy(bool)
    bk = d.bk[single[d.bk["b"].to_numpy()]].reset_index()
    if not len(bk):
        return
    bkind = pd.DataFrame({"b": bk["b"], "kind": kinds_of(d, bk["k"].to_numpy())})
    pairs = bkind.drop_duplicates().sort_values(["b", "kind"]).reset_index(drop=True)
    b.add_vars(BRAND_KIND, labels(d, brand=pairs["b"], kind=pairs["kind"]), binary=True,
               description="1 if the brand is sold through channels of this kind")
    pos = pd.MultiIndex.from_frame(pairs).get_indexer(pd.MultiIndex.from_frame(bkind))
    n = len(bk)
    b.add_cons(BRAND_KIND_LINK, labels(d, brand=bk["b"], channel=bk["k"]),
               [(np.arange(n), b.col(SELL_BRAND, bk["index"].to_numpy()), 1.0),
                (np.arange(n), b.col(BRAND_KIND, pos), -1.0)], upper=0.0,
               description="a brand sold in a channel uses that channel's kind")
    rows, first = group_index(pairs["b"].to_numpy())
    b.add_cons(BRAND_ONE_KIND, labels(d, brand=pairs["b"].to_numpy()[first]),
               [(rows, b.col(BRAND_KIND, np.arange(len(pairs))), 1.0)], upper=1.0,
               description="at most one channel kind per single-kind brand")


def define_channel_forcing(b: Build, rule: None) -> None:
    """``force`` rules: fix the matching decisions to 1 (``force_segment`` rows for
    segments).

    Validation has made sure every force rule has at least one decision to fix
    (a rule with none, e.g. one whose every target is forbidden, is refused there).
    """
    d = b.data
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
            blk, tab = LIST_PRODUCT, d.pk
            ok = match(tab["k"].to_numpy())
            if fr.product is not None:
                ok &= d.products["id"].to_numpy()[tab["p"].to_numpy()] == fr.product
            else:
                ins = d.products["in_season"].to_numpy(bool)[tab["p"].to_numpy()]
                ok &= ins if fr.season == "in" else ~ins
        elif fr.brand is not None:
            blk, tab = SELL_BRAND, d.bk
            ok = match(tab["k"].to_numpy()) & (
                d.brands["id"].to_numpy()[tab["b"].to_numpy()] == fr.brand)
        else:
            blk, tab = OPEN_CHANNEL, d.rk
            ok = match(tab["k"].to_numpy())
            if fr.region is not None:
                ok &= d.regions["id"].to_numpy()[tab["r"].to_numpy()] == fr.region
        b.block(blk).lower[np.flatnonzero(ok)] = 1.0
    if seg_rows:
        cci = np.unique(np.concatenate(seg_rows))
        pos = np.full(len(d.cc), -1)
        pos[cci] = np.arange(len(cci))
        mem = d.members
        mr = pos[mem["cc"].to_numpy()]
        mk = mr >= 0
        b.add_cons(FORCE_SEGMENT, cc_labels(d, cci),
                   [(mr[mk], b.col(OFFER, mem["offer"].to_numpy()[mk]), 1.0)], lower=1.0,
                   description="forced channels are offered to every cell of the segment")


# ---------------------------------------------------------------- records

OPEN_CHANNEL = VarFamily("open_channel", ALWAYS, define_channel_opening, "design", "region_channel",
                         "(r,k)", "binary", "channel operates in the region; cost `F_rk`",
                         "channel opening", hand_test("test_offer_needs_open"))
LIST_PRODUCT = VarFamily("list_product", ALWAYS, define_listings, "design", "product_channel",
                         "(p,k)", "binary", "product listed in the channel; cost `G_pk`", "listing",
                         hand_test("test_offer_needs_level_single_level_needs_listing"))
SELL_BRAND = VarFamily("sell_brand", ALWAYS, define_listings, "design", "brand_channel", "(b,k)",
                       "binary", "brand sold through the channel", None,
                       hand_test("test_listing_needs_brand_and_brand_launch"))
LAUNCH_BRAND = VarFamily("launch_brand", ALWAYS, define_brand_launch, "design", "brand",
                         "b ∈ B^new", "binary", "new brand launched; cost `Λ_b`", "brand launch",
                         hand_test("test_listing_needs_brand_and_brand_launch"))
OFFER = VarFamily("offer", ALWAYS, define_offers_and_demand, "design", "cell", "(c,o)", "binary",
                  "exactly option `o` (set and levels) is offered to cell `c`; labelled "
                  "by the set, `k@ℓ` for members with several levels", None,
                  hand_test("test_offer_one_set_and_demand_mnl_cannibalization"))
SALES = VarFamily("sales", ALWAYS, define_offers_and_demand, "operations", "cell", "(c,k,l)",
                  "0 ≤ q ≤ max_{o∋(k,l)} d_ck(o)", "units sold; margin `μ_ckl`", "sales margin",
                  hand_test("test_offer_one_set_and_demand_mnl_cannibalization"))
BRAND_KIND = VarFamily("brand_kind", ALWAYS, define_brand_single_kind, "design", "brand",
                       "(b,kind)", "binary", "single-kind brands: the kind chosen", None,
                       hand_test("test_brand_single_kind"))

VARIABLES: tuple[VarFamily, ...] = (
    OPEN_CHANNEL, LIST_PRODUCT, SELL_BRAND, LAUNCH_BRAND, OFFER, SALES, BRAND_KIND,
)

LISTING_NEEDS_BRAND = RowFamily("listing_needs_brand", ALWAYS, define_listings, "structure",
                                "brand_channel", "[p,k]", "`list_pk ≤ sell_{b(p),k}`",
                                "listing needs brand",
                                test=hand_test("test_listing_needs_brand_and_brand_launch"))
BRAND_LAUNCH = RowFamily("brand_launch", ALWAYS, define_brand_launch, "structure", "brand", "[b,k]",
                         "`sell_bk ≤ launch_b`, `b ∈ B^new`", "brand launch",
                         test=hand_test("test_listing_needs_brand_and_brand_launch"))
OFFER_ONE_SET = RowFamily("offer_one_set", ALWAYS, define_offers_and_demand, "structure", "cell",
                          "[c]", "`Σ_{o∈𝓞_c} offer_co ≤ 1`", "offer one set",
                          test=hand_test("test_offer_one_set_and_demand_mnl_cannibalization"))
OFFER_NEEDS_LEVEL = RowFamily("offer_needs_level", ALWAYS, define_offers_and_demand, "structure",
                              "product_channel", "[c,k,l]",
                              "`w_ckl ≤ price_level_pkl` (`≤ list_pk` where `|L_pk| = 1`)",
                              "offer needs level",
                              test=hand_test("test_offer_needs_level_single_level_needs_listing"))
OFFER_NEEDS_OPEN = RowFamily("offer_needs_open", ALWAYS, define_offers_and_demand, "structure",
                             "region_channel", "[c,k]", "`w_ck ≤ open_rk`", "offer needs open",
                             test=hand_test("test_offer_needs_open"))
DEMAND = RowFamily("demand", ALWAYS, define_offers_and_demand, "structure", "cell", "[c,k,l]",
                   "`sales_ckl ≤ Σ_{o∋(k,l)} d_ck(o) offer_co`", "demand",
                   test=hand_test("test_offer_one_set_and_demand_mnl_cannibalization"))
CELL_MARKET = RowFamily("cell_market", ALWAYS, define_offers_and_demand, "structure", "cell", "[c]",
                        "`Σ_{k,l} sales_ckl ≤ D_c` (independent demand only)", "cell market",
                        test=hand_test("test_cell_market_independent_cap"))
BRAND_KIND_LINK = RowFamily("brand_kind_link", ALWAYS, define_brand_single_kind, "structure",
                            "brand", "[b,k]", "`sell_bk ≤ brand_kind_{b,kind(k)}`",
                            "brand kind link", test=hand_test("test_brand_single_kind"))
BRAND_ONE_KIND = RowFamily("brand_one_kind", ALWAYS, define_brand_single_kind, "rule", "brand",
                           "[b]", "`Σ_kind brand_kind_b,kind ≤ 1`", "one channel kind per brand",
                           "violated", test=hand_test("test_brand_single_kind"))
FORCE_SEGMENT = RowFamily("force_segment", ALWAYS, define_channel_forcing, "rule", "cell", "[c,k]",
                          "`w_ck ≥ 1` for the cells of a forced segment (forced listings, brands "
                          "and " "" "openings are lower bounds 1)", "forced channel for a segment",
                          "not offered", test=hand_test("test_force_segment"))

ROWS: tuple[RowFamily, ...] = (
    LISTING_NEEDS_BRAND, BRAND_LAUNCH, OFFER_ONE_SET, OFFER_NEEDS_LEVEL, OFFER_NEEDS_OPEN, DEMAND,
    CELL_MARKET, BRAND_KIND_LINK, BRAND_ONE_KIND, FORCE_SEGMENT,
)

BUILD_STEPS: tuple[Step, ...] = (
    (10, define_channel_opening),
    (20, define_listings),
    (30, define_brand_launch),
    (50, define_offers_and_demand),
    (60, define_brand_single_kind),
    (70, define_channel_forcing),
)
"""(build step, builder) of this theme's builders."""
