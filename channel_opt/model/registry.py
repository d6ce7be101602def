"""The family registry: every record of the theme modules, collected once.

Everything the package knows about a block sits in its record
(:mod:`channel_opt.model.records`), declared next to its builder in a theme module of
:mod:`channel_opt.model.families`: its name, the rule switch that turns it on
(``None``: always built; a field of ``settings.stochastic``: on in the two-stage model
only), the builder that adds it, its role, unit and the planner's
wording, the **coupling** and, for variable blocks, the **stage**. This module collects
the records of :data:`THEMES`, the builders in build-step order (:data:`BUILDERS`, what
the model is assembled from) and the look-ups the rest of the package reads: result
tables, diagnosis, sensitivity, the heuristic and the family tables of
``models/channel_design.md`` (:mod:`channel_opt.model.design_doc`).
"""

from __future__ import annotations

from ..scenario.settings import Rules, Stochastic
from .families import capacity, conflict, core, partners, pricing
from .records import Builder, Role, RowFamily, Step, VarFamily

__all__ = ["BUILDERS", "BUILD_ORDER", "LIMITED", "RECORDS", "ROW", "ROWS", "STOCHASTIC_SWITCHES",
           "THEMES", "VAR", "VARIABLES", "Builder", "Role", "RowFamily", "VarFamily",
           "planner_words", "rows_with"]

# the theme modules in record order (the order of the family tables and of LIMITED)
THEMES = (core, pricing, conflict, partners, capacity)

VARIABLES: tuple[VarFamily, ...] = tuple(v for m in THEMES for v in m.VARIABLES)
ROWS: tuple[RowFamily, ...] = tuple(r for m in THEMES for r in m.ROWS)
RECORDS: tuple[RowFamily | VarFamily, ...] = (*ROWS, *VARIABLES)
ROW = {r.name: r for r in ROWS}
VAR = {v.name: v for v in VARIABLES}

# Builders in build order: the column and row order of the model (and so the solver's
# path) follows the build steps the themes declare. The switch of each is the one its
# records name.
_STEPS: tuple[Step, ...] = tuple(sorted((st for m in THEMES for st in m.BUILD_STEPS),
                                        key=lambda st: st[0]))
BUILD_ORDER: tuple[Builder, ...] = tuple(fn for _, fn in _STEPS)


def _switches() -> dict[Builder, str | None]:
    """The one switch of every builder, read off its records."""
    sw: dict[Builder, set[str | None]] = {}
    for rec in RECORDS:
        sw.setdefault(rec.builder, set()).add(rec.switch)
    assert all(len(s) == 1 for s in sw.values()), "a builder with two switches"
    assert set(sw) == set(BUILD_ORDER) and len(BUILD_ORDER) == len(sw), \
        "every builder has records and a place in BUILD_ORDER"
    assert len({st for st, _ in _STEPS}) == len(_STEPS), "two builders at one build step"
    return {fn: next(iter(s)) for fn, s in sw.items()}


BUILDERS: tuple[tuple[str | None, Builder], ...] = tuple(
    (_switches()[fn], fn) for fn in BUILD_ORDER)
"""(rule switch or None for always-on, builder), in build order."""


# switches that are settings of the two-stage model (``settings.stochastic``), not rules:
# on only in the models of its demand scenarios (``build_array_model(two_stage=True)``)
STOCHASTIC_SWITCHES = frozenset(Stochastic.model_fields)


def _check() -> None:
    """Every record names a known switch; every name is written once."""
    assert not STOCHASTIC_SWITCHES & set(Rules.model_fields)
    for rec in RECORDS:
        assert rec.switch is None or rec.switch in Rules.model_fields or \
            rec.switch in STOCHASTIC_SWITCHES, rec.name
    assert len(ROW) == len(ROWS) and len(VAR) == len(VARIABLES)
    assert not set(ROW) & set(VAR)


_check()


def rows_with(*roles: Role) -> tuple[RowFamily, ...]:
    """The row families of the given roles, in record order."""
    return tuple(r for r in ROWS if r.role in roles)


# the families whose rows bound a use (capacity, budget) or a level (floor): the
# capacity table and the sensitivity read these: capacities, budgets, floors
LIMITED: tuple[RowFamily, ...] = rows_with("capacity") + rows_with("budget") + rows_with("floor")


def planner_words(name: str) -> tuple[str, str, str]:
    """(name, verb, unit) of a row family in the planner's words; a name the registry
    does not hold (a variable block, a forced decision) reads as itself.
    """
    rec = ROW.get(name)
    if rec is None:
        return name.replace("_", " "), "violated by", ""
    return rec.words, rec.verb, rec.unit
