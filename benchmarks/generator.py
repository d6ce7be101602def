"""Seeded instance families for benchmarks, registered by name.

``generate(family, n_cells, seed)`` returns the tables and settings of a synthetic
but plausible channel-design scenario with about ``n_cells`` demand cells: the five
standard channels, three order-size classes, products in two brands (plus a new
online-only brand), regions with and without stores. Everything is vectorized, so
10^6 cells generate in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

CHANNELS = pd.DataFrame([
    {"id": "online", "kind": "online", "variable_cost": 6.0, "dc_use": 1.0,
     "return_rate": 0.2, "return_cost": 8.0, "listing_cost": 40.0, "open_cost": 2000.0},
    {"id": "store", "kind": "offline", "fee_share": 0.30, "requires_store": True,
     "uses_store_stock": True, "listing_cost": 60.0, "open_cost": 3000.0},
    {"id": "dealer", "kind": "offline", "fee_share": 0.35, "dealer_use": 1.0,
     "listing_cost": 30.0, "open_cost": 1500.0},
    {"id": "bopis", "kind": "o2o", "variable_cost": 2.0, "fee_per_unit": 3.0,
     "requires_store": True, "uses_store_stock": True, "labour_hours": 0.08,
     "return_rate": 0.1, "return_labour_hours": 0.1, "listing_cost": 20.0, "open_cost": 1000.0},
    {"id": "ship_from_store", "kind": "o2o", "variable_cost": 5.0, "fee_per_unit": 4.0,
     "requires_store": True, "uses_store_stock": True, "labour_hours": 0.15,
     "return_rate": 0.15, "return_labour_hours": 0.1, "listing_cost": 20.0,
     "open_cost": 1200.0},
])
SEGMENTS = pd.DataFrame([
    {"id": "small", "channels": "online;store;bopis;ship_from_store"},
    {"id": "medium", "channels": "online;store;dealer;bopis"},
    {"id": "large", "channels": "dealer;store;online"},
])


@dataclass(frozen=True)
class Family:
    """A benchmark family: which rule families are on."""

    name: str
    description: str
    rules: dict[str, Any] = field(default_factory=dict)
    demand_model: str = "mnl"
    price_levels: bool = False
    max_channels_per_cell: int | None = 3


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("core", "offered sets, listings, openings; no optional rule"),
    Family("independent", "independent demand with market caps", demand_model="independent"),
    Family("conflict", "price levels, price-parity band and overlap cost",
           {"price_parity": {"band": 0.1}, "overlap": {"cost": 150.0}}, price_levels=True),
    Family("partners", "partner floors, commission decision, dealer minimum volume",
           {"partner_floor": True, "commission": {"share": 0.05, "decision": True},
            "dealer_min_volume": True}),
    Family("capacity", "store labour, DC, dealer, inventory and shelf capacities",
           {"store_labour": True, "dc_capacity": None, "dealer_capacity": True,
            "inventory": True, "shelf_space": True}),
    Family("all", "every rule family on", {
        "price_parity": {"band": 0.1}, "overlap": {"cost": 150.0},
        "partner_floor": True, "commission": {"share": 0.05, "decision": True},
        "dealer_min_volume": True, "store_labour": True, "dc_capacity": None,
        "dealer_capacity": True, "inventory": True, "shelf_space": True,
        "service_level": True}, price_levels=True),
)}


def _dims(n_cells: int) -> tuple[int, int]:
    """(products, regions) with 3 segments so that products x regions x 3 ~ n_cells."""
    regions = int(np.clip(round((n_cells / 3) ** (1 / 3) * 1.2), 4, 60))
    products = max(2, round(n_cells / (3 * regions)))
    return products, regions


def generate(family: str, n_cells: int, seed: int = 0) -> tuple[dict[str, pd.DataFrame],
                                                                  dict[str, Any]]:
    """Tables and settings of one instance of ``family`` with about ``n_cells`` cells."""
    fam = FAMILIES[family]
    rng = np.random.default_rng([seed, n_cells])
    n_p, n_r = _dims(n_cells)
    brands = pd.DataFrame({"id": ["core", "sport", "e_brand"], "new": [False, False, True],
                           "launch_cost": [0.0, 0.0, 25_000.0], "ramp_up": [1.0, 1.0, 0.6],
                           "allowed_kinds": ["", "", "online"]})
    pb = rng.choice(3, size=n_p, p=[0.5, 0.4, 0.1])
    ref = np.round(rng.uniform(20, 160, n_p), 2)
    products = pd.DataFrame({
        "id": [f"P{i:06d}" for i in range(n_p)],
        "brand": brands["id"].to_numpy()[pb],
        "unit_cost": np.round(ref * rng.uniform(0.35, 0.6, n_p), 2),
        "ref_price": ref,
        "in_season": rng.random(n_p) < 0.75,
        "shelf_space": np.round(rng.uniform(0.5, 2.0, n_p), 2),
    })
    has_stores = rng.random(n_r) < 0.8
    has_stores[0] = True
    regions = pd.DataFrame({"id": [f"R{i:03d}" for i in range(n_r)], "has_stores": has_stores})
    seg_ids = SEGMENTS["id"].to_numpy()
    # cells: full grid, then thin a few out
    p_i = np.repeat(np.arange(n_p), n_r * 3)
    r_i = np.tile(np.repeat(np.arange(n_r), 3), n_p)
    s_i = np.tile(np.arange(3), n_p * n_r)
    seg_size = np.array([60.0, 25.0, 10.0])
    market = np.round(seg_size[s_i] * rng.lognormal(0.0, 0.6, len(p_i)), 1)
    cells = pd.DataFrame({"product": products["id"].to_numpy()[p_i],
                          "region": regions["id"].to_numpy()[r_i],
                          "segment": seg_ids[s_i], "market_size": market})
    # shares: one row per (cell, channel eligible for its segment, allowed by stores)
    elig = np.array([[c in s.split(";") for c in CHANNELS["id"]] for s in SEGMENTS["channels"]])
    needs_store = CHANNELS["requires_store"].fillna(False).to_numpy(bool)
    ok = elig[s_i] & ~(needs_store[None, :] & ~has_stores[r_i][:, None])
    ci, ki = np.nonzero(ok)
    base = np.array([0.30, 0.35, 0.30, 0.15, 0.12])
    out_season = ~products["in_season"].to_numpy()[p_i[ci]]
    boost = np.where(out_season & (ki == 0), 1.5, 1.0)
    share = np.clip(base[ki] * boost * rng.uniform(0.5, 1.5, len(ci)), 0.02, 0.9)
    shares = pd.DataFrame({"product": cells["product"].to_numpy()[ci],
                           "region": cells["region"].to_numpy()[ci],
                           "segment": cells["segment"].to_numpy()[ci],
                           "channel": CHANNELS["id"].to_numpy()[ki],
                           "share": np.round(share, 4)})
    tables: dict[str, pd.DataFrame] = {
        "channels": CHANNELS, "brands": brands, "products": products, "regions": regions,
        "segments": SEGMENTS, "cells": cells, "shares": shares,
    }
    rules = dict(fam.rules)
    reg_market = np.bincount(r_i, weights=market, minlength=n_r)
    if "store_labour" in rules:
        regions["store_labour_hours"] = np.round(0.02 * reg_market, 0)
    if "shelf_space" in rules:
        regions["shelf_capacity"] = np.round(0.6 * n_p * 1.25, 0)
    if "dealer_capacity" in rules:
        regions["dealer_capacity"] = np.round(0.04 * reg_market, 0)
    if "partner_floor" in rules:
        regions["partner_profit_floor"] = np.round(
            np.where(has_stores, 0.6, 0.1) * reg_market * 0.3 * ref.mean() * 0.3, 0)
    if "dealer_min_volume" in rules:
        regions["dealer_min_volume"] = np.round(0.01 * reg_market, 0)
    if "service_level" in rules:
        regions["service_level"] = 0.15
    if "inventory" in rules:
        prod_market = np.bincount(p_i, weights=market, minlength=n_p)
        products["inventory"] = np.round(prod_market * np.where(
            products["in_season"], 0.5, 0.3), 0)
    if "dc_capacity" in rules:
        rules["dc_capacity"] = float(np.round(0.12 * market.sum(), 0))
    if fam.price_levels:
        sel = rng.random(n_p) < 0.3
        pi = np.flatnonzero(sel)
        rows = []
        for ch in ("online", "store"):
            for lvl, f, m in (("full", 1.0, 1.0), ("promo", 0.85, 1.3), ("clear", 0.7, 1.6)):
                rows.append(pd.DataFrame({"product": products["id"].to_numpy()[pi],
                                          "channel": ch, "level": lvl,
                                          "price": np.round(ref[pi] * f, 2),
                                          "demand_multiplier": m}))
        tables["price_levels"] = pd.concat(rows, ignore_index=True)
    settings: dict[str, Any] = {"demand_model": fam.demand_model, "rules": rules}
    if fam.max_channels_per_cell is not None:
        settings["max_channels_per_cell"] = fam.max_channels_per_cell
    return tables, settings


Generator = Callable[[str, int, int], tuple[dict[str, pd.DataFrame], dict[str, Any]]]
SIZES = (1_000, 10_000, 100_000, 1_000_000)
