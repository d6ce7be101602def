"""sensitivity.csv holds fixed-design values and says so: in the table, the report and
the README. By hand on duo (conftest) with a partner floor on the store's income.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scenario_factory import duo, duo_tables

from channel_opt import output
from channel_opt.scenario import Scenario
from channel_opt.solving import solve
from channel_opt.solving.sensitivity import BASIS

BOTH = 100 / 3 * 80  # {online, store}: 2666.67, the store's fees 0.3 x 100 x 100/3 = 1000
STORE_ALONE = 50 * 30.0  # {store}: 50 units x 30 margin = 1500, fees 0.3 x 100 x 50 = 1500


def _floor(value: float) -> Scenario:
    return duo({"rules": {"partner_floor": True}},
               regions=[{"id": "R", "partner_profit_floor": value}])


def test_a_slack_floor_reads_0_and_is_labelled_fixed_design() -> None:
    low, high = solve(_floor(500.0)), solve(_floor(1500.0))
    assert low.objective == pytest.approx(BOTH) and high.objective == pytest.approx(STORE_ALONE)
    sens = low.sensitivity
    assert sens is not None
    row = sens[sens["family"] == "partner_floor"].iloc[0]
    # raising the floor by 1000 costs 1166.67 (the design must change), yet the
    # fixed-design dual is 0: hence the label on every row
    assert row["marginal_profit"] == 0.0
    assert row["basis"] == BASIS == "fixed design"


def test_label_in_csv_report_and_readme(tmp_path: Path) -> None:
    t = duo_tables()  # store labour binds: a nonzero dual, so the report shows the table
    t["channels"] = [{"id": "online", "kind": "online", "variable_cost": 40.0},
                     {"id": "store", "kind": "offline", "fee_share": 0.3, "labour_hours": 0.5}]
    t["regions"] = [{"id": "R", "store_labour_hours": 10.0}]
    scen = Scenario.from_frames(t, {"rules": {"store_labour": True}})
    sol = solve(scen)
    out = tmp_path / "res"
    output.write_solution(sol, scen, out, plots=False)
    csv = pd.read_csv(out / "sensitivity.csv")
    assert set(csv["basis"]) == {"fixed design"}
    assert csv.loc[csv["family"] == "store_labour", "marginal_profit"].iloc[0] == \
        pytest.approx(60.0)  # 30 margin per store unit / 0.5 h
    report = (out / "report.md").read_text()
    assert "Fixed-design values" in report
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `sensitivity.csv`"))
    assert "fixed-design values" in row
