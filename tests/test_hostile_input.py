"""Hostile or absurd scenario files (issue 10, items 5 to 8): refused at load with a
located message, exit 2 and nothing written; never a traceback, a hang or a leak.

Every case here was accepted, crashed or hung before: a market of 1e18, an infinite
overlap cost, a folder as scenario file, a YAML alias bomb, ``/dev/zero`` or a FIFO as
a table, workbooks whose settings sheet is spelled ``Key``/``Value`` or missing, text
numbers, duplicate keys, table paths outside the scenario folder and messages that
echoed a file's first line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import yaml
from scenario_factory import small_settings, small_tables, write_yaml_scenario

from channel_opt.scenario import Problem, Scenario, ScenarioError, load_scenario, save_scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"


def _problems(path: Path, **kw: Any) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kw)
    problems = info.value.problems
    assert problems
    assert all(p.file and p.rule and p.fix for p in problems)
    return problems


def _cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "channel_opt.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes()
            for f in sorted(folder.rglob("*")) if f.is_file()}


def _copy_tiny(folder: Path) -> Path:
    """The shipped tiny instance copied to ``folder`` (scenario file and its CSVs)."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in TINY.parent.glob("tiny.*"):
        (folder / f.name).write_bytes(f.read_bytes())
    return folder / TINY.name


def _edit_csv(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV (``row``: 0-based data row) as raw text."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[row, column] = value
    df.to_csv(path, index=False)


# ------------------------------------------------------- item 5: absurd magnitudes


@pytest.mark.parametrize(("table", "column", "value"), [
    ("cells", "market_size", "1e18"), ("cells", "market_size", "1e300"),
    ("channels", "fee_per_unit", "1e20"), ("regions", "partner_profit_floor", "1.5e9"),
])
def test_numbers_beyond_the_documented_range_are_refused(tmp_path: Path, table: str,
                                                         column: str, value: str) -> None:
    path = _copy_tiny(tmp_path)
    _edit_csv(tmp_path / f"tiny.{table}.csv", 1, column, value)
    [p] = _problems(path)
    assert (Path(p.file).name, p.row, p.column, p.rule) == (
        f"tiny.{table}.csv", 3, column, "value must be <= 1e+09")


def test_the_range_bound_is_documented_in_the_reference() -> None:
    from channel_opt.scenario.docs import table_reference_markdown

    md = table_reference_markdown()
    assert "| `market_size` | number | units |  | yes | >= 0, <= 1e9 |" in md
    assert "at most 1e9" in md


@pytest.mark.parametrize(("text", "rule"), [
    (".inf", "Input should be a finite number"), ("-.inf", "Input should be a finite number"),
    (".nan", "Input should be a finite number"), ("1.0e+300", "less than or equal"),
    ("true", "Input should be a valid number"), ("'40'", "Input should be a valid number"),
])
def test_settings_numbers_are_finite_bounded_and_strict(tmp_path: Path, text: str,
                                                        rule: str) -> None:
    path = _copy_tiny(tmp_path)
    path.write_text(path.read_text().replace("cost: 400", f"cost: {text}"))
    [p] = _problems(path)
    assert p.column == "rules.overlap.cost"
    assert rule in p.rule


def test_a_folder_given_as_the_scenario_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "scen.yaml").mkdir()
    res = _cli("validate", "scen.yaml", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "scen.yaml: is a folder, not a file" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_yaml_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = _copy_tiny(tmp_path)
    text = path.read_text().replace("name: tiny", "name: *a9")
    path.write_text("\n".join(lines) + "\n" + text)
    t = time.perf_counter()
    [p] = _problems(path)
    assert time.perf_counter() - t < 2.0
    assert (p.row, "alias '*a0' found: anchors and aliases are not allowed") == (
        2, p.rule.split(": ", 1)[1].split(" (write")[0])


def test_the_scenario_name_must_be_text(tmp_path: Path) -> None:
    path = _copy_tiny(tmp_path)
    path.write_text(path.read_text().replace("name: tiny", "name: [a, b]"))
    [p] = _problems(path)
    assert (p.column, p.rule) == ("name", "'name' is not text")


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_a_table_that_is_not_a_regular_file_is_refused_before_reading(tmp_path: Path,
                                                                      target: str) -> None:
    path = _copy_tiny(tmp_path)
    if target == "fifo":
        os.mkfifo(tmp_path / "cells.fifo")
        target = "cells.fifo"
    path.write_text(path.read_text().replace("tiny.cells.csv", target))
    res = _cli("validate", "--allow-outside-tables", path.name, cwd=tmp_path, timeout=30)
    assert res.returncode == 2, res.stderr
    assert f"table file '{target}' is not a regular file (a device, pipe or socket)" \
        in res.stderr


def test_a_table_file_above_the_size_limit_is_refused(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from channel_opt.scenario import io

    path = _copy_tiny(tmp_path)
    size = (tmp_path / "tiny.shares.csv").stat().st_size
    monkeypatch.setattr(io, "MAX_TABLE_BYTES", size - 1)
    [p] = [p for p in _problems(path) if p.table == "tables.shares"]
    assert (p.table, p.rule.split(" the ")[0]) == (
        "tables.shares", "table file 'tiny.shares.csv' file is larger than")


# -------------------------------------------------- item 6: workbooks and YAML


def _tiny_book(tmp_path: Path) -> Path:
    return save_scenario(load_scenario(TINY), tmp_path / "tiny.xlsx")


def _settings_sheet(book: Path, edit: Any) -> None:
    wb = openpyxl.load_workbook(book)
    edit(wb)
    wb.save(book)


def test_settings_sheet_header_in_another_case_is_read(tmp_path: Path) -> None:
    book = _tiny_book(tmp_path)

    def capitalize(wb: Any) -> None:
        wb["settings"]["A1"] = "Key"
        wb["settings"]["B1"] = " VALUE"
    _settings_sheet(book, capitalize)
    scen = load_scenario(book)
    assert scen.settings.rules.overlap is not None
    assert scen.settings.rules.overlap.cost == 400.0
    assert scen.settings.rules.partner_floor is not None
    assert scen.hash == load_scenario(TINY).hash


def test_a_workbook_without_settings_sheet_is_refused(tmp_path: Path) -> None:
    book = _tiny_book(tmp_path)
    _settings_sheet(book, lambda wb: wb.remove(wb["settings"]))
    [p] = _problems(book)
    assert (p.table, p.rule) == ("settings", "the workbook has no 'settings' sheet")


def test_a_settings_sheet_without_key_value_header_is_refused(tmp_path: Path) -> None:
    book = _tiny_book(tmp_path)

    def rename(wb: Any) -> None:
        wb["settings"]["A1"] = "setting"
    _settings_sheet(book, rename)
    [p] = _problems(book)
    assert (p.table, p.row, p.rule) == (
        "settings", 1, "the settings sheet needs the columns 'key' and 'value'")


def test_duplicate_settings_rows_are_refused(tmp_path: Path) -> None:
    book = _tiny_book(tmp_path)
    _settings_sheet(book, lambda wb: wb["settings"].append(["rules.overlap.cost", 10]))
    ws = openpyxl.load_workbook(book)["settings"]
    first = next(c.row for c in ws["A"] if c.value == "rules.overlap.cost")
    [p] = _problems(book)
    assert (p.table, p.row, p.column, p.rule) == (
        "settings", ws.max_row, "key", f"'rules.overlap.cost' is given twice (first on row "
        f"{first})")


def test_an_empty_cell_in_a_true_false_column_takes_the_default(tmp_path: Path) -> None:
    """channels.requires_store (dealer, online, store) is FALSE, FALSE, TRUE and
    products.in_season (p1, p2) TRUE, FALSE: emptying dealer's and p2's cell gives the
    defaults (false, true) there and leaves the other cells as they were."""
    book = save_scenario(Scenario.from_frames(small_tables(), small_settings()),
                         tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(book)
    for sheet, column, before, row in (("channels", "requires_store", [False, False, True], 2),
                                       ("products", "in_season", [True, False], 3)):
        ws = wb[sheet]
        col = next(c.column for c in ws[1] if c.value == column)
        assert [ws.cell(r, col).value for r in range(2, 2 + len(before))] == before
        ws.cell(row, col).value = None
    wb.save(book)
    scen = load_scenario(book)
    got = dict(zip(scen.channels["id"], scen.channels["requires_store"], strict=True))
    assert got == {"dealer": False, "online": False, "store": True}
    got = dict(zip(scen.products["id"], scen.products["in_season"], strict=True))
    assert got == {"p1": True, "p2": True}


def test_a_number_typed_as_text_in_a_workbook_is_refused(tmp_path: Path) -> None:
    book = _tiny_book(tmp_path)
    wb = openpyxl.load_workbook(book)
    ws = wb["regions"]
    col = next(c.column for c in ws[1] if c.value == "partner_profit_floor")
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, col).value == 1700)
    ws.cell(row, col).value = "1.700"
    wb.save(book)
    [p] = _problems(book)
    assert (p.file, p.row, p.column, p.rule) == (
        f"{book}[regions]", row, "partner_profit_floor", "number written as text")


def test_a_settings_number_typed_as_text_is_refused(tmp_path: Path) -> None:
    book = _tiny_book(tmp_path)
    wb = openpyxl.load_workbook(book)
    ws = wb["settings"]
    row = next(c.row for c in ws["A"] if c.value == "rules.overlap.cost")
    ws.cell(row, 2).value = "400"
    wb.save(book)
    [p] = _problems(book)
    assert (p.row, p.column) == (row, "value")
    assert p.rule == "the value of 'rules.overlap.cost' is a number written as text"


def test_sheet_names_match_in_any_case_and_unknown_ones_get_a_suggestion(
        tmp_path: Path) -> None:
    book = _tiny_book(tmp_path)
    _settings_sheet(book, lambda wb: setattr(wb["cells"], "title", "tmp"))
    _settings_sheet(book, lambda wb: setattr(wb["tmp"], "title", "Cells"))
    assert load_scenario(book).hash == load_scenario(TINY).hash
    _settings_sheet(book, lambda wb: setattr(wb["Cells"], "title", "Cels"))
    problems = _problems(book)
    assert any(p.table == "Cels" and p.rule == "unknown sheet 'Cels'"
               and p.fix.startswith("did you mean 'cells'?") for p in problems)


@pytest.mark.parametrize(("text", "line", "key"), [
    ("name: a\nname: b\n", 2, "name"),
    ("settings:\n  rules:\n    overlap: {cost: 1, cost: 2}\n", 3, "cost"),
])
def test_duplicate_yaml_keys_are_refused(tmp_path: Path, text: str, line: int,
                                         key: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    [p] = _problems(path)
    assert p.row == line
    assert f"duplicate key '{key}'" in p.rule


def test_duplicate_json_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"name": "a", "name": "b"}')
    [p] = _problems(path)
    assert "duplicate key 'name'" in p.rule


def test_a_true_false_setting_is_not_a_number(tmp_path: Path) -> None:
    path = write_yaml_scenario(tmp_path, small_tables(), {"rules": {"overlap": {"cost": True}}})
    [p] = _problems(path)
    assert (p.column, p.rule.split(" [")[0]) == ("rules.overlap.cost",
                                                "Input should be a valid number")


def test_number_as_text_in_inline_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    tables = {k: v.to_dict("records") for k, v in small_tables().items()}
    tables["cells"][0]["market_size"] = "1.700"
    path.write_text(yaml.safe_dump({"name": "s", "tables": tables}))
    [p] = _problems(path)
    assert (p.table, p.row, p.column, p.rule) == ("cells", 1, "market_size",
                                                 "number written as text")


# ------------------------------------------- item 7: confinement, no echoed content


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_table_paths_outside_the_scenario_folder_are_refused(tmp_path: Path,
                                                             how: str) -> None:
    scen_dir, other = tmp_path / "scen", tmp_path / "elsewhere"
    path = _copy_tiny(scen_dir)
    other.mkdir()
    (scen_dir / "tiny.cells.csv").rename(other / "cells.csv")
    ref = {"absolute": str(other / "cells.csv"), "dotdot": "../elsewhere/cells.csv",
           "symlink": "link.csv"}[how]
    if how == "symlink":
        (scen_dir / "link.csv").symlink_to(other / "cells.csv")
    path.write_text(path.read_text().replace("tiny.cells.csv", ref))
    [p] = [p for p in _problems(path) if p.table == "tables.cells"]
    assert (p.table, p.rule) == (
        "tables.cells", f"table file '{ref[:40]}{'...' if len(ref) > 40 else ''}' is outside "
        "the scenario's folder")
    assert load_scenario(path, allow_outside=True).hash == load_scenario(TINY).hash


def test_cli_confines_tables(tmp_path: Path) -> None:
    path = _copy_tiny(tmp_path / "scen")
    path.write_text(path.read_text().replace("tiny.cells.csv", "/etc/passwd"))
    res = _cli("validate", str(path), cwd=tmp_path)
    assert res.returncode == 2
    assert "[tables.cells]: table file '/etc/passwd' is outside the scenario's folder" \
        in res.stderr
    assert "root:" not in res.stderr


@pytest.mark.slow
def test_cli_solve_with_a_table_outside_writes_nothing(tmp_path: Path) -> None:
    path = _copy_tiny(tmp_path / "scen")
    path.write_text(path.read_text().replace("tiny.cells.csv", "/etc/passwd"))
    before = _snapshot(tmp_path)
    res = _cli("solve", str(path), "--out", "out", cwd=tmp_path)
    assert res.returncode == 2
    assert _snapshot(tmp_path) == before
    res = _cli("validate", "--allow-outside-tables", str(path), cwd=tmp_path)
    assert res.returncode == 2  # read now, and not a cells table
    assert "/etc/passwd [cells]" in res.stderr
    assert "root:" not in res.stderr and "/bin/" not in res.stderr


SECRET_FILES = {
    "passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n",
    "shadow": "root:$6$s3cr3tSALT$hashhashhash:19000:0:99999:7:::\n",
    "environ": "AWS_SECRET_ACCESS_KEY=s3cr3t-value-123\x00HOME=/root\x00PATH=/usr/bin\n",
    "env": "API_TOKEN=s3cr3t-value-123\nDB_PASSWORD=hunter2hunter2\n",
}


@pytest.mark.parametrize("kind", sorted(SECRET_FILES))
def test_errors_never_echo_the_content_of_a_file(tmp_path: Path, kind: str) -> None:
    path = _copy_tiny(tmp_path)
    (tmp_path / "tiny.shares.csv").write_text(SECRET_FILES[kind])
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    for secret in ("root:", "s3cr3t", "hunter2", "/bin/", "$6$"):
        assert secret not in str(info.value), str(info.value)
    assert "tiny.shares.csv" in str(info.value)


def test_cli_errors_never_echo_the_content_of_a_file(tmp_path: Path) -> None:
    path = _copy_tiny(tmp_path)
    (tmp_path / "tiny.shares.csv").write_text(SECRET_FILES["passwd"])
    res = _cli("validate", path.name, cwd=tmp_path)
    assert res.returncode == 2
    assert "root:" not in res.stderr and "/bin/" not in res.stderr
    assert "tiny.shares.csv: the header row names none of the table's columns" \
        in res.stderr


def test_a_yaml_syntax_error_does_not_print_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\npassword: [s3cr3t-value-123, {\n")
    [p] = _problems(path)
    assert "s3cr3t" not in str(p)
    assert p.rule.startswith("cannot parse file")


def test_a_long_header_is_cut_and_escaped(tmp_path: Path) -> None:
    t = small_tables()
    t["cells"]["x" * 60 + "\x1b[31m"] = 1.0
    path = write_yaml_scenario(tmp_path, t)
    [p] = _problems(path)
    assert f"column '{'x' * 40}...'" in str(p)
    assert "\x1b" not in str(p)


def test_a_numerically_unsafe_model_is_warned_about_and_recorded(
        caplog: pytest.LogCaptureFixture) -> None:
    """Market 1e9 (demand rows in the hundreds of millions) next to a DC use of 1e-3 per
    unit: a matrix range above 1e11, beyond the 1e9 the solvers handle safely."""
    from scenario_factory import duo, duo_tables

    from channel_opt.model.build import build_array_model
    from channel_opt.solving import solve
    from channel_opt.solving.diagnose import coefficient_range, numerical_warning

    assert numerical_warning(build_array_model(duo())[0]) is None
    t = duo_tables(cells=[{"product": "P", "region": "R", "segment": "S",
                           "market_size": 1e9}])
    t["channels"][0]["dc_use"] = 1e-3
    scen = Scenario.from_frames(t, {"rules": {"dc_capacity": 1e6}})
    lo, hi = coefficient_range(build_array_model(scen)[0])["matrix"]
    assert lo == pytest.approx(1e-3) and hi / lo > 1e11
    sol = solve(scen, sensitivity=False)
    [w] = sol.warnings
    assert w.startswith("the model's numbers are numerically unsafe (matrix |values| from 0.001")
    assert sol.summary()["warnings"] == [w]
    assert w in caplog.text


# ------------------------------------------- item 8: contradictory rules, diagnosis


def _rules_path(tmp_path: Path, channel_rules: list[dict[str, Any]]) -> Path:
    t = small_tables()
    t["cells"].loc[0, "market_size"] = -1.0  # another error, reported with the conflict
    return write_yaml_scenario(tmp_path, t, {**small_settings(),
                                             "channel_rules": channel_rules})


def test_force_and_forbid_of_the_same_channel_are_found_by_validation(tmp_path: Path) -> None:
    path = _rules_path(tmp_path, [{"action": "forbid", "channel": "store", "region": "north"},
                                  {"action": "force", "channel": "store", "region": "north"}])
    problems = _problems(path)
    assert [(p.table, p.row, p.column, p.rule) for p in problems] == [
        ("cells", 2, "market_size", "negative number"),
        ("channel_rules[1]", None, "action", "force rule contradicts forbid rule(s) "
         "channel_rules[0]: every place where it forces channel 'store' is forbidden")]
    assert problems[1].fix == "remove the force rule or narrow or remove the forbid rule(s)"


def test_a_force_whose_every_target_is_forbidden_by_several_rules(tmp_path: Path) -> None:
    """The dealer is forbidden out of season (p2) and the offline kind for p1: forcing
    the dealer for p1 contradicts the second, for p2 the first, for the small segment
    both."""
    path = _rules_path(tmp_path, [
        {"action": "forbid", "channel": "dealer", "season": "out"},
        {"action": "forbid", "kind": "offline", "product": "p1"},
        {"action": "force", "channel": "dealer", "product": "p1"},
        {"action": "force", "channel": "dealer", "product": "p2"},
        {"action": "force", "channel": "dealer", "segment": "small"}])
    rules = {p.table: p.rule for p in _problems(path) if p.table.startswith("channel_rules")}
    assert rules == {
        "channel_rules[2]": "force rule contradicts forbid rule(s) channel_rules[1]: every "
                            "place where it forces channel 'dealer' is forbidden",
        "channel_rules[3]": "force rule contradicts forbid rule(s) channel_rules[0]: every "
                            "place where it forces channel 'dealer' is forbidden",
        # small cells may use the dealer for p1 (forbidden by rule 1) or p2 (out of
        # season, rule 0): both forbids are named
        "channel_rules[4]": "force rule contradicts forbid rule(s) channel_rules[0], "
                            "channel_rules[1]: every place where it forces channel 'dealer' "
                            "is forbidden"}


def test_a_force_without_any_eligible_cell_is_found_by_validation(tmp_path: Path) -> None:
    """The large segment may only use store and dealer: forcing online there has no
    target, and no forbid rule is to blame."""
    path = _rules_path(tmp_path, [{"action": "force", "channel": "online",
                                   "segment": "large"}])
    [p] = [p for p in _problems(path) if p.table == "channel_rules[0]"]
    assert p.rule.startswith("force rule has no target: no cell in its scope can use "
                             "channel 'online'")


def test_cli_validate_says_invalid_for_contradictory_rules(tmp_path: Path) -> None:
    path = write_yaml_scenario(tmp_path, small_tables(), {**small_settings(), "channel_rules": [
        {"action": "forbid", "kind": "online"}, {"action": "force", "channel": "online"}]})
    before = _snapshot(tmp_path)
    res = _cli("validate", path.name, cwd=tmp_path)
    assert res.returncode == 2
    assert f"{path.name} [channel_rules[1]], column 'action': force rule contradicts " \
        "forbid rule(s) channel_rules[0]" in res.stderr
    assert "Fix: remove the force rule" in res.stderr
    assert _snapshot(tmp_path) == before


@pytest.mark.slow
def test_cli_solve_refuses_contradictory_rules_before_solving(tmp_path: Path) -> None:
    path = write_yaml_scenario(tmp_path, small_tables(), {**small_settings(), "channel_rules": [
        {"action": "forbid", "kind": "online"}, {"action": "force", "channel": "online"}]})
    before = _snapshot(tmp_path)
    res = _cli("solve", path.name, "--out", "out", cwd=tmp_path)
    assert res.returncode == 2
    assert "force rule contradicts forbid rule(s) channel_rules[0]" in res.stderr
    assert _snapshot(tmp_path) == before


def test_diagnosis_names_both_the_service_level_and_the_dc_capacity() -> None:
    """Region R must serve 60% of 100 units; the DC takes 20 units (online uses 1 each).

    By hand: store alone sells 50, online alone at most 20, both at most 33.3 + 20 =
    53.3. Least relative slack: the service level 6.67 of 60 short (11%) rather than
    the DC 6.67 of 20 over (33%). Held firm, the service level leaves the DC over by
    6.67 (both channels, online selling 26.67). Both families are named.
    """
    from scenario_factory import duo_tables

    from channel_opt.solving import solve

    t = duo_tables(regions=[{"id": "R", "service_level": 0.6}])
    sol = solve(Scenario.from_frames(t, {"rules": {"service_level": True,
                                                   "dc_capacity": 20.0}}))
    assert sol.exit_code == 3
    d = sol.diagnosis
    assert d is not None
    assert d.families == ["dc_capacity", "service_level"]
    got = [(c.option, c.family, round(c.amount, 4)) for c in d.conflicts]
    assert got == [(1, "service_level", 6.6667), (2, "dc_capacity", 6.6667)]
    assert "or relax instead: distribution-centre capacity" in d.message
    assert list(d.as_table()["option"]) == [1, 2]
