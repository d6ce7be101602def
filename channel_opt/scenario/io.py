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

import difflib
import json
import math
import os
import stat
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

from .errors import Problem, ScenarioError, quote
from .scenario import Scenario
from .settings import ChannelRule, Settings
from .tables import TABLES, columns
from .validate import Source

YAML_SUFFIXES = {".yaml", ".yml", ".json"}
EXCEL_SUFFIXES = {".xlsx"}
_TOP_KEYS = {"name", "description", "settings", "tables"}
_SHEETS = ("settings", "channel_rules")  # workbook sheets that are not tables
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
    bad = _not_a_readable_file(p, MAX_TEXT_BYTES if suffix in YAML_SUFFIXES
                               else MAX_TABLE_BYTES)
    if bad:
        raise ScenarioError([Problem(str(p), "", None, None, bad,
                                     "give the path of a scenario file")])
    if suffix in YAML_SUFFIXES:
        return _load_yaml(p, allow_outside)
    return _load_xlsx(p)


def _not_a_readable_file(p: Path, limit: int) -> str | None:
    """Why ``p`` may not be read (a folder, a device, a pipe, too large), or None.

    Checked before a byte is read: ``/dev/zero`` or a FIFO would never end.
    """
    try:
        st = p.stat()
    except OSError as e:
        return f"cannot open the file ({quote(e.strerror or type(e).__name__)})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, pipe or socket)"
    if st.st_size > limit:
        return f"file is larger than the {limit / 1024**2:,.0f} MiB that are read"
    return None


def _table_file(p: Path, val: str, allow_outside: bool) -> tuple[Path | None, str, str]:
    """The table file named ``val`` in scenario ``p``, or (None, rule, fix).

    The path is resolved (``..`` and symbolic links) and must stay in the scenario's
    folder unless ``allow_outside``; it is checked before it is opened.
    """
    folder = p.parent.resolve()
    f = (p.parent / val).resolve()
    if not allow_outside and not f.is_relative_to(folder):
        return None, (f"table file '{quote(val)}' is outside the scenario's folder"), (
            "copy the table into the scenario's folder (or allow files outside it: "
            "load_scenario(..., allow_outside=True), --allow-outside-tables)")
    if not f.exists():
        return None, f"table file '{quote(val)}' not found", \
            "check the path (relative to the scenario file)"
    bad = _not_a_readable_file(f, MAX_TABLE_BYTES)
    if bad:
        return None, f"table file '{quote(val)}' {bad}", \
            "name a CSV or Parquet file of at most 2 GiB"
    return f, "", ""


class _StrictLoader(yaml.SafeLoader):
    """YAML without anchors/aliases (an alias bomb expands to gigabytes from a few
    lines) and without duplicate keys (the last one would silently win).
    """

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102
        if self.check_event(yaml.AliasEvent):
            ev = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"alias '*{quote(ev.anchor)}' found: anchors and aliases are "
                "not allowed (write the value out)", ev.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # noqa: D102
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{quote(key_node.value)}' (first given "
                        f"on line {seen[key] + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _strict_yaml(text: str) -> Any:
    """Parse YAML text with :class:`_StrictLoader`."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


class _DuplicateKeyError(ValueError):
    pass


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKeyError(f"duplicate key '{quote(k)}'")
        out[k] = v
    return out


def _parse_problem(p: Path, e: Exception) -> Problem:
    """A parse error as a problem: what and where, never the file's text (a YAML error
    prints the offending line, which may be a secret).
    """
    line: int | None = None
    if isinstance(e, yaml.MarkedYAMLError):
        what = e.problem or e.context or "syntax error"
        if e.problem_mark is not None:
            line = e.problem_mark.line + 1
            what += f" (column {e.problem_mark.column + 1})"
    elif isinstance(e, json.JSONDecodeError):
        what, line = f"{e.msg} (column {e.colno})", e.lineno
    elif isinstance(e, UnicodeDecodeError):
        what = f"not UTF-8 text (byte {e.start})"
    else:
        what = str(e)
    return Problem(str(p), "", line, None, f"cannot parse file: {quote(what, 120)}",
                   "fix the syntax")


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


def _reader_error(e: Exception) -> str:
    """A reader's exception in a few words: its first line, cut and escaped (a parser
    may quote the line it choked on).
    """
    first = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {quote(first, 80)}"


def _load_yaml(p: Path, allow_outside: bool = False) -> Scenario:
    try:
        text = p.read_text(encoding="utf-8")
        doc = json.loads(text, object_pairs_hook=_json_pairs) \
            if p.suffix.lower() == ".json" else _strict_yaml(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError,
            _DuplicateKeyError) as e:
        raise ScenarioError([_parse_problem(p, e)]) from None
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
            f, rule, fix = _table_file(p, val, allow_outside)
            if f is None:
                problems.append(Problem(str(p), f"tables.{name}", None, None, rule, fix))
                continue
            try:
                tables[name] = _read_table(f, name)
            except Exception as e:  # noqa: BLE001 - any reader error is a bad input file
                problems.append(Problem(str(f), str(name), None, None,
                                        f"cannot read table ({_reader_error(e)})",
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


def _load_xlsx(p: Path) -> Scenario:
    try:
        book = openpyxl.load_workbook(p, read_only=True, data_only=True)
        try:
            problems: list[Problem] = []
            sheets = _read_sheets(book, p, problems)
        finally:
            book.close()
    except Exception as e:  # noqa: BLE001 - any reader error is a bad input file
        raise ScenarioError([Problem(str(p), "", None, None,
                                     f"cannot read workbook ({_reader_error(e)})",
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
        text_cols = set(_text_columns(key)) if key in TABLES else set()
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
        out = _strict_yaml(v)
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
