"""Random tiny scenarios for the brute-force property tests (hypothesis strategies),
shared by the MIP, decomposition and two-stage tests: each draws tables and settings
with random subsets of the rule families switched on, small enough for
``tests/bruteforce.py`` to enumerate every design.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import bruteforce
from hypothesis import HealthCheck, assume
from hypothesis import strategies as st

from channel_opt.scenario import Scenario, ScenarioError, Settings

DESIGN_LIMIT = 6000  # offer designs x level/policy choices the brute force enumerates
COUPLED_LIMIT = 1500  # the same when a rule couples cells (one sales LP per design)

# channel_opt.model.data.build_data raises IndexError when region_channels has rows but
# none overrides open_cost (see test_region_channels_ban_only_regression below). Until
# that is fixed, banned rows carry the channel's own open_cost (no semantic change) so
# the property test keeps exploring everything else. Set to False once fixed.
AVOID_REGION_CHANNELS_BUG = False

CHANNEL_POOL: dict[str, dict[str, Any]] = {
    "online": {"kind": "online", "dc_use": 1.0},
    "store": {"kind": "offline", "uses_store_stock": True, "requires_store": True},
    "dealer": {"kind": "offline", "dealer_use": 1.0},
    "bopis": {"kind": "o2o", "uses_store_stock": True, "requires_store": True},
    "ship_from_store": {"kind": "o2o", "requires_store": True, "dc_use": 0.5},
}


def _flip(draw: Any, p_on: float) -> bool:
    return bool(draw(st.integers(0, 99)) < round(100 * p_on))


def _maybe(draw: Any, p_on: float, strat: Any, default: Any) -> Any:
    return draw(strat) if _flip(draw, p_on) else default


@st.composite
def tiny_scenarios(draw: Any, max_channels: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tables and settings of a random tiny scenario."""
    model = draw(st.sampled_from(["mnl", "independent"]))
    chans = draw(st.lists(st.sampled_from(sorted(CHANNEL_POOL)), min_size=2,
                          max_size=max_channels, unique=True))
    n_prod = draw(st.integers(1, 2))
    n_reg = draw(st.integers(1, 2))
    n_seg = draw(st.integers(1, 2))
    products = [f"p{i + 1}" for i in range(n_prod)]
    regions = ["north", "south"][:n_reg]
    segments = ["small", "large"][:n_seg]
    money = st.sampled_from
    ch_rows = []
    for k in chans:
        row = {"id": k, **CHANNEL_POOL[k]}
        row["variable_cost"] = draw(money([0.0, 1.0, 2.5, 4.0]))
        row["fee_per_unit"] = draw(money([0.0, 0.0, 1.0, 3.0]))
        row["fee_share"] = draw(money([0.0, 0.0, 0.1, 0.25]))
        row["return_rate"] = draw(money([0.0, 0.05, 0.2]))
        row["return_cost"] = draw(money([0.0, 2.0, 5.0]))
        row["labour_hours"] = draw(money([0.0, 0.0, 0.5, 1.0]))
        row["return_labour_hours"] = draw(money([0.0, 0.5]))
        row["open_cost"] = draw(money([0.0, 30.0, 120.0, 400.0]))
        row["listing_cost"] = draw(money([0.0, 15.0, 60.0]))
        ch_rows.append(row)
    two_brands = n_prod == 2 and draw(st.booleans())
    brand_ids = ["b1", "b2"] if two_brands else ["b1"]
    br_rows = []
    for b in brand_ids:
        row: dict[str, Any] = {"id": b}
        if b == brand_ids[-1] and _flip(draw, 0.35):
            row.update(new=True, launch_cost=draw(money([0.0, 50.0, 300.0])),
                       ramp_up=draw(money([0.5, 0.8, 1.0])))
        if _flip(draw, 0.25):
            row["single_kind"] = True
        if _flip(draw, 0.15):
            row["allowed_kinds"] = draw(money(["online", "offline", "online;o2o",
                                               "offline;o2o"]))
        br_rows.append(row)
    rules: dict[str, Any] = {}
    on = {name: _flip(draw, 0.3) for name in (
        "price_parity", "overlap", "partner_floor", "commission", "dealer_min_volume",
        "reserved_segments", "store_labour", "dc_capacity", "dealer_capacity", "inventory",
        "shelf_space", "service_level", "price_levels")}
    on["cell_service_level"] = _flip(draw, 0.15)
    pr_rows = []
    for i, p in enumerate(products):
        ref = draw(money([20.0, 30.0, 50.0]))
        row = {"id": p, "brand": brand_ids[min(i, len(brand_ids) - 1)],
               "unit_cost": ref * draw(money([0.3, 0.5, 0.7, 0.9])), "ref_price": ref,
               "in_season": draw(st.booleans())}
        if on["inventory"]:
            row["inventory"] = _maybe(draw, 0.7, money([0.0, 20.0, 60.0, 150.0]), math.inf)
        if on["shelf_space"]:
            row["shelf_space"] = draw(money([0.0, 1.0, 1.5]))
        if _flip(draw, 0.1):
            row["allowed_kinds"] = draw(money(["online", "offline", "offline;o2o"]))
        pr_rows.append(row)
    rg_rows = []
    for r in regions:
        row = {"id": r, "has_stores": not (r == "south" and _flip(draw, 0.15))}
        if on["store_labour"]:
            row["store_labour_hours"] = _maybe(draw, 0.8, money([0.0, 10.0, 30.0, 80.0]),
                                               math.inf)
        if on["shelf_space"]:
            row["shelf_capacity"] = _maybe(draw, 0.8, money([0.0, 1.0, 2.0]), math.inf)
        if on["dealer_capacity"]:
            row["dealer_capacity"] = _maybe(draw, 0.8, money([0.0, 10.0, 40.0]), math.inf)
        if on["partner_floor"]:
            row["partner_profit_floor"] = draw(money([0.0, 20.0, 60.0, 150.0]))
        if on["dealer_min_volume"]:
            row["dealer_min_volume"] = draw(money([0.0, 5.0, 15.0, 40.0]))
        if on["service_level"]:
            row["service_level"] = draw(money([0.0, 0.05, 0.15, 0.3]))
        rg_rows.append(row)
    sg_rows = []
    for s in segments:
        row = {"id": s}
        if _flip(draw, 0.25):
            row["channels"] = ";".join(draw(st.lists(st.sampled_from(chans), min_size=1,
                                                     max_size=2, unique=True)))
        sg_rows.append(row)
    cell_rows, share_rows = [], []
    for p in products:
        for r in regions:
            for s in segments:
                cell_rows.append({"product": p, "region": r, "segment": s,
                                  "market_size": draw(money([0.0, 20.0, 50.0, 100.0,
                                                             200.0]))})
                for k in chans:
                    if _flip(draw, 0.8) and (rg_rows[regions.index(r)]["has_stores"]
                                             or not CHANNEL_POOL[k].get("requires_store")):
                        share_rows.append({"product": p, "region": r, "segment": s,
                                           "channel": k,
                                           "share": draw(money([0.05, 0.1, 0.2, 0.3, 0.5,
                                                                0.7]))})
    if not share_rows:  # the shares table must not be empty
        share_rows.append({"product": products[0], "region": regions[0],
                           "segment": segments[0], "channel": chans[0], "share": 0.3})
    tables: dict[str, Any] = {
        "channels": ch_rows, "brands": br_rows, "products": pr_rows, "regions": rg_rows,
        "segments": sg_rows, "cells": cell_rows, "shares": share_rows,
    }
    if on["price_levels"] or on["price_parity"]:
        pl = []
        for p, prow in zip(products, pr_rows, strict=True):
            for k in chans:
                n_l = draw(st.sampled_from([0, 1, 2]))
                facs = draw(st.lists(st.sampled_from([0.8, 0.9, 1.0, 1.1, 1.25]),
                                     min_size=n_l, max_size=n_l, unique=True))
                for j, f in enumerate(facs):
                    pl.append({"product": p, "channel": k, "level": f"l{j}",
                               "price": prow["ref_price"] * f,
                               "demand_multiplier": draw(money([0.0, 0.7, 1.0, 1.3]))
                               if j else draw(money([0.7, 1.0, 1.3]))})
        if pl:
            tables["price_levels"] = pl
    if _flip(draw, 0.2):
        rc = []
        for r in regions:
            for k in chans:
                x = draw(st.sampled_from(["none", "none", "ban", "cost"]))
                if x == "ban":
                    rc.append({"region": r, "channel": k, "allowed": False})
                    if AVOID_REGION_CHANNELS_BUG:  # the channel's own cost: no effect
                        rc[-1]["open_cost"] = next(c["open_cost"] for c in ch_rows
                                                   if c["id"] == k)
                elif x == "cost":
                    rc.append({"region": r, "channel": k, "allowed": True,
                               "open_cost": draw(money([0.0, 60.0, 250.0]))})
        if rc:
            tables["region_channels"] = rc
    if on["price_parity"]:
        rules["price_parity"] = {"band": draw(money([0.0, 0.1, 0.2, 0.5])),
                                 "o2o_side": draw(st.sampled_from(["online", "offline"]))}
    if on["overlap"]:
        ov: dict[str, Any] = {"cost": draw(money([0.0, 10.0, 50.0, 200.0]))}
        if draw(st.booleans()):
            ov["max_pairs"] = draw(st.integers(0, 2))
        rules["overlap"] = ov
    if on["commission"]:
        rules["commission"] = {"share": draw(money([0.05, 0.1, 0.3])),
                               "decision": draw(st.booleans()),
                               "policy_cost": draw(money([0.0, 10.0, 40.0]))}
    for flag in ("partner_floor", "dealer_min_volume", "store_labour", "dealer_capacity",
                 "inventory", "shelf_space", "service_level"):
        if on[flag]:
            rules[flag] = True
    if on["dc_capacity"]:
        rules["dc_capacity"] = draw(money([0.0, 20.0, 60.0, 200.0]))
    if on["cell_service_level"]:
        rules["cell_service_level"] = draw(money([0.02, 0.05, 0.15]))
    if on["reserved_segments"] and n_seg == 2:
        rules["reserved_segments"] = {
            "large": draw(st.lists(st.sampled_from(chans), min_size=1, max_size=2,
                                   unique=True))}
    settings_: dict[str, Any] = {"demand_model": model, "rules": rules}
    if _flip(draw, 0.3):
        settings_["max_channels_per_cell"] = draw(st.integers(1, 2))
    crules = []
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
        rule: dict[str, Any] = {"action": draw(st.sampled_from(["forbid", "force"]))}
        if draw(st.booleans()):
            rule["channel"] = draw(st.sampled_from(chans))
        else:
            rule["kind"] = draw(st.sampled_from(sorted({CHANNEL_POOL[k]["kind"]
                                                        for k in chans})))
        scope = draw(st.sampled_from(["none", "product", "brand", "segment", "region",
                                      "season"]))
        if scope == "product":
            rule["product"] = draw(st.sampled_from(products))
        elif scope == "brand":
            rule["brand"] = draw(st.sampled_from(brand_ids))
        elif scope == "segment":
            rule["segment"] = draw(st.sampled_from(segments))
        elif scope == "region":
            rule["region"] = draw(st.sampled_from(regions))
        elif scope == "season":
            rule["season"] = draw(st.sampled_from(["in", "out"]))
        crules.append(rule)
    if crules:
        settings_["channel_rules"] = crules
    return tables, settings_


def _scenario(tables: dict[str, Any], settings_: dict[str, Any]) -> tuple[Scenario, bool]:
    """The scenario, and whether validation refused a force rule without a target.

    A refused scenario is built without its force rules and given them back unchecked,
    so the brute force can judge the rules on its own.
    """
    try:
        return Scenario.from_frames(tables, settings_), False
    except ScenarioError as e:
        if not all(p.column == "action" and p.rule.startswith("force rule")
                   for p in e.problems):
            raise
    crules = settings_.get("channel_rules", [])
    base = Scenario.from_frames(tables, {**settings_, "channel_rules": [
        r for r in crules if r["action"] != "force"]})
    return dataclasses.replace(base, settings=Settings.model_validate(settings_)), True


def shrink_to_limit(tables: dict[str, Any],
                    settings_: dict[str, Any]) -> tuple[Scenario, bool]:
    """Build the scenario; drop share rows of the widest cells until it is enumerable."""
    tables = {k: (list(v) if isinstance(v, list) else v) for k, v in tables.items()}
    while True:
        scen, refused = _scenario(tables, settings_)
        try:
            prob = bruteforce.read_problem(scen)
        except ValueError:
            return scen, refused  # a force rule matching nothing: compared below
        limit = COUPLED_LIMIT if bruteforce.has_coupling(prob) else DESIGN_LIMIT
        if bruteforce.design_space_size(prob) <= limit:
            return scen, refused
        widest = max(prob.cells, key=lambda c: (len(c.options), c.p, c.r, c.s))
        k = prob.K[widest.elig[-1]]
        tables["shares"] = [row for row in tables["shares"] if
                            (row["product"], row["region"], row["segment"], row["channel"])
                            != (widest.p, widest.r, widest.s, k)]


# the health checks that brute-forced examples trip (slow, filtered, large draws)
SLOW_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def brute_optimum(scen: Scenario) -> float:
    """The brute force's optimum of ``scen``; hypothesis skips the example where the
    brute force cannot read it or it has no plan."""
    try:
        brute = bruteforce.solve(scen)
    except ValueError:
        assume(False)
        raise
    assume(brute.profit is not None)
    return float(brute.profit or 0.0)
