"""The MIP's optimum equals an independent brute-force optimum on random tiny scenarios.

``tests/bruteforce.py`` enumerates every design of a tiny scenario from the documented
semantics (SPEC sections 2-5, ``models/channel_design.md``) and solves the sales LP of
each; this test draws random tiny scenarios with random subsets of the rule families
switched on and checks that the MIP finds the same optimum (or that both find the
scenario infeasible).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

import bruteforce  # noqa: E402
from optimum import mip_optimum  # noqa: E402

from channel_opt.scenario import Scenario, ScenarioError, Settings  # noqa: E402

REL_TOL = 1e-6
DESIGN_LIMIT = 6000  # offer designs x level/policy choices the brute force enumerates
COUPLED_LIMIT = 1500  # the same when a rule couples cells (one sales LP per design)

# channel_opt.model.data.build_data raises IndexError when region_channels has rows but
# none overrides open_cost (see test_region_channels_ban_only_regression below). Until
# that is fixed, banned rows carry the channel's own open_cost (no semantic change) so
# the property test keeps exploring everything else. Set to False once fixed.
AVOID_REGION_CHANNELS_BUG = False


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= REL_TOL * max(1.0, abs(a), abs(b))


# ------------------------------------------------------------------ scenario strategy

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


def describe(scen: Scenario) -> str:
    parts = [f"settings={scen.settings.model_dump(exclude_defaults=True)}"]
    for name, df in scen.tables.items():
        if len(df):
            parts.append(f"{name}=\n{df.to_string()}")
    return "\n".join(parts)


def check(tables: dict[str, Any], settings_: dict[str, Any]) -> None:
    scen, refused = shrink_to_limit(tables, settings_)
    try:
        brute = bruteforce.solve(scen)
    except ValueError as e:  # a force rule matching nothing: validation must refuse it
        error = str(e)
    else:
        error = ""
    assert refused == bool(error), (error, describe(scen))
    if error:
        event("force rule matching nothing")
        assert "matches no usable decision" in error
        return
    mip = mip_optimum(scen)
    event("infeasible" if brute.profit is None else
          "sales LPs" if brute.n_lps else "closed form")
    assert same(mip, brute.profit), (
        f"MIP {mip} != brute force {brute.profit}\nbrute design: {brute.design}\n"
        + describe(scen))


COMMON = {"deadline": None, "derandomize": True, "database": None,
          "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


# Each property runs a few examples in the default suite (under 5 minutes on 2 cores)
# and many more in the slow suite that CI runs second (pytest -m slow).


@settings(max_examples=30, **COMMON)
@given(tiny_scenarios())
def test_mip_equals_bruteforce(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    check(*case)


@pytest.mark.slow
@settings(max_examples=300, **COMMON)
@given(tiny_scenarios())
def test_mip_equals_bruteforce_thorough(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    check(*case)


KINDS = ("online", "offline", "o2o")


@st.composite
def many_channel_scenarios(draw: Any, model: str | None = None
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scenario declaring 1-80 channels of which each tiny cell may use a few (the
    high channel codes included), with price levels under both demand models.
    """
    model = model or draw(st.sampled_from(["mnl", "independent"]))
    n_ch = draw(st.integers(1, 80))
    ids = [f"k{i:02d}" for i in range(n_ch)]
    money = st.sampled_from
    ch_rows = [{"id": k, "kind": draw(money(KINDS)),
                "variable_cost": draw(money([0.0, 1.0, 3.0])),
                "open_cost": draw(money([0.0, 0.0, 40.0, 150.0])),
                "listing_cost": draw(money([0.0, 20.0]))} for k in ids]
    n_prod, n_reg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    products = [f"p{i + 1}" for i in range(n_prod)]
    regions = [f"r{i + 1}" for i in range(n_reg)]
    pr_rows = [{"id": p, "brand": "b", "ref_price": 10.0,
                "unit_cost": draw(money([2.0, 5.0, 8.0]))} for p in products]
    cell_rows, share_rows = [], []
    for p in products:
        for r in regions:
            cell_rows.append({"product": p, "region": r, "segment": "s",
                              "market_size": draw(money([50.0, 100.0]))})
            # favour the top of the code range, where a 64-bit mask broke
            pick = draw(st.lists(st.one_of(st.integers(0, n_ch - 1),
                                           st.integers(max(0, n_ch - 3), n_ch - 1)),
                                 min_size=1, max_size=min(3, n_ch), unique=True))
            for i in pick:
                share_rows.append({"product": p, "region": r, "segment": "s",
                                   "channel": ids[i],
                                   "share": draw(money([0.1, 0.3, 0.5, 0.8, 0.9]))})
    tables: dict[str, Any] = {
        "channels": ch_rows, "brands": [{"id": "b"}], "products": pr_rows,
        "regions": [{"id": r} for r in regions], "segments": [{"id": "s"}],
        "cells": cell_rows, "shares": share_rows}
    used = sorted({(row["product"], row["channel"]) for row in share_rows})
    pl = []
    for p, k in used:
        if _flip(draw, 0.5):
            pl.append({"product": p, "channel": k, "level": "list", "price": 10.0})
            pl.append({"product": p, "channel": k, "level": "promo",
                       "price": draw(money([8.0, 9.0, 9.5])),
                       "demand_multiplier": draw(money([1.5, 3.0, 6.0]))})
    if pl:
        tables["price_levels"] = pl
    rules: dict[str, Any] = {}
    if _flip(draw, 0.2):
        rules["inventory"] = True
        for row in pr_rows:
            row["inventory"] = draw(money([30.0, 80.0]))
    if _flip(draw, 0.2):
        rules["overlap"] = {"cost": draw(money([10.0, 100.0]))}
    settings_: dict[str, Any] = {"demand_model": model, "rules": rules}
    if _flip(draw, 0.2):
        settings_["max_channels_per_cell"] = 1
    return tables, settings_


@settings(max_examples=8, **COMMON)
@given(many_channel_scenarios())
def test_mip_equals_bruteforce_many_channels(case: tuple[dict[str, Any], dict[str, Any]]
                                              ) -> None:
    check(*case)


@pytest.mark.slow
@settings(max_examples=60, **COMMON)
@given(many_channel_scenarios())
def test_mip_equals_bruteforce_many_channels_thorough(
        case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    check(*case)


@settings(max_examples=6, **COMMON)
@given(many_channel_scenarios(model="mnl"))
def test_mnl_sales_never_exceed_the_market(case: tuple[dict[str, Any], dict[str, Any]]
                                           ) -> None:
    mnl_sales_within_market(case)


@pytest.mark.slow
@settings(max_examples=40, **COMMON)
@given(many_channel_scenarios(model="mnl"))
def test_mnl_sales_never_exceed_the_market_thorough(
        case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    mnl_sales_within_market(case)


def mnl_sales_within_market(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """No cell sells above its market, and no channel above the demand shown for it."""
    import channel_opt

    scen = Scenario.from_frames(*case)
    sol = channel_opt.solve(scen, sensitivity=False, diagnose_infeasible=False)
    cc = sol.tables["cell_channel"]
    keys = ["product", "region", "segment"]
    sold = cc.groupby(keys)["sales"].sum()
    market = scen.cells.set_index(keys)["market_size"].reindex(sold.index)
    assert (sold <= market * (1 + 1e-9) + 1e-9).all(), sold - market
    # every offered channel's sales within the demand shown at its level
    assert (cc["sales"] <= cc["demand"] * (1 + 1e-9) + 1e-9).all()


def test_bruteforce_agrees_on_factory_scenario() -> None:
    from scenario_factory import small_settings, small_tables

    scen = Scenario.from_frames(small_tables(), small_settings())
    brute = bruteforce.solve(scen)
    assert brute.profit is not None
    assert same(mip_optimum(scen), brute.profit)


def test_region_channels_ban_only_regression() -> None:
    # A region_channels table that only bans a channel (no open_cost override) once crashed
    # channel_opt.model.data.build_data: `over` was empty, `pos` all -1, and
    # `over["open_cost"].to_numpy()[pos]` was evaluated by np.where before masking.
    # (With a non-empty `over`, the same expression silently reads its last row for
    # the pairs without an override -- masked by np.where, so only the empty case fails.)
    # Hand value: online alone (store banned in the only region): 50 units * 5 = 250.
    tables = {
        "channels": [{"id": "online", "kind": "online", "variable_cost": 1.0},
                     {"id": "store", "kind": "offline"}],
        "brands": [{"id": "b"}],
        "products": [{"id": "p", "brand": "b", "unit_cost": 4.0, "ref_price": 10.0}],
        "regions": [{"id": "r"}],
        "segments": [{"id": "s"}],
        "cells": [{"product": "p", "region": "r", "segment": "s", "market_size": 100.0}],
        "shares": [{"product": "p", "region": "r", "segment": "s", "channel": k,
                    "share": 0.5} for k in ("online", "store")],
        "region_channels": [{"region": "r", "channel": "store", "allowed": False}],
    }
    scen = Scenario.from_frames(tables, {"demand_model": "independent"})
    assert bruteforce.best_profit(scen) == pytest.approx(250.0)
    assert mip_optimum(scen) == pytest.approx(250.0)
