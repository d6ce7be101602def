"""Generate the shipped scenario instances (``python instances/generate.py``).

Writes, next to this file, one folder per instance::

    apparel/       sportswear brand: product, brand, order and O2O segmentation
    electronics/   electronics chain: O2O with store labour, dealers for large orders
    regional/      regional grocer: region segmentation with an overlap budget

Each folder holds ``<name>.yaml`` and one CSV per table (``<name>.<table>.csv``),
written through :func:`channel_opt.scenario.save_scenario` from a validated
:class:`~channel_opt.scenario.Scenario`. ``apparel`` is also written as one workbook
(``apparel/apparel.xlsx``).

The generator is seeded and vectorized: running it twice writes the same bytes
(``save_scenario`` pins a workbook's zip timestamps and document dates).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import combinations, product
from pathlib import Path

import numpy as np
import pandas as pd

from channel_opt.scenario import Scenario, load_scenario, save_scenario
from channel_opt.scenario.settings import Stochastic

HERE = Path(__file__).resolve().parent
SEEDS = {"apparel": 20240611, "electronics": 20240612, "regional": 20240613,
         "apparel_stochastic": 20240611}  # the apparel tables, with demand scenarios


# ---------------------------------------------------------------- helpers


def _logistic(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


def _round_price(x: np.ndarray | pd.Series) -> np.ndarray:
    """Retail price points: x.99 for prices below 100, x9.99 / x4.99 above."""
    x = np.asarray(x, float)
    small = np.floor(x) + 0.99
    big = np.round(x / 5.0) * 5.0 - 0.01
    return np.where(x < 100, small, big).round(2)


def _pairs(segment: np.ndarray, channels: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Every (cell, channel) pair a cell's segment lists: cell positions and channel ids."""
    cell_parts, ch_parts = [], []
    for seg, chans in channels.items():
        idx = np.flatnonzero(segment == seg)
        cell_parts.append(np.tile(idx, len(chans)))
        ch_parts.append(np.repeat(np.array(chans, dtype=object), len(idx)))
    cell = np.concatenate(cell_parts)
    order = np.argsort(cell, kind="stable")
    return cell[order], np.concatenate(ch_parts)[order]


def _grid(n_p: int, n_r: int) -> tuple[np.ndarray, np.ndarray]:
    """All (product, region) positions, product-major."""
    return np.repeat(np.arange(n_p), n_r), np.tile(np.arange(n_r), n_p)


def _segment_channels(segments: pd.DataFrame) -> dict[str, list[str]]:
    return dict(zip(segments["id"], segments["channels"].str.split(";"), strict=True))


def _best_set_value(cell: np.ndarray, k: np.ndarray, share: np.ndarray, value: np.ndarray,
                    mult: np.ndarray, market: np.ndarray, n_k: int, cap: int) -> np.ndarray:
    """Per cell, the most ``value`` any offer option (at most ``cap`` channels, one price
    level each) earns.

    ``value[i, l]`` is per unit of (cell, channel) pair ``i`` at its level ``l`` and
    ``mult[i, l]`` that level's demand multiplier (pad a single level by repeating it);
    demand is the MNL demand of the option, a level multiplying its channel's odds
    (SPEC section 4). Fixed costs and capacities are ignored, so this bounds what the
    model can reach, e.g. the partners' income of a region without commission.
    """
    n = len(market)
    n_l = value.shape[1]
    odds, val = np.zeros((n, n_k, n_l)), np.zeros((n, n_k, n_l))
    elig = np.zeros((n, n_k), bool)
    odds[cell, k] = (share / (1.0 - share))[:, None] * mult
    val[cell, k] = value
    elig[cell, k] = True
    best = np.zeros(n)
    for size in range(1, cap + 1):
        for sub in combinations(range(n_k), size):
            s = list(sub)
            for lv in product(range(n_l), repeat=size):
                o = odds[:, s, list(lv)]
                v = (val[:, s, list(lv)] * o).sum(1) / (1.0 + o.sum(1)) * market
                best = np.where(elig[:, s].all(1), np.maximum(best, v), best)
    return best


# ---------------------------------------------------------------- apparel

APPAREL_CITIES = [  # id, population weight (metro area, millions), metro
    ("berlin", 3.7, True), ("hamburg", 1.9, True), ("munich", 1.5, True),
    ("cologne", 1.1, True), ("frankfurt", 0.77, True), ("stuttgart", 0.63, True),
    ("dusseldorf", 0.62, False), ("leipzig", 0.61, False), ("dortmund", 0.59, False),
    ("essen", 0.58, False), ("bremen", 0.57, False), ("dresden", 0.56, False),
    ("hanover", 0.54, False), ("nuremberg", 0.52, False), ("duisburg", 0.50, False),
    ("bielefeld", 0.33, False),
]
APPAREL_RURAL = [("rural_north", 1.2), ("rural_east", 1.4), ("rural_south", 1.6),
                 ("rural_west", 1.1)]

# brand, category code, n products, price range, team sport (large orders), store pull
APPAREL_CATS = [
    ("stride", "RUN", 24, (89, 179), False, 0.2),
    ("stride", "FTB", 20, (69, 249), True, 0.1),
    ("stride", "TRN", 24, (29, 79), True, 0.0),
    ("stride", "OUT", 16, (119, 259), False, 0.3),
    ("stride", "ACC", 12, (15, 45), False, -0.2),
    ("urbanline", "SNK", 24, (69, 139), False, 0.3),
    ("urbanline", "TEE", 18, (25, 45), False, -0.1),
    ("urbanline", "HOD", 18, (55, 95), False, 0.0),
    ("urbanline", "JKT", 14, (89, 179), False, 0.2),
    ("nuvo", "TEE", 10, (22, 35), False, 0.0),
    ("nuvo", "LEG", 10, (35, 59), False, 0.0),
    ("nuvo", "SNK", 10, (59, 99), False, 0.0),
]
BRAND_PREFIX = {"stride": "STR", "urbanline": "URB", "nuvo": "NUV"}
STORE_CHANNELS = ["store", "bopis", "ship_from_store"]


def _product_ids(rep: pd.DataFrame) -> pd.Series:
    num = rep.groupby(["brand", "cat"]).cumcount().to_numpy() + 1
    return (rep["brand"].map(BRAND_PREFIX) + "-" + rep["cat"] + "-"
            + pd.Series(num, index=rep.index).map("{:03d}".format))


def apparel(rng: np.random.Generator, *, metro_range: float = 0.35,
            city_range: float = 0.15, floor_regions: int = 5,
            floor_frac: tuple[float, float] = (0.4, 0.6),
            inv_frac: tuple[float, float] = (0.2, 0.6), limited_share: float = 0.3,
            markdown_share: float = 0.6,
            limited_frac: tuple[float, float] = (0.15, 0.35), market_scale: float = 380.0,
            overlap_cost: float = 600.0) -> Scenario:
    """A sportswear brand: two brands plus a new online-only e-brand, 20 regions.

    Stores carry the full range only in part: a product is in the store assortment of
    a metro region with probability ``metro_range`` and of another city with
    ``city_range`` (tail goods half as often). Store-side channels (store, BOPIS,
    ship-from-store) reach a cell only where the product is carried.
    """
    channels = pd.DataFrame([
        # online: fulfilment 6.50 + payment 1.40 + traffic acquisition 6.10 per unit
        dict(id="online", kind="online", variable_cost=14.0, return_rate=0.25,
             return_cost=9.5, dc_use=1.0, listing_cost=250.0),
        dict(id="store", kind="offline", fee_share=0.42, return_rate=0.06, return_cost=3.0,
             requires_store=True, uses_store_stock=True, listing_cost=120.0),
        dict(id="dealer", kind="offline", variable_cost=2.5, fee_share=0.35,
             return_rate=0.03, return_cost=4.0, dealer_use=1.0, open_cost=4000.0,
             listing_cost=400.0),
        dict(id="bopis", kind="o2o", variable_cost=3.0, fee_per_unit=4.5, return_rate=0.12,
             return_cost=4.0, labour_hours=0.15, return_labour_hours=0.10,
             requires_store=True, uses_store_stock=True, open_cost=6000.0),
        dict(id="ship_from_store", kind="o2o", variable_cost=7.5, fee_per_unit=6.0,
             return_rate=0.20, return_cost=8.0, labour_hours=0.30, return_labour_hours=0.10,
             requires_store=True, uses_store_stock=True, open_cost=9000.0),
    ])
    brands = pd.DataFrame([
        dict(id="stride", new=False), dict(id="urbanline", new=False),
        dict(id="nuvo", new=True, launch_cost=90000.0, ramp_up=0.55, allowed_kinds="online"),
    ])

    # products
    cat = pd.DataFrame(
        [(b, c, n, lo, hi, t, pl) for b, c, n, (lo, hi), t, pl in APPAREL_CATS],
        columns=["brand", "cat", "n", "plo", "phi", "team", "pull"])
    rep = cat.loc[cat.index.repeat(cat["n"])].reset_index(drop=True)
    n_p = len(rep)
    ref = _round_price(rng.uniform(rep["plo"], rep["phi"]))
    new_brand = (rep["brand"] == "nuvo").to_numpy()
    in_season = new_brand | (rng.random(n_p) < 0.68)
    cost_share = np.where(in_season, rng.uniform(0.36, 0.46, n_p),  # cost of goods
                          rng.uniform(0.22, 0.30, n_p))  # written-down tail stock
    products = pd.DataFrame({"id": _product_ids(rep), "brand": rep["brand"],
                             "unit_cost": (ref * cost_share).round(2), "ref_price": ref,
                             "in_season": in_season})

    # regions
    cities = pd.DataFrame(APPAREL_CITIES, columns=["id", "pop", "metro"])
    rural = pd.DataFrame(APPAREL_RURAL, columns=["id", "pop"]).assign(metro=False)
    regions = pd.concat([cities.assign(has_stores=True), rural.assign(has_stores=False)],
                        ignore_index=True)
    n_r = len(regions)
    segments = pd.DataFrame([
        dict(id="small", channels="online;store;bopis;ship_from_store"),
        dict(id="medium", channels="online;store;dealer"),
        dict(id="large", channels="store;dealer"),
    ])

    # store assortment (product x region): best-sellers more often, tail goods less
    # often, the e-brand never
    popularity = rng.lognormal(0.0, 0.45, n_p)
    pop_rank = popularity.argsort().argsort() / (n_p - 1.0)
    metro, stores = regions["metro"].to_numpy(), regions["has_stores"].to_numpy()
    p_range = np.where(metro, metro_range, np.where(stores, city_range, 0.0))
    p_carry = (p_range[None, :] * (0.3 + 1.4 * pop_rank)[:, None]
               * np.where(in_season, 1.0, 0.5)[:, None])
    carried = (rng.random((n_p, n_r)) < p_carry) & ~new_brand[:, None]

    # cells: small orders everywhere; medium for team categories and some others;
    # large (club and team orders) for team categories of the existing brands
    pp, rr = _grid(n_p, n_r)
    team = rep["team"].to_numpy()[pp] & ~new_brand[pp]
    med = team
    lrg = team & (rng.random(len(pp)) < 0.5)
    cp = np.concatenate([pp, pp[med], pp[lrg]])
    cr = np.concatenate([rr, rr[med], rr[lrg]])
    cs = np.repeat(np.array(["small", "medium", "large"]), [len(pp), med.sum(), lrg.sum()])
    seg_units = pd.Series({"small": 1.0, "medium": 0.35, "large": 0.25}).reindex(cs).to_numpy()
    price_eff = (80.0 / ref[cp]) ** 0.6
    season_eff = np.where(in_season[cp], 1.0, 0.45)
    market = (market_scale * regions["pop"].to_numpy()[cr] * seg_units * price_eff * season_eff
              * popularity[cp] * rng.lognormal(0.0, 0.3, len(cp)))
    cells = pd.DataFrame({"product": products["id"].to_numpy()[cp],
                          "region": regions["id"].to_numpy()[cr], "segment": cs,
                          "market_size": np.maximum(market, 3.0).round(0)})

    # eligible (cell, channel) pairs and "alone" shares
    e, ch = _pairs(cs, _segment_channels(segments))
    ep, er, seg = cp[e], cr[e], cs[e]
    at_store = np.isin(ch, STORE_CHANNELS)
    ok = ~at_store | carried[ep, er]
    ok &= ~(new_brand[ep] & (ch != "online"))  # online-only brand
    ok &= (ch != "ship_from_store") | metro[er]  # ship-from-store only in metro regions
    ok &= (ch != "bopis") | (rng.random(len(e)) < 0.85)  # not every store collects
    e, ch, ep, er, seg = e[ok], ch[ok], ep[ok], er[ok], seg[ok]
    base = pd.Series({"online": -0.85, "store": -0.35, "dealer": -1.1, "bopis": -2.2,
                      "ship_from_store": -2.4})
    oos = ~in_season[ep]
    pull = rep["pull"].to_numpy()[ep]
    logit = base.reindex(ch).to_numpy(dtype=float, copy=True)
    logit += np.where(ch == "store", pull, 0.0) - np.where(ch == "online", 0.5 * pull, 0.0)
    logit += np.where(oos, np.select([ch == "online", ch == "store"], [0.55, -0.6], -0.2),
                      0.0)
    logit += np.select([(seg == "medium") & (ch == "dealer"),
                        (seg == "medium") & (ch == "online"),
                        (seg == "large") & (ch == "dealer"),
                        (seg == "large") & (ch == "store")], [0.5, -0.3, 1.1, -0.5], 0.0)
    logit += np.where(metro[er] & (ch == "online"), 0.15, 0.0)
    logit += np.where(~stores[er] & (ch == "online"), 0.35, 0.0)
    logit += np.where(new_brand[ep], 0.3, 0.0)
    region_eff = rng.normal(0.0, 0.25, (n_r, len(base)))
    logit += region_eff[er, base.index.get_indexer(ch)]
    logit += rng.normal(0.0, 0.3, len(e))
    shares = pd.DataFrame({"product": cells["product"].to_numpy()[e],
                           "region": cells["region"].to_numpy()[e], "segment": seg,
                           "channel": ch,
                           "share": np.clip(_logistic(logit), 0.01, 0.9).round(4)})

    # markdown (full / promo price levels, online and in stores) for most tail goods and
    # some in-season products; finite inventory for the other tail goods (stock to
    # clear at full price) and for limited editions (in-season sneakers and running
    # shoes). No product has both: see instances/README.md.
    tot = np.bincount(cp, weights=cells["market_size"].to_numpy(), minlength=n_p)
    limited = (in_season & ~new_brand & rep["cat"].isin(["RUN", "SNK"]).to_numpy()
               & (rng.random(n_p) < limited_share))
    u = rng.random(n_p)
    promo_p = np.where(in_season, u < 0.2, u < markdown_share) & ~limited
    inventory = np.where(limited, tot * rng.uniform(*limited_frac, n_p), np.inf)
    inventory = np.where(~in_season & ~promo_p, tot * rng.uniform(*inv_frac, n_p), inventory)
    products["inventory"] = np.where(np.isfinite(inventory), np.round(inventory, -1), np.inf)

    # price levels
    lv = products.loc[promo_p, ["id", "ref_price", "in_season"]].merge(
        pd.DataFrame({"channel": ["online", "store"]}), how="cross")
    lv = lv[~(lv["id"].str.startswith("NUV") & (lv["channel"] == "store"))]
    disc = np.where(lv["in_season"], 0.85, 0.70)
    mult = np.where(lv["in_season"], rng.uniform(1.35, 1.75, len(lv)),
                    rng.uniform(1.8, 2.4, len(lv))).round(2)
    full = lv.assign(level="full", price=lv["ref_price"], demand_multiplier=1.0)
    promo = lv.assign(level="promo", price=_round_price(lv["ref_price"] * disc),
                      demand_multiplier=mult)
    price_levels = pd.concat([full, promo], ignore_index=True).rename(
        columns={"id": "product"})[["product", "channel", "level", "price",
                                    "demand_multiplier"]]

    # partner floors in some store regions, as a share of the most the region's partners
    # could earn (every cell offered the partners' best channel set at the partners'
    # best price level)
    chans = channels["id"].tolist()
    fee_share = channels["fee_share"].fillna(0.0).to_numpy()
    fee_unit = channels["fee_per_unit"].fillna(0.0).to_numpy()
    k_of = pd.Index(chans).get_indexer(ch)
    # partner income per unit at each price level (two per pair: the reference price
    # twice where the pair has no levels) and the levels' multipliers
    per_level = price_levels.assign(
        k=pd.Index(chans).get_indexer(price_levels["channel"]))
    per_level["inc"] = (fee_share[per_level["k"]] * per_level["price"]
                        + fee_unit[per_level["k"]])
    key = pd.MultiIndex.from_arrays([products["id"].to_numpy()[ep], ch])
    inc_unit = np.repeat((fee_share[k_of] * ref[ep] + fee_unit[k_of])[:, None], 2, axis=1)
    mult_unit = np.ones((len(ep), 2))
    for j, name in enumerate(("full", "promo")):
        lvl = per_level[per_level["level"] == name].set_index(["product", "channel"])
        inc = lvl["inc"].reindex(key).to_numpy()
        mul = lvl["demand_multiplier"].reindex(key).to_numpy()
        has = ~np.isnan(inc)
        inc_unit[has, j] = inc[has]
        mult_unit[has, j] = mul[has]
    best = _best_set_value(e, k_of, shares["share"].to_numpy(), inc_unit, mult_unit,
                           cells["market_size"].to_numpy(), len(chans), 3)
    partner_max = np.bincount(cr, weights=best, minlength=n_r)
    pick = rng.permutation(np.flatnonzero(stores))[:floor_regions]
    frac = np.zeros(n_r)
    frac[pick] = rng.uniform(*floor_frac, floor_regions)
    regions["partner_profit_floor"] = np.ceil(partner_max * frac / 1000.0) * 1000.0
    regions = regions.drop(columns=["pop", "metro"])
    cells = cells[np.bincount(e, minlength=len(cells)) > 0]  # drop cells no channel reaches

    settings = {
        "demand_model": "mnl",
        "max_channels_per_cell": 3,
        "currency": "EUR",
        "rules": {
            "price_parity": {"band": 0.15},
            "overlap": {"cost": overlap_cost},
            "partner_floor": True,
            "commission": {"share": 0.04, "decision": True, "policy_cost": 3000.0},
            "inventory": True,
        },
        "channel_rules": [
            {"action": "forbid", "channel": "dealer", "season": "out"},
        ],
    }
    return Scenario.from_frames(
        {"channels": channels, "brands": brands, "products": products, "regions": regions,
         "segments": segments, "cells": cells, "shares": shares,
         "price_levels": price_levels},
        settings, name="apparel",
        description=("Sportswear brand with two brands and a new online-only e-brand; "
                     "20 German regions (4 without stores); small, medium and large "
                     "orders; online, store, dealer, BOPIS and ship-from-store; units and "
                     "EUR per quarter."))


# ---------------------------------------------------------------- electronics

# category, n products, price range, cost share range, B2B (medium/large orders),
# O2O affinity (bulky goods are picked up or delivered from stores)
ELECTRONICS_CATS = [
    ("TV", 16, (349, 1999), (0.76, 0.84), False, 0.5),
    ("LAP", 18, (449, 1899), (0.80, 0.87), True, 0.2),
    ("PHN", 16, (179, 1199), (0.80, 0.88), True, 0.0),
    ("TAB", 10, (199, 899), (0.78, 0.86), True, 0.0),
    ("AUD", 18, (39, 399), (0.60, 0.72), False, -0.2),
    ("APP", 14, (49, 349), (0.66, 0.76), False, 0.3),
    ("GAM", 8, (299, 599), (0.84, 0.90), False, 0.1),
    ("MON", 10, (129, 699), (0.74, 0.84), True, 0.1),
    ("ACC", 14, (9, 59), (0.45, 0.60), True, -0.4),
]
ELECTRONICS_BRANDS = ["kiro", "lumen", "arcwave", "norda"]
ELECTRONICS_AREAS = [  # area, n regions, population weight range, urban share
    ("north", 4, (0.8, 2.2), 0.5), ("east", 4, (0.5, 1.6), 0.25),
    ("south", 5, (0.9, 2.6), 0.6), ("west", 5, (1.0, 2.8), 0.6),
]


def electronics(rng: np.random.Generator, *, labour_frac: tuple[float, float] = (0.35, 0.7),
                labour_regions: int = 6, dc_frac: float = 0.55,
                min_volume_regions: int = 4, carry: float = 0.5) -> Scenario:
    """A consumer-electronics chain: O2O with store labour, dealers for large orders.

    The chain sells four manufacturer brands through its web shop, its stores, BOPIS
    and ship-from-store, and serves business customers (medium orders) and large
    B2B / public tenders (large orders, reserved for dealers) through regional
    dealers with limited capacity and a minimum volume.
    """
    channels = pd.DataFrame([
        dict(id="online", kind="online", variable_cost=11.0, return_rate=0.09,
             return_cost=28.0, dc_use=1.0, listing_cost=150.0),
        dict(id="store", kind="offline", variable_cost=3.5, fee_share=0.05, return_rate=0.04,
             return_cost=15.0, requires_store=True, uses_store_stock=True),
        dict(id="dealer", kind="offline", variable_cost=4.0, fee_share=0.07,
             return_rate=0.02, return_cost=20.0, dealer_use=1.0, open_cost=12000.0,
             listing_cost=300.0),
        dict(id="bopis", kind="o2o", variable_cost=2.0, fee_per_unit=2.5, return_rate=0.05,
             return_cost=12.0, labour_hours=0.30, return_labour_hours=0.40,
             requires_store=True, uses_store_stock=True, open_cost=8000.0),
        dict(id="ship_from_store", kind="o2o", variable_cost=9.0, fee_per_unit=4.0,
             return_rate=0.08, return_cost=22.0, labour_hours=0.60, return_labour_hours=0.40,
             requires_store=True, uses_store_stock=True, open_cost=6000.0),
    ])
    brands = pd.DataFrame({"id": ELECTRONICS_BRANDS})

    cat = pd.DataFrame([(c, n, lo, hi, clo, chi, b2b, o2o)
                        for c, n, (lo, hi), (clo, chi), b2b, o2o in ELECTRONICS_CATS],
                       columns=["cat", "n", "plo", "phi", "clo", "chi", "b2b", "o2o"])
    rep = cat.loc[cat.index.repeat(cat["n"])].reset_index(drop=True)
    n_p = len(rep)
    brand = rng.choice(ELECTRONICS_BRANDS, n_p)
    rep["brand"] = brand
    num = rep.groupby("cat").cumcount().to_numpy() + 1
    pid = rep["cat"] + "-" + pd.Series(brand).str[:3].str.upper() + "-" + \
        pd.Series(num).map("{:03d}".format)
    ref = _round_price(rng.uniform(rep["plo"], rep["phi"]))
    in_season = rng.random(n_p) < 0.85  # current models; the rest are run-outs
    cost = ref * rng.uniform(rep["clo"], rep["chi"]) * np.where(in_season, 1.0, 0.9)
    products = pd.DataFrame({"id": pid, "brand": brand, "unit_cost": cost.round(2),
                             "ref_price": ref, "in_season": in_season})
    popularity = rng.lognormal(0.0, 0.5, n_p)

    parts = []
    for area, n, (lo, hi), urban_share in ELECTRONICS_AREAS:
        parts.append(pd.DataFrame({"id": [f"{area}_{i:02d}" for i in range(1, n + 1)],
                                   "pop": rng.uniform(lo, hi, n).round(2),
                                   "urban": rng.random(n) < urban_share}))
    regions = pd.concat(parts, ignore_index=True)
    n_r = len(regions)
    regions["has_stores"] = True
    regions.loc[regions["id"].isin(["east_04", "north_04"]), "has_stores"] = False
    regions.loc[~regions["has_stores"], "urban"] = False
    segments = pd.DataFrame([
        dict(id="small", channels="online;store;bopis;ship_from_store"),
        dict(id="medium", channels="online;store;dealer"),
        dict(id="large", channels="online;store;dealer"),  # reserved for dealers (rules)
    ])

    # cells: consumers everywhere, business orders for B2B categories, large orders
    # (tenders, fleets) for B2B categories in part of the regions
    pp, rr = _grid(n_p, n_r)
    b2b = rep["b2b"].to_numpy()[pp]
    med = b2b & (rng.random(len(pp)) < 0.6)
    lrg = b2b & (rng.random(len(pp)) < 0.35)
    cp = np.concatenate([pp, pp[med], pp[lrg]])
    cr = np.concatenate([rr, rr[med], rr[lrg]])
    cs = np.repeat(np.array(["small", "medium", "large"]), [len(pp), med.sum(), lrg.sum()])
    seg_units = pd.Series({"small": 1.0, "medium": 0.3, "large": 0.2}).reindex(cs).to_numpy()
    market = (260.0 * regions["pop"].to_numpy()[cr] * seg_units
              * (300.0 / ref[cp]) ** 0.5 * popularity[cp]
              * np.where(in_season[cp], 1.0, 0.5) * rng.lognormal(0.0, 0.3, len(cp)))
    cells = pd.DataFrame({"product": products["id"].to_numpy()[cp],
                          "region": regions["id"].to_numpy()[cr], "segment": cs,
                          "market_size": np.maximum(market, 2.0).round(0)})

    # store assortment: the stores carry most current models, few run-outs
    stores, urban = regions["has_stores"].to_numpy(), regions["urban"].to_numpy()
    carried = (rng.random((n_p, n_r)) < np.where(in_season, carry, 0.1)[:, None]) \
        & stores[None, :]
    e, ch = _pairs(cs, _segment_channels(segments))
    ep, er, seg = cp[e], cr[e], cs[e]
    ok = ~np.isin(ch, STORE_CHANNELS) | carried[ep, er]
    ok &= (ch != "ship_from_store") | urban[er]
    ok &= (ch != "bopis") | (rng.random(len(e)) < 0.9)
    e, ch, ep, er, seg = e[ok], ch[ok], ep[ok], er[ok], seg[ok]
    base = pd.Series({"online": -0.6, "store": -0.5, "dealer": -0.9, "bopis": -1.8,
                      "ship_from_store": -2.1})
    o2o_aff = rep["o2o"].to_numpy()[ep]
    logit = base.reindex(ch).to_numpy(dtype=float, copy=True)
    logit += np.where(np.isin(ch, ["bopis", "ship_from_store"]), o2o_aff, 0.0)
    logit += np.where(ch == "online", -0.5 * o2o_aff, 0.0)
    logit += np.where(~in_season[ep] & (ch == "online"), 0.4, 0.0)
    logit += np.select([(seg == "medium") & (ch == "dealer"), (seg == "large"),
                        (seg == "medium") & (ch == "store")], [0.4, 0.9, -0.4], 0.0)
    logit += np.where(urban[er] & (ch == "online"), 0.2, 0.0)
    logit += rng.normal(0.0, 0.25, (n_r, len(base)))[er, base.index.get_indexer(ch)]
    logit += rng.normal(0.0, 0.3, len(e))
    share = np.clip(_logistic(logit), 0.01, 0.9).round(4)
    shares = pd.DataFrame({"product": cells["product"].to_numpy()[e],
                           "region": cells["region"].to_numpy()[e], "segment": seg,
                           "channel": ch, "share": share})
    alone = share * cells["market_size"].to_numpy()[e]  # units if offered alone

    # capacities, sized from what the channels would sell if offered alone
    def per_region(channel: str | list[str], weight: np.ndarray | float = 1.0) -> np.ndarray:
        m = np.isin(ch, channel)
        return np.bincount(er[m], weights=(alone * weight)[m], minlength=n_r)

    ch_tab = channels.set_index("id").fillna(0.0)
    hours = (ch_tab["labour_hours"] + ch_tab["return_rate"] * ch_tab["return_labour_hours"])
    o2o_hours = per_region(["bopis", "ship_from_store"], hours.reindex(ch).to_numpy())
    lab = np.full(n_r, np.inf)
    pick = rng.permutation(np.flatnonzero(stores))[:labour_regions]
    lab[pick] = (o2o_hours[pick] * rng.uniform(*labour_frac, labour_regions)).round(-1)
    regions["store_labour_hours"] = np.where(stores, np.where(np.isfinite(lab), lab,
                                             (o2o_hours * 1.5).round(-1)), 0.0)
    dealer_alone = per_region("dealer")
    regions["dealer_capacity"] = (dealer_alone * rng.uniform(0.45, 0.9, n_r)).round(-1)
    vmin = dealer_alone * rng.uniform(0.15, 0.35, n_r)
    tight = rng.permutation(n_r)[:min_volume_regions]  # dealers asking for a large volume
    vmin[tight] = dealer_alone[tight] * rng.uniform(0.75, 0.95, min_volume_regions)
    regions["dealer_min_volume"] = np.minimum(vmin, regions["dealer_capacity"]).round(-1)
    online_alone = per_region("online").sum()
    regions = regions.drop(columns=["pop", "urban"])

    settings = {
        "demand_model": "mnl",
        "max_channels_per_cell": 3,
        "currency": "EUR",
        "rules": {
            "reserved_segments": {"large": ["dealer"]},
            "store_labour": True,
            "dealer_capacity": True,
            "dealer_min_volume": True,
            "dc_capacity": float(np.round(online_alone * dc_frac, -3)),
        },
    }
    cells = cells[np.bincount(e, minlength=len(cells)) > 0]
    return Scenario.from_frames(
        {"channels": channels, "brands": brands, "products": products, "regions": regions,
         "segments": segments, "cells": cells, "shares": shares},
        settings, name="electronics",
        description=("Consumer-electronics chain: web shop, stores, BOPIS and "
                     "ship-from-store limited by store labour; business orders through "
                     "stores, web and dealers; large B2B orders reserved for dealers with "
                     "capacity and minimum volume; one distribution centre. 18 regions, "
                     "units and EUR per quarter."))


# ---------------------------------------------------------------- regional grocer

GROCER_TOWNS = [  # id, population (thousands), store network: strong / weak / none
    ("lueneburg", 77, "strong"), ("celle", 70, "strong"), ("wolfsburg", 125, "strong"),
    ("gifhorn", 42, "strong"), ("uelzen", 33, "strong"), ("stade", 47, "strong"),
    ("buxtehude", 40, "strong"), ("verden", 28, "strong"), ("nienburg", 31, "weak"),
    ("soltau", 22, "weak"), ("walsrode", 24, "weak"), ("rotenburg", 22, "weak"),
    ("zeven", 14, "weak"), ("luechow", 9, "weak"), ("dannenberg", 8, "weak"),
    ("munster", 15, "weak"), ("bad_bevensen", 9, "weak"), ("hitzacker", 5, "none"),
    ("wittingen", 11, "none"), ("bergen", 13, "none"), ("fassberg", 6, "none"),
    ("bispingen", 6, "none"), ("amt_neuhaus", 5, "none"), ("clenze", 5, "none"),
]
GROCER_CATS = [  # category, n products, price range, cost share range, weekly-shop pull
    ("DAI", 8, (0.89, 4.49), (0.72, 0.80), 0.2), ("FRS", 8, (0.99, 3.99), (0.62, 0.72), 0.4),
    ("BAK", 5, (0.69, 3.49), (0.55, 0.65), -0.3), ("FRZ", 6, (1.99, 6.99), (0.68, 0.76), 0.5),
    ("DRY", 9, (0.79, 4.99), (0.70, 0.78), 0.3), ("BEV", 7, (4.99, 16.99), (0.74, 0.82), 0.6),
    ("HOU", 5, (1.49, 8.99), (0.66, 0.74), 0.3), ("SNK", 6, (0.99, 3.49), (0.64, 0.72), -0.4),
]


def regional(rng: np.random.Generator, *, max_pairs_frac: float = 0.15) -> Scenario:
    """A regional grocer: online delivery where the store network is weak.

    24 towns of one region: 8 with a strong store network, 9 with a weak one and 7
    without stores. Home delivery has per-region start-up costs that grow with
    remoteness (``region_channels``); store delivery is allowed only in towns with a
    strong network. An overlap budget caps the (product, town) pairs sold both
    online and in stores.
    """
    channels = pd.DataFrame([
        dict(id="online", kind="online", variable_cost=0.35, return_rate=0.01,
             return_cost=2.0, dc_use=1.0, open_cost=20000.0, listing_cost=40.0),
        dict(id="store", kind="offline", variable_cost=0.12, requires_store=True,
             uses_store_stock=True),
        dict(id="bopis", kind="o2o", variable_cost=0.18, labour_hours=0.004,
             requires_store=True, uses_store_stock=True, open_cost=6000.0),
        dict(id="ship_from_store", kind="o2o", variable_cost=0.30, labour_hours=0.006,
             requires_store=True, uses_store_stock=True, open_cost=6000.0),
    ])
    brands = pd.DataFrame([dict(id="frischhof"), dict(id="branded")])

    cat = pd.DataFrame([(c, n, lo, hi, clo, chi, pull)
                        for c, n, (lo, hi), (clo, chi), pull in GROCER_CATS],
                       columns=["cat", "n", "plo", "phi", "clo", "chi", "pull"])
    rep = cat.loc[cat.index.repeat(cat["n"])].reset_index(drop=True)
    n_p = len(rep)
    own = rng.random(n_p) < 0.4
    num = rep.groupby("cat").cumcount().to_numpy() + 1
    pid = "GR-" + rep["cat"] + "-" + pd.Series(num).map("{:02d}".format)
    ref = (np.floor(rng.uniform(rep["plo"], rep["phi"]) * 10) / 10 + 0.09).round(2)
    ref = np.where(own, (ref * 0.8).round(1) - 0.01, ref).round(2)
    products = pd.DataFrame({"id": pid, "brand": np.where(own, "frischhof", "branded"),
                             "unit_cost": (ref * rng.uniform(rep["clo"], rep["chi"])).round(3),
                             "ref_price": ref})
    popularity = rng.lognormal(0.0, 0.5, n_p)

    towns = pd.DataFrame(GROCER_TOWNS, columns=["id", "pop", "network"])
    n_r = len(towns)
    net = towns["network"].to_numpy()
    regions = pd.DataFrame({"id": towns["id"], "has_stores": net != "none"})
    segments = pd.DataFrame([dict(id="weekly", channels="online;store;bopis;ship_from_store"),
                             dict(id="topup", channels="online;store")])

    # region_channels: home delivery start-up per town grows with remoteness; store
    # delivery only where the network is strong
    remote = np.where(net == "strong", 0.0, np.where(net == "weak", 0.5, 1.0))
    online_open = (8000.0 + 16000.0 * remote + 60.0 * towns["pop"].to_numpy()).round(-2)
    region_channels = pd.concat([
        pd.DataFrame({"region": towns["id"], "channel": "online", "allowed": True,
                      "open_cost": online_open}),
        pd.DataFrame({"region": towns["id"][net == "weak"], "channel": "ship_from_store",
                      "allowed": False}),
    ], ignore_index=True)

    pp, rr = _grid(n_p, n_r)
    cp, cr = np.concatenate([pp, pp]), np.concatenate([rr, rr])
    cs = np.repeat(np.array(["weekly", "topup"]), len(pp))
    market = (towns["pop"].to_numpy()[cr] * 600.0 * popularity[cp] * (2.5 / ref[cp]) ** 0.7
              * np.where(cs == "weekly", 1.0, 0.6) * rng.lognormal(0.0, 0.25, len(cp)))
    cells = pd.DataFrame({"product": pid.to_numpy()[cp], "region": towns["id"].to_numpy()[cr],
                          "segment": cs, "market_size": market.round(-1)})

    e, ch = _pairs(cs, _segment_channels(segments))
    ep, er, seg = cp[e], cr[e], cs[e]
    ok = (net[er] != "none") | ~np.isin(ch, STORE_CHANNELS)
    ok &= (ch != "ship_from_store") | (net[er] == "strong")
    e, ch, ep, er, seg = e[ok], ch[ok], ep[ok], er[ok], seg[ok]
    base = pd.Series({"online": -1.3, "store": 0.3, "bopis": -2.2, "ship_from_store": -1.6})
    logit = base.reindex(ch).to_numpy(dtype=float, copy=True)
    logit += np.where(ch == "store", np.where(net[er] == "strong", 0.6, -0.9), 0.0)
    logit += np.where(ch == "online", 0.9 * remote[er], 0.0)
    pull = rep["pull"].to_numpy()[ep]
    logit += np.where((seg == "weekly") & (ch != "store"), pull, 0.0)
    logit += np.where((seg == "topup") & (ch == "online"), -0.8, 0.0)
    logit += rng.normal(0.0, 0.2, (n_r, len(base)))[er, base.index.get_indexer(ch)]
    logit += rng.normal(0.0, 0.25, len(e))
    shares = pd.DataFrame({"product": cells["product"].to_numpy()[e],
                           "region": cells["region"].to_numpy()[e], "segment": seg,
                           "channel": ch, "share": np.clip(_logistic(logit), 0.01, 0.9)
                           .round(4)})

    # overlap budget: a share of the (product, town) pairs where both kinds can sell
    both = pd.DataFrame({"p": ep, "r": er, "online": ch == "online",
                         "offline": ch == "store"}).groupby(["p", "r"]).any()
    n_both = int((both["online"] & both["offline"]).sum())
    settings = {
        "demand_model": "mnl",
        "max_channels_per_cell": 2,
        "currency": "EUR",
        "rules": {"overlap": {"cost": 150.0, "max_pairs": float(round(n_both * max_pairs_frac))}},
    }
    return Scenario.from_frames(
        {"channels": channels, "brands": brands, "products": products, "regions": regions,
         "segments": segments, "cells": cells, "shares": shares,
         "region_channels": region_channels},
        settings, name="regional",
        description=("Regional grocer in 24 towns (8 with a strong store network, 9 weak, "
                     "7 without stores): home delivery with per-town start-up costs, "
                     "stores, click & collect and store delivery; an overlap budget on "
                     "(product, town) pairs sold online and in stores. Units and EUR per "
                     "quarter."))


def apparel_stochastic(rng: np.random.Generator) -> Scenario:
    """``apparel`` (same seed, same tables) with 10 demand scenarios: the market
    (0.8 / 1.0 / 1.2) times online adoption (alone-shares of online-kind channels x
    0.8 / 1.0 / 1.3), probabilities 1/4, 1/2, 1/4 each (x 0.95), and a 5 % shock: the
    market at 0.65 while customers move online (x 1.3).
    """
    base = apparel(rng)
    rows, factors = [], []
    for m_id, m, pm in (("recession", 0.8, 0.25), ("normal", 1.0, 0.5), ("boom", 1.2, 0.25)):
        for o_id, o, po in (("slow", 0.8, 0.25), ("base", 1.0, 0.5), ("fast", 1.3, 0.25)):
            rows.append({"id": f"{m_id}_{o_id}", "probability": 0.95 * pm * po,
                         "market_multiplier": m})
            if o != 1.0:
                factors.append({"scenario": f"{m_id}_{o_id}", "applies_to": "online",
                                "factor": o})
    rows.append({"id": "shock", "probability": 0.05, "market_multiplier": 0.65})
    factors.append({"scenario": "shock", "applies_to": "online", "factor": 1.3})
    tables = {k: base.tables[k] for k in base.tables}
    tables["demand_scenarios"] = pd.DataFrame(rows)
    tables["demand_factors"] = pd.DataFrame(factors)
    # a partner floor missed in a bad season is paid back at twice the shortfall
    settings = base.settings.model_copy(update={"stochastic": Stochastic(shortfall_cost=2.0)})
    return Scenario.from_frames(tables, settings, name="apparel_stochastic",
                                description=(base.description + " Two-stage: 10 demand "
                                             "scenarios of market size and online adoption "
                                             "(see instances/README.md)."))


# ---------------------------------------------------------------- writing


def write(name: str, build: Callable[[np.random.Generator], Scenario],
          xlsx: bool = False) -> tuple[Scenario, list[str]]:
    """Build one instance, write it to ``instances/<name>/`` and read it back.

    Returns the scenario and the round-trip problems found (hash mismatches).
    """
    scen = build(np.random.default_rng(SEEDS[name]))
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    for old in folder.glob(f"{name}.*.csv"):
        old.unlink()
    yml = save_scenario(scen, folder / f"{name}.yaml")
    problems = []
    back = load_scenario(yml)
    if back.hash != scen.hash:
        problems.append(f"{name}: YAML/CSV loads to another hash than the generated scenario")
    if xlsx:
        wb = save_scenario(scen, folder / f"{name}.xlsx")  # dates pinned: same bytes
        if load_scenario(wb).hash != back.hash:
            problems.append(f"{name}: workbook and YAML/CSV load to different hashes")
    for f in folder.glob(f"{name}.*"):
        f.chmod(0o644)  # save_scenario writes through mkstemp (mode 0600)
    return scen, problems


INSTANCES: dict[str, tuple[Callable[[np.random.Generator], Scenario], bool]] = {
    "apparel": (apparel, True),
    "electronics": (electronics, False),
    "regional": (regional, False),
    "apparel_stochastic": (apparel_stochastic, False),
}


def main(argv: list[str] | None = None) -> int:
    """Write all instances, or those named on the command line; 1 if a round trip fails."""
    names = (argv if argv is not None else sys.argv[1:]) or list(INSTANCES)
    failed = []
    for name in names:
        build, xlsx = INSTANCES[name]
        scen, problems = write(name, build, xlsx)
        failed += problems
        summ = scen.summary()
        print(f"{name}: " + ", ".join(f"{k}={summ[k]}" for k in
                                      ("products", "regions", "segments", "channels",
                                       "cells", "shares", "price_levels")))
    for p in failed:
        print(f"error: {p}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
