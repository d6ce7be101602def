"""The one factory of tiny test scenarios (imported by ``conftest.py`` and the tests).

Every scenario is a grid: every product x region x segment is a cell, and every cell
has a share for every channel. :func:`grid_tables` builds it; the named scenarios are
parametrizations of it whose optimum the tests work out by hand:

* :func:`duo_tables` / :func:`duo`: one cell, two channels (online, store);
* :func:`base_tables` / :func:`scenario`: one cell, three channels (online, store,
  dealer), the base scenario ``B`` of ``tests/test_model_families.py``;
* :func:`every_rule_scenario`: the base cell with every limit set and every rule on;
* :func:`shared_inventory`: one product online in two regions from one stock that
  both regions want more of (a row across regions that binds; 3,310 by hand);
* :func:`small_tables` / :func:`small_settings`: 2 products x 2 regions x 2 segments x
  3 channels, as DataFrames, and :func:`write_yaml_scenario` to put tables on disk.

Table rows are plain dicts (``Scenario.from_frames`` takes them), fresh on every call,
so tests may change them; :func:`edit` returns a changed copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from channel_opt.scenario import Scenario

Rows = list[dict[str, Any]]


def grid_tables(channels: Rows, brands: Rows, products: Rows, regions: Rows, segments: Rows,
                share: Callable[[str, str], float],
                market: Callable[[int], float] = lambda i: 100.0) -> dict[str, Rows]:
    """Tables of a scenario whose cells are every product x region x segment.

    ``share(segment, channel)`` is the share of every cell of the segment for the
    channel; ``market(i)`` the market size of the i-th cell (products outermost,
    segments innermost).
    """
    cells: Rows = []
    shares: Rows = []
    for p in products:
        for r in regions:
            for s in segments:
                key = {"product": p["id"], "region": r["id"], "segment": s["id"]}
                cells.append({**key, "market_size": market(len(cells))})
                shares += [{**key, "channel": k["id"], "share": share(s["id"], k["id"])}
                           for k in channels]
    return {"channels": channels, "brands": brands, "products": products,
            "regions": regions, "segments": segments, "cells": cells, "shares": shares}


def one_cell_tables(channels: Rows, shares: Mapping[str, float], product: dict[str, Any],
                    brand: dict[str, Any], region: dict[str, Any],
                    segment: dict[str, Any]) -> dict[str, Rows]:
    """One cell of market 100 (``shares``: per channel id)."""
    return grid_tables(channels, [brand], [product], [region], [segment],
                       lambda s, k: shares[k])


# ------------------------------------------------------------------ duo


def duo_tables(**overrides: Any) -> dict[str, Any]:
    """One product, one region, one segment, two channels (online, store).

    market 100, both alone-shares 0.5 (logit odds 1), price 100, unit cost 40;
    online costs 10 per unit, the store keeps 30% of revenue.
    By hand (mnl):  {online}: 50 units x 50 = 2500
                    {store}:  50 units x 30 = 1500
                    {online, store}: 100/3 units each x (50 + 30) = 2666.67
    """
    t: dict[str, Any] = one_cell_tables(
        [{"id": "online", "kind": "online", "variable_cost": 10.0, "dc_use": 1.0},
         {"id": "store", "kind": "offline", "fee_share": 0.3, "labour_hours": 0.0}],
        {"online": 0.5, "store": 0.5},
        {"id": "P", "brand": "B", "unit_cost": 40.0, "ref_price": 100.0}, {"id": "B"},
        {"id": "R"}, {"id": "S"})
    t.update(overrides)
    return t


def duo(settings: dict[str, Any] | None = None, **overrides: Any) -> Scenario:
    """The duo scenario with settings."""
    return Scenario.from_frames(duo_tables(**overrides), settings or {}, name="duo")


DUO_OPEN = 8000 / 3 - 100  # duo_open's optimum: {online, store} less the opening, 2,566.67


def duo_open() -> Scenario:
    """duo with a store opening cost of 100: the optimum is 2,666.67 - 100 = 2,566.67
    ({online} alone: 2,500). The cheap bound (best set per cell, fixed costs left out)
    stays at 2,666.67, so the constructive plan is not proven by it; the LP relaxation
    is 2,566.67, the optimum.
    """
    t = duo_tables()
    t["channels"][1] = {**t["channels"][1], "open_cost": 100.0}
    return Scenario.from_frames(t, {}, name="duo")


# ------------------------------------------------------------------ base (one cell, 3 channels)

P1 = {"id": "p1", "brand": "acme", "unit_cost": 4.0, "ref_price": 10.0}
THREE_SHARES = {"online": 0.5, "store": 0.3, "dealer": 0.2}


def base_tables() -> dict[str, Rows]:
    """Scenario ``B``: product p1 (reference price 10, unit cost 4) in region north,
    segment small (market 100); online (variable cost 1, share 0.5), store (fee share
    0.1, store stock, share 0.3), dealer (fee 2 per unit, share 0.2). Under independent
    demand all three sell 50 + 30 + 20 units for 250 + 150 + 80 = 480.
    """
    return one_cell_tables(
        [{"id": "online", "kind": "online", "variable_cost": 1.0, "dc_use": 1.0},
         {"id": "store", "kind": "offline", "fee_share": 0.1, "uses_store_stock": True,
          "requires_store": True},
         {"id": "dealer", "kind": "offline", "fee_per_unit": 2.0, "dealer_use": 1.0}],
        THREE_SHARES, dict(P1), {"id": "acme"}, {"id": "north"}, {"id": "small"})


def scenario(tables: dict[str, Any] | None = None, *, model: str = "independent",
             rules: dict[str, Any] | None = None, **settings: Any) -> Scenario:
    """A scenario of ``tables`` (default: :func:`base_tables`) with these settings."""
    return Scenario.from_frames(tables or base_tables(),
                                {"demand_model": model, "rules": rules or {}, **settings})


def edit(tables: dict[str, Any], table: str, row_id: str, **values: Any) -> dict[str, Any]:
    """A copy of ``tables`` with ``values`` set on the row whose id (or channel) is row_id."""
    t = copy.deepcopy(tables)
    for row in t[table]:
        if row.get("id", row.get("channel")) == row_id:
            row.update(values)
            break
    else:
        raise KeyError(row_id)
    return t


def parity_levels_scenario() -> Scenario:
    """Base scenario B (independent demand: online 50 x 5, store 30 x 5, dealer 20 x 4)
    with a second online level: promo at 8 doubles online demand (100 x 3 = 300 > 250).
    The parity band (10% of 10) keeps promo (8) from the store and dealer price (10).
    By hand: {online full, store, dealer} = 250 + 150 + 80 = 480 (optimal);
    {online promo} alone = 300; the cell's best options taken level by level
    ({online promo, store, dealer}, 530) break the band; the LP relaxation's
    optimum is 480.
    """
    t = base_tables()
    t["price_levels"] = [
        {"product": "p1", "channel": "online", "level": "full", "price": 10.0},
        {"product": "p1", "channel": "online", "level": "promo", "price": 8.0,
         "demand_multiplier": 2.0}]
    return scenario(t, rules={"price_parity": {"band": 0.1}})


def every_rule_scenario(*, decision: bool) -> Scenario:
    """One product at two price levels online, a new single-kind brand, a store and a
    dealer in one region with every limit set, and every rule switched on.
    """
    tables: dict[str, Any] = one_cell_tables(
        [{"id": "online", "kind": "online", "dc_use": 1.0},
         {"id": "store", "kind": "offline", "fee_share": 0.1, "uses_store_stock": True,
          "labour_hours": 0.1},
         {"id": "dealer", "kind": "offline", "fee_per_unit": 2.0, "dealer_use": 1.0}],
        THREE_SHARES, {**P1, "inventory": 500.0, "shelf_space": 1.0},
        {"id": "acme", "new": True, "launch_cost": 5.0, "single_kind": True},
        {"id": "north", "store_labour_hours": 50.0, "shelf_capacity": 3.0,
         "dealer_capacity": 40.0, "partner_profit_floor": 1.0, "dealer_min_volume": 1.0,
         "service_level": 0.1},
        {"id": "small"})
    tables["price_levels"] = [
        {"product": "p1", "channel": "online", "level": "full", "price": 10.0},
        {"product": "p1", "channel": "online", "level": "promo", "price": 8.0,
         "demand_multiplier": 1.5}]
    rules = {"price_parity": {"band": 0.05}, "overlap": {"cost": 1.0, "max_pairs": 1},
             "commission": {"share": 0.1, "decision": decision}, "partner_floor": True,
             "dealer_min_volume": True, "store_labour": True, "dc_capacity": 1000.0,
             "dealer_capacity": True, "inventory": True, "shelf_space": True,
             "service_level": True, "cell_service_level": 0.1}
    return Scenario.from_frames(tables, {
        "demand_model": "independent", "rules": rules,
        "channel_rules": [{"action": "force", "channel": "online", "segment": "small"}]})


# ------------------------------------------------------------------ small (2 x 2 x 2 cells)

PRODUCTS = ("p1", "p2")
REGIONS = ("north", "south")
SEGMENTS = ("small", "large")
CHANNELS = ("online", "store", "dealer")

# share of a cell's market each channel reaches alone, by segment (strictly in (0, 1))
_SHARE = {
    ("small", "online"): 0.3, ("small", "store"): 0.4, ("small", "dealer"): 0.1,
    ("large", "online"): 0.2, ("large", "store"): 0.1, ("large", "dealer"): 0.5,
}


def _rows(ids: Sequence[str], **columns: Sequence[Any]) -> Rows:
    return [{"id": i, **{c: v[n] for c, v in columns.items()}} for n, i in enumerate(ids)]


def small_tables() -> dict[str, pd.DataFrame]:
    """A valid tiny scenario: 3 channels, 1 brand, 2 products, 2 regions, 2 segments.

    Every (product, region, segment) is a cell (market 100, 110, ... in that order);
    every cell has a share for every channel. Fresh DataFrames on every call, so tests
    may modify them.
    """
    t = grid_tables(
        _rows(CHANNELS, kind=["online", "offline", "offline"],
              variable_cost=[2.5, 1.0, 0.5], fee_share=[0.0, 0.1, 0.2],
              return_rate=[0.1, 0.05, 0.02], requires_store=[False, True, False],
              dealer_use=[0.0, 0.0, 1.0]),
        [{"id": "acme", "new": False, "launch_cost": 0.0}],
        _rows(PRODUCTS, brand=["acme", "acme"], unit_cost=[10.0, 20.0],
              ref_price=[25.0, 45.0], in_season=[True, False], inventory=[1000.0, 500.0]),
        _rows(REGIONS, has_stores=[True, True], store_labour_hours=[100.0, 80.0],
              dealer_capacity=[400.0, 300.0]),
        _rows(SEGMENTS, channels=["", "store;dealer"]),
        lambda s, k: _SHARE[s, k], market=lambda i: 100.0 + 10.0 * i)
    return {name: pd.DataFrame(rows) for name, rows in t.items()}


def small_settings() -> dict[str, Any]:
    """Settings of the small scenario (a couple of rule families switched on)."""
    return {
        "demand_model": "mnl",
        "rules": {"overlap": {"cost": 5.0}, "store_labour": True,
                  "reserved_segments": {"large": ["dealer", "store"]}},
        "channel_rules": [{"action": "forbid", "channel": "online", "season": "out"}],
    }


def write_yaml_scenario(tmp_path: Path, tables: Mapping[str, pd.DataFrame],
                        settings: Any = None, *,
                        name: str = "small", file: str = "scenario.yaml") -> Path:
    """Write ``tables`` as ``<table>.csv`` files and a YAML scenario file referencing them.

    Returns the path of the YAML file. ``settings`` (written as given, so tests may pass
    malformed values) defaults to :func:`small_settings`.
    """
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    refs: dict[str, str] = {}
    for tname, df in tables.items():
        fname = f"{tname}.csv"
        df.to_csv(tmp_path / fname, index=False)
        refs[tname] = fname
    doc = {
        "name": name,
        "settings": small_settings() if settings is None else settings,
        "tables": refs,
    }
    path = tmp_path / file
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def shared_inventory() -> Scenario:
    """One product sold online in two regions from one stock of 60 units.

    Each region's cell has market 100 and online share 0.5 (mnl alone: 50 units),
    so the regions want 100 units together: the inventory row binds. Margin per unit
    100 - 40 - 4 = 56, listing 50, no opening cost: the optimum sells 60 units,
    56 * 60 - 50 = 3,310.
    """
    tables = {
        "channels": [{"id": "online", "kind": "online", "variable_cost": 4.0,
                      "listing_cost": 50.0}],
        "brands": [{"id": "b"}],
        "products": [{"id": "p", "brand": "b", "unit_cost": 40.0, "ref_price": 100.0,
                      "inventory": 60.0}],
        "regions": [{"id": "north"}, {"id": "south"}],
        "segments": [{"id": "all"}],
        "cells": [{"product": "p", "region": r, "segment": "all", "market_size": 100.0}
                  for r in ("north", "south")],
        "shares": [{"product": "p", "region": r, "segment": "all", "channel": "online",
                    "share": 0.5} for r in ("north", "south")],
    }
    return Scenario.from_frames(tables, {"rules": {"inventory": True}}, name="shared")
