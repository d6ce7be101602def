"""The constructive plan of a cost-only scenario: every margin <= 0, a service level
forces sales. Before, the reweighting divided by the largest set value (0) and the
heuristic returned no plan.
"""

from __future__ import annotations

from typing import Any

import pytest
from scenario_factory import duo

from channel_opt.model import build_array_model
from channel_opt.scenario import Scenario
from channel_opt.solving import solve
from channel_opt.solving.check import check_rows
from channel_opt.solving.heuristic import construct

# duo with unit cost 120 > price 100: online loses 20 + 10 = 30 a unit, the store
# 20 + 30 (its 30% fee) = 50. Alone-shares 0.8 (odds 4): a channel offered alone has
# demand 80; both offered, 100 * 4/9 = 44.44 each.
# Half the market (50 units) must be served. By hand: {online} sells 50, loss 1,500;
# {store} 50, loss 2,500; {online, store} at best 44.44 online + 5.56 store, loss 1,611.11.
OPTIMUM = -1500.0
BOTH_SETS = -(400 / 9 * 30 + (50 - 400 / 9) * 50)  # -1611.11: the heuristic's plan


def _cost_only(rules: dict[str, Any], **regions: Any) -> Scenario:
    shares = [{"product": "P", "region": "R", "segment": "S", "channel": c, "share": 0.8}
              for c in ("online", "store")]
    over: dict[str, Any] = {}
    if regions:
        over["regions"] = [{"id": "R", **regions}]
    return duo({"rules": rules}, shares=shares, products=[
        {"id": "P", "brand": "B", "unit_cost": 120.0, "ref_price": 100.0}], **over)


CASES = [({"cell_service_level": 0.5}, {}),
         ({"service_level": True}, {"service_level": 0.5})]


@pytest.mark.parametrize(("rules", "regions"), CASES)
def test_heuristic_finds_a_feasible_plan(rules: dict[str, Any],
                                         regions: dict[str, Any]) -> None:
    am, data = build_array_model(_cost_only(rules, **regions))
    c = construct(am, data)
    assert c.x is not None and c.objective is not None
    assert check_rows(am, c.x) == []
    assert c.objective == pytest.approx(BOTH_SETS, rel=1e-6)  # most units per round
    assert c.objective <= OPTIMUM <= c.bound


@pytest.mark.parametrize(("rules", "regions"), CASES)
def test_cost_only_optimum_by_hand(rules: dict[str, Any], regions: dict[str, Any]) -> None:
    sol = solve(_cost_only(rules, **regions), sensitivity=False)
    assert sol.plan_status == "optimal"
    assert sol.objective == pytest.approx(OPTIMUM, rel=1e-6)
    cc = sol.tables["cell_channel"].set_index("channel")
    assert cc.loc["online", "sales"] == pytest.approx(50.0)  # exactly half the market
    assert cc.loc["store", "sales"] == pytest.approx(0.0)
