"""Seeded instance families for benchmarks, registered by name.

``generate(family, n_cells, seed)`` returns the tables and settings of a synthetic
but plausible channel-design scenario with about ``n_cells`` demand cells: the five
standard channels, three order-size classes, products in two brands (plus a new
online-only brand), regions with and without stores. Everything is vectorized, so
10^6 cells generate in seconds.

The numbers are calibrated so that every family tests what it names (issue 13): in
the best plan each channel carries a real share of the units, and each rule family
switched on has binding rows. The levers are set against the instance's own *natural
plan* -- per cell the channel set (at most 3) that maximizes HQ's margin under the
logit demand, fixed costs and rules aside, computed in closed form by
:func:`_best_sets` -- so they hold at every size and seed:

* channel economics: online pays fulfilment and returns per unit, stores and dealers
  keep a share of the price, the O2O channels a fee per unit; shares favour stores in
  small orders, dealers in large ones and O2O in metro regions;
* *thin* products (unit cost 66-80 % of the price) lose money through partners, so
  partner floors, dealer minimum volumes and service levels, set above the natural
  plan's partner income or volume, are met by routing a continuous amount of
  loss-making volume to partners (the rows bind exactly); a small commission share
  makes paying commission the cheaper way out in some regions;
* capacities (labour, DC, dealer, inventory) are a fraction of the natural plan's
  use; shelf space holds about a third of the range (integer facings, so it fills);
* markdown levels raise a channel's odds enough to pay on written-down stock; the
  parity band forbids mixing a deep markdown with full price across kinds;
* the overlap cost is a fraction of a (product, region)'s typical margin, so some
  pairs are worth selling both online and offline and others are not; ``conflict``
  adds an overlap budget (a quarter of the store (product, region) pairs);
* ``all`` gives each region one kind of regional rule (floors, service level,
  capacities or dealer minimum), so each binds somewhere and none is asked the
  impossible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

CHANNEL_IDS = ("online", "store", "dealer", "bopis", "ship_from_store")
STORE_SIDE = np.array([False, True, False, True, True])  # requires a store in the region
PARTNER = np.array([False, True, True, True, True])  # partners earn on these channels

CHANNELS = pd.DataFrame([
    {"id": "online", "kind": "online", "variable_cost": 9.0, "dc_use": 1.0,
     "return_rate": 0.22, "return_cost": 9.0, "listing_cost": 40.0, "open_cost": 2000.0},
    {"id": "store", "kind": "offline", "fee_share": 0.24, "return_rate": 0.06,
     "return_cost": 3.0, "requires_store": True, "uses_store_stock": True,
     "listing_cost": 60.0, "open_cost": 3000.0},
    {"id": "dealer", "kind": "offline", "variable_cost": 1.5, "fee_share": 0.28,
     "dealer_use": 1.0, "return_rate": 0.03, "return_cost": 4.0, "listing_cost": 30.0,
     "open_cost": 1500.0},
    {"id": "bopis", "kind": "o2o", "variable_cost": 2.0, "fee_per_unit": 4.0,
     "requires_store": True, "uses_store_stock": True, "labour_hours": 0.12,
     "return_rate": 0.1, "return_cost": 3.0, "return_labour_hours": 0.1, "listing_cost": 20.0,
     "open_cost": 1000.0},
    {"id": "ship_from_store", "kind": "o2o", "variable_cost": 4.0, "fee_per_unit": 4.0,
     "requires_store": True, "uses_store_stock": True, "labour_hours": 0.2,
     "return_rate": 0.15, "return_cost": 6.0, "return_labour_hours": 0.1,
     "listing_cost": 20.0, "open_cost": 1200.0},
])
SEGMENTS = pd.DataFrame([
    {"id": "small", "channels": "online;store;bopis;ship_from_store"},
    {"id": "medium", "channels": "online;store;dealer;bopis;ship_from_store"},
    {"id": "large", "channels": "dealer;store;online"},
])
# the apparel-shaped family: the shipped `apparel` instance's segments and channels
APPAREL_SEGMENTS = pd.DataFrame([
    {"id": "small", "channels": "online;store;bopis;ship_from_store"},
    {"id": "medium", "channels": "online;store;dealer"},
    {"id": "large", "channels": "store;dealer"},
])
APPAREL_BRANDS = ("stride", "urbanline", "nuvo")


@dataclass(frozen=True)
class Family:
    """A benchmark family: which rule families are on."""

    name: str
    description: str
    rules: dict[str, Any] = field(default_factory=dict)
    demand_model: str = "mnl"
    price_levels: bool = False
    max_channels_per_cell: int | None = 3
    shape: str = "generic"  # or "apparel": the shipped apparel instance's shape
    knobs: dict[str, float] = field(default_factory=dict)  # overrides of :data:`KNOBS`


# How tight each lever is, as a multiple of the natural plan's use (capacities below
# 1, floors above 1); a family overrides some.
KNOBS: dict[str, float] = {
    "labour": 0.5, "shelf": 0.35, "dealer_cap": 0.8, "dc": 0.7, "inventory_lo": 0.5,
    "inventory_hi": 0.8, "floor_lo": 1.02, "floor_hi": 1.12, "dealer_min": 1.2,
    "service": 1.05, "overlap_cost": 0.12, "overlap_budget": 0.25,
    "policy_cost": 0.1,  # the commission policy's cost, of a floor region's partner income
    "far_floor": 0.0,  # share of floor regions whose floor is near the most partners can earn
}


# The parity band of conflict and all: promo (85 % of the reference price, rounded to
# the cent, hence 16 % and not 15 %) may stand next to full price, clearance (70 %)
# only next to promo. At 10 % no promo could stand next to the full-price dealer and
# O2O channels, and no best plan ever marked down.
PARITY_BAND = 0.16

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("core", "offered sets, listings, openings; no optional rule"),
    Family("independent", "independent demand with market caps", demand_model="independent"),
    Family("conflict", "price levels, price-parity band and overlap cost and budget",
           {"price_parity": {"band": PARITY_BAND}, "overlap": {}}, price_levels=True),
    Family("partners", "partner floors, commission decision, dealer minimum volume",
           {"partner_floor": True, "commission": {"share": 0.04, "decision": True},
            "dealer_min_volume": True}),
    Family("capacity", "store labour, DC, dealer, inventory and shelf capacities",
           {"store_labour": True, "dc_capacity": None, "dealer_capacity": True,
            "inventory": True, "shelf_space": True}),
    Family("all", "every rule family on", {
        "price_parity": {"band": PARITY_BAND}, "overlap": {},
        "partner_floor": True, "commission": {"share": 0.02, "decision": True},
        "dealer_min_volume": True, "store_labour": True, "dc_capacity": None,
        "dealer_capacity": True, "inventory": True, "shelf_space": True,
        "service_level": True}, price_levels=True,
        knobs={"floor_lo": 1.0, "floor_hi": 1.2, "service": 1.0}),
    Family("apparel", "shaped like the shipped apparel instance: price parity, overlap, "
           "partner floors, commission decision, inventory; no dealers for out-of-season "
           "goods", {"price_parity": {"band": 0.15}, "overlap": {},
                     "partner_floor": True,
                     "commission": {"share": 0.04, "decision": True},
                     "inventory": True}, price_levels=True, shape="apparel",
           knobs={"floor_lo": 1.05, "floor_hi": 1.35, "policy_cost": 0.02,
                  "far_floor": 0.3}),
)}


def _dims(n_cells: int, per_pr: float = 3.0) -> tuple[int, int]:
    """(products, regions) so that products x regions x ``per_pr`` ~ n_cells."""
    regions = int(np.clip(round((n_cells / per_pr) ** (1 / 3) * 1.2), 4, 60))
    products = max(2, round(n_cells / (per_pr * regions)))
    return products, regions


def _logistic(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


def generate(family: str, n_cells: int, seed: int = 0) -> tuple[dict[str, pd.DataFrame],
                                                                  dict[str, Any]]:
    """Tables and settings of one instance of ``family`` with about ``n_cells`` cells."""
    fam = FAMILIES[family]
    kn = {**KNOBS, **fam.knobs}
    apparel = fam.shape == "apparel"
    rng = np.random.default_rng([seed, n_cells])
    # apparel: small cells for every (product, region), medium for team products (45 %),
    # large for half of those: about 1.67 cells per (product, region)
    n_p, n_r = _dims(n_cells, 1.0 + 0.45 * 1.5 if apparel else 3.0)

    # ---- brands and products
    brand_ids = np.array(APPAREL_BRANDS if apparel else ("core", "sport", "e_brand"))
    launch = 40.0 * n_cells ** 0.8  # a real but affordable cost at every size
    brands = pd.DataFrame({"id": brand_ids, "new": [False, False, True],
                           "launch_cost": [0.0, 0.0, round(launch, -2)],
                           "ramp_up": [1.0, 1.0, 0.6], "allowed_kinds": ["", "", "online"]})
    pb = rng.choice(3, size=n_p, p=[0.45, 0.45, 0.10])
    new_brand = pb == 2
    ref = np.round(rng.uniform(20, 160, n_p), 2)
    in_season = new_brand | (rng.random(n_p) < 0.72)
    if in_season.all() and not new_brand.all():  # tiny instances keep some old stock
        in_season[np.flatnonzero(~new_brand)[-1]] = False
    thin = ~new_brand & (rng.random(n_p) < 0.15)  # thin margin: loses money via partners
    cost_share = np.where(in_season, rng.uniform(0.38, 0.50, n_p), rng.uniform(0.12, 0.25, n_p))
    cost_share = np.where(thin, rng.uniform(0.66, 0.80, n_p), cost_share)
    team = ~new_brand & (rng.random(n_p) < 0.45)
    products = pd.DataFrame({
        "id": [f"P{i:06d}" for i in range(n_p)],
        "brand": brand_ids[pb],
        "unit_cost": np.round(ref * cost_share, 2),
        "ref_price": ref,
        "in_season": in_season,
    })
    popularity = rng.lognormal(0.0, 0.5, n_p)

    # ---- regions
    has_stores = rng.random(n_r) < 0.8
    has_stores[0] = True
    metro = has_stores & (rng.random(n_r) < 0.6)
    metro[0] = True
    size_r = rng.lognormal(0.0, 0.5, n_r)
    regions = pd.DataFrame({"id": [f"R{i:03d}" for i in range(n_r)], "has_stores": has_stores})
    segments = APPAREL_SEGMENTS if apparel else SEGMENTS
    seg_ids = segments["id"].to_numpy()

    # ---- cells
    pp = np.repeat(np.arange(n_p), n_r)
    rr = np.tile(np.arange(n_r), n_p)
    if apparel:
        med = team[pp]
        lrg = med & (rng.random(len(pp)) < 0.5)
        p_i = np.concatenate([pp, pp[med], pp[lrg]])
        r_i = np.concatenate([rr, rr[med], rr[lrg]])
        s_i = np.repeat(np.arange(3), [len(pp), int(med.sum()), int(lrg.sum())])
    else:
        p_i = np.repeat(pp, 3)
        r_i = np.repeat(rr, 3)
        s_i = np.tile(np.arange(3), len(pp))
    seg_size = np.array([150.0, 60.0, 40.0])
    season_eff = np.where(in_season, 1.0, 0.6)
    market = np.round(seg_size[s_i] * size_r[r_i] * popularity[p_i] * season_eff[p_i]
                      * rng.lognormal(0.0, 0.3, len(p_i)), 0) + 3.0
    def cat(codes: np.ndarray, ids: Any) -> pd.Categorical:  # ids once, codes per row
        return pd.Categorical.from_codes(codes, categories=pd.Index(ids, dtype=object))

    cells = pd.DataFrame({"product": cat(p_i, products["id"]), "region": cat(r_i, regions["id"]),
                          "segment": cat(s_i, seg_ids), "market_size": market})

    # ---- shares: one row per (cell, channel eligible for its segment and region)
    ch_ids = CHANNELS["id"].to_numpy()
    elig = np.array([[c in s.split(";") for c in ch_ids] for s in segments["channels"]])
    ok = elig[s_i] & ~(STORE_SIDE[None, :] & ~has_stores[r_i][:, None])
    ok[:, 1:] &= ~new_brand[p_i][:, None]  # the new brand sells online only
    if apparel:
        carried = rng.random((n_p, n_r)) < np.where(metro, 0.5, 0.3)[None, :] * \
            np.where(in_season, 1.0, 0.6)[:, None] * (0.5 + popularity / popularity.max())[:, None]
        ok[:, STORE_SIDE] &= carried[p_i, r_i][:, None]
    ci, ki = np.nonzero(ok)
    # logit of the stand-alone share of channel k in cell c
    base = np.array([-0.9, -0.5, -1.2, -1.5, -1.1])
    seg_eff = np.array([[0.0, 0.2, 0.0, 0.0, 0.0],     # small: stores strong
                        [-0.2, 0.0, 0.6, -0.3, 0.0],   # medium: dealers
                        [-0.5, -0.2, 1.3, 0.0, 0.0]])  # large: dealers strongest
    logit = base[ki] + seg_eff[s_i[ci], ki]
    # O2O strong in metro regions, ship-from-store most
    logit += np.where(metro[r_i[ci]] & (ki >= 3), np.where(ki == 4, 1.7, 1.0), 0.0)
    logit += np.where(~has_stores[r_i[ci]] & (ki == 0), 0.4, 0.0)
    logit += np.where(~in_season[p_i[ci]], np.where(ki == 0, 0.5, -0.3), 0.0)
    logit += rng.normal(0.0, 0.25, (n_r, 5))[r_i[ci], ki]
    logit += rng.normal(0.0, 0.35, len(ci))
    share = np.clip(_logistic(logit), 0.02, 0.9)
    shares = pd.DataFrame({"product": cat(p_i[ci], products["id"]),
                           "region": cat(r_i[ci], regions["id"]),
                           "segment": cat(s_i[ci], seg_ids), "channel": cat(ki, ch_ids),
                           "share": np.round(share, 4)})
    has_pair = np.bincount(ci, minlength=len(cells)) > 0
    tables: dict[str, pd.DataFrame] = {
        "channels": CHANNELS, "brands": brands, "products": products, "regions": regions,
        "segments": segments, "cells": cells, "shares": shares,
    }
    settings: dict[str, Any] = {"demand_model": fam.demand_model}
    if fam.max_channels_per_cell is not None:
        settings["max_channels_per_cell"] = fam.max_channels_per_cell
    if apparel:
        settings["channel_rules"] = [{"action": "forbid", "channel": "dealer", "season": "out"}]
        ok_dealer = in_season[p_i[ci]] | (ki != 2)
    else:
        ok_dealer = np.ones(len(ci), bool)

    # ---- the natural plan: per cell the channel set best for HQ's margin (fixed costs
    # and rules aside), estimated in closed form; the levers are set against its usage
    ramp_c = np.where(new_brand, 0.6, 1.0)[p_i]
    ci, ki, share = ci[ok_dealer], ki[ok_dealer], share[ok_dealer]
    cp, cr = p_i[ci], r_i[ci]
    price = ref[cp]
    chf = CHANNELS.fillna(0.0)
    fee_share = chf["fee_share"].to_numpy(float)
    fee_unit = chf["fee_per_unit"].to_numpy(float)
    margin = (price * (1 - fee_share[ki]) - products["unit_cost"].to_numpy()[cp]
              - chf["variable_cost"].to_numpy(float)[ki] - fee_unit[ki]
              - (chf["return_rate"] * chf["return_cost"]).to_numpy(float)[ki])
    partner_inc = (fee_share[ki] * price + fee_unit[ki]) * PARTNER[ki]
    eff_market = market * ramp_c
    _, nat = _best_sets(ci, ki, share, eff_market, margin, len(cells))
    by_rk = np.zeros((n_r, 5))
    np.add.at(by_rk, (cr, ki), nat)

    def jitter(lo: float, hi: float, n: int) -> np.ndarray:
        return rng.uniform(lo, hi, n)

    rules: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v)
                             for k, v in fam.rules.items()}
    # where floors and capacities meet (`all`), each region carries one kind of regional
    # rule: floors (0), service level (1), capacities (2) or dealer minimum volume (3),
    # so every kind binds somewhere and no region is asked the impossible
    mixed = "service_level" in rules
    role = np.zeros(n_r, np.int64)
    store_r, other_r = np.flatnonzero(has_stores), np.flatnonzero(~has_stores)
    role[store_r] = np.array([0, 2, 1, 3])[rng.permutation(len(store_r)) % 4]
    role[other_r] = np.array([1, 3])[rng.permutation(len(other_r)) % 2]

    def only(r: int, values: np.ndarray, off: float = np.inf) -> np.ndarray:
        return np.where(role == r, values, off) if mixed else values
    if "overlap" in rules:
        # a (product, region)'s typical HQ margin; the cost takes a real bite of it
        pr_val = np.bincount(cp * n_r + cr, weights=nat * np.maximum(margin, 0.0),
                             minlength=n_p * n_r)
        typical = float(np.median(pr_val[pr_val > 0])) if (pr_val > 0).any() else 100.0
        rules["overlap"]["cost"] = float(np.round(kn["overlap_cost"] * typical, 0))
        if family == "conflict":
            store_pr = np.unique(cp[ki == 1] * n_r + cr[ki == 1]).size
            rules["overlap"]["max_pairs"] = float(round(kn["overlap_budget"] * store_pr))
    if "store_labour" in rules:
        hours = (chf["labour_hours"] + chf["return_rate"] * chf["return_labour_hours"]
                 ).to_numpy(float)
        lab = np.bincount(cr, weights=nat * hours[ki], minlength=n_r)
        regions["store_labour_hours"] = only(
            2, np.round(kn["labour"] * lab * jitter(0.9, 1.1, n_r), 0))
    if "shelf_space" in rules:
        products["shelf_space"] = rng.choice([1.0, 2.0, 3.0], n_p, p=[0.5, 0.35, 0.15])
        regions["shelf_capacity"] = only(2, np.where(
            has_stores, np.round(kn["shelf"] * products["shelf_space"].sum()), 0.0))
    if "dealer_capacity" in rules:
        cap = kn["dealer_cap"] * jitter(0.9, 1.1, n_r) * by_rk[:, 2]
        regions["dealer_capacity"] = only(2, np.round(cap, 0))
    if "dc_capacity" in rules:
        rules["dc_capacity"] = float(np.round(kn["dc"] * by_rk[:, 0].sum(), 0))
    if "inventory" in rules:
        prod_nat = np.bincount(cp, weights=nat, minlength=n_p)
        limited = rng.random(n_p) < 0.4
        if fam.price_levels:  # apparel: never both levels and finite inventory
            limited &= in_season
        products["inventory"] = np.where(
            limited, np.round(prod_nat * jitter(kn["inventory_lo"], kn["inventory_hi"], n_p)),
            np.inf)
    if "partner_floor" in rules:
        # in most store regions (as in apparel), above what partners earn in the natural
        # plan and below the most they can earn (every cell offered their best set)
        p_nat = np.bincount(cr, weights=nat * partner_inc, minlength=n_r)
        best, _ = _best_sets(ci, ki, share, eff_market, partner_inc, len(cells))
        pmax = np.bincount(r_i, weights=best, minlength=n_r)
        use = has_stores & ((role == 0) if mixed else (rng.random(n_r) < 0.7))
        floor = np.where(use, np.minimum(p_nat * jitter(kn["floor_lo"], kn["floor_hi"], n_r),
                                         0.95 * pmax), 0.0)
        # some floors out of the plan's easy reach: there paying commission may be cheaper
        if kn["far_floor"] > 0:  # (no draw otherwise: the other families stay as they were)
            far = use & (rng.random(n_r) < kn["far_floor"])
            floor = np.where(far, np.maximum(floor, 0.9 * pmax), floor)
        regions["partner_profit_floor"] = np.round(floor, -1)
        com = rules.get("commission")
        if isinstance(com, dict) and "policy_cost" not in com and use.any():
            # switching commission on costs a share of a floor region's partner income
            # (a tenth; apparel 2 %): worth it only where the floor is far out of reach
            com["policy_cost"] = float(np.round(kn["policy_cost"] * np.median(p_nat[use]),
                                                -1))
    if "dealer_min_volume" in rules:
        vmin = np.minimum(kn["dealer_min"] * jitter(0.9, 1.1, n_r) * by_rk[:, 2],
                          0.9 * np.bincount(cr, weights=market[ci] * share * ramp_c[ci]
                                            * (ki == 2), minlength=n_r))
        regions["dealer_min_volume"] = only(3, np.round(vmin, 0), 0.0)
    if "service_level" in rules:
        reg_market = np.bincount(r_i, weights=market, minlength=n_r)
        vol = by_rk.sum(1)
        regions["service_level"] = only(1, np.round(
            kn["service"] * jitter(0.95, 1.05, n_r) * vol / reg_market, 3), 0.0)
    if fam.price_levels:
        tables["price_levels"] = _price_levels(products, rng, apparel)
    settings["rules"] = rules
    if not has_pair.all():  # cells no channel reaches (the new brand offline, say)
        tables["cells"] = cells[has_pair].reset_index(drop=True)
    return tables, settings


def _best_sets(cell: np.ndarray, k: np.ndarray, share: np.ndarray, market: np.ndarray,
               value: np.ndarray, n_cells: int, cap: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the most ``value`` (per unit of each pair) any set of at most ``cap``
    eligible channels earns under the logit demand (member odds ``s / (1 - s)``), and
    per pair its demand in that best set (0 if not a member)."""
    from itertools import combinations

    n_k = len(CHANNEL_IDS)
    a = np.zeros((n_k, n_cells))  # channel-major: each channel's column is contiguous
    av = np.zeros((n_k, n_cells))
    a[k, cell] = share / (1.0 - share)
    av[k, cell] = a[k, cell] * value
    subsets = [list(c) for size in range(1, cap + 1) for c in combinations(range(n_k), size)]
    best = np.zeros(n_cells)
    pick = np.full(n_cells, -1, np.int64)
    for i, cols in enumerate(subsets):
        sa = a[cols[0]].copy()
        sav = av[cols[0]].copy()
        ok = a[cols[0]] > 0
        for c in cols[1:]:
            sa += a[c]
            sav += av[c]
            ok &= a[c] > 0
        val = market * sav / (1.0 + sa)
        better = ok & (val > best)
        best[better] = val[better]
        pick[better] = i
    member = np.zeros((len(subsets) + 1, n_k), bool)  # the last row: no set
    for i, cols in enumerate(subsets):
        member[i, cols] = True
    in_set = member[pick, :][np.arange(n_cells), :] if n_cells else member[:0]
    a_in = np.where(in_set.T, a, 0.0)
    dem = market * a_in / (1.0 + a_in.sum(0))
    return best, dem[k, cell]


def _price_levels(products: pd.DataFrame, rng: np.random.Generator,
                  apparel: bool) -> pd.DataFrame:
    """Markdown levels on online and store: most out-of-season goods (written-down
    stock, so a markdown's extra customers pay), a few in-season ones."""
    n_p = len(products)
    in_season = products["in_season"].to_numpy(bool)
    finite = np.isfinite(products["inventory"].to_numpy(float)) if "inventory" in products \
        else np.zeros(n_p, bool)
    sel = np.where(in_season, rng.random(n_p) < 0.15, rng.random(n_p) < 0.7) & ~finite
    if not sel.any():  # tiny instances: at least one product with markdown levels
        sel[np.flatnonzero(~finite & ~in_season)[:1]] = True
    pi = np.flatnonzero(sel)
    ref = products["ref_price"].to_numpy()[pi]
    levels = (("full", 1.0, 1.0), ("promo", 0.85, 2.0)) if apparel else \
        (("full", 1.0, 1.0), ("promo", 0.85, 2.2), ("clear", 0.7, 3.5))
    rows = []
    for ch in ("online", "store"):
        for lvl, f, m in levels:
            mult = m if m == 1.0 else np.round(m * rng.uniform(0.85, 1.15, len(pi)), 2)
            rows.append(pd.DataFrame({"product": products["id"].to_numpy()[pi],
                                      "channel": ch, "level": lvl,
                                      "price": np.round(ref * f, 2),
                                      "demand_multiplier": mult}))
    return pd.concat(rows, ignore_index=True)


Generator = Callable[[str, int, int], tuple[dict[str, pd.DataFrame], dict[str, Any]]]
SIZES = (1_000, 10_000, 100_000, 1_000_000)
