"""Scenario settings and the switches of every rule family (SPEC sections 4 and 5).

Every rule family is off by default. A family is switched on by giving its block in
the scenario file's ``rules:`` section; its data (floors, capacities...) sit in the
tables, where a column left at its default means "no limit".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .tables import MAX_VALUE


class _Cfg(BaseModel):
    # numbers are finite and strict: true/false or "40" is not a number
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PriceParity(_Cfg):
    """Price conflict (SPEC 5.1): prices of one product that customers see side by side
    differ by at most a band.

    The band binds every online-kind against every offline-kind price, and every
    o2o-kind price (BOPIS, ship-from-store) against the prices of the side it is shown
    on: the web shop (``o2o_side: online``, the default) or the store (``offline``).
    """

    band: float = Field(description="Largest allowed gap between two prices of one product "
                        "that the band binds, as a share of its reference price.", ge=0,
                        le=MAX_VALUE, strict=True)
    o2o_side: Literal["online", "offline"] = Field(
        "online", description="Side the o2o-kind channels' prices are shown on. online "
        "(default): they are ordered in the web shop, so each is held within the band of the "
        "product's online-kind prices; offline: they are held within the band of its "
        "offline-kind (store) prices instead. Online-kind against offline-kind prices are "
        "bound either way.")


class Overlap(_Cfg):
    """Overlap of online and offline selling of one product in one region."""

    cost: float = Field(0.0, ge=0, le=MAX_VALUE, strict=True,
                        description="Conflict cost per (product, region) pair sold through "
                        "both an online-kind and an offline-kind channel (currency).")
    max_pairs: float | None = Field(None, ge=0, le=MAX_VALUE, strict=True,
                                    description="Most such pairs allowed (the epsilon of the "
                                    "profit-conflict trade-off curve).")


class Commission(_Cfg):
    """Commission sharing: a share of a region's online revenue paid to its stores."""

    share: float = Field(ge=0, le=1, strict=True, description="Share of online-kind revenue "
                         "from a region paid to the region's stores.")
    decision: bool = Field(False, strict=True, description="Decide per region whether to pay "
                           "it (true) or pay it in every region (false).")
    policy_cost: float = Field(0.0, ge=0, le=MAX_VALUE, strict=True,
                               description="Fixed cost of running the policy in one region "
                               "(currency); charged only when the policy is a decision.")


class Flag(_Cfg):
    """A family with no options of its own: its data sit in the tables."""


class Rules(_Cfg):
    """Switches of the optional rule families (all off by default)."""

    price_parity: PriceParity | None = None
    overlap: Overlap | None = None
    partner_floor: Flag | None = Field(None, description="regions.partner_profit_floor.")
    dealer_min_volume: Flag | None = Field(None, description="regions.dealer_min_volume.")
    reserved_segments: dict[str, list[str]] | None = Field(
        None, description="Segment -> channels: cells of the segment are served only through "
        "these channels (order division: large orders to dealers).")
    commission: Commission | None = None
    store_labour: Flag | None = Field(None, description="regions.store_labour_hours.")
    dc_capacity: float | None = Field(None, ge=0, le=MAX_VALUE, strict=True,
                                      description="Distribution-centre capacity for the "
                                      "period (DC units).")
    dealer_capacity: Flag | None = Field(None, description="regions.dealer_capacity.")
    inventory: Flag | None = Field(None, description="products.inventory.")
    shelf_space: Flag | None = Field(None, description="products.shelf_space, "
                                     "regions.shelf_capacity.")
    service_level: Flag | None = Field(None, description="regions.service_level.")
    channel_capacity: Flag | None = Field(None, description="channels.capacity (with "
                                          "product_channels.capacity_use).")
    region_channel_capacity: Flag | None = Field(None, description="region_channels.capacity "
                                                 "(with product_channels.capacity_use).")
    cell_service_level: float | None = Field(None, ge=0, le=1, strict=True,
                                             description="Least share of every cell's "
                                             "market that must be served.")

    @model_validator(mode="before")
    @classmethod
    def _flags(cls, data: Any) -> Any:
        """Accept ``family: true`` / ``false`` for families without options."""
        if isinstance(data, dict):
            flags = {n for n, f in cls.model_fields.items() if f.annotation == Flag | None}
            data = {k: ({} if v is True else None if v is False else v) if k in flags else v
                    for k, v in data.items()}
            res = data.get("reserved_segments")
            if isinstance(res, dict):
                data["reserved_segments"] = {
                    k: [x.strip() for x in v.split(";") if x.strip()] if isinstance(v, str)
                    else v for k, v in res.items()}
        return data


class ChannelRule(_Cfg):
    """Forbid or force a channel (or every channel of a kind) for a product, brand, segment,
    region or season class. Exactly one of channel/kind and at most one scope is given.
    """

    action: Literal["forbid", "force"]
    channel: str | None = None
    kind: Literal["online", "offline", "o2o"] | None = None
    product: str | None = None
    brand: str | None = None
    segment: str | None = None
    region: str | None = None
    season: Literal["in", "out"] | None = None


class Settings(_Cfg):
    """Model-wide settings."""

    demand_model: Literal["mnl", "independent"] = Field(
        "mnl", description="mnl: multinomial logit with an outside option; independent: "
        "share x market, cell total capped at the market.")
    max_channels_per_cell: int | None = Field(None, ge=1, strict=True, description="Most channels "
                                              "offered to one cell (1: strict segmentation).")
    currency: str = "EUR"
    rules: Rules = Rules()
    channel_rules: tuple[ChannelRule, ...] = ()
