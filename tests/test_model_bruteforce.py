"""The MIP's optimum equals an independent brute-force optimum on random tiny scenarios.

``tests/bruteforce.py`` enumerates every design of a tiny scenario from the documented
semantics (SPEC sections 2-5, ``models/channel_design.md``) and solves the sales LP of
each; this test draws random tiny scenarios with random subsets of the rule families
switched on and checks that the MIP finds the same optimum (or that both find the
scenario infeasible).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

import bruteforce  # noqa: E402
from optimum import mip_optimum  # noqa: E402
from random_scenarios import (  # noqa: E402
    _flip,
    shrink_to_limit,
    tiny_scenarios,
)

from channel_opt.scenario import Scenario  # noqa: E402

REL_TOL = 1e-6


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= REL_TOL * max(1.0, abs(a), abs(b))


# ------------------------------------------------------------------ scenario strategy



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


@settings(max_examples=8, **COMMON)  # 300 in the slow suite
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


@settings(max_examples=4, **COMMON)  # the thorough brute force runs in the slow suite
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
