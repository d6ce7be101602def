"""Every constraint family of ``models/channel_design.md`` changes the optimum as documented.

One hand-made scenario per family (per row of the tables in the model document):
the optimum with the family switched off and on is worked out by hand in the
comments and asserted as a literal number -- never computed by an evaluator. Each
test also checks that the Pyomo model carries a component with the family's name
(families that act through eligibility or set enumeration have no component; their
tests check the ``offer`` columns instead).

Base scenario ``B`` (independent demand, so the arithmetic stays linear): one product
``p1`` (reference price 10, unit cost 4) in one region ``north``, one segment
``small`` with market 100, three channels:

=========  =======  =====================================  ====  ========  =======
channel    kind     costs                                  a_k   demand    margin
=========  =======  =====================================  ====  ========  =======
online     online   variable_cost 1, dc_use 1              0.5   50        10-4-1 = 5
store      offline  fee_share 0.1 (partner 1/unit)         0.3   30        9-4 = 5
dealer     offline  fee_per_unit 2, dealer_use 1           0.2   20        10-4-2 = 4
=========  =======  =====================================  ====  ========  =======

Shares sum to 1, so the cell cap (market 100) never binds: offering all three
channels sells 50 + 30 + 20 = 100 units for 50*5 + 30*5 + 20*4 = 250 + 150 + 80 = 480.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from optimum import mip_optimum
from scenario_factory import base_tables, edit, scenario

from channel_opt.scenario import Scenario, load_scenario

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny" / "tiny.yaml"


def optimum(scen: Scenario) -> float | None:
    return mip_optimum(scen)


def components(scen: Scenario) -> set[str]:
    import pyomo.environ as pyo

    from channel_opt.model import build_model

    m = build_model(scen)
    return {c.local_name for c in m.component_objects((pyo.Var, pyo.Constraint))}


def n_offers(scen: Scenario) -> int:
    from channel_opt.model import build_model

    offer = build_model(scen).component("offer")
    return 0 if offer is None else len(offer)


def assert_value(scen: Scenario, expected: float | None) -> None:
    got = optimum(scen)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-7, abs=1e-6)


def test_base_scenario() -> None:
    # all three channels: 250 + 150 + 80 = 480
    assert_value(scenario(), 480.0)


# ------------------------------------------------------------------ core families


def test_offer_one_set_and_demand_mnl_cannibalization() -> None:
    # Two channels, online and store, each reaching a = 0.5 alone (odds e = 1), margin 5.
    # Store opening costs 100.
    # independent: both sell 50: 100 units * 5 - 100 = 400 (better than online alone 250).
    # mnl: alone d = 100 * 1/(1+1) = 50 -> 250; both: d = 100 * 1/(1+1+1) = 33.33 each,
    #      66.67 units * 5 = 333.33 - 100 = 233.33 < 250: cannibalization makes online
    #      alone (250) optimal.
    t = base_tables()
    t["shares"] = [s for s in t["shares"] if s["channel"] != "dealer"]
    t["shares"][0]["share"] = 0.5
    t["shares"][1]["share"] = 0.5
    t = edit(t, "channels", "store", open_cost=100.0)
    assert_value(scenario(t, model="independent"), 400.0)
    mnl = scenario(t, model="mnl")
    assert_value(mnl, 250.0)
    # without the store's open cost, mnl offers both: 333.33...
    assert_value(scenario(edit(t, "channels", "store", open_cost=0.0), model="mnl"),
                 1000.0 / 3.0)
    assert {"offer", "offer_one_set", "demand", "sales"} <= components(mnl)


def test_offer_needs_level_single_level_needs_listing() -> None:
    # store listing cost 160 > store's contribution 150: drop the store, 480 - 150 = 330.
    # (one level per (product, channel): offer_needs_level links the offer to the listing)
    scen = scenario(edit(base_tables(), "channels", "store", listing_cost=160.0))
    assert_value(scen, 330.0)
    assert {"list_product", "offer_needs_level"} <= components(scen)


def test_offer_needs_open() -> None:
    # dealer opening cost 100 > dealer's contribution 80: 480 - 80 = 400.
    scen = scenario(edit(base_tables(), "channels", "dealer", open_cost=100.0))
    assert_value(scen, 400.0)
    # an opening cost below the contribution (70 < 80) is paid: 480 - 70 = 410
    assert_value(scenario(edit(base_tables(), "channels", "dealer", open_cost=70.0)), 410.0)
    assert {"open_channel", "offer_needs_open"} <= components(scen)


def test_region_open_cost_override_and_ban() -> None:
    # region_channels overrides the dealer's opening cost in north to 100 (channel: 0):
    # 400 as above; banning the store in north: 480 - 150 = 330.
    t = base_tables()
    t["region_channels"] = [{"region": "north", "channel": "dealer", "open_cost": 100.0}]
    assert_value(scenario(t), 400.0)
    t["region_channels"] = [{"region": "north", "channel": "dealer", "open_cost": 100.0},
                            {"region": "north", "channel": "store", "allowed": False}]
    assert_value(scenario(t), 250.0)  # online 250; dealer 80 < 100 dropped; store banned


def test_cell_market_independent_cap() -> None:
    # online a = 0.7 (70 units), store a = 0.6 (60 units), both margin 5, market 100:
    # the independent model caps the cell at 100 units: 100 * 5 = 500 (uncapped: 650).
    t = base_tables()
    t["shares"] = [{"product": "p1", "region": "north", "segment": "small", "channel": k,
                    "share": a} for k, a in (("online", 0.7), ("store", 0.6))]
    scen = scenario(t)
    assert_value(scen, 500.0)
    assert "cell_market" in components(scen)
    # with dealer (margin 4) added too, the cap still sells only the 100 best units: 500
    t["shares"].append({"product": "p1", "region": "north", "segment": "small",
                        "channel": "dealer", "share": 0.2})
    assert_value(scenario(t), 500.0)


def test_listing_needs_brand_and_brand_launch() -> None:
    # new brand, ramp-up 0.5: market 50, demands 25/15/10: 125 + 75 + 40 = 240.
    # launch cost 200 -> 40; launch cost 300 > 240 -> do not launch: 0.
    t = edit(base_tables(), "brands", "acme", new=True, ramp_up=0.5, launch_cost=200.0)
    scen = scenario(t)
    assert_value(scen, 40.0)
    assert_value(scenario(edit(t, "brands", "acme", launch_cost=300.0)), 0.0)
    assert {"sell_brand", "listing_needs_brand", "launch_brand", "brand_launch"} <= \
        components(scen)


def test_price_levels() -> None:
    # online only (a = 0.5, market 100). Levels: full 10 (x1: 50 units * 5 = 250),
    # promo 9 (x1.5: 75 units * (9-4-1 = 4) = 300), premium 12 (x0.6: 30 * 7 = 210).
    # Best: promo, 300 (without levels: reference price, 250).
    t = base_tables()
    t["shares"] = t["shares"][:1]
    assert_value(scenario(t), 250.0)
    t["price_levels"] = [
        {"product": "p1", "channel": "online", "level": "full", "price": 10.0},
        {"product": "p1", "channel": "online", "level": "promo", "price": 9.0,
         "demand_multiplier": 1.5},
        {"product": "p1", "channel": "online", "level": "premium", "price": 12.0,
         "demand_multiplier": 0.6},
    ]
    scen = scenario(t)
    assert_value(scen, 300.0)
    assert {"price_level", "price_one_level", "offer_needs_level"} <= components(scen)


def test_brand_single_kind() -> None:
    # one kind for brand acme: online alone 250 vs offline (store + dealer) 150 + 80 = 230.
    scen = scenario(edit(base_tables(), "brands", "acme", single_kind=True))
    assert_value(scen, 250.0)
    assert {"brand_kind", "brand_kind_link", "brand_one_kind"} <= components(scen)


def test_force_segment() -> None:
    # store opening cost 200 > its 150: dropped, 480 - 150 = 330.
    # forcing the store for segment small: 480 - 200 = 280.
    t = edit(base_tables(), "channels", "store", open_cost=200.0)
    assert_value(scenario(t), 330.0)
    forced = scenario(t, channel_rules=[{"action": "force", "channel": "store",
                                         "segment": "small"}])
    assert_value(forced, 280.0)
    assert "force_segment" in components(forced)


def test_force_listing_opening_brand() -> None:
    # store listing cost 25 and opening cost 40 (< its 150): still offered.
    t = edit(base_tables(), "channels", "store", listing_cost=25.0, open_cost=40.0)
    forbid = {"action": "forbid", "channel": "store", "segment": "small"}
    # store still eligible: 480 - 25 - 40 = 415
    assert_value(scenario(t), 415.0)
    # forbidding the segment removes it: 330
    assert_value(scenario(t, channel_rules=[forbid]), 330.0)
    # forced open in the region (cost 40), no offer: 415 - ... store offered anyway: 415
    assert_value(scenario(t, channel_rules=[{"action": "force", "channel": "store",
                                             "region": "north"}]), 415.0)
    # dealer forced open by kind with a 100 opening cost: 480 - 25 - 40 - 100 = 315
    t2 = edit(t, "channels", "dealer", open_cost=100.0)
    assert_value(scenario(t2), 480.0 - 25 - 40 - 80)  # dealer dropped: 335
    assert_value(scenario(t2, channel_rules=[{"action": "force", "channel": "dealer"}]),
                 315.0)


# ------------------------------------------------------------------ optional families


def test_price_parity() -> None:
    # online a = 0.4, store a = 0.3. Online levels: full 10 (40 units * 5 = 200),
    # promo 9 x1.5 (60 units * 4 = 240); store at the reference price 10 (30 * 5 = 150).
    # Without parity: promo online + store = 240 + 150 = 390 (90 units <= 100).
    # Band 0.05 (0.5 of the reference price 10): |9 - 10| = 1 > 0.5 so promo online and
    # the store cannot both be listed: full + store = 350 > promo alone 240.
    t = base_tables()
    t["shares"] = [{"product": "p1", "region": "north", "segment": "small", "channel": k,
                    "share": a} for k, a in (("online", 0.4), ("store", 0.3))]
    t["price_levels"] = [
        {"product": "p1", "channel": "online", "level": "full", "price": 10.0},
        {"product": "p1", "channel": "online", "level": "promo", "price": 9.0,
         "demand_multiplier": 1.5}]
    assert_value(scenario(t), 390.0)
    scen = scenario(t, rules={"price_parity": {"band": 0.05}})
    assert_value(scen, 350.0)
    assert "price_parity" in components(scen)
    # a band of 0.1 allows the gap of 1.0: 390 again
    assert_value(scenario(t, rules={"price_parity": {"band": 0.1}}), 390.0)


def test_overlap_cost() -> None:
    # overlap cost 250 per (product, region) sold online and offline:
    # all three 480 - 250 = 230; online alone 250; offline alone 150 + 80 = 230 -> 250.
    scen = scenario(rules={"overlap": {"cost": 250.0}})
    assert_value(scen, 250.0)
    # cost 200: all three 280 > 250
    assert_value(scenario(rules={"overlap": {"cost": 200.0}}), 280.0)
    assert {"online_sold", "offline_sold", "overlap", "overlap_online", "overlap_offline",
            "overlap_pair"} <= components(scen)


def test_overlap_budget() -> None:
    # no overlapping pair allowed: best of online alone 250 / offline 230 -> 250
    scen = scenario(rules={"overlap": {"max_pairs": 0}})
    assert_value(scen, 250.0)
    assert "overlap_budget" in components(scen)
    assert_value(scenario(rules={"overlap": {"max_pairs": 1}}), 480.0)


def test_overlap_across_segments() -> None:
    # segment small gets online only, segment large dealer only (same product and
    # region, markets 100 each, online a = 0.5 -> 250, dealer a = 0.2 -> 80): the pair
    # (p1, north) is sold online and offline -> overlap cost 100 makes the dealer
    # (80 < 100) not worth it: 250; cost 50: 250 + 80 - 50 = 280.
    t = base_tables()
    t["segments"] = [{"id": "small", "channels": "online"},
                     {"id": "large", "channels": "dealer"}]
    t["cells"].append({"product": "p1", "region": "north", "segment": "large",
                       "market_size": 100.0})
    t["shares"] += [{"product": "p1", "region": "north", "segment": "large",
                     "channel": "dealer", "share": 0.2}]
    assert_value(scenario(t, rules={"overlap": {"cost": 100.0}}), 250.0)
    assert_value(scenario(t, rules={"overlap": {"cost": 50.0}}), 280.0)


def test_commission_always() -> None:
    # commission 20% of online revenue (50 units * 10 = 500): 100. 480 - 100 = 380
    # (online still worth 250 - 100 = 150 > 0).
    scen = scenario(rules={"commission": {"share": 0.2}})
    assert_value(scen, 380.0)
    assert {"commission", "commission_def"} <= components(scen)


def test_commission_decision() -> None:
    # decided per region: switching it off is free: 480.
    # With a partner floor of 150: store 30 * 1 + dealer 20 * 2 = 70 < 150, the
    # commission (100) lifts partners to 170: 480 - 100 - policy cost 5 = 375.
    scen = scenario(rules={"commission": {"share": 0.2, "decision": True,
                                          "policy_cost": 5.0}})
    assert_value(scen, 480.0)
    t = edit(base_tables(), "regions", "north", partner_profit_floor=150.0)
    scen = scenario(t, rules={"commission": {"share": 0.2, "decision": True,
                                             "policy_cost": 5.0}, "partner_floor": True})
    assert_value(scen, 375.0)
    assert {"commission_policy", "commission_lower", "commission_upper_revenue",
            "commission_upper_policy"} <= components(scen)
    # floor 180 > 170: infeasible
    t = edit(base_tables(), "regions", "north", partner_profit_floor=180.0)
    assert_value(scenario(t, rules={"commission": {"share": 0.2, "decision": True},
                                    "partner_floor": True}), None)


def test_partner_floor_forces_store() -> None:
    # store opening cost 200 > its 150: without a floor, online + dealer = 330.
    # Partner floor 60: the dealer pays partners 20 * 2 = 40 < 60, so the store must open
    # too (30 * 1 = 30 more): 480 - 200 = 280.
    t = edit(edit(base_tables(), "channels", "store", open_cost=200.0), "regions", "north",
             partner_profit_floor=60.0)
    assert_value(scenario(t), 330.0)
    scen = scenario(t, rules={"partner_floor": True})
    assert_value(scen, 280.0)
    assert "partner_floor" in components(scen)


def test_dealer_min_volume() -> None:
    # the dealer reaches only 20 units; a minimum of 30 keeps it closed: 480 - 80 = 400.
    t = edit(base_tables(), "regions", "north", dealer_min_volume=30.0)
    scen = scenario(t, rules={"dealer_min_volume": True})
    assert_value(scen, 400.0)
    assert "dealer_min_volume" in components(scen)
    # forcing the dealer open then makes the scenario infeasible
    assert_value(scenario(t, rules={"dealer_min_volume": True},
                          channel_rules=[{"action": "force", "channel": "dealer",
                                          "region": "north"}]), None)


def test_reserved_segments() -> None:
    # segment small reserved for the dealer: dealer alone, 80.
    base = scenario()
    scen = scenario(rules={"reserved_segments": {"small": ["dealer"]}})
    assert_value(scen, 80.0)
    assert n_offers(base) == 7 and n_offers(scen) == 1  # eligibility, not a constraint


def test_store_labour() -> None:
    # store 0.5 h/unit; online returns (rate 0.1) taken back in store at 1 h each:
    # online 0.1 h/unit. 15 h: online 50 units use 5 h, the store gets 10 h = 20 units:
    # 480 - 10 * 5 = 430.
    t = edit(edit(base_tables(), "channels", "store", labour_hours=0.5), "channels",
             "online", return_rate=0.1, return_labour_hours=1.0)
    t = edit(t, "regions", "north", store_labour_hours=15.0)
    assert_value(scenario(t), 480.0)
    scen = scenario(t, rules={"store_labour": True})
    assert_value(scen, 430.0)
    assert "store_labour" in components(scen)


def test_dc_capacity() -> None:
    # DC capacity 30 online units: 480 - 20 * 5 = 380.
    scen = scenario(rules={"dc_capacity": 30.0})
    assert_value(scen, 380.0)
    assert "dc_capacity" in components(scen)


def test_dealer_capacity() -> None:
    # dealer capacity 5: 480 - 15 * 4 = 420.
    t = edit(base_tables(), "regions", "north", dealer_capacity=5.0)
    scen = scenario(t, rules={"dealer_capacity": True})
    assert_value(scen, 420.0)
    assert "dealer_capacity" in components(scen)


def test_inventory() -> None:
    # 60 units in stock: sell the margin-5 channels (online, store) only: 60 * 5 = 300.
    t = edit(base_tables(), "products", "p1", inventory=60.0)
    scen = scenario(t, rules={"inventory": True})
    assert_value(scen, 300.0)
    assert "inventory" in components(scen)


def test_shelf_space() -> None:
    # the product takes 2 shelf units, the region's stores have 1: no store (uses the
    # store stock): 480 - 150 = 330.
    t = edit(edit(base_tables(), "products", "p1", shelf_space=2.0), "regions", "north",
             shelf_capacity=1.0)
    scen = scenario(t, rules={"shelf_space": True})
    assert_value(scen, 330.0)
    assert {"stock", "offer_needs_stock", "shelf_space"} <= components(scen)


def test_service_level() -> None:
    # dealer opening cost 100 > its 80: dropped, 400 (80 units sold).
    # Region service level 0.9 needs 90 units: dealer needed, 480 - 100 = 380.
    t = edit(edit(base_tables(), "channels", "dealer", open_cost=100.0), "regions", "north",
             service_level=0.9)
    assert_value(scenario(t), 400.0)
    scen = scenario(t, rules={"service_level": True})
    assert_value(scen, 380.0)
    assert "service_level" in components(scen)


def test_cell_service_level() -> None:
    # as above with a cell service level of 0.9: 380; 0.8 is met without the dealer: 400.
    t = edit(base_tables(), "channels", "dealer", open_cost=100.0)
    scen = scenario(t, rules={"cell_service_level": 0.9})
    assert_value(scen, 380.0)
    assert_value(scenario(t, rules={"cell_service_level": 0.8}), 400.0)
    assert "cell_service_level" in components(scen)


def test_max_channels_per_cell() -> None:
    # one channel per cell: the best single channel is online, 250.
    scen = scenario(max_channels_per_cell=1)
    assert_value(scen, 250.0)
    # two: online + store, 400
    assert_value(scenario(max_channels_per_cell=2), 400.0)
    assert n_offers(scen) == 3  # enumeration, not a constraint


def test_forbid_rule() -> None:
    # forbid the online kind for p1: store + dealer = 230.
    scen = scenario(channel_rules=[{"action": "forbid", "kind": "online", "product": "p1"}])
    assert_value(scen, 230.0)
    assert n_offers(scen) == 3
    # forbidding for out-of-season products does not touch p1 (in season): 480
    assert_value(scenario(channel_rules=[{"action": "forbid", "kind": "online",
                                          "season": "out"}]), 480.0)


def test_no_eligible_channel() -> None:
    # every channel forbidden: nothing can be offered, profit 0 (the model has no
    # columns at all: HiGHS reports "Empty", not "Optimal" -- a solve API must map it).
    off = [{"action": "forbid", "kind": "online"}, {"action": "forbid", "kind": "offline"}]
    assert_value(scenario(channel_rules=off), 0.0)
    # ... and with a regional service level of 0.5 nothing can serve it: infeasible, although
    # HiGHS again reports "Empty" with objective 0 (its one row reads 0 >= 50).
    t = edit(base_tables(), "regions", "north", service_level=0.5)
    assert_value(scenario(t, rules={"service_level": True}, channel_rules=off), None)


# ------------------------------------------------------------------ the tiny instance


def test_tiny_instance_hand_value() -> None:
    # instances/tiny/README.md derives the optimum by hand: north 3,940.00 + south
    # 3,500.00 = 7,440.00.
    scen = load_scenario(TINY)
    assert_value(scen, 7440.0)


def test_tiny_instance_bruteforce() -> None:
    import bruteforce

    res = bruteforce.solve(load_scenario(TINY))
    assert res.profit == pytest.approx(7440.0, abs=1e-6)
    offers = res.design["offers"]
    assert offers["p1", "north", "small"] == ["online", "store"]
    assert offers["p1", "south", "small"] == ["store"]
    assert offers["p2", "north", "small"] == ["store"]
    assert offers["p2", "south", "small"] == ["store"]


# ------------------------------------------------------------------ exactness (issue 9)


def _one_product(channels: list[str], cells: list[tuple[str, list[str]]], share: float,
                 **extra: Any) -> dict[str, Any]:
    """Product P (price 10, no costs), one online channel per id, a cell per region."""
    return {
        "channels": [{"id": k, "kind": "online"} for k in channels],
        "brands": [{"id": "B"}],
        "products": [{"id": "P", "brand": "B", "unit_cost": 0.0, "ref_price": 10.0}],
        "regions": [{"id": r} for r, _ in cells],
        "segments": [{"id": "S"}],
        "cells": [{"product": "P", "region": r, "segment": "S", "market_size": 100.0}
                  for r, _ in cells],
        "shares": [{"product": "P", "region": r, "segment": "S", "channel": k, "share": share}
                   for r, ks in cells for k in ks],
        **extra,
    }


def test_65_channels_none_dropped() -> None:
    # 65 channels, region rNN may use only kNN (share 0.5, mnl, market 100, price 10):
    # each cell sells 100 * 1/(1+1) = 50 units at 10: 65 * 500 = 32,500 (a 64-bit mask
    # dropped k63 and k64: 31,500).
    ks = [f"k{i:02d}" for i in range(65)]
    t = _one_product(ks, [(f"r{i:02d}", [k]) for i, k in enumerate(ks)], 0.5)
    assert_value(scenario(t, model="mnl"), 32_500.0)


def test_61_channels_no_merge() -> None:
    # 61 channels, one cell eligible for k00 and k60 (0.5 each, odds 1): both offered,
    # 2 * 100/3 units at 10 = 666.67 (a float64 mask merged them: 500).
    ks = [f"k{i:02d}" for i in range(61)]
    t = _one_product(ks, [("R", ["k00", "k60"])], 0.5)
    scen = scenario(t, model="mnl")
    assert_value(scen, 2 * 100 / 3 * 10)
    assert n_offers(scen) == 3  # {k00}, {k60}, {k00, k60}


def _promo(model: str) -> Scenario:
    return scenario(_one_product(["web"], [("R", ["web"])], 0.9, price_levels=[
        {"product": "P", "channel": "web", "level": "list", "price": 10.0},
        {"product": "P", "channel": "web", "level": "promo", "price": 9.5,
         "demand_multiplier": 3.0}]), model=model)


def test_promo_multiplies_odds_under_mnl() -> None:
    # alone share 0.9: odds 9; promo x3: odds 27, demand 100 * 27/28 = 96.43 units at 9.5
    # = 916.07 > list price 90 units at 10 = 900. Sales never exceed the market (100).
    scen = _promo("mnl")
    assert_value(scen, 100 * 27 / 28 * 9.5)
    # each level is its own offer option: {web@list}, {web@promo}
    assert n_offers(scen) == 2


def test_promo_independent_keeps_cell_cap() -> None:
    # independent: promo demand 3 * 0.9 * 100 = 270, capped by the market: 100 * 9.5 = 950
    assert_value(_promo("independent"), 950.0)


def test_promo_draws_from_the_other_channel() -> None:
    # two channels, odds 1 each (share 0.5), market 100, price 10. Web promo (9.5, x3):
    # {web@promo, shop}: web 100*3/5 = 60 units * 9.5 = 570, shop 100/5 = 20 * 10 = 200,
    # total 770 (> {web@list, shop}: 2 * 33.33 * 10 = 666.67; > {web@promo}: 75 * 9.5).
    t = _one_product(["web", "shop"], [("R", ["web", "shop"])], 0.5, price_levels=[
        {"product": "P", "channel": "web", "level": "list", "price": 10.0},
        {"product": "P", "channel": "web", "level": "promo", "price": 9.5,
         "demand_multiplier": 3.0}])
    scen = scenario(t, model="mnl")
    assert_value(scen, 770.0)
    # options: web@list, web@promo, shop, and each web level with shop: 5
    assert n_offers(scen) == 5


def test_option_guard_names_the_cell_and_the_remedy() -> None:
    # 9 eligible channels: 511 channel sets > 255 options; with max_channels_per_cell 2
    # there are 9 + 36 = 45.
    ks = [f"k{i}" for i in range(9)]
    t = _one_product(ks, [("R", ks)], 0.1)
    with pytest.raises(ValueError, match=r"\(P, R, S\).*511 offer options.*"
                                         r"max_channels_per_cell"):
        n_offers(scenario(t, model="mnl"))
    assert n_offers(scenario(t, model="mnl", max_channels_per_cell=2)) == 45


def test_promo_tables_show_demand_at_the_level_and_check_recomputes_it() -> None:
    # The promo case: cell_channel shows level promo and its demand 96.43 (= sales); the
    # independent plan check recomputes that demand from the scenario and rejects the
    # old rule's 270 units (3 x 90) as above the demand and above the market.
    import channel_opt
    from channel_opt.solving.check import check_plan

    scen = _promo("mnl")
    sol = channel_opt.solve(scen, sensitivity=False)
    cc = sol.tables["cell_channel"]
    assert cc["level"].tolist() == ["promo"]
    assert cc["demand"].iloc[0] == pytest.approx(100 * 27 / 28)
    assert cc["sales"].iloc[0] == pytest.approx(100 * 27 / 28)
    assert check_plan(scen, sol.tables, sol.objective) == []
    bad = {k: v.copy() for k, v in sol.tables.items()}
    bad["cell_channel"].loc[0, ["sales", "revenue"]] = [270.0, 270.0 * 9.5]
    bad["product_channel"].loc[0, ["sales", "revenue"]] = [270.0, 270.0 * 9.5]
    errors = " ".join(check_plan(scen, bad, sol.objective))
    assert "exceed the demand 96.4286" in errors
    assert "exceed the market 100" in errors


def test_option_guard_from_the_command_line_exits_2(tmp_path: Path) -> None:
    import os
    import subprocess

    import pandas as pd
    from scenario_factory import write_yaml_scenario

    ks = [f"k{i}" for i in range(9)]
    t = {name: pd.DataFrame(rows) for name, rows in
         _one_product(ks, [("R", ks)], 0.1).items()}
    path = write_yaml_scenario(tmp_path, t, {"demand_model": "mnl"})
    out = tmp_path / "out"
    root = str(Path(__file__).resolve().parents[1])
    r = subprocess.run([sys.executable, "-m", "channel_opt.cli", "solve", str(path),
                        "--out", str(out), "-q"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": root}, timeout=120)
    assert r.returncode == 2
    assert "cell (P, R, S): 9 eligible channels, giving 511 offer options" in r.stderr
    assert "max_channels_per_cell" in r.stderr
    assert not out.exists()
