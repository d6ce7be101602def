"""Property tests: corrupted scenario files give a located ScenarioError, never a traceback.

Each example takes the valid factory tables, corrupts them (a cell with text, a
negative, non-finite or out-of-range number, an unknown id, a duplicated row, a
dropped required column, an emptied table, an unknown column), writes them to a
fresh folder as YAML + CSV or as one workbook and loads them. The load must raise
:class:`ScenarioError` (nothing else), every problem must say where and what, the
corruption must be reported at its exact place, and the folder must hold exactly
the files written before the load.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_factory import small_settings, small_tables, write_yaml_scenario

from channel_opt.scenario import Problem, ScenarioError, load_scenario
from channel_opt.scenario.tables import TABLES, Column, columns

# text that is neither a number, nor true/false, nor a kind, nor a null marker
BAD_TEXT = ("abc", "1,5", "12kg", "yes please", "#REF!", "1.2.3", "0x", "--5", "€10")
EXTRA_COLUMN = "extra_col"
TABLE_NAMES = tuple(small_tables())


@dataclass(frozen=True)
class Corruption:
    """One change that makes the scenario invalid, and where it must be reported."""

    kind: str
    table: str
    column: str | None = None
    index: int | None = None  # DataFrame row (file line = index + 2)
    value: Any = None


def _cols(table: str) -> dict[str, Column]:
    return {c.name: c for c in columns(TABLES[table].row)}


def _present(table: str, kinds: tuple[str, ...]) -> list[Column]:
    """Columns of the factory table (written to the file) of the given kinds."""
    spec = _cols(table)
    return [spec[c] for c in small_tables()[table].columns if spec[c].kind in kinds]


def _cell_targets(kind: str) -> list[tuple[str, str]]:
    out = []
    for t in TABLE_NAMES:
        if kind == "text":
            cols = _present(t, ("float", "bool", "enum"))
        elif kind == "negative":
            cols = [c for c in _present(t, ("float",)) if c.lower is not None]
        elif kind == "nonfinite":
            cols = _present(t, ("float",))
        elif kind == "out_of_range":
            cols = [c for c in _present(t, ("float",)) if c.upper is not None]
        elif kind == "huge":
            cols = _present(t, ("float",))
        elif kind == "unknown_id":
            refs = dict(TABLES[t].refs)
            cols = [c for c in _present(t, ("str",)) if c.name in refs
                    or (t, c.name) == ("segments", "channels")]
        else:
            raise AssertionError(kind)
        out += [(t, c.name) for c in cols]
    return out


CELL_KINDS = ("text", "negative", "nonfinite", "out_of_range", "huge", "unknown_id")
# magnitudes the solvers cannot take (HiGHS: 1e20 is infinite, 1e300 overflows products)
HUGE = (1e12, 1e18, 1e20, 1e300, 1.7e308, -1e300)
CELL_TARGETS = {k: _cell_targets(k) for k in CELL_KINDS}
REQUIRED_COLUMNS = [(t, c) for t in TABLE_NAMES for c in small_tables()[t].columns
                    if _cols(t)[c].required]


@st.composite
def cell_corruption(draw: st.DrawFn, kinds: tuple[str, ...] = CELL_KINDS) -> Corruption:
    kind = draw(st.sampled_from(kinds))
    table, column = draw(st.sampled_from(CELL_TARGETS[kind]))
    index = draw(st.integers(0, len(small_tables()[table]) - 1))
    col = _cols(table)[column]
    value: Any
    if kind == "text":
        value = draw(st.sampled_from(BAD_TEXT))
    elif kind == "negative":
        value = -draw(st.floats(1e-3, 1e6))
    elif kind == "nonfinite":
        choices = ["-inf"] + (["inf"] if col.default != float("inf") else []) \
            + (["nan"] if col.required else [])
        value = draw(st.sampled_from(choices))
    elif kind == "out_of_range":
        assert col.upper is not None
        value = col.upper + draw(st.floats(1e-3, 100.0))
    elif kind == "huge":
        value = draw(st.sampled_from(HUGE))
    else:
        value = "zz_" + draw(st.text("abcxyz", min_size=1, max_size=4))
    return Corruption(kind, table, column, index, value)


@st.composite
def structural_corruption(draw: st.DrawFn) -> Corruption:
    kind = draw(st.sampled_from(("duplicate", "drop_column", "empty", "unknown_column")))
    if kind == "drop_column":
        table, column = draw(st.sampled_from(REQUIRED_COLUMNS))
        return Corruption(kind, table, column)
    table = draw(st.sampled_from([t for t in TABLE_NAMES if TABLES[t].required]))
    if kind == "duplicate":
        index = draw(st.integers(0, len(small_tables()[table]) - 1))
        return Corruption(kind, table, TABLES[table].key[-1], index)
    return Corruption(kind, table, EXTRA_COLUMN if kind == "unknown_column" else None)


def corrupt(tables: dict[str, pd.DataFrame], c: Corruption) -> None:
    """Apply ``c`` to ``tables`` in place."""
    df = tables[c.table]
    if c.kind == "duplicate":
        tables[c.table] = pd.concat([df, df.iloc[[c.index]]], ignore_index=True)
    elif c.kind == "drop_column":
        tables[c.table] = df.drop(columns=c.column)
    elif c.kind == "empty":
        tables[c.table] = df.iloc[:0]
    elif c.kind == "unknown_column":
        df[EXTRA_COLUMN] = 1.0
    else:
        df[c.column] = df[c.column].astype(object)
        df.loc[c.index, c.column] = c.value


def expected(c: Corruption, tables: dict[str, pd.DataFrame]) -> tuple[Any, ...]:
    """(table, row, column, rule or None) the corruption must be reported at."""
    if c.kind == "drop_column":
        return (c.table, None, c.column, "missing required column")
    if c.kind == "empty":
        return (c.table, None, None, "required table is empty")
    if c.kind == "unknown_column":
        return (c.table, None, EXTRA_COLUMN, "unknown column")
    if c.kind == "duplicate":
        key = ", ".join(TABLES[c.table].key)
        return (c.table, len(tables[c.table]) + 1, c.column, f"duplicate key ({key})")
    assert c.index is not None
    return (c.table, c.index + 2, c.column, None)


def _write(folder: Path, tables: dict[str, pd.DataFrame], form: str) -> Path:
    if form == "yaml":
        return write_yaml_scenario(folder, tables, small_settings())
    path = folder / "scenario.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        pd.DataFrame({"key": ["name", "demand_model", "rules.overlap.cost"],
                      "value": ["small", "mnl", 5.0]}).to_excel(xw, sheet_name="settings",
                                                               index=False)
        for name, df in tables.items():
            df.to_excel(xw, sheet_name=name, index=False)
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes()
            for f in sorted(folder.rglob("*")) if f.is_file()}


def _load_corrupted(tables: dict[str, pd.DataFrame], form: str) -> list[Problem]:
    """Write, load, and check the invariants shared by every corruption."""
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        path = _write(folder, tables, form)
        before = _snapshot(folder)
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert _snapshot(folder) == before, "the loader wrote or changed a file"
    problems = info.value.problems
    assert problems
    for p in problems:
        assert p.file
        assert p.rule
        assert p.fix
        assert p.file.startswith(d)
        assert str(p)  # renders
    return problems


def _located(problems: list[Problem], where: tuple[Any, ...], form: str) -> bool:
    table, row, column, rule = where
    for p in problems:
        if (p.table, p.row, p.column) != (table, row, column):
            continue
        if rule is not None and p.rule != rule:
            continue
        name = Path(p.file).name
        if form == "yaml" and name == f"{table}.csv":
            return True
        if form == "xlsx" and name == f"scenario.xlsx[{table}]":
            return True
    return False


@settings(max_examples=10, deadline=None)  # 100 in the slow suite
@given(c=st.one_of(cell_corruption(), structural_corruption()),
       form=st.sampled_from(["yaml", "yaml", "xlsx"]))
def test_one_corruption_is_reported_at_its_place(c: Corruption, form: str) -> None:
    one_corruption_is_reported_at_its_place(c, form)


@pytest.mark.slow  # 100 examples, about 20 s
@settings(max_examples=100, deadline=None)
@given(c=st.one_of(cell_corruption(), structural_corruption()),
       form=st.sampled_from(["yaml", "yaml", "xlsx"]))
def test_one_corruption_is_reported_at_its_place_thorough(c: Corruption, form: str) -> None:
    one_corruption_is_reported_at_its_place(c, form)


def one_corruption_is_reported_at_its_place(c: Corruption, form: str) -> None:
    """The corruption is reported at its file, row and column, and nothing else is."""
    tables = small_tables()
    corrupt(tables, c)
    problems = _load_corrupted(tables, form)
    where = expected(c, tables)
    assert _located(problems, where, form), (c, where, [str(p) for p in problems])


@settings(max_examples=8, deadline=None)
@given(cs=st.lists(cell_corruption(("text", "negative", "nonfinite", "out_of_range", "huge")),
                   min_size=2, max_size=4,
                   unique_by=lambda c: (c.table, c.index)))
def test_several_bad_cells_are_all_reported_at_once(cs: list[Corruption]) -> None:
    tables = small_tables()
    for c in cs:
        corrupt(tables, c)
    problems = _load_corrupted(tables, "yaml")
    for c in cs:
        where = expected(c, tables)
        assert _located(problems, where, "yaml"), (c, where, [str(p) for p in problems])


ALL_CELLS = [(t, c) for t, df in small_tables().items() for c in df.columns]


@settings(max_examples=10, deadline=None)
@given(target=st.sampled_from(ALL_CELLS), data=st.data(), text=st.text(max_size=8))
def test_any_text_in_any_cell_loads_or_is_a_scenario_error(target: tuple[str, str],
                                                           data: st.DataObject,
                                                           text: str) -> None:
    table, column = target
    tables = small_tables()
    index = data.draw(st.integers(0, len(tables[table]) - 1))
    tables[table][column] = tables[table][column].astype(object)
    tables[table].loc[index, column] = text
    with tempfile.TemporaryDirectory() as d:
        path = write_yaml_scenario(Path(d), tables, small_settings())
        before = _snapshot(Path(d))
        problems: list[Problem] = []
        try:
            load_scenario(path)
        except ScenarioError as e:
            problems = e.problems
        assert _snapshot(Path(d)) == before
    assert all(p.file and p.rule and p.fix for p in problems)


NUMERIC_SETTINGS = (("rules", "overlap", "cost"), ("rules", "overlap", "max_pairs"),
                    ("rules", "dc_capacity"), ("rules", "cell_service_level"),
                    ("rules", "commission", "policy_cost"), ("rules", "price_parity", "band"),
                    ("max_channels_per_cell",))


@settings(max_examples=12, deadline=None)
@given(key=st.sampled_from(NUMERIC_SETTINGS),
       value=st.sampled_from([float("inf"), float("-inf"), float("nan"), *HUGE, True, "40"]),
       form=st.sampled_from(["yaml", "json"]))
def test_a_non_finite_huge_or_non_number_setting_is_refused(key: tuple[str, ...], value: Any,
                                                            form: str) -> None:
    """Every number setting is finite, at most 1e9 and a real number (not true, not
    text); the problem names the setting's dotted path."""
    import json

    doc = small_settings()
    block = doc
    for k in key[:-1]:
        block = block.setdefault(k, {})
    if key[:2] == ("rules", "commission"):
        block["share"] = 0.1
    if key[:2] == ("rules", "price_parity"):
        block["band"] = 0.1
    block[key[-1]] = value
    with tempfile.TemporaryDirectory() as d:
        path = write_yaml_scenario(Path(d), small_tables(), doc)
        if form == "json":  # JSON spells the non-finite numbers Infinity / NaN
            import yaml

            text = json.dumps(yaml.safe_load(path.read_text()))
            path = path.with_suffix(".json")
            path.write_text(text)
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
    assert [p.column for p in info.value.problems] == [".".join(key)], info.value
