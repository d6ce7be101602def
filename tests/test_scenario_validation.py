"""Bad scenario input: every class of problem is reported with its exact location.

Every test writes real files (CSV tables referenced from a YAML file, or one
workbook) and loads them, so the locations checked are the ones a planner sees:
file name, sheet, 1-based file line (header = line 1), column and the rule broken.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_factory import small_settings, small_tables, write_yaml_scenario

from channel_opt.scenario import Problem, Scenario, ScenarioError, load_scenario, save_scenario


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = info.value.problems
    assert problems, "a ScenarioError must carry at least one problem"
    for p in problems:
        assert p.file
        assert p.rule
        assert p.fix
    return problems


def _load_bad(tmp_path: Path, tables: dict[str, pd.DataFrame],
              settings: object = None) -> list[Problem]:
    return _problems(write_yaml_scenario(tmp_path, tables, settings))


def _line(index: int) -> int:
    """File line of the DataFrame row at ``index`` (header = line 1)."""
    return index + 2


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def _as_object(tables: dict[str, pd.DataFrame], table: str, column: str) -> pd.DataFrame:
    df = tables[table]
    df[column] = df[column].astype(object)
    return df


# ---------------------------------------------------------------------------- columns


def test_missing_required_column(tmp_path: Path) -> None:
    t = small_tables()
    t["cells"] = t["cells"].drop(columns="market_size")
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "cells.csv"
    assert (p.table, p.row, p.column) == ("cells", None, "market_size")
    assert p.rule == "missing required column"
    assert "add column 'market_size'" in p.fix


@pytest.mark.parametrize(("table", "column"), [
    ("channels", "id"), ("brands", "id"), ("products", "brand"), ("regions", "id"),
    ("cells", "region"), ("shares", "channel"), ("shares", "share"),
])
def test_missing_key_or_reference_column_is_one_problem(tmp_path: Path, table: str,
                                                        column: str) -> None:
    """A missing id/key/reference column is reported once, without a traceback or cascade."""
    t = small_tables()
    t[table] = t[table].drop(columns=column)
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == f"{table}.csv"
    assert (p.table, p.row, p.column, p.rule) == (table, None, column,
                                                  "missing required column")


def test_unknown_column(tmp_path: Path) -> None:
    t = small_tables()
    t["products"]["colour"] = "red"
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "products.csv"
    assert (p.table, p.row, p.column, p.rule) == ("products", None, "colour", "unknown column")
    assert "ref_price" in p.fix
    assert "unit_cost" in p.fix


def test_misspelt_column_reports_both_sides(tmp_path: Path) -> None:
    """A typo in a required header: the unknown name and the missing one, together."""
    t = small_tables()
    t["cells"] = t["cells"].rename(columns={"market_size": "marketsize"})
    problems = _load_bad(tmp_path, t)
    assert {(p.column, p.rule) for p in problems} == {
        ("marketsize", "unknown column"), ("market_size", "missing required column")}
    assert all(Path(p.file).name == "cells.csv" for p in problems)


# ------------------------------------------------------------------------- cell types


def test_text_in_a_number_column(tmp_path: Path) -> None:
    t = small_tables()
    _as_object(t, "cells", "market_size").loc[2, "market_size"] = "lots"
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "cells.csv"
    assert (p.table, p.row, p.column, p.rule) == ("cells", 4, "market_size", "not a number")
    assert "write a number" in p.fix


def test_text_in_a_bool_column_is_one_problem(tmp_path: Path) -> None:
    """A bad true/false cell is reported and does not cascade (read as the default)."""
    t = small_tables()
    _as_object(t, "regions", "has_stores").loc[1, "has_stores"] = "maybe"
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "regions.csv"
    assert (p.table, p.row, p.column, p.rule) == ("regions", 3, "has_stores", "not true/false")


def test_unknown_choice(tmp_path: Path) -> None:
    t = small_tables()
    t["channels"].loc[0, "kind"] = "web"
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "channels.csv"
    assert (p.table, p.row, p.column, p.rule) == ("channels", 2, "kind", "unknown kind")
    assert "online, offline, o2o" in p.fix


def test_missing_value_in_required_column(tmp_path: Path) -> None:
    t = small_tables()
    t["products"].loc[1, "ref_price"] = np.nan  # written as an empty cell
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "products.csv"
    assert (p.table, p.row, p.column, p.rule) == ("products", 3, "ref_price", "missing value")


# -------------------------------------------------------------------- numeric values


@pytest.mark.parametrize(("table", "column", "index"), [
    ("cells", "market_size", 5), ("products", "unit_cost", 0),
    ("channels", "variable_cost", 2), ("regions", "dealer_capacity", 1),
])
def test_negative_number(tmp_path: Path, table: str, column: str, index: int) -> None:
    t = small_tables()
    t[table].loc[index, column] = -3.5
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == f"{table}.csv"
    assert (p.table, p.row, p.column, p.rule) == (table, _line(index), column,
                                                  "negative number")
    assert p.fix == "write a value >= 0"


def test_strict_lower_bound(tmp_path: Path) -> None:
    t = small_tables()
    t["products"].loc[0, "ref_price"] = 0.0
    p = _only(_load_bad(tmp_path, t))
    assert (p.table, p.row, p.column, p.rule) == ("products", 2, "ref_price",
                                                  "value must be > 0")


@pytest.mark.parametrize(("table", "column", "text", "rule"), [
    ("cells", "market_size", "inf", "number is not finite"),
    ("cells", "market_size", "-inf", "number is not finite"),
    ("channels", "variable_cost", "inf", "number is not finite"),
    ("products", "inventory", "-inf", "number is not finite"),
    ("cells", "market_size", "NaN", "missing value"),
])
def test_non_finite_number(tmp_path: Path, table: str, column: str, text: str,
                           rule: str) -> None:
    t = small_tables()
    _as_object(t, table, column).loc[1, column] = text
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == f"{table}.csv"
    assert (p.table, p.row, p.column, p.rule) == (table, 3, column, rule)


def test_infinity_means_no_limit_where_the_default_is_no_limit(tmp_path: Path) -> None:
    t = small_tables()
    _as_object(t, "products", "inventory").loc[1, "inventory"] = "inf"
    scen = load_scenario(write_yaml_scenario(tmp_path, t))
    assert scen.products["inventory"].tolist() == [1000.0, np.inf]


# ---------------------------------------------------------------------------- shares


def test_share_above_one(tmp_path: Path) -> None:
    """A share written as a percentage: one problem (not also the mnl rule), with a hint."""
    t = small_tables()
    t["shares"].loc[7, "share"] = 30.0
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "shares.csv"
    assert (p.table, p.row, p.column, p.rule) == ("shares", 9, "share", "value must be <= 1")
    assert "0.3, not 30" in p.fix


def test_share_below_zero(tmp_path: Path) -> None:
    t = small_tables()
    t["shares"].loc[0, "share"] = -0.2
    p = _only(_load_bad(tmp_path, t))
    assert (p.table, p.row, p.column, p.rule) == ("shares", 2, "share", "negative number")


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_mnl_share_must_be_strictly_inside(tmp_path: Path, value: float) -> None:
    t = small_tables()
    t["shares"].loc[3, "share"] = value
    p = _only(_load_bad(tmp_path / "mnl", t))
    assert (p.table, p.row, p.column) == ("shares", 5, "share")
    assert p.rule == "mnl share must be strictly between 0 and 1"
    settings = {**small_settings(), "demand_model": "independent"}
    load_scenario(write_yaml_scenario(tmp_path / "independent", t, settings))


@pytest.mark.parametrize(("table", "column"), [
    ("channels", "fee_share"), ("channels", "return_rate"),
])
def test_fraction_column_out_of_range(tmp_path: Path, table: str, column: str) -> None:
    t = small_tables()
    t[table].loc[1, column] = 1.5
    p = _only(_load_bad(tmp_path, t))
    assert (p.table, p.row, p.column, p.rule) == (table, 3, column, "value must be <= 1")


# ------------------------------------------------------------------------ references


@pytest.mark.parametrize(("table", "column", "index", "target"), [
    ("products", "brand", 1, "brands"),
    ("cells", "product", 3, "products"),
    ("cells", "region", 6, "regions"),
    ("cells", "segment", 0, "segments"),
    ("shares", "channel", 11, "channels"),
])
def test_unknown_id_in_a_reference(tmp_path: Path, table: str, column: str, index: int,
                                   target: str) -> None:
    t = small_tables()
    t[table].loc[index, column] = "zeta"
    problems = _load_bad(tmp_path, t)
    rule = f"unknown {column} id (not in table '{target}')"
    hits = [p for p in problems if p.rule == rule]
    p = _only(hits)
    assert Path(p.file).name == f"{table}.csv"
    assert (p.table, p.row, p.column) == (table, _line(index), column)
    assert f"use an id listed in '{target}'" in p.fix


def test_unknown_channel_in_a_list_cell(tmp_path: Path) -> None:
    t = small_tables()
    t["segments"].loc[1, "channels"] = "store;van"
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "segments.csv"
    assert (p.table, p.row, p.column, p.rule) == ("segments", 3, "channels",
                                                  "unknown channel in list")


def test_share_for_a_cell_that_does_not_exist(tmp_path: Path) -> None:
    t = small_tables()
    dropped = t["cells"].iloc[2]
    t["cells"] = t["cells"].drop(index=2).reset_index(drop=True)
    sh = t["shares"]
    rows = sh.index[(sh["product"] == dropped["product"]) & (sh["region"] == dropped["region"])
                    & (sh["segment"] == dropped["segment"])]
    problems = _load_bad(tmp_path, t)
    assert [p.row for p in problems] == [_line(i) for i in rows]
    assert {(Path(p.file).name, p.rule) for p in problems} == {
        ("shares.csv", "share for a cell that is not in table 'cells'")}


# ------------------------------------------------------------------ keys and tables


def test_duplicate_key(tmp_path: Path) -> None:
    t = small_tables()
    t["cells"] = pd.concat([t["cells"], t["cells"].iloc[[3]]], ignore_index=True)
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "cells.csv"
    assert (p.table, p.row, p.column) == ("cells", _line(len(t["cells"]) - 1), "segment")
    assert p.rule == "duplicate key (product, region, segment)"


@pytest.mark.parametrize("table", ["channels", "regions", "products"])
def test_duplicate_id(tmp_path: Path, table: str) -> None:
    """A duplicate id is one problem (regression: duplicate channel/region ids crashed)."""
    t = small_tables()
    t[table] = pd.concat([t[table], t[table].iloc[[0]]], ignore_index=True)
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == f"{table}.csv"
    assert (p.table, p.row, p.column, p.rule) == (table, _line(len(t[table]) - 1), "id",
                                                  "duplicate key (id)")


def test_empty_required_table(tmp_path: Path) -> None:
    t = small_tables()
    t["segments"] = t["segments"].iloc[:0]  # header only
    problems = _load_bad(tmp_path, t)
    empty = _only([p for p in problems if p.rule == "required table is empty"])
    assert Path(empty.file).name == "segments.csv"
    assert (empty.table, empty.row, empty.column) == ("segments", None, None)
    # the cells, shares and rules naming a segment are reported too
    assert {p.table for p in problems} == {"segments", "cells", "shares",
                                           "rules.reserved_segments"}


def test_missing_required_table(tmp_path: Path) -> None:
    t = small_tables()
    del t["brands"]
    problems = _load_bad(tmp_path, t)
    missing = _only([p for p in problems if p.rule == "required table is missing"])
    assert missing.table == "brands"
    assert "add the 'brands' table" in missing.fix


def test_unknown_table(tmp_path: Path) -> None:
    t = small_tables()
    t["stores"] = pd.DataFrame({"id": ["s1"]})
    p = _only(_load_bad(tmp_path, t))
    assert Path(p.file).name == "scenario.yaml"
    assert (p.column, p.rule) == ("stores", "unknown table")


def test_table_file_not_found(tmp_path: Path) -> None:
    path = write_yaml_scenario(tmp_path, small_tables())
    (tmp_path / "cells.csv").unlink()
    problems = _problems(path)
    nf = _only([p for p in problems if "not found" in p.rule])
    assert Path(nf.file).name == "scenario.yaml"
    assert (nf.table, nf.rule) == ("tables.cells", "table file 'cells.csv' not found")


# ------------------------------------------------------- rules and inconsistent options


def test_reserved_segment_rule_names_unknown_channel(tmp_path: Path) -> None:
    s = small_settings()
    s["rules"]["reserved_segments"] = {"large": ["dealer", "van"]}
    p = _only(_load_bad(tmp_path, small_tables(), s))
    assert Path(p.file).name == "scenario.yaml"
    assert (p.table, p.row, p.column) == ("rules.reserved_segments", None, "large")
    assert p.rule == "rule references channel 'van' that does not exist"
    assert "dealer, online, store" in p.fix


def test_reserved_segment_rule_names_unknown_segment(tmp_path: Path) -> None:
    s = small_settings()
    s["rules"]["reserved_segments"] = {"huge": "dealer"}
    p = _only(_load_bad(tmp_path, small_tables(), s))
    assert (p.table, p.column, p.rule) == ("rules.reserved_segments", "huge",
                                           "unknown segment in rule")


def test_channel_rule_names_unknown_channel(tmp_path: Path) -> None:
    s = small_settings()
    s["channel_rules"] = [{"action": "forbid", "channel": "online", "season": "out"},
                          {"action": "force", "channel": "kiosk", "region": "north"}]
    p = _only(_load_bad(tmp_path, small_tables(), s))
    assert Path(p.file).name == "scenario.yaml"
    assert (p.table, p.column) == ("channel_rules[1]", "channel")
    assert p.rule == "rule references channel 'kiosk' that does not exist"


def test_channel_rule_names_unknown_scope(tmp_path: Path) -> None:
    s = small_settings()
    s["channel_rules"] = [{"action": "forbid", "kind": "online", "brand": "zeta"}]
    p = _only(_load_bad(tmp_path, small_tables(), s))
    assert (p.table, p.column, p.rule) == ("channel_rules[0]", "brand",
                                           "rule references unknown brand 'zeta'")


def test_o2o_channel_in_region_without_stores(tmp_path: Path) -> None:
    """Every share row of a store-bound channel in a store-less region, at its line."""
    t = small_tables()
    t["channels"] = pd.concat([t["channels"], pd.DataFrame({
        "id": ["bopis"], "kind": ["o2o"], "variable_cost": [1.5], "fee_share": [0.05],
        "return_rate": [0.05], "requires_store": [True], "dealer_use": [0.0]})],
        ignore_index=True)
    cells = t["cells"][["product", "region", "segment"]]
    t["shares"] = pd.concat([t["shares"], cells.assign(channel="bopis", share=0.2)],
                            ignore_index=True)
    t["regions"].loc[1, "has_stores"] = False
    south = t["regions"].loc[1, "id"]
    sh = t["shares"]
    expected = [_line(i) for i in sh.index[(sh["region"] == south)
                                           & sh["channel"].isin(["store", "bopis"])]]
    assert len(expected) == 8
    problems = _load_bad(tmp_path, t)
    assert sorted(p.row for p in problems if p.row is not None) == expected
    for p in problems:
        assert Path(p.file).name == "shares.csv"
        assert (p.table, p.column) == ("shares", "channel")
        assert p.rule == "channel requires store presence but the region has no stores"
        assert "has_stores: true" in p.fix


def test_long_runs_are_summarized(tmp_path: Path) -> None:
    """More than a screenful of one rule: the first rows listed, then a count."""
    t = small_tables()
    t["shares"]["share"] = 2.0
    problems = _load_bad(tmp_path, t)
    rows = [p.row for p in problems]
    assert rows[:8] == list(range(2, 10))
    assert rows[8:] == [None]
    assert problems[8].rule == "16 more row(s) break the same rule (value must be <= 1)"


# ------------------------------------------------------------------------ settings


def test_unknown_key_under_rules(tmp_path: Path) -> None:
    s = small_settings()
    s["rules"]["overlapp"] = {"cost": 3}
    p = _only(_load_bad(tmp_path, small_tables(), s))
    assert Path(p.file).name == "scenario.yaml"
    assert (p.table, p.row, p.column) == ("settings", None, "rules.overlapp")
    assert p.rule == "unknown setting 'overlapp'"
    assert "overlap" in p.fix
    assert "price_parity" in p.fix


def test_unknown_key_in_a_rule_family(tmp_path: Path) -> None:
    s = small_settings()
    s["rules"]["overlap"] = {"cost": 3, "colour": "red"}
    p = _only(_load_bad(tmp_path, small_tables(), s))
    assert (p.column, p.rule) == ("rules.overlap.colour", "unknown setting 'colour'")
    assert p.fix == "remove it or use one of: cost, max_pairs"


def test_bad_setting_values_all_reported(tmp_path: Path) -> None:
    s = small_settings()
    s["demand_model"] = "logit"
    s["rules"]["overlap"] = {"cost": -1}
    s["channel_rules"] = [{"action": "ban", "channel": "online"}]
    problems = _load_bad(tmp_path, small_tables(), s)
    assert {p.column for p in problems} == {"demand_model", "rules.overlap.cost",
                                            "channel_rules.0.action"}
    assert all(Path(p.file).name == "scenario.yaml" and p.table == "settings"
               for p in problems)


@pytest.mark.parametrize("settings", [5, [1, 2], "mnl"])
def test_settings_not_a_mapping(tmp_path: Path, settings: object) -> None:
    p = _only(_load_bad(tmp_path, small_tables(), settings))
    assert (p.table, p.rule) == ("settings", "settings is not a mapping")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write_yaml_scenario(tmp_path, small_tables())
    path.write_text(path.read_text() + "tabels: {}\n")
    p = _only(_problems(path))
    assert (Path(p.file).name, p.column, p.rule) == ("scenario.yaml", "tabels",
                                                     "unknown top-level key")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("name: x\ntables: {cells: [\n")
    p = _only(_problems(path))
    assert p.rule.startswith("cannot parse file")


# ------------------------------------------------------------- all problems at once


def test_three_errors_in_one_file_are_three_problems(tmp_path: Path) -> None:
    t = small_tables()
    cells = _as_object(t, "cells", "market_size")
    cells.loc[1, "market_size"] = -1.0
    cells.loc[3, "market_size"] = "many"
    t["cells"] = pd.concat([cells, cells.iloc[[6]]], ignore_index=True)  # line 10
    problems = _load_bad(tmp_path, t)
    assert sorted((Path(p.file).name, p.row, p.column, p.rule) for p in problems) == [
        ("cells.csv", 3, "market_size", "negative number"),
        ("cells.csv", 5, "market_size", "not a number"),
        ("cells.csv", 10, "segment", "duplicate key (product, region, segment)"),
    ]


def test_unknown_cell_id_also_orphans_its_shares(tmp_path: Path) -> None:
    t = small_tables()
    t["cells"].loc[5, "region"] = "west"
    cell = small_tables()["cells"].loc[5]
    sh = t["shares"]
    orphans = sh.index[(sh["product"] == cell["product"]) & (sh["region"] == cell["region"])
                       & (sh["segment"] == cell["segment"])]
    problems = _load_bad(tmp_path, t)
    assert [(Path(p.file).name, p.row, p.column) for p in problems] == [
        ("cells.csv", 7, "region")] + [("shares.csv", _line(i), "segment") for i in orphans]


def test_errors_in_several_files_and_settings_at_once(tmp_path: Path) -> None:
    t = small_tables()
    t["products"].loc[0, "unit_cost"] = -2.0
    t["shares"].loc[4, "share"] = 1.7
    t["channels"]["colour"] = "blue"
    s = small_settings()
    s["rules"]["bogus"] = True
    problems = _load_bad(tmp_path, t, s)
    got = {(Path(p.file).name, p.row, p.column) for p in problems}
    assert got == {("products.csv", 2, "unit_cost"), ("shares.csv", 6, "share"),
                   ("channels.csv", None, "colour"), ("scenario.yaml", None, "rules.bogus")}


def test_message_names_file_row_column_rule_and_fix(tmp_path: Path) -> None:
    t = small_tables()
    t["cells"].loc[2, "market_size"] = -5.0
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_yaml_scenario(tmp_path, t))
    msg = str(info.value)
    assert msg.splitlines()[0] == "1 problem(s) in the scenario:"
    assert (f"{tmp_path / 'cells.csv'}, row 4, column 'market_size': negative number. "
            "Fix: write a value >= 0") in msg


# ------------------------------------------------------------------- other file forms


def test_xlsx_locates_sheet_and_row(tmp_path: Path) -> None:
    book = save_scenario(Scenario.from_frames(small_tables(), small_settings()),
                         tmp_path / "good.xlsx")
    sheets = pd.read_excel(book, sheet_name=None)
    cells = sheets["cells"]
    cells["market_size"] = cells["market_size"].astype(object)
    cells.loc[4, "market_size"] = "many"
    sheets["shares"].loc[0, "share"] = 30.0
    sheets["products"].loc[1, "brand"] = "zeta"
    bad = tmp_path / "bad.xlsx"
    with pd.ExcelWriter(bad) as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    problems = _problems(bad)
    assert [(p.file, p.table, p.row, p.column, p.rule) for p in problems] == [
        (f"{bad}[cells]", "cells", 6, "market_size", "not a number"),
        (f"{bad}[shares]", "shares", 2, "share", "value must be <= 1"),
        (f"{bad}[products]", "products", 3, "brand", "unknown brand id (not in table 'brands')"),
    ]


def test_xlsx_unknown_setting(tmp_path: Path) -> None:
    book = tmp_path / "s.xlsx"
    save_scenario(Scenario.from_frames(small_tables(), small_settings()), book)
    sheets = pd.read_excel(book, sheet_name=None)
    sheets["settings"] = pd.concat([sheets["settings"], pd.DataFrame(
        {"key": ["rules.dealer_capcity"], "value": [True]})], ignore_index=True)
    with pd.ExcelWriter(book) as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    p = _only(_problems(book))
    assert (p.file, p.table, p.column) == (str(book), "settings", "rules.dealer_capcity")
    assert p.rule == "unknown setting 'dealer_capcity'"
    assert "dealer_capacity" in p.fix


def test_inline_rows_are_located_by_item_number(tmp_path: Path) -> None:
    import yaml

    t = small_tables()
    rows = t["products"].to_dict("records")
    rows[1]["unit_cost"] = -1.0
    del t["products"]
    path = write_yaml_scenario(tmp_path, t)
    doc = yaml.safe_load(path.read_text())
    doc["tables"]["products"] = rows
    path.write_text(yaml.safe_dump(doc))
    p = _only(_problems(path))
    assert p.file == f"{path}:tables.products"
    assert (p.table, p.row, p.column, p.rule) == ("products", 2, "unit_cost",
                                                  "negative number")


def test_blank_line_in_csv_keeps_row_numbers(tmp_path: Path) -> None:
    """Rows after a blank line keep their file line (regression: they were shifted by one)."""
    t = small_tables()
    t["cells"].loc[4, "market_size"] = -1.0  # line 6 before the blank line is added
    path = write_yaml_scenario(tmp_path, t)
    f = tmp_path / "cells.csv"
    lines = f.read_text().splitlines()
    lines.insert(2, "")  # the blank line becomes line 3; the bad row moves to line 7
    f.write_text("\n".join(lines) + "\n\n")  # and a trailing blank line, which is ignored
    problems = _problems(path)
    assert (problems[-1].row, problems[-1].column, problems[-1].rule) == (
        7, "market_size", "negative number")
    assert {p.row for p in problems[:-1]} == {3}
    assert {p.rule for p in problems[:-1]} == {"missing value"}


def test_from_frames_reports_dataframe_rows(tmp_path: Path) -> None:
    t = small_tables()
    t["cells"].loc[0, "market_size"] = -1.0
    with pytest.raises(ScenarioError) as info:
        Scenario.from_frames(t, small_settings())
    p = _only(info.value.problems)
    assert (p.table, p.row, p.column, p.rule) == ("cells", 2, "market_size", "negative number")


def test_cli_validate_prints_every_problem(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from channel_opt.cli import main
    from channel_opt.solving.pipeline import EXIT_BAD_INPUT

    t = small_tables()
    t["cells"].loc[1, "market_size"] = -1.0
    t["shares"].loc[4, "share"] = 1.7
    t["products"].loc[0, "brand"] = "zeta"
    path = write_yaml_scenario(tmp_path, t)
    before = sorted(tmp_path.iterdir())
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "3 problem(s) in the scenario:"
    for where in (f"{tmp_path / 'cells.csv'}, row 3, column 'market_size': negative number",
                  f"{tmp_path / 'shares.csv'}, row 6, column 'share': value must be <= 1",
                  f"{tmp_path / 'products.csv'}, row 2, column 'brand': unknown brand id"):
        assert where in err
    assert sorted(tmp_path.iterdir()) == before


def test_xlsx_formula_error_is_reported(tmp_path: Path) -> None:
    """Regression: #REF!/#N/A cells were read as empty, i.e. silently as the default."""
    import openpyxl

    book = save_scenario(Scenario.from_frames(small_tables(), small_settings()),
                         tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["channels"]
    header = [c.value for c in ws[1]]
    ws.cell(row=3, column=header.index("variable_cost") + 1, value="#REF!")
    ws.cell(row=4, column=header.index("fee_share") + 1, value="#N/A")
    wb.save(book)
    problems = _problems(book)
    assert [(p.file, p.table, p.row, p.column, p.rule) for p in problems] == [
        (f"{book}[channels]", "channels", 3, "variable_cost", "spreadsheet error value '#REF!'"),
        (f"{book}[channels]", "channels", 4, "fee_share", "spreadsheet error value '#N/A'"),
    ]


@pytest.mark.parametrize("text", ["NA", "#N/A", "null", "n/a"])
def test_csv_missing_value_markers_are_not_defaults(tmp_path: Path, text: str) -> None:
    """Only an empty cell means 'default': 'NA' as a cost is not silently 0."""
    t = small_tables()
    _as_object(t, "channels", "variable_cost").loc[1, "variable_cost"] = text
    p = _only(_load_bad(tmp_path, t))
    assert (Path(p.file).name, p.row, p.column, p.rule) == ("channels.csv", 3, "variable_cost",
                                                            "not a number")


@pytest.mark.parametrize("table", ["channels", "regions"])
def test_empty_table_referenced_by_shares(tmp_path: Path, table: str) -> None:
    """Regression: an empty channels/regions table raised a pandas warning (error in future)."""
    t = small_tables()
    t[table] = t[table].iloc[:0]
    problems = _load_bad(tmp_path, t)
    assert problems[0].rule == "required table is empty"
    assert Path(problems[0].file).name == f"{table}.csv"
