"""A model with its design fixed and taken out (``ArrayModel.restricted``): the fixed
columns move into the row bounds, rows left without a free column are checked and
taken out, and the optimum is that of the full model with the same columns fixed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scenario_factory import every_rule_scenario, small_settings, small_tables

from channel_opt.model import build_array_model
from channel_opt.model.linear import ArrayModel, to_highs
from channel_opt.scenario import Scenario
from channel_opt.solving.check import check_rows
from channel_opt.solving.sensitivity import fixed_design_plan


def _labels(n: int) -> pd.DataFrame:
    return pd.DataFrame({"i": range(n)})


def hand_model() -> ArrayModel:
    """max 3y + 2z − 4x, x binary, y, z in [0, 10]:
    r1  y − 5x ≤ 0,   r2  y + z ≤ 8,   r3  x ≤ 1,   r4  x ≥ 1.
    With x = 1: y = 5, z = 3, profit 15 + 6 − 4 = 17.
    """
    m = ArrayModel()
    m.add_vars("x", _labels(1), binary=True, cost=-4.0)
    m.add_vars("yz", _labels(2), upper=10.0, cost=np.array([3.0, 2.0]))
    m.add_cons("r1", _labels(1), [(np.array([0, 0]), np.array([1, 0]), np.array([1.0, -5.0]))],
               upper=0.0)
    m.add_cons("r2", _labels(1), [(np.array([0, 0]), np.array([1, 2]), 1.0)], upper=8.0)
    m.add_cons("r3", _labels(1), [(np.array([0]), np.array([0]), 1.0)], upper=1.0)
    m.add_cons("r4", _labels(1), [(np.array([0]), np.array([0]), 1.0)], lower=1.0)
    return m


def lp_value(am: ArrayModel) -> float | None:
    h = to_highs(am)
    h.setOptionValue("output_flag", False)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    return float(h.getInfo().objective_function_value)


def test_hand_case_moves_the_fixed_part_into_the_bounds() -> None:
    m = hand_model()
    r = m.restricted(np.array([1.0, 0.0, 0.0]), continuous=True)
    assert list(r.model.vars) == ["yz"] and r.model.n_cols == 2
    assert list(r.model.cons) == ["r1", "r2"]  # r3, r4 hold only x: taken out, and hold
    assert r.model.cons["r1"].upper.tolist() == [5.0]  # y − 5·1 ≤ 0  ⇒  y ≤ 5
    assert len(r.broken) == 0
    assert r.rows.tolist() == [0, 1]
    x = fixed_design_plan(m, np.array([1.0, 0.0, 0.0]))
    assert x is not None
    assert x.tolist() == pytest.approx([1.0, 5.0, 3.0])
    assert float(m.cost @ x) == pytest.approx(17.0)
    assert r.lift_rows(np.array([7.0, 9.0])).tolist() == [7.0, 9.0, 0.0, 0.0]


def test_a_row_the_fixed_values_break_makes_the_design_infeasible() -> None:
    m = hand_model()
    r = m.restricted(np.zeros(3), continuous=True)  # x = 0 breaks r4: x ≥ 1
    assert r.broken.tolist() == [3]
    assert fixed_design_plan(m, np.zeros(3)) is None
    assert lp_value(m.fixed(np.zeros(3), continuous=True)) is None  # the full model agrees


@pytest.mark.parametrize("build", ["every_rule", "small"])
def test_same_optimum_as_the_full_fixed_model(build: str) -> None:
    """The optimal design of two scenarios (every rule on; 2 × 2 × 2 cells) and 40
    random neighbours (one to three decisions flipped): the restricted LP and the full
    model with the same columns fixed are both infeasible or have the same optimum, and
    the lifted plan passes the row check.
    """
    scen = every_rule_scenario(decision=True) if build == "every_rule" else \
        Scenario.from_frames(small_tables(), small_settings())
    am, _ = build_array_model(scen)
    integer = am.integrality().astype(bool)
    lo, up = am.bounds()
    h = to_highs(am)
    h.setOptionValue("output_flag", False)
    h.run()
    best = np.rint(np.asarray(h.getSolution().col_value))
    cols = np.flatnonzero(integer)
    rng = np.random.default_rng(7)
    agreed = feasible = 0
    for k in range(41):
        x = np.where(integer, best, 0.0)
        flip = rng.choice(cols, size=min(len(cols), k % 3 + 1), replace=False) if k else []
        x[flip] = 1.0 - x[flip]
        x = np.clip(x, lo, up)
        full = lp_value(am.fixed(x, continuous=True))
        plan = fixed_design_plan(am, x)
        assert (plan is None) == (full is None)
        if plan is not None and full is not None:
            feasible += 1
            assert float(am.cost @ plan) == pytest.approx(full, rel=1e-7, abs=1e-6)
            assert check_rows(am, plan) == []
        agreed += 1
    assert agreed == 41 and 1 <= feasible < 41
