"""Markdown reference of the scenario's tables and settings, generated from the schema.

Everything here is read off the row models of :mod:`channel_opt.scenario.tables`
(columns, types, units, defaults, bounds, keys, references) and the pydantic
settings models of :mod:`channel_opt.scenario.settings` (field descriptions), so
the documentation cannot drift from what the validator checks.
"""

from __future__ import annotations

import math
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .settings import ChannelRule, Flag, Rules, Settings
from .tables import MAX_VALUE, TABLES, Column, columns, field_bounds

_KIND_NAMES = {"str": "text", "float": "number", "bool": "true/false"}
# meanings of the ChannelRule fields, which carry no pydantic description
_CHANNEL_RULE_MEANINGS = {
    "action": "forbid: the channel(s) may not be used in the scope; force: they must be "
              "(opened in the region, listing the product or brand, offered to every cell of "
              "the segment).",
    "channel": "Channel id the rule applies to (give this or `kind`).",
    "kind": "Every channel of this kind (give this or `channel`).",
    "product": "Scope: only this product id.",
    "brand": "Scope: only the products of this brand id.",
    "segment": "Scope: only the cells of this segment id.",
    "region": "Scope: only this region id.",
    "season": "Scope: only in-season (`in`) or out-of-season (`out`) products.",
}


def table_reference_markdown() -> str:
    """Return the Markdown reference of every table and every setting of a scenario."""
    parts = [
        "# Scenario reference",
        "",
        "Generated from the schema (`channel_opt.scenario.docs`); do not edit by hand.",
        "",
        _tables_overview(),
        *(_table_section(name) for name in TABLES),
        _settings_section(),
        _rules_section(),
        _channel_rules_section(),
    ]
    return "\n".join(parts).rstrip() + "\n"


# ------------------------------------------------------------------------------ tables


def _tables_overview() -> str:
    rows = [["Table", "Required", "Key", "Meaning"]]
    for name, spec in TABLES.items():
        rows.append([f"[`{name}`](#{name.replace('_', '-')})", _yes(spec.required),
                     ", ".join(f"`{k}`" for k in spec.key), _first_line(spec.row.__doc__)])
    return "\n".join(["## Tables", "",
                      "Each table is a CSV or Parquet file named in the scenario file (or its "
                      "rows inline), or a sheet of the workbook. The header is row 1. A cell "
                      "left empty takes the column's default; a required column has none. "
                      f"Every number is finite and at most {_num(MAX_VALUE)} (the range the "
                      "solvers handle; fractions at most 1); a number in a workbook cell or "
                      "YAML row is typed as a number, not text.",
                      "", _markdown_table(rows), ""])


def _table_section(name: str) -> str:
    spec = TABLES[name]
    lines = [f"### `{name}`", "", _doc(spec.row.__doc__), ""]
    facts = [("Required table" if spec.required else "Optional table") + ".",
             "Key: " + ", ".join(f"`{k}`" for k in spec.key) + " (one row per key)."]
    if spec.refs:
        facts.append("References: " + ", ".join(f"`{col}` → `{target}.id`"
                                                 for col, target in spec.refs) + ".")
    used_by = [f"`{other}.{col}`" for other, o in TABLES.items() for col, target in o.refs
               if target == name]
    if used_by:
        facts.append("Referenced by: " + ", ".join(used_by) + ".")
    lines += [" ".join(facts), ""]
    rows = [["Column", "Type", "Unit", "Default", "Required", "Bounds", "Meaning"]]
    for col in columns(spec.row):
        rows.append([f"`{col.name}`", _column_type(col), col.unit or "", _column_default(col),
                     _yes(col.required), _column_bounds(col), col.description])
    lines += [_markdown_table(rows), ""]
    return "\n".join(lines)


def _column_type(col: Column) -> str:
    if col.kind == "enum":
        return "one of " + ", ".join(f"`{c}`" for c in col.choices)
    return _KIND_NAMES.get(col.kind, col.kind)


def _column_default(col: Column) -> str:
    if col.required:
        return ""
    return _value(col.default)


def _column_bounds(col: Column) -> str:
    return _bounds(col.lower, col.lower_strict, col.upper, col.upper_strict)


# ---------------------------------------------------------------------------- settings


def _settings_section() -> str:
    rows = [["Setting", "Type", "Default", "Bounds", "Meaning"]]
    for name, field in Settings.model_fields.items():
        meaning = field.description or ""
        if name == "rules":
            meaning = "Rule families switched on; see [Rule families](#rule-families)."
        elif name == "channel_rules":
            meaning = "Forbid or force channels; see [Channel rules](#channel-rules)."
        elif name == "currency" and not meaning:
            meaning = "Currency of every amount (a label for reports)."
        rows.append([f"`{name}`", _type_name(field.annotation), _field_default(field),
                     _field_bounds(field), meaning])
    return "\n".join(["## Settings", "",
                      "The `settings:` block of the YAML/JSON file, or `key` / `value` rows of "
                      "the workbook's `settings` sheet (dotted keys such as "
                      "`rules.overlap.cost`).", "", _markdown_table(rows), ""])


def _rules_section() -> str:
    lines = ["## Rule families", "", _doc(Rules.__doc__), "",
             "A family is switched on by giving its block under `rules:`; its data sit in "
             "the tables, where a column left at its default means no limit.", ""]
    for name, field in Rules.model_fields.items():
        lines += [f"### `rules.{name}`", ""]
        model = _nested_model(field.annotation)
        if model is Flag:
            lines += ["Switch: `true` turns it on (no options). Data: "
                      + (field.description or ""), ""]
        elif model is not None:
            if field.description:
                lines += [field.description, ""]
            lines += [_doc(model.__doc__), "", _options_table(model), ""]
        else:
            lines += [f"Type: {_type_name(field.annotation)}"
                      + (f"; bounds: {_field_bounds(field)}" if _field_bounds(field) else "")
                      + ".", "", field.description or "", ""]
    return "\n".join(lines)


def _channel_rules_section() -> str:
    return "\n".join(["## Channel rules", "", _doc(ChannelRule.__doc__), "",
                      "A list under `settings.channel_rules:`, or one rule per row of the "
                      "workbook's `channel_rules` sheet.", "",
                      _options_table(ChannelRule, _CHANNEL_RULE_MEANINGS), ""])


def _options_table(model: type[BaseModel], meanings: dict[str, str] | None = None) -> str:
    rows = [["Option", "Type", "Default", "Bounds", "Meaning"]]
    for name, field in model.model_fields.items():
        meaning = field.description or (meanings or {}).get(name, "")
        rows.append([f"`{name}`", _type_name(field.annotation), _field_default(field),
                     _field_bounds(field), meaning])
    return _markdown_table(rows)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The settings block model inside ``X | None`` (None for plain values)."""
    for a in (annotation, *get_args(annotation)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _field_default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return ""
    if field.default is None:
        return "off" if field.annotation is not None and _nested_model(field.annotation) \
            else "none"
    if isinstance(field.default, BaseModel | tuple):
        return ""
    return _value(field.default)


def _field_bounds(field: FieldInfo) -> str:
    return _bounds(*field_bounds(field))


def _type_name(annotation: Any) -> str:
    """A reader's name for a type annotation."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is Union or origin is types.UnionType:
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "true" if annotation is Flag else "block"
    return {str: "text", float: "number", int: "integer", bool: "true/false"}.get(
        annotation, str(annotation))


# ----------------------------------------------------------------------------- helpers


def _bounds(lower: float | None, lower_strict: bool, upper: float | None,
            upper_strict: bool) -> str:
    out = []
    if lower is not None:
        out.append(f"{'>' if lower_strict else '>='} {_num(lower)}")
    if upper is not None:
        out.append(f"{'<' if upper_strict else '<='} {_num(upper)}")
    return ", ".join(out)


def _num(v: float) -> str:
    """A bound as a reader writes it: 1e9, not 1e+09."""
    return f"{v:g}".replace("e+0", "e").replace("e+", "e")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if isinstance(v, float):
        if math.isinf(v):
            return "no limit (empty)"
        if math.isnan(v):
            return "empty"
        return f"`{v:g}`"
    if v == "" or v is None:
        return "empty"
    return f"`{v}`"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _doc(doc: str | None) -> str:
    """A docstring as one Markdown paragraph (reST ``code`` becomes `code`)."""
    return " ".join((doc or "").split()).replace("``", "`")


def _first_line(doc: str | None) -> str:
    return _doc((doc or "").strip().split("\n\n")[0])


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown_table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


START, END = "<!-- reference:start -->", "<!-- reference:end -->"


def readme_section() -> str:
    """The reference as embedded in README.md (one heading level down)."""
    body = table_reference_markdown().split("\n", 1)[1].lstrip("\n")
    lines = ["#" + ln if ln.startswith("#") else ln for ln in body.splitlines()]
    return f"{START}\n" + "\n".join(lines).rstrip() + f"\n{END}"


def rewrite_generated_block(path: str, start: str, end: str, block: str) -> bool:
    """Replace the text from marker ``start`` to marker ``end`` of a file by ``block``
    (which carries the markers); True if the file changed.
    """
    from pathlib import Path

    p = Path(path)
    text = p.read_text(encoding="utf-8")
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    new = head + block + tail
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text


def update_readme(path: str = "README.md") -> bool:
    """Rewrite the reference section of README.md; True if it changed."""
    return rewrite_generated_block(path, START, END, readme_section())


if __name__ == "__main__":
    print("README.md updated" if update_readme() else "README.md already current")
