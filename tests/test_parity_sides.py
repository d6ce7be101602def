"""Price parity binds O2O prices on the side they are shown on (issue 9 item 7, SPEC 5.1).

Hand-made scenario (independent demand, so every number is linear): product ``p1``,
reference price 81.99, unit cost 21.99, one cell of market 100 in ``north``/``small``.

=========  ======  =====  ====================================  ==========================
channel    kind    a_k    price levels                          demand x unit margin
=========  ======  =====  ====================================  ==========================
online     online  0.4    full 81.99; promo 61.49 x multiplier  full 40 x 60 = 2,400;
                          1.75                                  promo 70 x 39.5 = 2,765
bopis      o2o     0.15   81.99 only (the reference price)      15 x 60 = 900
store      offline 0.05   81.99 only                            5 x 60 = 300
=========  ======  =====  ====================================  ==========================

No costs besides the unit cost; the cell never reaches its market (70 + 15 + 5 = 90
units at most), so every offered channel sells its full demand and a plan's value is
the sum of the table's last column over its channels. Band 0.15 of 81.99 = 12.2985;
the promo gap |61.49 - 81.99| = 20.50 exceeds it, full vs full (gap 0) does not.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from optimum import mip_optimum
from scenario_factory import one_cell_tables

import channel_opt
from channel_opt.scenario import Scenario
from channel_opt.scenario.errors import ScenarioError

REF, PROMO, UNIT = 81.99, 61.49, 21.99
SHARE = {"online": 0.4, "bopis": 0.15, "store": 0.05}
KIND = {"online": "online", "bopis": "o2o", "store": "offline"}


def tables(channels: tuple[str, ...]) -> dict[str, Any]:
    t: dict[str, Any] = one_cell_tables(
        [{"id": k, "kind": KIND[k]} for k in channels], SHARE,
        {"id": "p1", "brand": "acme", "unit_cost": UNIT, "ref_price": REF}, {"id": "acme"},
        {"id": "north"}, {"id": "small"})
    t["price_levels"] = [
        {"product": "p1", "channel": "online", "level": "full", "price": REF},
        {"product": "p1", "channel": "online", "level": "promo", "price": PROMO,
         "demand_multiplier": 1.75}]
    return t


def scen(channels: tuple[str, ...], parity: dict[str, Any] | None) -> Scenario:
    rules = {} if parity is None else {"price_parity": parity}
    return Scenario.from_frames(tables(channels),
                                {"demand_model": "independent", "rules": rules})


def enumerate_optimum(channels: tuple[str, ...], bound: set[frozenset[str]],
                      band: float | None) -> float:
    """Best plan over every subset of channels and online level, by the table above;
    a plan is out when two offered channels in ``bound`` have prices beyond the band.
    """
    best = 0.0
    for on in product((False, True), repeat=len(channels)):
        offered = [k for k, o in zip(channels, on, strict=True) if o]
        for level in ("full", "promo"):
            price = {k: REF for k in offered}
            value = 0.0
            for k in offered:
                mult, p = (1.75, PROMO) if k == "online" and level == "promo" else (1.0, REF)
                price[k] = p
                value += SHARE[k] * 100 * mult * (p - UNIT)
            ok = band is None or all(
                abs(price[a] - price[b]) <= band * REF + 1e-9
                for a in offered for b in offered if frozenset((KIND[a], KIND[b])) in bound)
            if ok:
                best = max(best, value)
    return best


ONLINE_OFFLINE = frozenset(("online", "offline"))


def test_o2o_on_the_online_side_by_default() -> None:
    ch = ("online", "bopis")
    # no parity: promo online 2,765 + bopis 900 = 3,665
    assert mip_optimum(scen(ch, None)) == pytest.approx(3665.0)
    # default side online: promo online next to bopis at 81.99 is out (gap 0.25 of the
    # reference price > band 0.15): best of promo alone 2,765 and full + bopis 3,300
    s = scen(ch, {"band": 0.15})
    assert s.settings.rules.price_parity is not None
    assert s.settings.rules.price_parity.o2o_side == "online"
    assert mip_optimum(s) == pytest.approx(3300.0)
    assert enumerate_optimum(ch, {ONLINE_OFFLINE, frozenset(("o2o", "online"))}, 0.15) \
        == pytest.approx(3300.0)
    # the plan sells online at full price, never at promo while bopis is listed
    sol = channel_opt.solve(s, sensitivity=False)
    pc = sol.tables["product_channel"].set_index("channel")
    assert sol.objective == pytest.approx(3300.0)
    assert pc.loc["online", "level"] == "full" and bool(pc.loc["bopis", "listed"])
    # a band of 0.26 allows the gap of 0.25: 3,665 again
    assert mip_optimum(scen(ch, {"band": 0.26})) == pytest.approx(3665.0)


def test_o2o_side_offline_frees_bopis_from_the_web_shop_price() -> None:
    ch = ("online", "bopis")
    # bopis shown at the store: held to the (absent) store prices only: 3,665
    s = scen(ch, {"band": 0.15, "o2o_side": "offline"})
    assert mip_optimum(s) == pytest.approx(3665.0)
    assert enumerate_optimum(ch, {ONLINE_OFFLINE, frozenset(("o2o", "offline"))}, 0.15) \
        == pytest.approx(3665.0)


def test_sides_with_a_store() -> None:
    ch = ("online", "bopis", "store")
    # no parity: 2,765 + 900 + 300 = 3,965
    assert mip_optimum(scen(ch, None)) == pytest.approx(3965.0)
    # default: promo conflicts with the store and with bopis:
    #   promo alone 2,765 vs full + bopis + store 2,400 + 900 + 300 = 3,600 -> 3,600
    assert mip_optimum(scen(ch, {"band": 0.15})) == pytest.approx(3600.0)
    # offline side: promo conflicts with the store only; bopis (81.99) sits within the
    # band of the store (81.99): promo + bopis 3,665 beats full + both 3,600 -> 3,665
    assert mip_optimum(scen(ch, {"band": 0.15, "o2o_side": "offline"})) == \
        pytest.approx(3665.0)
    for side, want in (("online", 3600.0), ("offline", 3665.0)):
        got = enumerate_optimum(ch, {ONLINE_OFFLINE, frozenset(("o2o", side))}, 0.15)
        assert got == pytest.approx(want)


def test_o2o_side_is_validated() -> None:
    with pytest.raises((ScenarioError, ValueError)) as e:
        scen(("online", "bopis"), {"band": 0.15, "o2o_side": "store"})
    assert "o2o_side" in str(e.value)


def test_plan_check_knows_the_sides() -> None:
    """The independent plan check (from the scenario's tables, not the model) flags a
    plan with promo online next to BOPIS at 81.99 under the default side only.
    """
    from channel_opt.solving.check import check_plan

    ch = ("online", "bopis")
    free = channel_opt.solve(scen(ch, None), sensitivity=False)
    pc = free.tables["product_channel"].set_index("channel")
    assert pc.loc["online", "level"] == "promo" and bool(pc.loc["bopis", "listed"])
    obj = float(free.objective or 0.0)
    bad = [v for v in check_plan(scen(ch, {"band": 0.15}), free.tables, obj) if "parity" in v]
    assert len(bad) == 1 and "online (61.49)" in bad[0] and "bopis (81.99)" in bad[0]
    assert not [v for v in check_plan(scen(ch, {"band": 0.15, "o2o_side": "offline"}),
                                      free.tables, obj) if "parity" in v]
