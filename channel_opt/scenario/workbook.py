"""Scenario workbooks: one ``.xlsx`` with a sheet per table, a ``settings`` sheet of
``key`` / ``value`` rows (dotted keys such as ``rules.overlap.cost``; ``name`` and
``description`` too) and a ``channel_rules`` sheet with one rule per row; read and
written.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import yaml

from .errors import Problem, ScenarioError, quote
from .fileio import file_tables, settings_dict, text_columns
from .guard import reader_error, strict_yaml
from .scenario import Scenario
from .settings import ChannelRule
from .tables import TABLES
from .validate import Source

_SHEETS = ("settings", "channel_rules")  # workbook sheets that are not tables


def load_xlsx(p: Path) -> Scenario:
    """Read and validate a scenario workbook."""
    try:
        book = openpyxl.load_workbook(p, read_only=True, data_only=True)
        try:
            problems: list[Problem] = []
            sheets = _read_sheets(book, p, problems)
        finally:
            book.close()
    except Exception as e:  # noqa: BLE001 - any reader error is a bad input file
        raise ScenarioError([Problem(str(p), "", None, None,
                                     f"cannot read workbook ({reader_error(e)})",
                                     "save it as an .xlsx workbook")]) from None
    name, description = p.stem, ""
    settings: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    sources: dict[str, Source] = {"settings": Source(str(p), "settings")}
    if "settings" not in sheets and sheets:
        # Refused rather than read as "no rules": a renamed or deleted settings sheet
        # would silently drop every rule and give a plan of a different problem.
        problems.append(Problem(str(p), "settings", None, None,
                                "the workbook has no 'settings' sheet",
                                "add a sheet 'settings' with columns key and value (the "
                                "header alone if the scenario has no settings)"))
    for sheet, (title, df) in sheets.items():
        where = f"{p}[{title}]"
        if sheet == "settings":
            name, description = _read_settings_sheet(df, where, settings, problems,
                                                     name, description)
        elif sheet == "channel_rules":
            df = df.rename(columns=lambda c: str(c).strip().lower())
            rows = df.astype(object).where(df.notna(), None).to_dict("records")
            settings["channel_rules"] = [{k: v for k, v in r.items() if v is not None}
                                         for r in rows]
        else:
            tables[sheet] = df
            sources[sheet] = Source(where, sheet, 2, typed=True)
    try:
        scen = Scenario.from_frames(tables, settings, name=name, description=description,
                                    sources=sources)
    except ScenarioError as e:
        raise ScenarioError(problems + e.problems) from None
    if problems:
        raise ScenarioError(problems)
    return scen


def _read_sheets(book: Any, p: Path,
                 problems: list[Problem]) -> dict[str, tuple[str, pd.DataFrame]]:
    """Every sheet as a DataFrame of the cells' own values (a number stays a number, a
    text stays text, an empty cell is None), keyed by the table it holds.

    Sheet names match in any case (``Cells`` is ``cells``); an unknown sheet, two
    sheets for one table and cells holding a formula error (#REF!, #N/A...) are
    problems.
    """
    known = [*TABLES, *_SHEETS]
    out: dict[str, tuple[str, pd.DataFrame]] = {}
    for ws in book.worksheets:
        title = str(ws.title)
        key = title.strip().lower()
        where = f"{p}[{title}]"
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            problems.append(Problem(where, title, None, None, f"unknown sheet '{quote(title)}'",
                                    (f"did you mean '{close[0]}'? " if close else "")
                                    + f"name each sheet after a table: {', '.join(known)}"))
            continue
        if key in out:
            problems.append(Problem(where, title, None, None,
                                    f"a second sheet for '{key}' (the first is "
                                    f"'{quote(out[key][0])}')", "keep one sheet per table"))
            continue
        text_cols = set(text_columns(key)) if key in TABLES else set()
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()  # some writers store a wrong sheet size (as pandas does)
        header: list[str] = []
        data: list[list[Any]] = []
        for row in ws.iter_rows():
            if not header and not data:
                header = ["" if c.value is None else str(c.value).strip() for c in row]
                data.append([])  # the header row is taken
                continue
            vals = []
            for j, c in enumerate(row):
                v = c.value
                if c.data_type == "e":
                    col = header[j] if j < len(header) and header[j] else None
                    problems.append(Problem(where, title, c.row, col,
                                            f"spreadsheet error value '{quote(v)}'",
                                            "replace it with a value (an empty cell means "
                                            "the default)"))
                    v = None
                elif isinstance(v, str) and not v.strip():
                    v = None
                vals.append(v)
            data.append(vals)
        rows = data[1:]
        width = max([len(header), *map(len, rows)]) if rows or header else 0
        header += [""] * (width - len(header))
        rows = [r + [None] * (width - len(r)) for r in rows]
        while rows and all(v is None for v in rows[-1]):
            rows.pop()
        cols: dict[str, list[Any]] = {}
        for j, h in enumerate(header):
            vals = [r[j] for r in rows]
            if not h and all(v is None for v in vals):
                continue  # an unused column
            name = h or f"(no header, column {j + 1})"
            if h in text_cols:
                vals = [None if v is None else _id_text(v) for v in vals]
            if name in cols:
                name += f" (column {j + 1})"  # reported as unknown by the validator
            cols[name] = vals
        out[key] = (title, pd.DataFrame({k: pd.Series(v, dtype=object)
                                         for k, v in cols.items()}))
    return out


def _id_text(v: Any) -> str:
    """An id cell as text: a number typed as 7 is the id '7', not '7.0'."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_settings_sheet(df: pd.DataFrame, where: str, settings: dict[str, Any],
                         problems: list[Problem], name: str,
                         description: str) -> tuple[str, str]:
    """Read the ``key`` / ``value`` rows of the settings sheet into ``settings``.

    Returns the scenario's name and description (rows ``name``, ``description``).
    """
    df = df.rename(columns=lambda c: str(c).strip().lower())
    if not {"key", "value"} <= set(df.columns):
        problems.append(Problem(where, "settings", 1, None,
                                "the settings sheet needs the columns 'key' and 'value'",
                                "write 'key' and 'value' in the first row"))
        return name, description
    first: dict[str, int] = {}
    for i, (raw_key, val) in enumerate(zip(df["key"], df["value"], strict=True)):
        row = i + 2
        key = "" if raw_key is None else str(raw_key).strip()
        if not key:
            continue
        if key in first:
            problems.append(Problem(where, "settings", row, "key",
                                    f"'{quote(key)}' is given twice (first on row "
                                    f"{first[key]})", "keep one row per key"))
            continue
        first[key] = row
        if key in ("name", "description"):  # free text, never parsed
            text = "" if val is None else str(val)
            if key == "name":
                name = text or name
            else:
                description = text
            continue
        try:
            val = _cell_value(val)
        except yaml.YAMLError:
            problems.append(Problem(where, "settings", row, "value",
                                    f"cannot read the value of '{quote(key)}'",
                                    "write a number, true/false, or plain text"))
            continue
        except _TextNumberError:
            problems.append(Problem(where, "settings", row, "value",
                                    f"the value of '{quote(key)}' is a number written as "
                                    "text", "type the number itself into the cell (no "
                                    "quote, no thousands separator)"))
            continue
        try:
            _set_dotted(settings, key, val)
        except ValueError as e:
            problems.append(Problem(where, "settings", row, "key", str(e),
                                    "use a dotted key such as rules.overlap.cost"))
    return name, description


class _TextNumberError(ValueError):
    pass


def _cell_value(v: Any) -> Any:
    """A settings cell's value: numbers and true/false as typed; a text is read as YAML
    (``[a, b]``, ``true``) but a text that reads as a number is refused (``"1.700"``:
    1.7 or 1700? No locale is guessed).
    """
    if v is None or isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str):
        if not v.strip():
            return None
        out = strict_yaml(v)
        if isinstance(out, int | float) and not isinstance(out, bool):
            raise _TextNumberError(v)
        return out
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


WORKBOOK_DATE = "2024-01-01T00:00:00Z"  # pinned document dates: same scenario, same bytes


def pin_xlsx(path: Path) -> None:
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


def write_xlsx(scen: Scenario, path: Path) -> None:
    """Write ``scen`` as a workbook at ``path`` (the caller pins and publishes it)."""
    s = settings_dict(scen.settings)
    rules = s.pop("channel_rules", [])
    rows = [("name", scen.name), ("description", scen.description)] + _flatten(s)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        settings = pd.DataFrame(rows, columns=["key", "value"])
        settings.to_excel(xw, sheet_name="settings", index=False)
        if rules:
            cols = list(ChannelRule.model_fields)
            pd.DataFrame(rules, columns=cols).to_excel(xw, sheet_name="channel_rules", index=False)
        for name, df in file_tables(scen).items():
            df.to_excel(xw, sheet_name=name, index=False)
