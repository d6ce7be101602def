"""One record per constraint family (row block) and per variable block of the MIP.

Everything the package knows about a block sits here once: its name, the rule switch
that turns it on (``None``: always built), the builder that adds it, its role, unit
and the planner's wording, the **coupling** (the smallest index that holds every
variable of one row, or the index of a variable block) and, for variable blocks, the
**stage**. The model is assembled from :data:`BUILDERS`; result tables, diagnosis,
sensitivity, the heuristic and the family tables of ``models/channel_design.md`` read
the records (:mod:`channel_opt.model.design_doc` writes that file's tables).

Stage: *design* decisions are taken before demand is known (openings, listings,
brands, launches, brand kinds, stock, price levels, offered options, the commission
policy). The overlap indicators ``online_sold`` / ``offline_sold`` / ``overlap``
follow from the offered options alone, so they are *design* too. *Operations* are
what happens once demand is seen: ``sales`` and the ``commission`` paid on them.

Roles of a row block: *structure* (choice of sets and linking, never relaxed by the
diagnosis), *capacity* (a use within a limit), *floor* (at least a level), *budget*
(a count within a limit), *rule* (a relaxable 0/1 rule with no limit to report:
parity, one kind per brand, forced segments). Variable blocks carry their objective
wording instead (``profit_line``): the line of the profit breakdown they feed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..scenario.settings import Rules
from . import families as f

Role = Literal["structure", "capacity", "floor", "budget", "rule"]
Coupling = Literal["cell", "product_region", "region", "region_channel", "product",
                   "product_channel", "brand", "brand_channel", "global"]
Stage = Literal["design", "operations"]
Builder = Callable[[f.Build, Any], None]


@dataclass(frozen=True)
class RowFamily:
    """A constraint family: one row block of the model."""

    name: str
    switch: str | None
    builder: Builder
    role: Role
    coupling: Coupling
    index: str
    math: str
    words: str  # the planner's name of the rule ("store labour hours")
    verb: str = "violated by"  # how a broken row reads: "over by", "short by"
    unit: str = ""  # of the row's bound; "currency" stands for the scenario's currency
    test: str = "—"  # the test that proves the family on a hand-computed case

    @property
    def limit_side(self) -> Literal["upper", "lower"] | None:
        """The bound a capacity / budget (upper) or floor (lower) row reports."""
        if self.role in ("capacity", "budget"):
            return "upper"
        return "lower" if self.role == "floor" else None


@dataclass(frozen=True)
class VarFamily:
    """A variable block of the model."""

    name: str
    switch: str | None
    builder: Builder
    stage: Stage
    coupling: Coupling
    index: str
    kind: str  # binary, continuous bounds
    meaning: str
    profit_line: str | None = None  # its line in the profit breakdown, if it has a cost
    test: str = "—"


_ALWAYS: None = None
T = "tests/test_model_families.py::"

VARIABLES: tuple[VarFamily, ...] = (
    VarFamily("open_channel", _ALWAYS, f.define_channel_opening, "design", "region_channel",
              "(r,k)", "binary", "channel operates in the region; cost `F_rk`",
              "channel opening", T + "test_offer_needs_open"),
    VarFamily("list_product", _ALWAYS, f.define_listings, "design", "product_channel", "(p,k)",
              "binary", "product listed in the channel; cost `G_pk`", "listing",
              T + "test_offer_needs_level_single_level_needs_listing"),
    VarFamily("sell_brand", _ALWAYS, f.define_listings, "design", "brand_channel", "(b,k)",
              "binary", "brand sold through the channel", None,
              T + "test_listing_needs_brand_and_brand_launch"),
    VarFamily("launch_brand", _ALWAYS, f.define_brand_launch, "design", "brand", "b ∈ B^new",
              "binary", "new brand launched; cost `Λ_b`", "brand launch",
              T + "test_listing_needs_brand_and_brand_launch"),
    VarFamily("price_level", _ALWAYS, f.define_price_levels, "design", "product_channel",
              "(p,k,l), |L_pk| ≥ 2", "binary",
              "level chosen (with one level, `list_product` plays its role)", None,
              T + "test_price_levels"),
    VarFamily("offer", _ALWAYS, f.define_offers_and_demand, "design", "cell", "(c,o)",
              "binary", "exactly option `o` (set and levels) is offered to cell `c`; labelled "
              "by the set, `k@ℓ` for members with several levels", None,
              T + "test_offer_one_set_and_demand_mnl_cannibalization"),
    VarFamily("sales", _ALWAYS, f.define_offers_and_demand, "operations", "cell", "(c,k,l)",
              "0 ≤ q ≤ max_{o∋(k,l)} d_ck(o)", "units sold; margin `μ_ckl`", "sales margin",
              T + "test_offer_one_set_and_demand_mnl_cannibalization"),
    VarFamily("brand_kind", _ALWAYS, f.define_brand_single_kind, "design", "brand",
              "(b,kind)", "binary", "single-kind brands: the kind chosen", None,
              T + "test_brand_single_kind"),
    VarFamily("online_sold", "overlap", f.define_overlap, "design", "product_region", "(p,r)",
              "[0,1]", "the product is offered through an online-kind channel in the region",
              None, T + "test_overlap_cost"),
    VarFamily("offline_sold", "overlap", f.define_overlap, "design", "product_region", "(p,r)",
              "[0,1]", "the product is offered through an offline-kind channel in the region",
              None, T + "test_overlap_cost"),
    VarFamily("overlap", "overlap", f.define_overlap, "design", "product_region", "(p,r)",
              "[0,1]", "the product is sold both online and offline in the region; cost "
              "`overlap.cost`", "overlap cost", T + "test_overlap_cost"),
    VarFamily("commission", "commission", f.define_commission, "operations", "region", "r",
              "≥ 0", "commission paid to the region's stores", "commission to stores",
              T + "test_commission_always"),
    VarFamily("commission_policy", "commission", f.define_commission, "design", "region", "r",
              "binary", "commission sharing switched on in the region; cost `policy_cost`",
              "commission policy", T + "test_commission_decision"),
    VarFamily("stock", "shelf_space", f.define_shelf_space, "design", "product_region",
              "(p,r)", "binary", "region's stores stock the product (shelf space)", None,
              T + "test_shelf_space"),
)

ROWS: tuple[RowFamily, ...] = (
    RowFamily("listing_needs_brand", _ALWAYS, f.define_listings, "structure", "brand_channel",
              "[p,k]", "`list_pk ≤ sell_{b(p),k}`", "listing needs brand",
              test=T + "test_listing_needs_brand_and_brand_launch"),
    RowFamily("brand_launch", _ALWAYS, f.define_brand_launch, "structure", "brand", "[b,k]",
              "`sell_bk ≤ launch_b`, `b ∈ B^new`", "brand launch",
              test=T + "test_listing_needs_brand_and_brand_launch"),
    RowFamily("price_one_level", _ALWAYS, f.define_price_levels, "structure",
              "product_channel", "[p,k]", "`Σ_l price_level_pkl = list_pk`", "price one level",
              test=T + "test_price_levels"),
    RowFamily("offer_one_set", _ALWAYS, f.define_offers_and_demand, "structure", "cell", "[c]",
              "`Σ_{o∈𝓞_c} offer_co ≤ 1`", "offer one set",
              test=T + "test_offer_one_set_and_demand_mnl_cannibalization"),
    RowFamily("offer_needs_level", _ALWAYS, f.define_offers_and_demand, "structure",
              "product_channel", "[c,k,l]",
              "`w_ckl ≤ price_level_pkl` (`≤ list_pk` where `|L_pk| = 1`)", "offer needs level",
              test=T + "test_offer_needs_level_single_level_needs_listing"),
    RowFamily("offer_needs_open", _ALWAYS, f.define_offers_and_demand, "structure",
              "region_channel", "[c,k]", "`w_ck ≤ open_rk`", "offer needs open",
              test=T + "test_offer_needs_open"),
    RowFamily("demand", _ALWAYS, f.define_offers_and_demand, "structure", "cell", "[c,k,l]",
              "`sales_ckl ≤ Σ_{o∋(k,l)} d_ck(o) offer_co`", "demand",
              test=T + "test_offer_one_set_and_demand_mnl_cannibalization"),
    RowFamily("cell_market", _ALWAYS, f.define_offers_and_demand, "structure", "cell", "[c]",
              "`Σ_{k,l} sales_ckl ≤ D_c` (independent demand only)", "cell market",
              test=T + "test_cell_market_independent_cap"),
    RowFamily("brand_kind_link", _ALWAYS, f.define_brand_single_kind, "structure", "brand",
              "[b,k]", "`sell_bk ≤ brand_kind_{b,kind(k)}`", "brand kind link",
              test=T + "test_brand_single_kind"),
    RowFamily("brand_one_kind", _ALWAYS, f.define_brand_single_kind, "rule", "brand", "[b]",
              "`Σ_kind brand_kind_b,kind ≤ 1`", "one channel kind per brand", "violated",
              test=T + "test_brand_single_kind"),
    RowFamily("force_segment", _ALWAYS, f.define_channel_forcing, "rule", "cell", "[c,k]",
              "`w_ck ≥ 1` for the cells of a forced segment (forced listings, brands and "
              "openings are lower bounds 1)", "forced channel for a segment", "not offered",
              test=T + "test_force_segment"),
    RowFamily("price_parity", "price_parity", f.define_price_parity, "rule", "product",
              "[p,k₁,l₁,k₂,l₂]",
              "for every pair of channels `k₁`, `k₂` of a product whose kinds the band binds "
              "(online-kind with offline-kind, o2o-kind with the kind `o2o_side` names) and "
              "levels with `|P_pk₁l₁ − P_pk₂l₂| > band · ref_p`: `z_pk₁l₁ + z_pk₂l₂ ≤ 1` "
              "(`z` = `price_level`, or `list_product` for a single level)",
              "price parity band", "violated", test=T + "test_price_parity"),
    RowFamily("overlap_online", "overlap", f.define_overlap, "structure", "product_region",
              "[c]", "`Σ_{o: M∩K^on≠∅} offer_co ≤ online_sold_pr`", "overlap online",
              test=T + "test_overlap_cost"),
    RowFamily("overlap_offline", "overlap", f.define_overlap, "structure", "product_region",
              "[c]", "`Σ_{o: M∩K^off≠∅} offer_co ≤ offline_sold_pr`", "overlap offline",
              test=T + "test_overlap_cost"),
    RowFamily("overlap_pair", "overlap", f.define_overlap, "structure", "product_region",
              "[p,r]", "`online_sold + offline_sold − overlap ≤ 1`", "overlap pair",
              test=T + "test_overlap_cost"),
    RowFamily("commission_def", "commission", f.define_commission, "structure", "region", "[r]",
              "`commission_r = θ Σ_{kind(k)=online, c∈r} P q` (`decision: false`)",
              "commission def", test=T + "test_commission_always"),
    RowFamily("commission_lower", "commission", f.define_commission, "structure", "region",
              "[r]", "`com ≥ θRev − R̄(1 − pol)` (`decision: true`; `R̄_r = θ Σ P · ū`)",
              "commission lower", test=T + "test_commission_decision"),
    RowFamily("commission_upper_revenue", "commission", f.define_commission, "structure",
              "region", "[r]", "`com ≤ θRev` (`decision: true`)", "commission upper revenue",
              test=T + "test_commission_decision"),
    RowFamily("commission_upper_policy", "commission", f.define_commission, "structure",
              "region", "[r]", "`com ≤ R̄ pol` (`decision: true`)", "commission upper policy",
              test=T + "test_commission_decision"),
    RowFamily("partner_floor", "partner_floor", f.define_partner_floor, "floor", "region",
              "[r]", "`Σ_{c∈r} π_ckl q_ckl + commission_r ≥ floor_r`", "partner profit floor",
              "short by", "currency", T + "test_partner_floor_forces_store"),
    RowFamily("store_labour", "store_labour", f.define_store_labour, "capacity", "region",
              "[r]", "`Σ_{c∈r} (h_k + rr_k h^ret_k) q ≤ H_r`", "store labour hours", "over by",
              "h", T + "test_store_labour"),
    RowFamily("dealer_capacity", "dealer_capacity", f.define_dealer_capacity, "capacity",
              "region", "[r]", "`Σ_{c∈r} dealer_use_k q ≤ C^dealer_r`", "dealer capacity",
              "over by", "units", T + "test_dealer_capacity"),
    RowFamily("dc_capacity", "dc_capacity", f.define_dc_capacity, "capacity", "global", "[all]",
              "`Σ dc_use_k q ≤ C^DC`", "distribution-centre capacity", "over by", "units",
              T + "test_dc_capacity"),
    RowFamily("inventory", "inventory", f.define_inventory, "capacity", "product", "[p]",
              "`Σ_{r,s,k,l} q_(p,r,s)kl ≤ I_p`", "inventory", "over by", "units",
              T + "test_inventory"),
    RowFamily("offer_needs_stock", "shelf_space", f.define_shelf_space, "structure",
              "product_region", "[c,k]", "`w_ck ≤ stock_pr` for channels with "
              "`uses_store_stock`", "offer needs stock", test=T + "test_shelf_space"),
    RowFamily("shelf_space", "shelf_space", f.define_shelf_space, "capacity", "region", "[r]",
              "`Σ_p space_p stock_pr ≤ S_r`", "shelf space", "over by", "shelf units",
              T + "test_shelf_space"),
    RowFamily("overlap_budget", "overlap", f.define_overlap, "budget", "global", "[all]",
              "`Σ overlap ≤ max_pairs`", "overlap budget", "over by", "pairs",
              test=T + "test_overlap_budget"),
    RowFamily("service_level", "service_level", f.define_service_level, "floor", "region",
              "[r]", "`Σ_{c∈r} Σ q ≥ σ_r Σ_{c∈r} D_c`", "regional service level", "short by",
              "units", T + "test_service_level"),
    RowFamily("cell_service_level", "cell_service_level", f.define_cell_service_level,
              "floor", "cell", "[c]", "`Σ_{k,l} q_ckl ≥ σ D_c`", "cell service level",
              "short by", "units", T + "test_cell_service_level"),
    RowFamily("dealer_min_volume", "dealer_min_volume", f.define_dealer_min_volume, "floor",
              "region_channel", "[r,k]",
              "`Σ_{c∈r,l} q_ckl ≥ V_r open_rk` for dealer channels (`dealer_use > 0`)",
              "dealer minimum volume", "short by", "units", T + "test_dealer_min_volume"),
)

RECORDS: tuple[RowFamily | VarFamily, ...] = (*ROWS, *VARIABLES)
ROW = {r.name: r for r in ROWS}
VAR = {v.name: v for v in VARIABLES}

# Builders in build order: the column and row order of the model (and so the solver's
# path) follows it. The switch of each is the one its records name.
BUILD_ORDER: tuple[Builder, ...] = (
    f.define_channel_opening, f.define_listings, f.define_brand_launch, f.define_price_levels,
    f.define_offers_and_demand, f.define_brand_single_kind, f.define_channel_forcing,
    f.define_price_parity, f.define_overlap, f.define_commission, f.define_partner_floor,
    f.define_dealer_min_volume, f.define_store_labour, f.define_dc_capacity,
    f.define_dealer_capacity, f.define_inventory, f.define_shelf_space, f.define_service_level,
    f.define_cell_service_level,
)


def _switches() -> dict[Builder, str | None]:
    """The one switch of every builder, read off its records."""
    sw: dict[Builder, set[str | None]] = {}
    for rec in RECORDS:
        sw.setdefault(rec.builder, set()).add(rec.switch)
    assert all(len(s) == 1 for s in sw.values()), "a builder with two switches"
    assert set(sw) == set(BUILD_ORDER) and len(BUILD_ORDER) == len(sw), \
        "every builder has records and a place in BUILD_ORDER"
    return {fn: next(iter(s)) for fn, s in sw.items()}


BUILDERS: tuple[tuple[str | None, Builder], ...] = tuple(
    (_switches()[fn], fn) for fn in BUILD_ORDER)
"""(rule switch or None for always-on, builder), in build order."""


def _check() -> None:
    """Every record names a known switch; every name is written once."""
    for rec in RECORDS:
        assert rec.switch is None or rec.switch in Rules.model_fields, rec.name
    assert len(ROW) == len(ROWS) and len(VAR) == len(VARIABLES)
    assert not set(ROW) & set(VAR)


_check()


def rows_with(*roles: Role) -> tuple[RowFamily, ...]:
    """The row families of the given roles, in record order."""
    return tuple(r for r in ROWS if r.role in roles)


# the families whose rows bound a use (capacity, budget) or a level (floor): the
# capacity table and the sensitivity read these, capacities first
LIMITED: tuple[RowFamily, ...] = rows_with("capacity", "budget") + rows_with("floor")


def planner_words(name: str) -> tuple[str, str, str]:
    """(name, verb, unit) of a row family in the planner's words; a name the registry
    does not hold (a variable block, a forced decision) reads as itself.
    """
    rec = ROW.get(name)
    if rec is None:
        return name.replace("_", " "), "violated by", ""
    return rec.words, rec.verb, rec.unit
