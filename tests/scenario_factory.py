"""A small valid scenario for tests: tables as DataFrames, written as YAML + CSV files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

PRODUCTS = ("p1", "p2")
REGIONS = ("north", "south")
SEGMENTS = ("small", "large")
CHANNELS = ("online", "store", "dealer")

# share of a cell's market each channel reaches alone, by segment (strictly in (0, 1))
_SHARE = {
    ("small", "online"): 0.3, ("small", "store"): 0.4, ("small", "dealer"): 0.1,
    ("large", "online"): 0.2, ("large", "store"): 0.1, ("large", "dealer"): 0.5,
}


def small_tables() -> dict[str, pd.DataFrame]:
    """A valid tiny scenario: 3 channels, 1 brand, 2 products, 2 regions, 2 segments.

    Every (product, region, segment) is a cell; every cell has a share for every
    channel. Fresh DataFrames on every call, so tests may modify them.
    """
    channels = pd.DataFrame({
        "id": list(CHANNELS),
        "kind": ["online", "offline", "offline"],
        "variable_cost": [2.5, 1.0, 0.5],
        "fee_share": [0.0, 0.1, 0.2],
        "return_rate": [0.1, 0.05, 0.02],
        "requires_store": [False, True, False],
        "dealer_use": [0.0, 0.0, 1.0],
    })
    brands = pd.DataFrame({"id": ["acme"], "new": [False], "launch_cost": [0.0]})
    products = pd.DataFrame({
        "id": list(PRODUCTS),
        "brand": ["acme", "acme"],
        "unit_cost": [10.0, 20.0],
        "ref_price": [25.0, 45.0],
        "in_season": [True, False],
        "inventory": [1000.0, 500.0],
    })
    regions = pd.DataFrame({
        "id": list(REGIONS),
        "has_stores": [True, True],
        "store_labour_hours": [100.0, 80.0],
        "dealer_capacity": [400.0, 300.0],
    })
    segments = pd.DataFrame({"id": list(SEGMENTS), "channels": ["", "store;dealer"]})
    cell_rows = []
    share_rows = []
    size = 100.0
    for p in PRODUCTS:
        for r in REGIONS:
            for s in SEGMENTS:
                cell_rows.append({"product": p, "region": r, "segment": s,
                                  "market_size": size})
                size += 10.0
                for k in CHANNELS:
                    share_rows.append({"product": p, "region": r, "segment": s,
                                       "channel": k, "share": _SHARE[s, k]})
    return {
        "channels": channels,
        "brands": brands,
        "products": products,
        "regions": regions,
        "segments": segments,
        "cells": pd.DataFrame(cell_rows),
        "shares": pd.DataFrame(share_rows),
    }


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
