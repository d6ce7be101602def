"""Scenario files: YAML/JSON with CSV/Parquet tables, or one Excel workbook.

YAML/JSON form::

    name: apparel
    settings:            # demand_model, max_channels_per_cell, rules, channel_rules
      demand_model: mnl
      rules: {overlap: {cost: 40}}
    tables:              # a file next to the scenario file, or the rows inline
      channels: channels.csv
      cells: cells.parquet
      segments: [{id: small}, {id: large, channels: dealer}]

Workbook form: one sheet per table, a ``settings`` sheet with ``key`` / ``value``
rows (dotted keys such as ``rules.overlap.cost``; ``name`` and ``description`` too)
and a ``channel_rules`` sheet with one rule per row.

Hostile files are refused before they are read: only regular files of bounded size
(no folder, device or pipe), table files only inside the scenario's folder (unless
allowed), YAML without anchors/aliases or duplicate keys; messages quote at most a
short, escaped piece of a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from .errors import Problem, ScenarioError, quote
from .fileio import file_tables, publish, settings_dict, text_columns
from .guard import (
    DuplicateKeyError,
    json_pairs,
    not_a_readable_file,
    parse_problem,
    reader_error,
    strict_yaml,
    table_file,
)
from .scenario import Scenario
from .validate import Source
from .workbook import load_xlsx, pin_xlsx, write_xlsx

__all__ = ["load_scenario", "save_scenario", "settings_dict"]

YAML_SUFFIXES = {".yaml", ".yml", ".json"}
EXCEL_SUFFIXES = {".xlsx"}
_TOP_KEYS = {"name", "description", "settings", "tables"}
MAX_TABLE_BYTES = 2 * 1024**3  # largest table file or workbook read (2 GiB)
MAX_TEXT_BYTES = 256 * 1024**2  # largest YAML/JSON scenario file read (256 MiB)


def load_scenario(path: str | os.PathLike[str], *, allow_outside: bool = False) -> Scenario:
    """Load and validate a scenario file (``.yaml``/``.yml``/``.json`` or ``.xlsx``).

    Table files named in a YAML/JSON file must lie in the scenario file's folder or
    below it (after resolving ``..`` and symbolic links), unless ``allow_outside``.
    Every file read must be a regular file of bounded size. Raises
    :class:`~channel_opt.scenario.errors.ScenarioError` listing every problem.
    """
    p = Path(path)
    if not p.exists():
        raise ScenarioError([Problem(str(p), "", None, None, "file not found",
                                     "check the path")])
    suffix = p.suffix.lower()
    if suffix not in YAML_SUFFIXES | EXCEL_SUFFIXES:
        raise ScenarioError([Problem(str(p), "", None, None, f"unknown scenario file type "
                                     f"'{quote(suffix)}'", "use .yaml, .yml, .json or .xlsx")])
    bad = not_a_readable_file(p, MAX_TEXT_BYTES if suffix in YAML_SUFFIXES
                               else MAX_TABLE_BYTES)
    if bad:
        raise ScenarioError([Problem(str(p), "", None, None, bad,
                                     "give the path of a scenario file")])
    if suffix in YAML_SUFFIXES:
        return _load_yaml(p, allow_outside)
    return load_xlsx(p)


def _read_table(p: Path, table: str) -> pd.DataFrame:
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    try:
        # only an empty cell is missing: 'NA', 'null', '#N/A' are reported, not defaulted
        opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in text_columns(table)},
                                    null_values=[""], strings_can_be_null=False)
        df = pacsv.read_csv(p, convert_options=opts).to_pandas()
        if len(df) + 1 == _count_lines(p):
            return df
    except Exception:  # noqa: BLE001 - fall back to the C engine for its error messages
        pass
    # The C engine, keeping blank lines as empty rows: pyarrow skips them, which would
    # shift the row number of every problem after a blank line. Trailing blank lines
    # shift nothing and are dropped.
    df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True,
                     skip_blank_lines=False)
    filled = (df.apply(lambda c: c.str.strip()) != "").to_numpy().any(axis=1) if len(df) \
        else np.zeros(0, dtype=bool)
    last = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    return df.iloc[:last]


def _count_lines(p: Path) -> int:
    """Lines of a text file (a last line without a newline counts)."""
    n, last = 0, b"\n"
    with p.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def _load_yaml(p: Path, allow_outside: bool = False) -> Scenario:
    try:
        text = p.read_text(encoding="utf-8")
        doc = json.loads(text, object_pairs_hook=json_pairs) \
            if p.suffix.lower() == ".json" else strict_yaml(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError,
            DuplicateKeyError) as e:
        raise ScenarioError([parse_problem(p, e)]) from None
    if not isinstance(doc, dict):
        raise ScenarioError([Problem(str(p), "", None, None, "top level is not a mapping",
                                     "write keys name, settings, tables")])
    problems = [Problem(str(p), "", None, str(k), "unknown top-level key",
                        f"use one of: {', '.join(sorted(_TOP_KEYS))}")
                for k in doc if k not in _TOP_KEYS]
    texts = {}
    for key, default in (("name", p.stem), ("description", "")):
        val = doc.get(key)
        if isinstance(val, bool) or not isinstance(val, str | int | float | type(None)):
            problems.append(Problem(str(p), "", None, key, f"'{key}' is not text",
                                    f"write the {key} as plain text"))
            val = None
        texts[key] = default if val is None or val == "" else str(val)
    tables: dict[str, Any] = {}
    sources: dict[str, Source] = {"settings": Source(str(p), "settings")}
    spec = doc.get("tables") or {}
    if not isinstance(spec, dict):
        problems.append(Problem(str(p), "tables", None, None, "'tables' is not a mapping",
                                "map each table name to a file or a list of rows"))
        spec = {}
    for name, val in spec.items():
        if isinstance(val, str):
            f, rule, fix = table_file(p, val, allow_outside, MAX_TABLE_BYTES)
            if f is None:
                problems.append(Problem(str(p), f"tables.{name}", None, None, rule, fix))
                continue
            try:
                tables[name] = _read_table(f, name)
            except Exception as e:  # noqa: BLE001 - any reader error is a bad input file
                problems.append(Problem(str(f), str(name), None, None,
                                        f"cannot read table ({reader_error(e)})",
                                        "save it as UTF-8 CSV with a header row, or Parquet"))
                continue
            sources[name] = Source(str(f), name, 2)
        elif isinstance(val, list) and all(isinstance(r, dict) for r in val):
            tables[name] = pd.DataFrame(val) if val else None
            sources[name] = Source(f"{p}:tables.{name}", name, 1, typed=True)
        else:
            problems.append(Problem(str(p), f"tables.{name}", None, None,
                                    "table is neither a file name nor a list of rows",
                                    "give a CSV/Parquet file name or a list of mappings"))
    try:
        scen = Scenario.from_frames(tables, doc.get("settings") or {},
                                    name=texts["name"], description=texts["description"],
                                    sources=sources)
    except ScenarioError as e:
        raise ScenarioError(problems + e.problems) from None
    if problems:
        raise ScenarioError(problems)
    return scen


def save_scenario(scen: Scenario, path: str | os.PathLike[str]) -> Path:
    """Write a scenario as YAML (+ one CSV per table beside it) or as one workbook.

    The target is written atomically: to a temporary file or folder first, then
    renamed into place.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    p.parent.mkdir(parents=True, exist_ok=True)
    if suffix in EXCEL_SUFFIXES:
        fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=p.parent)
        os.close(fd)
        try:
            write_xlsx(scen, Path(tmp))
            pin_xlsx(Path(tmp))
            publish(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return p
    if suffix in YAML_SUFFIXES:
        written: list[Path] = []
        try:
            tables: dict[str, str] = {}
            for name, df in file_tables(scen).items():
                f = p.parent / f"{p.stem}.{name}.csv"
                _atomic_csv(df, f)
                written.append(f)
                tables[name] = f.name
            s = settings_dict(scen.settings)
            doc = {"name": scen.name, "description": scen.description, "settings": s,
                   "tables": tables}
            text = (json.dumps(doc, indent=2) if suffix == ".json"
                    else yaml.safe_dump(doc, sort_keys=False))
            fd, tmp = tempfile.mkstemp(suffix=suffix, dir=p.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            publish(tmp, p)
        except BaseException:
            for f in written:
                f.unlink(missing_ok=True)
            raise
        return p
    raise ValueError(f"unknown scenario file type '{suffix}': use .yaml, .json or .xlsx")


def _atomic_csv(df: pd.DataFrame, f: Path) -> None:
    fd, tmp = tempfile.mkstemp(suffix=".csv", dir=f.parent)
    os.close(fd)
    try:
        df.to_csv(tmp, index=False)
        publish(tmp, f)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
