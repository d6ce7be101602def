"""The record types of the family registry: one record per constraint family (row
block) and per variable block of the MIP.

The theme modules of :mod:`channel_opt.model.families` declare their records next to
their builders; :mod:`channel_opt.model.registry` collects them.

Stage: *design* decisions are taken before demand is known (openings, listings,
brands, launches, brand kinds, stock, price levels, offered options, the commission
policy). The overlap indicators ``online_sold`` / ``offline_sold`` / ``overlap``
follow from the offered options alone, so they are *design* too. *Operations* are
what happens once demand is seen: ``sales`` and the ``commission`` paid on them.

Roles of a row block: *structure* (choice of sets and linking, never relaxed by the
diagnosis), *capacity* (a use within a limit), *floor* (at least a level), *budget*
(a count within a limit), *rule* (a relaxable 0/1 rule with no limit to report:
parity, one kind per brand, forced segments). Variable blocks carry their objective
wording instead (``profit_line``): the line of the profit breakdown they feed.

Coupling: the smallest index that holds every variable of one row, or the index of a
variable block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .families.core import Build

Role = Literal["structure", "capacity", "floor", "budget", "rule"]
Coupling = Literal["cell", "product_region", "region", "region_channel", "product",
                   "product_channel", "brand", "brand_channel", "global"]
Stage = Literal["design", "operations"]
Builder = Callable[["Build", Any], None]
"""A builder adds its blocks to the model; it receives its own rule configuration."""
Step = tuple[int, Builder]
"""(build step, builder): the model is built in increasing step (see the families
package)."""

ALWAYS: None = None
"""The switch of a family that is always built."""


def hand_test(name: str) -> str:
    """The test of ``tests/test_model_families.py`` that proves a family by hand."""
    return "tests/test_model_families.py::" + name


@dataclass(frozen=True)
class RowFamily:
    """A constraint family: one row block of the model."""

    name: str
    switch: str | None
    builder: Builder
    role: Role
    coupling: Coupling
    index: str
    math: str
    words: str  # the planner's name of the rule ("store labour hours")
    verb: str = "violated by"  # how a broken row reads: "over by", "short by"
    unit: str = ""  # of the row's bound; "currency" stands for the scenario's currency
    test: str = "—"  # the test that proves the family on a hand-computed case

    @property
    def limit_side(self) -> Literal["upper", "lower"] | None:
        """The bound a capacity / budget (upper) or floor (lower) row reports."""
        if self.role in ("capacity", "budget"):
            return "upper"
        return "lower" if self.role == "floor" else None


@dataclass(frozen=True)
class VarFamily:
    """A variable block of the model."""

    name: str
    switch: str | None
    builder: Builder
    stage: Stage
    coupling: Coupling
    index: str
    kind: str  # binary, continuous bounds
    meaning: str
    profit_line: str | None = None  # its line in the profit breakdown, if it has a cost
    test: str = "—"
