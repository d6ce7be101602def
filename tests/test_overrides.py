"""What-if overrides: parsed and validated like a file, applied to a new scenario."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from scenario_factory import duo, duo_tables

import channel_opt
from channel_opt import ScenarioError
from channel_opt.analysis.overrides import (
    apply_overrides,
    parse_grid,
    parse_override,
    split_values,
)
from channel_opt.cli import main

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny() -> channel_opt.Scenario:
    return channel_opt.load_scenario(TINY)


def test_set_a_setting_builds_a_new_scenario(tiny: channel_opt.Scenario) -> None:
    new = apply_overrides(tiny, ["rules.overlap.cost=600"])
    assert new.settings.rules.overlap is not None and new.settings.rules.overlap.cost == 600.0
    assert tiny.settings.rules.overlap is not None and tiny.settings.rules.overlap.cost == 400.0
    assert new.hash != tiny.hash and new.name == tiny.name
    # the same content as a file with that value: the same hash
    same = apply_overrides(apply_overrides(tiny, ["rules.overlap.cost=600"]),
                           ["rules.overlap.cost=400"])
    assert same.hash == tiny.hash
    assert apply_overrides(tiny, ["rules.overlap.cost*=1.5"]).hash == new.hash


def test_scale_and_filter_table_columns(tiny: channel_opt.Scenario) -> None:
    floors = tiny.regions.set_index("id")["partner_profit_floor"]
    assert floors.to_dict() == {"north": 0.0, "south": 1700.0}
    scaled = apply_overrides(tiny, ["regions.partner_profit_floor*=0.8"])
    assert scaled.regions.set_index("id")["partner_profit_floor"].to_dict() == \
        {"north": 0.0, "south": 1360.0}
    one = apply_overrides(tiny, {"regions[id=north].partner_profit_floor": 30000})
    assert one.regions.set_index("id")["partner_profit_floor"].to_dict() == \
        {"north": 30000.0, "south": 1700.0}
    two = apply_overrides(tiny, ["cells[product=p1,segment=small].market_size*=2"])
    c = two.cells.set_index(["product", "region", "segment"])["market_size"]
    assert c[("p1", "north", "small")] == 240.0 and c[("p1", "south", "small")] == 240.0
    assert c[("p2", "north", "small")] == 120.0 and c[("p1", "north", "large")] == 40.0
    # a family switched on by setting one of its options
    on = apply_overrides(tiny, ["rules.dc_capacity=100", "rules.overlap.max_pairs=1"])
    assert on.settings.rules.dc_capacity == 100.0
    assert on.settings.rules.overlap is not None and on.settings.rules.overlap.max_pairs == 1


@pytest.mark.parametrize(("text", "words"), [
    ("rules.overlap.cst=1", ["--set rules.overlap.cst=1", "unknown setting 'cst'",
                             "cost, max_pairs"]),
    ("rules.overlap.cost=-5", ["--set rules.overlap.cost=-5", "greater than or equal to 0"]),
    ("foo=1", ["unknown setting or table 'foo'"]),
    ("regions[id=sout].partner_profit_floor=1", ["no row of 'regions' has id=sout"]),
    ("regions.floor=1", ["table 'regions' has no column 'floor'", "partner_profit_floor"]),
    ("regions.partner_profit_floor=abc", ["--set regions.partner_profit_floor=abc",
                                          "not a number"]),
    ("regions.id*=2", ["column 'id' is not numeric"]),
    ("rules.overlap.cost*=x", ["'*=' needs a number"]),
    ("rules.overlap.cost", ["no '=' in the override"]),
    ("rules.overlap.cost=", ["no value after '='"]),
    ("currency*=2", ["cannot be scaled"]),
])
def test_bad_overrides_name_the_override_and_the_rule(tiny: channel_opt.Scenario, text: str,
                                                      words: list[str]) -> None:
    with pytest.raises(ScenarioError) as e:
        apply_overrides(tiny, [text])
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_grid_values_split_outside_brackets() -> None:
    assert split_values("0, 400,800") == ["0", "400", "800"]
    assert split_values("[a,b],'x,y'") == ["[a,b]", "'x,y'"]
    grid = parse_grid(["rules.overlap.cost=0,600", "regions[id=north].partner_profit_floor*=1,2"])
    assert grid == {"rules.overlap.cost": [0, 600],
                    "regions[id=north].partner_profit_floor*": [1, 2]}
    with pytest.raises(ScenarioError, match="given twice"):
        parse_grid(["rules.overlap.cost=1", "rules.overlap.cost=2"])
    assert parse_override("regions[id=a=b].x=1").filters == (("id", "a=b"),)


def _write_duo(d: Path) -> Path:
    p = d / "duo.yaml"
    p.write_text(yaml.safe_dump({"name": "duo", "settings": {}, "tables": duo_tables()}))
    return p


def test_cli_solve_set_records_overrides_and_writes_xlsx(tmp_path: Path) -> None:
    scen = _write_duo(tmp_path)
    before = scen.read_bytes()
    out = tmp_path / "res"
    # a store that earns nothing: by hand {online} alone, 50 units x 50 = 2500
    assert main(["-q", "solve", str(scen), "--out", str(out), "--no-plots", "--format", "xlsx",
                 "--set", "channels[id=store].fee_share=1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == pytest.approx(2500.0)
    assert summary["overrides"] == {"channels[id=store].fee_share": 1}
    assert summary["input"] == str(scen.resolve())
    assert summary["scenario_hash"] != duo().hash
    assert scen.read_bytes() == before
    wb = openpyxl.load_workbook(out / "results.xlsx", read_only=True)
    assert wb.sheetnames[0] == "summary"
    assert {"kpis", "cell_channel", "profit", "capacity"} <= set(wb.sheetnames)
    summ = pd.read_excel(out / "results.xlsx", sheet_name="summary").set_index("key")["value"]
    assert float(summ["objective"]) == pytest.approx(2500.0)
    assert summ["overrides.channels[id=store].fee_share"] == 1
    kp = pd.read_excel(out / "results.xlsx", sheet_name="kpis").set_index("kpi")["value"]
    csv = pd.read_csv(out / "kpis.csv").set_index("kpi")["value"]
    pd.testing.assert_series_equal(kp, csv, check_dtype=False)


def test_cli_bad_override_exits_2_and_writes_nothing(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    scen = _write_duo(tmp_path)
    out = tmp_path / "res"
    assert main(["-q", "solve", str(scen), "--out", str(out),
                 "--set", "rules.overlap.cost=-1"]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "--set rules.overlap.cost=-1" in err and "Fix:" in err
