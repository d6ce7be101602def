"""Scenario files refused before they are read, and parsed strictly.

Only regular files of bounded size are read (no folder, device or pipe), table files
only inside the scenario's folder (unless allowed); YAML without anchors/aliases or
duplicate keys, JSON without duplicate keys; a parse or reader error becomes a problem
that quotes at most a short, escaped piece of the file.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, quote


def not_a_readable_file(p: Path, limit: int) -> str | None:
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


def table_file(p: Path, val: str, allow_outside: bool,
               limit: int) -> tuple[Path | None, str, str]:
    """The table file named ``val`` in scenario ``p``, or (None, rule, fix).

    The path is resolved (``..`` and symbolic links) and must stay in the scenario's
    folder unless ``allow_outside``; it is checked (at most ``limit`` bytes) before it
    is opened.
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
    bad = not_a_readable_file(f, limit)
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


def strict_yaml(text: str) -> Any:
    """Parse YAML text with :class:`_StrictLoader`."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


class DuplicateKeyError(ValueError):
    """A key given twice in one JSON object."""


def json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of :func:`json.loads` that refuses a duplicate key."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKeyError(f"duplicate key '{quote(k)}'")
        out[k] = v
    return out


def parse_problem(p: Path, e: Exception) -> Problem:
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


def reader_error(e: Exception) -> str:
    """A reader's exception in a few words: its first line, cut and escaped (a parser
    may quote the line it choked on).
    """
    first = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {quote(first, 80)}"
