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
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from .errors import Problem, ScenarioError
from .scenario import Scenario
from .settings import ChannelRule, Settings
from .tables import TABLES, columns
from .validate import Source

YAML_SUFFIXES = {".yaml", ".yml", ".json"}
EXCEL_SUFFIXES = {".xlsx"}
_TOP_KEYS = {"name", "description", "settings", "tables"}


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load and validate a scenario file (``.yaml``/``.yml``/``.json`` or ``.xlsx``).

    Raises :class:`~channel_opt.scenario.errors.ScenarioError` listing every problem.
    """
    p = Path(path)
    if not p.exists():
        raise ScenarioError([Problem(str(p), "", None, None, "file not found",
                                     "check the path")])
    suffix = p.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return _load_yaml(p)
    if suffix in EXCEL_SUFFIXES:
        return _load_xlsx(p)
    raise ScenarioError([Problem(str(p), "", None, None, f"unknown scenario file type "
                                 f"'{suffix}'", "use .yaml, .yml, .json or .xlsx")])


def _text_columns(table: str | None = None) -> list[str]:
    """Columns holding ids and names: read as text, never as numbers or missing values.

    Without this, an id such as ``007`` reads as 7 and a region ``NA`` as missing.
    """
    specs = [TABLES[table]] if table in TABLES else list(TABLES.values()) if table is None \
        else []
    return sorted({c.name for spec in specs for c in columns(spec.row)
                   if c.kind in ("str", "enum")})


def _read_table(p: Path, table: str) -> pd.DataFrame:
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    try:
        # only an empty cell is missing: 'NA', 'null', '#N/A' are reported, not defaulted
        opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in _text_columns(table)},
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


def _load_yaml(p: Path) -> Scenario:
    try:
        text = p.read_text(encoding="utf-8")
        doc = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ScenarioError([Problem(str(p), "", None, None, f"cannot parse file: {e}",
                                     "fix the syntax")]) from None
    if not isinstance(doc, dict):
        raise ScenarioError([Problem(str(p), "", None, None, "top level is not a mapping",
                                     "write keys name, settings, tables")])
    problems = [Problem(str(p), "", None, k, "unknown top-level key",
                        f"use one of: {', '.join(sorted(_TOP_KEYS))}")
                for k in doc if k not in _TOP_KEYS]
    tables: dict[str, Any] = {}
    sources: dict[str, Source] = {"settings": Source(str(p), "settings")}
    spec = doc.get("tables") or {}
    if not isinstance(spec, dict):
        problems.append(Problem(str(p), "tables", None, None, "'tables' is not a mapping",
                                "map each table name to a file or a list of rows"))
        spec = {}
    for name, val in spec.items():
        if isinstance(val, str):
            f = (p.parent / val)
            if not f.exists():
                problems.append(Problem(str(p), f"tables.{name}", None, None,
                                        f"table file '{val}' not found",
                                        "check the path (relative to the scenario file)"))
                continue
            try:
                tables[name] = _read_table(f, name)
            except Exception as e:  # noqa: BLE001 - any reader error is a bad input file
                problems.append(Problem(str(f), name, None, None, f"cannot read table: {e}",
                                        "save it as UTF-8 CSV with a header row, or Parquet"))
                continue
            sources[name] = Source(str(f), name, 2)
        elif isinstance(val, list) and all(isinstance(r, dict) for r in val):
            tables[name] = pd.DataFrame(val) if val else None
            sources[name] = Source(f"{p}:tables.{name}", name, 1)
        else:
            problems.append(Problem(str(p), f"tables.{name}", None, None,
                                    "table is neither a file name nor a list of rows",
                                    "give a CSV/Parquet file name or a list of mappings"))
    try:
        scen = Scenario.from_frames(tables, doc.get("settings") or {},
                                    name=str(doc.get("name") or p.stem),
                                    description=str(doc.get("description") or ""),
                                    sources=sources)
    except ScenarioError as e:
        raise ScenarioError(problems + e.problems) from None
    if problems:
        raise ScenarioError(problems)
    return scen


def _load_xlsx(p: Path) -> Scenario:
    try:
        book = openpyxl.load_workbook(p, read_only=True, data_only=True)
        try:
            problems = _error_cells(book, p)
            sheets = pd.read_excel(book, sheet_name=None, engine="openpyxl",
                                   dtype=dict.fromkeys(_text_columns(), str),
                                   keep_default_na=False, na_values=[""])
        finally:
            book.close()
    except Exception as e:  # noqa: BLE001 - any reader error is a bad input file
        raise ScenarioError([Problem(str(p), "", None, None, f"cannot read workbook: {e}",
                                     "save it as an .xlsx workbook")]) from None
    name, description = p.stem, ""
    settings: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    sources: dict[str, Source] = {"settings": Source(str(p), "settings")}
    for sheet, df in sheets.items():
        if sheet == "settings":
            for i, row in df.iterrows():  # a handful of rows
                key, val = str(row.get("key", "")).strip(), row.get("value")
                if not key or key == "nan":
                    continue
                if key in ("name", "description"):  # free text, never parsed
                    text = "" if val is None or (isinstance(val, float) and math.isnan(val)) \
                        else str(val)
                    if key == "name":
                        name = text or name
                    else:
                        description = text
                    continue
                try:
                    val = _cell_value(val)
                except yaml.YAMLError:
                    problems.append(Problem(str(p), "settings", int(str(i)) + 2, "value",
                                            f"cannot read the value of '{key}'",
                                            "write a number, true/false, or plain text"))
                    continue
                try:
                    _set_dotted(settings, key, val)
                except ValueError as e:
                    problems.append(Problem(str(p), "settings", int(str(i)) + 2, "key",
                                            str(e), "use a dotted key such as "
                                            "rules.overlap.cost"))
        elif sheet == "channel_rules":
            rows = df.astype(object).where(df.notna(), None).to_dict("records")
            settings["channel_rules"] = [{k: v for k, v in r.items() if v is not None}
                                         for r in rows]
        else:
            tables[sheet] = df
            sources[sheet] = Source(f"{p}[{sheet}]", sheet, 2)
    try:
        scen = Scenario.from_frames(tables, settings, name=name, description=description,
                                    sources=sources)
    except ScenarioError as e:
        raise ScenarioError(problems + e.problems) from None
    if problems:
        raise ScenarioError(problems)
    return scen


def _error_cells(book: Any, p: Path) -> list[Problem]:
    """Cells holding a formula error (#REF!, #N/A, #DIV/0!...), which pandas reads as empty."""
    out: list[Problem] = []
    for ws in book.worksheets:
        header: list[Any] | None = None
        for row in ws.iter_rows():
            if header is None:
                header = [c.value for c in row]
                continue
            for j, c in enumerate(row):
                if c.data_type == "e":
                    col = header[j] if j < len(header) and header[j] is not None else None
                    out.append(Problem(f"{p}[{ws.title}]", ws.title, c.row,
                                       None if col is None else str(col),
                                       f"spreadsheet error value '{c.value}'",
                                       "replace it with a value (an empty cell means the "
                                       "default)"))
    return out


def _cell_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str):
        return yaml.safe_load(v) if v.strip() else None
    if hasattr(v, "item"):
        return v.item()
    return v


def _set_dotted(d: dict[str, Any], key: str, val: Any) -> None:
    parts = key.split(".")
    cur = d
    for k in parts[:-1]:
        nxt = cur.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise ValueError(f"key '{key}' clashes with '{k}' set to a value")
        cur = nxt
    cur[parts[-1]] = val


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out += _flatten(v, key + ".")
        elif isinstance(v, Mapping):
            out.append((key, True))  # a switched-on family without options
        elif isinstance(v, list):
            out.append((key, ";".join(map(str, v)) if key.startswith("rules.reserved")
                        else yaml.safe_dump(v, default_flow_style=True).strip()))
        else:
            out.append((key, v))
    return out


def settings_dict(settings: Settings) -> dict[str, Any]:
    """The settings as a plain mapping with defaults left out (for writing files)."""
    return settings.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def _file_tables(scen: Scenario) -> dict[str, pd.DataFrame]:
    """Tables to write; 'no limit' (infinity) is written as an empty cell."""
    out = {}
    for k, v in scen.tables.items():
        if TABLES[k].required or len(v):
            num = v.select_dtypes("number").columns
            out[k] = v.assign(**{c: v[c].where(np.isfinite(v[c])) for c in num})
    return out


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
            _write_xlsx(scen, Path(tmp))
            _pin_xlsx(Path(tmp))
            _publish(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return p
    if suffix in YAML_SUFFIXES:
        written: list[Path] = []
        try:
            tables: dict[str, str] = {}
            for name, df in _file_tables(scen).items():
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
            _publish(tmp, p)
        except BaseException:
            for f in written:
                f.unlink(missing_ok=True)
            raise
        return p
    raise ValueError(f"unknown scenario file type '{suffix}': use .yaml, .json or .xlsx")


def _publish(tmp: str, target: Path) -> None:
    """Give the temporary file the mode a new file gets (mkstemp makes it 0600) and
    move it into place.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, target)


def _atomic_csv(df: pd.DataFrame, f: Path) -> None:
    fd, tmp = tempfile.mkstemp(suffix=".csv", dir=f.parent)
    os.close(fd)
    try:
        df.to_csv(tmp, index=False)
        _publish(tmp, f)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


WORKBOOK_DATE = "2024-01-01T00:00:00Z"  # pinned document dates: same scenario, same bytes


def _pin_xlsx(path: Path) -> None:
    """Rewrite a workbook with fixed zip timestamps and document dates (openpyxl stamps
    the time of writing), so saving a scenario twice gives the same file.
    """
    import io
    import re
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(<)",
                              rb"\g<1>" + WORKBOOK_DATE.encode() + rb"\g<3>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            zout.writestr(zi, data)
    path.write_bytes(out.getvalue())


def _write_xlsx(scen: Scenario, path: Path) -> None:
    s = settings_dict(scen.settings)
    rules = s.pop("channel_rules", [])
    rows = [("name", scen.name), ("description", scen.description)] + _flatten(s)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        settings = pd.DataFrame(rows, columns=["key", "value"])
        settings.to_excel(xw, sheet_name="settings", index=False)
        if rules:
            cols = list(ChannelRule.model_fields)
            pd.DataFrame(rules, columns=cols).to_excel(xw, sheet_name="channel_rules", index=False)
        for name, df in _file_tables(scen).items():
            df.to_excel(xw, sheet_name=name, index=False)
