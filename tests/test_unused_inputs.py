"""Input that is accepted must change something: demand scenarios are refused until the
two-stage model exists; limits whose rule family is off are noted on the scenario.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from scenario_factory import duo, duo_tables

from channel_opt.scenario import Scenario, ScenarioError, load_scenario
from channel_opt.scenario.settings import Rules
from channel_opt.scenario.tables import TABLES, columns
from channel_opt.solving import solve

ROOT = Path(__file__).parents[1]
DEMAND = [{"id": "low", "probability": 0.5, "market_multiplier": 2.0},
          {"id": "high", "probability": 0.5, "market_multiplier": 2.0}]


def test_demand_scenarios_are_refused_by_the_api() -> None:
    # before: accepted, hashed, then ignored (doubling every market left the profit)
    with pytest.raises(ScenarioError) as e:
        Scenario.from_frames(duo_tables(demand_scenarios=DEMAND), {})
    (p,) = [p for p in e.value.problems if p.table == "demand_scenarios"]
    assert "two-stage model" in p.rule and "not built yet" in p.rule and "2 row(s)" in p.rule
    assert "remove the 'demand_scenarios' table" in p.fix


def test_an_empty_demand_scenarios_table_is_fine() -> None:
    header_only = pd.DataFrame({"id": pd.Series(dtype=str),
                                "probability": pd.Series(dtype=float)})
    empty = Scenario.from_frames(duo_tables(demand_scenarios=header_only), {})
    assert empty == duo()


def test_demand_scenarios_exit_2_from_the_cli(tmp_path: Path) -> None:
    doc = {"name": "duo", "tables": duo_tables(demand_scenarios=DEMAND)}
    scen = tmp_path / "duo.yaml"
    scen.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = tmp_path / "res"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "channel_opt.cli", "-q", "solve", str(scen),
                        "--out", str(out)], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "demand_scenarios" in r.stderr and "two-stage model" in r.stderr
    assert not out.exists()


def test_gated_columns_name_real_rule_families() -> None:
    gated = {(t, c.name): c.rules for t, s in TABLES.items() for c in columns(s.row)
             if c.rules}
    assert ("regions", "service_level") in gated
    assert all(r in Rules.model_fields for rules in gated.values() for r in rules)


def _regions(**kw: Any) -> list[dict[str, Any]]:
    return [{"id": "R", **kw}]


@pytest.mark.parametrize(("column", "value", "family"), [
    ("service_level", 0.9, "service_level"), ("partner_profit_floor", 5000.0, "partner_floor"),
    ("store_labour_hours", 10.0, "store_labour"), ("dealer_capacity", 5.0, "dealer_capacity"),
])
def test_a_limit_without_its_rule_is_noted(column: str, value: float, family: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="channel_opt"):
        scen = duo(regions=_regions(**{column: value}))
    (note,) = scen.notes
    assert (note.table, note.column) == ("regions", column)
    assert f"'{family}' is off" in note.rule and "1 row(s)" in note.rule
    assert str(note) in scen.summary()["unused_inputs"]
    assert any(column in r.getMessage() for r in caplog.records)
    # and indeed it has no effect: duo's optimum by hand, 100/3 units x 80
    assert solve(scen, sensitivity=False).objective == pytest.approx(100 / 3 * 80)
    assert duo({"rules": {family: True}}, regions=_regions(**{column: value})).notes == ()


def test_other_inputs_without_effect_are_noted() -> None:
    scen = duo({"rules": {"commission": {"share": 0.05, "policy_cost": 100.0}}},
               brands=[{"id": "B", "launch_cost": 900.0}])
    assert {(n.table, n.column) for n in scen.notes} == {
        ("brands", "launch_cost"), ("settings", "rules.commission.policy_cost")}
    assert duo({"rules": {"commission": {"share": 0.05, "policy_cost": 100.0,
                                         "decision": True}}},
               brands=[{"id": "B", "launch_cost": 900.0, "new": True}]).notes == ()


def test_the_shipped_tiny_instance_has_no_unused_input() -> None:
    assert load_scenario(ROOT / "instances" / "tiny" / "tiny.yaml").notes == ()


def test_the_note_reaches_summary_json(tmp_path: Path) -> None:
    import json

    from channel_opt.cli import main

    doc = {"name": "duo", "tables": duo_tables(regions=_regions(service_level=0.9))}
    scen = tmp_path / "duo.yaml"
    scen.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = tmp_path / "res"
    assert main(["-q", "solve", str(scen), "--out", str(out), "--no-plots"]) == 0
    notes = json.loads((out / "summary.json").read_text())["scenario_summary"]["unused_inputs"]
    assert len(notes) == 1 and "service_level" in notes[0] and "is off" in notes[0]
