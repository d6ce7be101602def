"""Scenario file forms: every form loads to the same scenario (same hash); inputs untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scenario_factory import small_settings, small_tables, write_yaml_scenario

from channel_opt.scenario import Scenario, ScenarioError, load_scenario, save_scenario
from channel_opt.scenario.tables import TABLES, columns


@pytest.fixture(scope="module")
def reference() -> Scenario:
    return Scenario.from_frames(small_tables(), small_settings(), name="small")


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(f.relative_to(folder)): (f.read_bytes(), f.stat().st_mtime_ns)
            for f in sorted(folder.rglob("*")) if f.is_file()}


def _write_book(path: Path, tables: dict[str, pd.DataFrame], settings: dict[str, object],
                name: str = "small") -> Path:
    """A workbook written by hand (not by save_scenario): settings as dotted key/value rows."""
    rules = settings["rules"]
    assert isinstance(rules, dict)
    rows = [("name", name), ("demand_model", settings["demand_model"]),
            ("rules.overlap.cost", rules["overlap"]["cost"]),
            ("rules.store_labour", "true"),
            ("rules.reserved_segments.large", ";".join(rules["reserved_segments"]["large"]))]
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        pd.DataFrame(rows, columns=["key", "value"]).to_excel(xw, sheet_name="settings",
                                                               index=False)
        pd.DataFrame(settings["channel_rules"]).to_excel(xw, sheet_name="channel_rules",
                                                         index=False)
        for tname, df in tables.items():
            df.to_excel(xw, sheet_name=tname, index=False)
    return path


# ----------------------------------------------------------------- equal across forms


def test_yaml_with_csv_tables(tmp_path: Path, reference: Scenario) -> None:
    scen = load_scenario(write_yaml_scenario(tmp_path, small_tables()))
    assert scen.hash == reference.hash
    assert scen.name == "small"


def test_json_with_csv_tables(tmp_path: Path, reference: Scenario) -> None:
    yml = write_yaml_scenario(tmp_path, small_tables())
    doc = yaml.safe_load(yml.read_text())
    js = tmp_path / "scenario.json"
    js.write_text(json.dumps(doc, indent=2))
    assert load_scenario(js).hash == reference.hash


def test_parquet_tables(tmp_path: Path, reference: Scenario) -> None:
    refs = {}
    for name, df in small_tables().items():
        df.to_parquet(tmp_path / f"{name}.parquet")
        refs[name] = f"{name}.parquet"
    path = tmp_path / "scenario.yml"
    path.write_text(yaml.safe_dump({"name": "small", "settings": small_settings(),
                                    "tables": refs}))
    assert load_scenario(path).hash == reference.hash


def test_inline_rows(tmp_path: Path, reference: Scenario) -> None:
    doc = {"name": "small", "settings": small_settings(),
           "tables": {k: df.to_dict("records") for k, df in small_tables().items()}}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert load_scenario(path).hash == reference.hash


def test_mixed_table_forms(tmp_path: Path, reference: Scenario) -> None:
    t = small_tables()
    t["cells"].to_parquet(tmp_path / "cells.parquet")
    t["shares"].to_csv(tmp_path / "shares.csv", index=False)
    tables: dict[str, object] = {k: df.to_dict("records") for k, df in t.items()}
    tables["cells"], tables["shares"] = "cells.parquet", "shares.csv"
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"name": "small", "settings": small_settings(),
                                "tables": tables}))
    assert load_scenario(path).hash == reference.hash


def test_hand_written_workbook(tmp_path: Path, reference: Scenario) -> None:
    book = _write_book(tmp_path / "small.xlsx", small_tables(), small_settings())
    scen = load_scenario(book)
    assert scen.settings == reference.settings
    assert scen.hash == reference.hash


def test_csv_as_a_spreadsheet_writes_it(tmp_path: Path, reference: Scenario) -> None:
    """Booleans as TRUE/FALSE, integers without '.0', columns in another order, a byte-order
    mark and CRLF line ends."""
    path = write_yaml_scenario(tmp_path, small_tables())
    for f in tmp_path.glob("*.csv"):
        df = pd.read_csv(f)
        df = df[list(reversed(df.columns))]
        text = df.to_csv(index=False).replace("True", "TRUE").replace("False", "FALSE")
        text = text.replace(".0,", ",").replace(".0\n", "\n").replace("\n", "\r\n")
        f.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_scenario(path).hash == reference.hash


def test_row_order_does_not_change_the_hash(tmp_path: Path, reference: Scenario) -> None:
    t = small_tables()
    t["shares"] = t["shares"].sample(frac=1.0, random_state=3)
    t["cells"] = t["cells"].iloc[::-1]
    assert load_scenario(write_yaml_scenario(tmp_path, t)).hash == reference.hash


def _text_ids() -> dict[str, pd.DataFrame]:
    """Ids that look like numbers or like a missing-value marker."""
    t = small_tables()
    products, regions = {"p1": "007", "p2": "1e3"}, {"north": "NA", "south": "null"}
    t["products"]["id"] = t["products"]["id"].replace(products)
    t["regions"]["id"] = t["regions"]["id"].replace(regions)
    for k in ("cells", "shares"):
        t[k]["product"] = t[k]["product"].replace(products)
        t[k]["region"] = t[k]["region"].replace(regions)
    return t


@pytest.mark.parametrize("suffix", ["yaml", "xlsx"])
def test_ids_are_read_as_text(tmp_path: Path, suffix: str) -> None:
    """Regression: '007' was read as 7 and region 'NA' as a missing value."""
    scen = Scenario.from_frames(_text_ids(), small_settings())
    assert scen.products["id"].tolist() == ["007", "1e3"]
    again = load_scenario(save_scenario(scen, tmp_path / f"s.{suffix}"))
    assert again.products["id"].tolist() == ["007", "1e3"]
    assert sorted(again.regions["id"]) == ["NA", "null"]
    assert again.hash == scen.hash


def test_ids_from_hand_written_csv_are_text(tmp_path: Path) -> None:
    scen = load_scenario(write_yaml_scenario(tmp_path, _text_ids()))
    assert scen.hash == Scenario.from_frames(_text_ids(), small_settings()).hash


# ---------------------------------------------------------------------- round trips


def test_save_yaml_to_xlsx_to_yaml(tmp_path: Path, reference: Scenario) -> None:
    first = load_scenario(write_yaml_scenario(tmp_path / "in", small_tables()))
    book = save_scenario(first, tmp_path / "out" / "s.xlsx")
    second = load_scenario(book)
    back = save_scenario(second, tmp_path / "back" / "s.yaml")
    third = load_scenario(back)
    assert first.hash == second.hash == third.hash == reference.hash
    assert sorted(f.name for f in (tmp_path / "back").iterdir()) == sorted(
        ["s.yaml"] + [f"s.{k}.csv" for k in small_tables()])


def test_saving_a_workbook_twice_gives_the_same_bytes(tmp_path: Path,
                                                      reference: Scenario) -> None:
    import time

    a = save_scenario(reference, tmp_path / "a.xlsx").read_bytes()
    time.sleep(1.1)  # openpyxl stamps the time of writing, to the second
    b = save_scenario(reference, tmp_path / "b.xlsx").read_bytes()
    assert a == b


def test_save_json_round_trip(tmp_path: Path, reference: Scenario) -> None:
    path = save_scenario(reference, tmp_path / "s.json")
    json.loads(path.read_text())
    assert load_scenario(path).hash == reference.hash


def test_round_trip_keeps_optional_tables_and_no_limit(tmp_path: Path) -> None:
    t = small_tables()
    t["products"].loc[1, "inventory"] = np.inf
    t["price_levels"] = pd.DataFrame({"product": ["p1", "p1"], "channel": ["online"] * 2,
                                      "level": ["full", "promo"], "price": [25.0, 19.99],
                                      "demand_multiplier": [1.0, 1.4]})
    t["region_channels"] = pd.DataFrame({"region": ["south"], "channel": ["dealer"],
                                         "allowed": [False]})
    scen = Scenario.from_frames(t, small_settings())
    assert np.isnan(scen.region_channels["open_cost"]).all()
    for suffix in ("yaml", "xlsx"):
        again = load_scenario(save_scenario(scen, tmp_path / suffix / f"s.{suffix}"))
        assert again.hash == scen.hash, suffix
        assert again.products["inventory"].tolist() == [1000.0, np.inf]


def test_save_unknown_suffix_writes_nothing(tmp_path: Path, reference: Scenario) -> None:
    with pytest.raises(ValueError, match="unknown scenario file type"):
        save_scenario(reference, tmp_path / "s.txt")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ inputs untouched


@pytest.mark.parametrize("valid", [True, False])
def test_loading_never_modifies_or_adds_files(tmp_path: Path, valid: bool) -> None:
    t = small_tables()
    if not valid:
        t["cells"].loc[0, "market_size"] = -1.0
    write_yaml_scenario(tmp_path / "yaml", t)
    t["cells"].to_parquet(tmp_path / "yaml" / "cells.parquet")
    _write_book(tmp_path / "book.xlsx", t, small_settings())
    before = _snapshot(tmp_path)
    for path in (tmp_path / "yaml" / "scenario.yaml", tmp_path / "book.xlsx"):
        if valid:
            load_scenario(path)
        else:
            with pytest.raises(ScenarioError):
                load_scenario(path)
    assert _snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- hash


def test_hash_changes_when_a_number_changes(tmp_path: Path, reference: Scenario) -> None:
    t = small_tables()
    t["cells"].loc[3, "market_size"] += 1e-9
    assert load_scenario(write_yaml_scenario(tmp_path, t)).hash != reference.hash


def test_hash_changes_when_a_setting_changes(reference: Scenario) -> None:
    s = small_settings()
    s["rules"]["overlap"]["cost"] = 6.0
    assert Scenario.from_frames(small_tables(), s).hash != reference.hash


def test_hash_changes_when_an_id_changes(reference: Scenario) -> None:
    t = small_tables()
    for k in ("cells", "shares"):
        t[k]["segment"] = t[k]["segment"].replace("large", "big")
    t["segments"]["id"] = t["segments"]["id"].replace("large", "big")
    s = small_settings()
    s["rules"]["reserved_segments"] = {"big": ["dealer", "store"]}
    assert Scenario.from_frames(t, s).hash != reference.hash


def test_hash_ignores_name_and_description(reference: Scenario) -> None:
    other = Scenario.from_frames(small_tables(), small_settings(), name="x", description="y")
    assert other.hash == reference.hash


# ---------------------------------------------------------------------- from_frames


def test_from_frames_builds_canonical_tables(reference: Scenario) -> None:
    for name, spec in TABLES.items():
        df = reference.tables[name]
        assert list(df.columns) == [c.name for c in columns(spec.row)], name
        assert df.equals(getattr(reference, name))
    # defaults filled in, rows sorted by key
    assert reference.channels["open_cost"].tolist() == [0.0, 0.0, 0.0]
    assert reference.channels["id"].tolist() == ["dealer", "online", "store"]
    assert reference.regions["shelf_capacity"].tolist() == [np.inf, np.inf]
    assert reference.brands["ramp_up"].tolist() == [1.0]
    assert len(reference.price_levels) == 0
    assert reference.summary()["cells"] == 8
    with pytest.raises(AttributeError):
        _ = reference.no_such_table


def test_from_frames_accepts_rows_as_dicts(reference: Scenario) -> None:
    t = {k: df.to_dict("records") for k, df in small_tables().items()}
    assert Scenario.from_frames(t, small_settings()).hash == reference.hash


def test_from_frames_does_not_modify_its_input() -> None:
    t = small_tables()
    copies = {k: df.copy() for k, df in t.items()}
    Scenario.from_frames(t, small_settings())
    for k, df in t.items():
        pd.testing.assert_frame_equal(df, copies[k])


def test_from_frames_requires_settings_to_be_valid() -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_frames(small_tables(), {"demand_model": "probit"})
    assert [p.column for p in info.value.problems] == ["demand_model"]


# ------------------------------------------------------------------- file errors


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_unknown_file_type(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("x = 1\n")
    with pytest.raises(ScenarioError, match="unknown scenario file type '.toml'"):
        load_scenario(path)


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    path.write_text("not a zip")
    with pytest.raises(ScenarioError, match="cannot read workbook"):
        load_scenario(path)


def test_unreadable_table_file(tmp_path: Path) -> None:
    path = write_yaml_scenario(tmp_path, small_tables())
    (tmp_path / "cells.csv").write_bytes(b"")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    rules = [p.rule for p in info.value.problems]
    assert any(r.startswith("cannot read table") for r in rules)


# -------------------------------------------------------------------- documentation


def test_reference_documents_every_table_and_column() -> None:
    from channel_opt.scenario.docs import table_reference_markdown

    md = table_reference_markdown()
    sections = md.split("\n### ")
    for name, spec in TABLES.items():
        section = next(s for s in sections if s.startswith(f"`{name}`\n"))
        for col in columns(spec.row):
            row = next(line for line in section.splitlines()
                       if line.startswith(f"| `{col.name}` |"))
            assert col.description.split()[0] in row, (name, col.name)
            if col.unit:
                assert f"| {col.unit} |" in row
        assert "Key: " + ", ".join(f"`{k}`" for k in spec.key) in section
        for col_name, target in spec.refs:
            assert f"`{col_name}` → `{target}.id`" in section


def test_reference_documents_every_setting_and_rule_switch() -> None:
    from channel_opt.scenario.docs import table_reference_markdown
    from channel_opt.scenario.settings import ChannelRule, Rules, Settings

    md = table_reference_markdown()
    for name in Settings.model_fields:
        assert f"| `{name}` |" in md
    for name, field in Rules.model_fields.items():
        assert f"### `rules.{name}`" in md
        if field.description:
            assert " ".join(field.description.split()) in md
    for name in ChannelRule.model_fields:
        assert f"| `{name}` |" in md
    assert "| `band` | number | required | >= 0, <= 1e9 |" in md
    assert md.endswith("\n")
    assert "``" not in md


def test_workbook_text_settings_are_not_parsed_and_bad_values_are_problems(
        tmp_path: Path) -> None:
    import openpyxl

    scen = Scenario.from_frames(small_tables(), {}, name="g",
                                description="Grocer: weekly shop")
    p = save_scenario(scen, tmp_path / "g.xlsx")
    assert oct(p.stat().st_mode & 0o777) != "0o600"
    back = load_scenario(p)
    assert back.description == "Grocer: weekly shop"
    wb = openpyxl.load_workbook(p)
    ws = wb["settings"]
    ws.append(["rules.overlap.cost", "{x"])
    wb.save(p)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert any(pr.rule == "cannot read the value of 'rules.overlap.cost'"
               for pr in e.value.problems)
