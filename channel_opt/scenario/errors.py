"""Input problems: every one names where it is and how to fix it; all are raised at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QUOTE_LIMIT = 40  # characters of a value from a file that a message may show


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value from an input file as a message may show it: control characters escaped,
    cut to ``limit`` characters (``...`` marks the cut), so an error never echoes raw
    file content.
    """
    text = str(value)
    cut = len(text) > limit
    text = text[:limit]
    safe = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)
    return safe + ("..." if cut else "")


@dataclass(frozen=True)
class Problem:
    """One problem found in a scenario's input.

    ``row`` is the 1-based line of the file as a planner sees it (the header is
    line 1, the first data row line 2) or ``None`` when the problem concerns a
    whole table or setting.
    """

    file: str
    table: str
    row: int | None
    column: str | None
    rule: str
    fix: str

    def __str__(self) -> str:
        where = self.file
        if self.table and self.table not in self.file:
            where += f" [{self.table}]"
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{quote(self.column)}'"
        return f"{where}: {self.rule}. Fix: {self.fix}"


class ScenarioError(ValueError):
    """Raised with every problem of a scenario at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in the scenario:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))
