"""What-if overrides: one syntax for the command line and the API.

An override changes a setting or a table column of a scenario::

    rules.overlap.cost=600                      # set a setting (YAML value)
    rules.overlap.cost*=2                       # scale a numeric setting
    regions.partner_profit_floor*=0.8           # scale a column in every row
    regions[id=north].partner_profit_floor=30000  # set it in the rows the filter picks
    cells[product=p1,region=south].market*=1.1  # several filters: all must hold

The first part names a setting (a field of the ``settings:`` block) or a table; a table
is followed by an optional ``[column=value,...]`` filter and one column. Values are read
as YAML scalars (``600``, ``0.8``, ``true``, ``null``, ``north``).

:func:`apply_overrides` builds a **new** scenario through the same validation as a
file (:meth:`Scenario.from_frames`): the input is never changed, and a value the rules
refuse is reported as for a file, naming the override (``--set ...``) as the place.
Every problem is a :class:`~channel_opt.scenario.ScenarioError` (command line: exit 2).
The new scenario's hash differs from the input's whenever the content does. A what-if
of settings alone keeps the validated tables (:meth:`Scenario.with_settings`: only the
checks that read settings run again; the same scenario, hash and errors as a full
validation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..scenario import Scenario, ScenarioError
from ..scenario.errors import Problem, quote
from ..scenario.settings import Settings
from ..scenario.tables import TABLES
from ..scenario.validate import Source

_KEY = re.compile(r"^\s*(?P<head>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(?P<filter>[^\]]*)\])?"
                  r"(?P<rest>(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?P<scale>\*)?\s*$")


@dataclass(frozen=True)
class Override:
    """One parsed override: ``path`` (dotted), ``filters`` (table rows), ``scale``
    (``*=``) or set (``=``), the value, and the text it came from.
    """

    head: str
    filters: tuple[tuple[str, str], ...]
    path: tuple[str, ...]  # the setting's path below ``head``, or (column,) of a table
    scale: bool
    value: Any
    text: str

    @property
    def key(self) -> str:
        """The left-hand side as written in a table column name (``rules.overlap.cost``,
        ``regions[id=north].partner_profit_floor*``).
        """
        filt = "[" + ",".join(f"{c}={v}" for c, v in self.filters) + "]" if self.filters else ""
        return self.head + filt + "".join("." + p for p in self.path) + ("*" if self.scale
                                                                          else "")

    @property
    def is_table(self) -> bool:
        """Whether the override changes a table column (else a setting)."""
        return self.head in TABLES


def _problem(text: str, rule: str, fix: str, table: str = "settings",
             column: str | None = None) -> Problem:
    return Problem(f"--set {quote(text, 80)}", table, None, column, rule, fix)


def _fail(text: str, rule: str, fix: str, table: str = "settings",
          column: str | None = None) -> ScenarioError:
    return ScenarioError([_problem(text, rule, fix, table, column)])


def _yaml_value(raw: str, text: str) -> Any:
    if not raw.strip():
        raise _fail(text, "no value after '='", "write KEY=VALUE, e.g. rules.overlap.cost=600")
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise _fail(text, f"the value {quote(raw)} is not a YAML value ({type(e).__name__})",
                    "quote text or write a plain number") from e


def split_key(key: str, text: str | None = None) -> tuple[str, tuple[tuple[str, str], ...],
                                                          tuple[str, ...], bool]:
    """``(head, filters, path, scale)`` of an override's left-hand side (``*`` at its
    end: scale). Raises :class:`ScenarioError` naming the text.
    """
    text = key if text is None else text
    m = _KEY.match(key)
    if not m:
        raise _fail(text, "not an override",
                    "write KEY=VALUE or KEY*=FACTOR, KEY a setting (rules.overlap.cost) or "
                    "table.column, optionally filtered: regions[id=north].partner_profit_floor")
    head, rest = m["head"], m["rest"]
    path = tuple(p for p in rest.split(".") if p)
    filters: list[tuple[str, str]] = []
    if m["filter"] is not None:
        for part in m["filter"].split(","):
            col, eq, val = part.partition("=")
            if not eq or not col.strip():
                raise _fail(text, f"filter {quote(part)} is not column=value",
                            "write e.g. regions[id=north].partner_profit_floor=30000",
                            head if head in TABLES else "settings")
            filters.append((col.strip(), val.strip()))
    if head in TABLES:
        if len(path) != 1:
            cols = ", ".join(TABLES[head].row.model_fields)
            raise _fail(text, f"a table override names one column after '{head}'",
                        f"write {head}.COLUMN=VALUE with a column of: {cols}", head)
    else:
        if filters:
            raise _fail(text, f"'{head}' is not a table: a [filter] needs one",
                        f"filter a table ({', '.join(TABLES)})")
        if head not in Settings.model_fields:
            raise _fail(text, f"unknown setting or table '{quote(head)}'",
                        f"use a setting ({', '.join(Settings.model_fields)}) or a table "
                        f"({', '.join(TABLES)})")
    return head, tuple(filters), path, bool(m["scale"])


def _split_assign(text: str) -> tuple[str, str, bool]:
    """``(key, value text, found)`` split at the first ``=`` outside a ``[filter]``."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if ch == "=" and depth == 0:
            return text[:i], text[i + 1:], True
    return text, "", False


def parse_override(text: str) -> Override:
    """Parse ``KEY=VALUE`` / ``KEY*=FACTOR``; a bad one raises :class:`ScenarioError`."""
    key, raw, eq = _split_assign(text)
    if not eq:
        raise _fail(text, "no '=' in the override",
                    "write KEY=VALUE, e.g. rules.overlap.cost=600")
    return make_override(key, _yaml_value(raw, text), text)


def make_override(key: str, value: Any, text: str | None = None) -> Override:
    """An override from its left-hand side (``*`` at the end: scale) and a value."""
    text = f"{key.strip()}={value}" if text is None else text
    head, filters, path, scale = split_key(key, text)
    if scale and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _fail(text, f"'*=' needs a number, got {quote(value)}",
                    "write a factor such as *=0.8", head if head in TABLES else "settings")
    return Override(head, filters, path, scale, value, text)


def split_values(raw: str) -> list[str]:
    """The values of a sweep's ``KEY=V1,V2,...`` (commas inside brackets or quotes kept)."""
    out, depth, quote_ch, cur = [], 0, "", ""
    for ch in raw:
        if quote_ch:
            quote_ch = "" if ch == quote_ch else quote_ch
        elif ch in "'\"":
            quote_ch = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return [v.strip() for v in out]


def parse_grid(texts: Iterable[str]) -> dict[str, list[Any]]:
    """``--set KEY=V1,V2,...`` options as ``{key: [values]}`` (the sweep's grid). Every
    key and value is checked as an override; a key given twice is refused.
    """
    grid: dict[str, list[Any]] = {}
    for text in texts:
        key, raw, eq = _split_assign(text)
        if not eq:
            raise _fail(text, "no '=' in the override", "write KEY=V1,V2,...")
        values = [_yaml_value(v, text) for v in split_values(raw)]
        ov = make_override(key, values[0], text)
        for v in values[1:]:
            make_override(key, v, text)
        if ov.key in grid:
            raise _fail(text, f"'{ov.key}' is given twice", "give each key once, its values "
                        "comma-separated")
        grid[ov.key] = values
    return grid


def as_overrides(overrides: Sequence[str | Override] | Mapping[str, Any] | None
                 ) -> list[Override]:
    """Texts (``"rules.overlap.cost=600"``), parsed overrides, or ``{key: value}``."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [make_override(k, v) for k, v in overrides.items()]
    return [o if isinstance(o, Override) else parse_override(o) for o in overrides]


def _set_setting(data: dict[str, Any], ov: Override, problems: list[Problem]) -> None:
    node: Any = data
    parts = (ov.head, *ov.path)
    for i, p in enumerate(parts[:-1]):
        nxt = node.get(p) if isinstance(node, dict) else None
        if nxt is None and isinstance(node, dict):
            nxt = node[p] = {}  # switch a family on to set one of its options
        if not isinstance(nxt, dict):
            problems.append(_problem(ov.text, f"'{'.'.join(parts[:i + 1])}' has no "
                                     "sub-settings", "set it directly", column=ov.key))
            return
        node = nxt
    last = parts[-1]
    if ov.scale:
        cur = node.get(last)
        if isinstance(cur, bool) or not isinstance(cur, int | float):
            problems.append(_problem(ov.text, f"'{'.'.join(parts)}' is not a number here "
                                     f"(it is {quote(cur)}), so it cannot be scaled",
                                     "set it with '=' instead", column=ov.key))
            return
        node[last] = cur * ov.value
    else:
        node[last] = ov.value


def _set_column(frames: dict[str, pd.DataFrame], ov: Override,
                problems: list[Problem]) -> None:
    table, col = ov.head, ov.path[0]
    df = frames[table]
    known = list(TABLES[table].row.model_fields)
    for c in [col, *(f for f, _ in ov.filters)]:
        if c not in df.columns:
            problems.append(_problem(ov.text, f"table '{table}' has no column '{quote(c)}'",
                                     f"use one of: {', '.join(known)}", table, c))
            return
    mask = np.ones(len(df), bool)
    for fcol, fval in ov.filters:
        mask &= df[fcol].astype(str).to_numpy() == fval
    if not mask.any():
        filt = ", ".join(f"{c}={v}" for c, v in ov.filters)
        problems.append(_problem(ov.text, f"no row of '{table}' has {quote(filt)}",
                                 "check the filter's values (ids are case-sensitive)",
                                 table, ov.filters[0][0] if ov.filters else col))
        return
    s = df[col]
    if ov.scale:
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            problems.append(_problem(ov.text, f"column '{col}' is not numeric, so it cannot "
                                     "be scaled", "set it with '=' instead", table, col))
            return
        new = s.to_numpy(float).copy()
        new[mask] *= float(ov.value)
    else:
        new = s.to_numpy(object).copy()
        new[mask] = ov.value
    frames[table] = df.assign(**{col: new})


def apply_overrides(scenario: Scenario,
                    overrides: Sequence[str | Override] | Mapping[str, Any] | None
                    ) -> Scenario:
    """A new scenario with the overrides applied in order, validated like a file.

    ``scenario`` is not changed. Problems (a bad key, a filter matching nothing, a
    value the rules refuse) raise :class:`ScenarioError`, each naming the override.
    Without overrides the scenario itself is returned.
    """
    ovs = as_overrides(overrides)
    if not ovs:
        return scenario
    settings = scenario.settings.model_dump()
    frames = {k: scenario.tables[k] for k in scenario.tables}
    problems: list[Problem] = []
    touched: dict[str, list[str]] = {}
    for ov in ovs:
        if ov.is_table:
            _set_column(frames, ov, problems)
        else:
            _set_setting(settings, ov, problems)
        touched.setdefault(ov.head if ov.is_table else "settings", []).append(ov.text)
    if problems:
        raise ScenarioError(problems)
    sources = {k: Source("--set " + "; --set ".join(quote(t, 80) for t in v), k)
               for k, v in touched.items()}
    if set(touched) == {"settings"}:  # the tables as validated: only the settings' checks
        return scenario.with_settings(settings, sources=sources)
    return Scenario.from_frames(frames, settings, name=scenario.name,
                                description=scenario.description, sources=sources)


def describe(overrides: Sequence[Override]) -> dict[str, Any]:
    """``{key: value}`` of the overrides (as recorded in ``summary.json``)."""
    return {o.key: o.value for o in overrides}
