"""Assemble the channel-design model from its families."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..scenario import Scenario
from ..scenario.settings import Rules
from . import families as f
from .data import ModelData, build_data
from .linear import ArrayModel, to_pyomo

# (rule switch or None for always-on, family function), in build order.
FAMILIES: list[tuple[str | None, Callable[[f.Build], None]]] = [
    (None, f.define_channel_opening),
    (None, f.define_listings),
    (None, f.define_brand_launch),
    (None, f.define_price_levels),
    (None, f.define_offers_and_demand),
    (None, f.define_brand_single_kind),
    (None, f.define_channel_forcing),
    ("price_parity", f.define_price_parity),
    ("overlap", f.define_overlap),
    ("commission", f.define_commission),
    ("partner_floor", f.define_partner_floor),
    ("dealer_min_volume", f.define_dealer_min_volume),
    ("store_labour", f.define_store_labour),
    ("dc_capacity", f.define_dc_capacity),
    ("dealer_capacity", f.define_dealer_capacity),
    ("inventory", f.define_inventory),
    ("shelf_space", f.define_shelf_space),
    ("service_level", f.define_service_level),
    ("cell_service_level", f.define_cell_service_level),
]
assert all(k is None or k in Rules.model_fields for k, _ in FAMILIES)


def build_array_model(scenario: Scenario, data: ModelData | None = None) -> tuple[ArrayModel,
                                                                                   ModelData]:
    """The model as arrays (the single definition every backend is fed from)."""
    data = data or build_data(scenario)
    b = f.Build(data, ArrayModel(name=scenario.name))
    rules = scenario.settings.rules
    for switch, fn in FAMILIES:
        if switch is None or getattr(rules, switch) is not None:
            fn(b)
    return b.am, data


def build_model(scenario: Scenario) -> Any:
    """A Pyomo ``ConcreteModel`` of the scenario, components named as in
    ``models/channel_design.md``.
    """
    am, _ = build_array_model(scenario)
    return to_pyomo(am)
