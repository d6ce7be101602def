"""The scenario's tables: one pydantic row model per table, the single source of truth.

Each row model declares the columns of one table: type, bounds, default, unit and
meaning. The JSON Schema (``channel-opt schema``), the README's table reference and
the vectorized validator (:mod:`channel_opt.scenario.validate`) are all derived from
these classes, so documentation and checks cannot drift apart. Rows are never
validated one by one through pydantic: tables may hold millions of rows and are
checked column-wise with numpy/pandas from the same metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

INF = math.inf
# Largest magnitude of any number in a table or setting (money, units, hours, factors):
# far above any real plan, far below what makes LP solvers lose precision (HiGHS treats
# 1e20 as infinite; products of two such numbers must stay representable).
MAX_VALUE = 1e9
ChannelKind = Literal["online", "offline", "o2o"]
CHANNEL_KINDS: tuple[str, ...] = get_args(ChannelKind)


def _f(description: str, unit: str = "", rules: tuple[str, ...] = (), **kw: Any) -> Any:
    """A column. ``rules``: for a limit or target, the rule families that enforce it
    (empty: always read). Set while those families are all off, it has no effect and
    the scenario notes so. Per-unit uses (``labour_hours``, ``dc_use``...) carry no
    ``rules``: they describe a channel or product and restrict nothing by themselves.
    """
    extra: dict[str, Any] = {"unit": unit}
    if rules:
        extra["rules"] = list(rules)
    return Field(description=description, json_schema_extra=extra, **kw)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelRow(_Row):
    """A sales channel (``online``, ``store``, ``dealer``, ``bopis``, ``ship_from_store``...)."""

    id: str = _f("Channel id, referenced by shares, segments, price levels and rules.")
    kind: ChannelKind = _f("online: ordered and fulfilled online; offline: walk-in or dealer; "
                           "o2o: ordered online, fulfilled or picked up through a store.")
    variable_cost: float = _f("Fulfilment, payment and traffic-acquisition cost per unit sold.",
                              "currency/unit", default=0.0, ge=0, le=MAX_VALUE)
    fee_per_unit: float = _f("Fee paid to the offline partner (store or dealer) per unit.",
                             "currency/unit", default=0.0, ge=0, le=MAX_VALUE)
    fee_share: float = _f("Share of revenue paid to the offline partner (store margin, dealer "
                          "discount, O2O fulfilment commission).", "fraction", default=0.0,
                          ge=0, le=1)
    return_rate: float = _f("Share of units sold that come back.", "fraction", default=0.0,
                            ge=0, le=1)
    return_cost: float = _f("Cost of handling one returned unit (refund loss, logistics).",
                            "currency/unit", default=0.0, ge=0, le=MAX_VALUE)
    labour_hours: float = _f("Store labour per unit sold (picking, packing, hand-over).",
                             "h/unit", default=0.0, ge=0, le=MAX_VALUE)
    return_labour_hours: float = _f("Store labour per returned unit taken back in a store.",
                                    "h/unit", default=0.0, ge=0, le=MAX_VALUE)
    dc_use: float = _f("Distribution-centre capacity used per unit sold.", "DC units/unit",
                       default=0.0, ge=0, le=MAX_VALUE)
    dealer_use: float = _f("Dealer capacity used per unit; channels with dealer_use > 0 are the "
                           "dealer channels (minimum volume, dealer capacity).",
                           "dealer units/unit", default=0.0, ge=0, le=MAX_VALUE)
    requires_store: bool = _f("Can only be opened in regions with store presence (always true "
                              "for kind o2o).", default=False)
    uses_store_stock: bool = _f("Sells from the region's store assortment: a product must be "
                                "stocked in the region's stores to be sold here.", default=False)
    open_cost: float = _f("Fixed cost of operating the channel in one region for the period.",
                          "currency", default=0.0, ge=0, le=MAX_VALUE)
    listing_cost: float = _f("Fixed cost of listing one product in the channel.", "currency",
                             default=0.0, ge=0, le=MAX_VALUE)
    launch_cost: float = _f("Fixed cost of using the channel at all (in any region) for the "
                            "period: a platform, a distribution centre, a warehouse.",
                            "currency", default=0.0, ge=0, le=MAX_VALUE)
    capacity: float = _f("Capacity units the channel handles over all regions, available only "
                         "when the channel is used (a product takes "
                         "product_channels.capacity_use of it per unit).", "units",
                         rules=("channel_capacity",), default=INF, ge=0, le=MAX_VALUE)


class BrandRow(_Row):
    """A brand; new brands carry a launch cost and a demand ramp-up."""

    id: str = _f("Brand id.")
    new: bool = _f("A brand not yet on the market; selling it anywhere launches it.",
                   default=False)
    launch_cost: float = _f("Fixed cost of launching a new brand.", "currency", default=0.0,
                            ge=0, le=MAX_VALUE)
    ramp_up: float = _f("Share of the full market a new brand reaches in the planned period.",
                        "fraction", default=1.0, gt=0, le=1)
    allowed_kinds: str = _f("Channel kinds the brand may be sold through, ';'-separated "
                            "(empty: all kinds). 'online' makes an online-only brand.", default="")
    single_kind: bool = _f("Sell the brand through channels of exactly one kind (chosen by the "
                           "model).", default=False)


class ProductRow(_Row):
    """A product (article, model) of one brand."""

    id: str = _f("Product id.")
    brand: str = _f("Brand id of the product.")
    unit_cost: float = _f("Cost of goods per unit.", "currency/unit", ge=0, le=MAX_VALUE)
    ref_price: float = _f("Reference selling price; market sizes are at this price.",
                          "currency/unit", gt=0, le=MAX_VALUE)
    in_season: bool = _f("In season (false: out-of-season / tail goods).", default=True)
    inventory: float = _f("Units available for the period (inventory rule).", "units",
                          rules=("inventory",), default=INF, ge=0, le=MAX_VALUE)
    shelf_space: float = _f("Shelf space one product takes in a region's stores.", "shelf units",
                            default=0.0, ge=0, le=MAX_VALUE)
    allowed_kinds: str = _f("Channel kinds the product may be sold through, ';'-separated "
                            "(empty: all kinds).", default="")


class RegionRow(_Row):
    """A sales region with its store network and partners."""

    id: str = _f("Region id.")
    has_stores: bool = _f("Stores are present (needed by channels with requires_store).",
                          default=True)
    store_labour_hours: float = _f("Store labour available for O2O work and returns.", "h",
                                   rules=("store_labour",), default=INF, ge=0, le=MAX_VALUE)
    shelf_capacity: float = _f("Shelf space of the region's stores.", "shelf units",
                               rules=("shelf_space",), default=INF, ge=0, le=MAX_VALUE)
    dealer_capacity: float = _f("Units the region's dealers can handle.", "dealer units",
                                rules=("dealer_capacity",), default=INF, ge=0, le=MAX_VALUE)
    partner_profit_floor: float = _f("Least profit the offline partners of the region must "
                                     "make.", "currency", rules=("partner_floor",),
                                     default=0.0, ge=0, le=MAX_VALUE)
    dealer_min_volume: float = _f("Least units through each dealer channel that is open in "
                                  "the region.", "units", rules=("dealer_min_volume",),
                                  default=0.0, ge=0, le=MAX_VALUE)
    service_level: float = _f("Least share of the region's market (units at reference price) "
                              "that must be served.", "fraction", rules=("service_level",),
                              default=0.0, ge=0, le=1)


class SegmentRow(_Row):
    """A customer segment or order-size class."""

    id: str = _f("Segment id (e.g. small, medium, large, key_account).")
    channels: str = _f("Channels eligible for the segment, ';'-separated (empty: all).",
                       default="")


class CellRow(_Row):
    """A demand cell: a product in a region for a segment."""

    product: str = _f("Product id.")
    region: str = _f("Region id.")
    segment: str = _f("Segment id.")
    market_size: float = _f("Units the cell buys in the period at reference price.", "units",
                            ge=0, le=MAX_VALUE)


class ShareRow(_Row):
    """The share of a cell's market a channel reaches if offered alone."""

    product: str = _f("Product id.")
    region: str = _f("Region id.")
    segment: str = _f("Segment id.")
    channel: str = _f("Channel id.")
    share: float = _f("Share of the cell's market the channel reaches if it is the only one "
                      "offered (mnl: strictly between 0 and 1; independent: 0 to 1).",
                      "fraction", ge=0, le=1)


class PriceLevelRow(_Row):
    """A price level a product may take in a channel."""

    product: str = _f("Product id.")
    channel: str = _f("Channel id.")
    level: str = _f("Level name (e.g. full, promo).")
    price: float = _f("Selling price at this level.", "currency/unit", gt=0, le=MAX_VALUE)
    demand_multiplier: float = _f("Multiplier on the channel's demand at this level.",
                                  "factor", default=1.0, ge=0, le=MAX_VALUE)


class RegionChannelRow(_Row):
    """Per-region overrides for a channel."""

    region: str = _f("Region id.")
    channel: str = _f("Channel id.")
    allowed: bool = _f("The channel may be opened in the region.", default=True)
    open_cost: float = _f("Fixed cost of the channel in this region (overrides the channel's).",
                          "currency", default=math.nan, ge=0, le=MAX_VALUE)
    variable_cost: float = _f("Variable cost per unit sold in this region (replaces the "
                              "channel's variable_cost there; empty: the channel's).",
                              "currency/unit", default=math.nan, ge=0, le=MAX_VALUE)
    capacity: float = _f("Capacity units of the channel in this region, available only where "
                         "it is open (a product takes product_channels.capacity_use of it "
                         "per unit).", "units", rules=("region_channel_capacity",),
                         default=INF, ge=0, le=MAX_VALUE)


class ProductChannelRow(_Row):
    """Per-product overrides for a channel: listing cost, handling cost, capacity use."""

    product: str = _f("Product id.")
    channel: str = _f("Channel id.")
    listing_cost: float = _f("Fixed cost of listing the product in the channel (replaces the "
                             "channel's listing_cost; empty: the channel's).", "currency",
                             default=math.nan, ge=0, le=MAX_VALUE)
    variable_cost: float = _f("Cost per unit of the product in the channel, added to the "
                              "channel's (or the region's) variable cost (handling a bulky "
                              "item).", "currency/unit", default=0.0, ge=0, le=MAX_VALUE)
    capacity_use: float = _f("Units of the channel's capacities (channels.capacity, "
                             "region_channels.capacity) one unit of the product takes.",
                             "units/unit", default=1.0, ge=0, le=MAX_VALUE)
    allowed: bool = _f("The product may be sold through the channel.", default=True)


class DemandScenarioRow(_Row):
    """A demand realization for the two-stage model (not built yet: rows here are refused).

    The two-stage stochastic model (SPEC section 6) that would read this table does not
    exist yet, so a scenario with demand scenarios is refused rather than solved as if
    they were not there. Meanwhile, solve each realization as its own scenario.
    """

    id: str = _f("Demand scenario id.")
    probability: float = _f("Probability of the scenario (all sum to 1).", "fraction", gt=0,
                            le=1)
    market_multiplier: float = _f("Multiplier on every cell's market size.", "factor",
                                  default=1.0, ge=0, le=MAX_VALUE)


@dataclass(frozen=True)
class TableSpec:
    """A table of the scenario: its row model, key and references."""

    name: str
    row: type[_Row]
    key: tuple[str, ...]
    refs: tuple[tuple[str, str], ...] = ()  # (column, referenced table)
    required: bool = True
    not_built: str = ""  # why rows in this table would change nothing (then they're refused)


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec("channels", ChannelRow, ("id",)),
        TableSpec("brands", BrandRow, ("id",)),
        TableSpec("products", ProductRow, ("id",), (("brand", "brands"),)),
        TableSpec("regions", RegionRow, ("id",)),
        TableSpec("segments", SegmentRow, ("id",)),
        TableSpec("cells", CellRow, ("product", "region", "segment"),
                  (("product", "products"), ("region", "regions"), ("segment", "segments"))),
        TableSpec("shares", ShareRow, ("product", "region", "segment", "channel"),
                  (("product", "products"), ("region", "regions"), ("segment", "segments"),
                   ("channel", "channels"))),
        TableSpec("price_levels", PriceLevelRow, ("product", "channel", "level"),
                  (("product", "products"), ("channel", "channels")), required=False),
        TableSpec("region_channels", RegionChannelRow, ("region", "channel"),
                  (("region", "regions"), ("channel", "channels")), required=False),
        TableSpec("product_channels", ProductChannelRow, ("product", "channel"),
                  (("product", "products"), ("channel", "channels")), required=False),
        TableSpec("demand_scenarios", DemandScenarioRow, ("id",), required=False,
                  not_built="the two-stage model that reads it is not built yet"),
    )
}


@dataclass(frozen=True)
class Column:
    """A column's checks, read off a row model's field."""

    name: str
    kind: str  # "str", "float", "bool", "enum"
    required: bool
    default: Any
    lower: float | None
    lower_strict: bool
    upper: float | None
    upper_strict: bool
    choices: tuple[str, ...] = ()
    description: str = ""
    unit: str = ""
    rules: tuple[str, ...] = ()  # rule families that read the column (empty: always read)


def field_bounds(field: FieldInfo) -> tuple[float | None, bool, float | None, bool]:
    """(lower, lower is strict, upper, upper is strict) of a pydantic field."""
    lower = upper = None
    lo_strict = up_strict = False
    for m in field.metadata:
        if isinstance(m, at.Ge):
            lower = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, at.Gt):
            lower, lo_strict = float(m.gt), True  # type: ignore[arg-type]
        elif isinstance(m, at.Le):
            upper = float(m.le)  # type: ignore[arg-type]
        elif isinstance(m, at.Lt):
            upper, up_strict = float(m.lt), True  # type: ignore[arg-type]
    return lower, lo_strict, upper, up_strict


def columns(row: type[_Row]) -> list[Column]:
    """The column checks of a row model, in declaration order."""
    out = []
    for name, field in row.model_fields.items():
        ann = field.annotation
        while get_origin(ann) is Annotated:
            ann = get_args(ann)[0]
        if ann is bool:
            kind = "bool"
        elif ann is float or ann is int:
            kind = "float"
        elif get_origin(ann) is Literal:
            kind = "enum"
        else:
            kind = "str"
        lower, lo_strict, upper, up_strict = field_bounds(field)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        out.append(Column(
            name=name, kind=kind, required=field.is_required(),
            default=None if field.is_required() else field.default,
            lower=lower, lower_strict=lo_strict, upper=upper, upper_strict=up_strict,
            choices=get_args(ann) if kind == "enum" else (),
            description=field.description or "", unit=str(extra.get("unit", "")),
            rules=tuple(str(r) for r in rules) if isinstance(rules := extra.get("rules"), list)
            else (),
        ))
    return out
