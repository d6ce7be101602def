"""Why a scenario is infeasible, in the planner's words.

The elastic version of the model gives every row of the rule families (floors,
capacities, budgets, forced channels) a penalized slack and every forced decision
a penalized release; the least total slack tells which rules cannot hold together,
where, and by how much. Slack is weighed relative to the row's bound (a floor
short by 10% counts like a capacity 10% over), so euros, units and hours compare.

Where the LP relaxation is itself infeasible, the engine with the "iis" feature
(HiGHS) also gives an irreducible infeasible subsystem (IIS): a smallest set of rows
and bounds that cannot hold together, each of which is needed for the conflict. It
names every rule involved (structure included), where the elastic model names only what to relax.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..model.linear import ArrayModel
from ..model.registry import ROW, planner_words
from .engines import OPTIMAL, TIME_LIMIT, engine_with


@dataclass
class Conflict:
    """One rule that cannot hold, where, and by how much."""

    family: str
    where: dict[str, Any]
    amount: float
    text: str
    option: int = 1  # 1: the least relaxation; 2, 3...: needed when the earlier are held


@dataclass
class IisMember:
    """One row or variable bound of an irreducible infeasible subsystem."""

    kind: str  # "rule" (a row of a constraint family) or "bound" (a variable's bound)
    family: str  # constraint family or variable block
    where: dict[str, Any]
    side: str  # "lower", "upper" or "both"
    value: float  # the bound that is part of the conflict (lower if "both")
    text: str


@dataclass
class Diagnosis:
    """The families and places that conflict."""

    conflicts: list[Conflict] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    message: str = ""
    iis: list[IisMember] = field(default_factory=list)
    iis_note: str = ""

    def as_table(self) -> pd.DataFrame:
        """One row per conflict (``option`` 1: the least relaxation; 2, 3...: what
        must be relaxed instead when the families of the earlier options are held).
        """
        return pd.DataFrame([{"family": c.family, "where": _where(c.where),
                              "amount": c.amount, "explanation": c.text,
                              "option": c.option}
                             for c in self.conflicts],
                            columns=["family", "where", "amount", "explanation", "option"])

    def iis_table(self) -> pd.DataFrame:
        """One row per member of the irreducible infeasible subsystem."""
        return pd.DataFrame([{"kind": m.kind, "family": m.family, "where": _where(m.where),
                              "side": m.side, "value": m.value, "explanation": m.text}
                             for m in self.iis],
                            columns=["kind", "family", "where", "side", "value",
                                     "explanation"])


def _where(lab: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in lab.items() if k != "scope") or "overall"


def elastic_model(am: ArrayModel) -> tuple[ArrayModel, list[tuple[str, str]]]:
    """A copy of ``am`` with penalized slack on every rule row and forced bound.

    Returns the model and, per slack block, (family, slack block name).
    """
    el = ArrayModel(name=am.name + "_elastic")
    for b in am.vars.values():
        lower = b.lower.copy()
        if b.integer:
            lower = np.minimum(lower, 0.0)  # forced decisions are released (and penalized)
        el.add_vars(b.name, b.labels, lower=lower, upper=b.upper, integer=b.integer,
                    description=b.description)
    slacks: list[tuple[str, str]] = []
    extra: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for c in am.cons.values():
        if c.name in ROW and ROW[c.name].role in ("structure", "cut"):
            continue
        extra[c.name] = []
        for side, bound, sign in (("upper", c.upper, -1.0), ("lower", c.lower, 1.0)):
            rows = np.flatnonzero(np.isfinite(bound))
            if not len(rows):
                continue
            # relative slack: a floor short by 10% weighs like a capacity 10% over,
            # whatever the units (EUR, units, hours); a broken 0/1 rule weighs 1
            weight = 1.0 / np.maximum(1.0, np.abs(bound[rows]))
            blk = el.add_vars(f"slack_{c.name}_{side}", c.labels.iloc[rows], cost=-weight)
            slacks.append((c.name, blk.name))
            extra[c.name].append((rows, blk.cols, np.full(len(rows), sign)))
    # forced lower bounds become rows  x + release >= 1 with a penalized release
    for b in am.vars.values():
        forced = np.flatnonzero(b.integer & (b.lower > 0))
        if not len(forced):
            continue
        rel = el.add_vars(f"release_{b.name}", b.labels.iloc[forced], upper=1.0, cost=-1.0)
        slacks.append((f"forced {b.name}", rel.name))
        n = len(forced)
        el.add_cons(f"forced_{b.name}", b.labels.iloc[forced],
                    [(np.arange(n), b.start + forced, 1.0), (np.arange(n), rel.cols, 1.0)],
                    lower=1.0)
    for c in am.cons.values():
        if c.name in ROW and ROW[c.name].role == "cut":
            continue  # implied at integer points; relaxing the others must not hit it
        terms = [(c.rows, c.cols, c.vals)] + [(r, cols, v) for r, cols, v in extra.get(c.name,
                                                                                        [])]
        el.add_cons(c.name, c.labels, terms, lower=c.lower, upper=c.upper,
                    description=c.description)
    # the elastic model's column numbers match: original blocks come first, in order
    return el, slacks


ELASTIC_ROUNDS = 4  # least-slack solves: the first, then one per family held firm
ELASTIC_TIME_LIMIT = 20.0  # seconds per elastic solve
IIS_TIME_LIMIT = 10.0  # seconds for the IIS (deletion filtering can take minutes)


def diagnose(am: ArrayModel, currency: str = "EUR", *, iis: bool = True,
             iis_time_limit: float | None = IIS_TIME_LIMIT,
             time_limit: float | None = None) -> Diagnosis:
    """Least-slack explanation of an infeasible model, plus its IIS (both from HiGHS).

    ``iis=False`` skips the IIS (it can take far longer than the elastic LP).
    ``time_limit`` bounds both together; the message says when it cut them.
    """
    t0 = time.monotonic()
    diag = _elastic_diagnosis(am, currency, time_limit)
    if time_limit is not None:
        left = time_limit - (time.monotonic() - t0)
        iis_time_limit = left if iis_time_limit is None else min(iis_time_limit, left)
        if iis_time_limit < 1.0:
            iis = False
            diag.iis_note = "no IIS: the time limit was used up by the elastic diagnosis"
    if iis:
        diag.iis, diag.iis_note = irreducible_subsystem(am, currency,
                                                        time_limit=iis_time_limit)
    return diag


def _elastic_diagnosis(am: ArrayModel, currency: str, time_limit: float | None = None, *,
                       rounds: int = ELASTIC_ROUNDS) -> Diagnosis:
    """Name every rule family in the conflict, not only the cheapest to relax.

    The least weighted slack relaxes one side of a conflict (a service level short,
    say). That family is then held firm (its slack fixed at 0) and the elastic model
    solved again in the same in-memory session: the families it must relax instead (the
    DC capacity) are the other side. This repeats until holding the families found
    makes the model infeasible or ``rounds`` solves are done. ``Conflict.option`` says
    which solve a conflict comes from (1: the least relaxation). Each solve gets at
    most ``ELASTIC_TIME_LIMIT`` seconds, and all of them together ``time_limit``.
    """
    el, slacks = elastic_model(am)
    lp = engine_with("in_memory").session(el)
    stop = None if time_limit is None else time.monotonic() + time_limit
    conflicts: list[Conflict] = []
    held: set[str] = set()
    for option in range(1, rounds + 1):
        each = ELASTIC_TIME_LIMIT if stop is None else min(ELASTIC_TIME_LIMIT,
                                                           stop - time.monotonic())
        if option > 1 and each < 0.1:
            break  # the budget is used up: report the families found so far
        out = lp.solve(time_limit=max(0.1, float(each)))
        if option == 1 and out.termination == TIME_LIMIT and out.x is None:
            return Diagnosis(message="the scenario is infeasible; the diagnosis was cut at "
                             f"the time limit ({max(each, 0.0):.1f} s left for it) before it "
                             "found which rules conflict: run again with a longer limit")
        if out.termination not in (OPTIMAL, TIME_LIMIT) or out.x is None:
            if option == 1:
                return Diagnosis(message="the elastic model could not be solved either "
                                 f"({out.message}); the "
                                 "conflict is in the structure of the scenario")
            break  # the families found so far cannot all be held: they are the conflict
        x = out.x
        found = _slack_conflicts(el, slacks, x, currency, option)
        new = {c.family for c in found} - held
        conflicts += found
        if not new:
            break
        held |= new
        cols = np.concatenate([el.vars[name].cols for fam, name in slacks if fam in new])
        lp.set_col_bounds(cols, np.zeros(len(cols)), np.zeros(len(cols)))
    conflicts.sort(key=lambda c: (c.option, -c.amount))
    fams = sorted({c.family for c in conflicts})
    first = [c.text for c in conflicts if c.option == 1]
    others = sorted({c.family for c in conflicts if c.option > 1} - {
        c.family for c in conflicts if c.option == 1})
    if not conflicts:
        msg = "no rule family needs relaxing: the infeasibility is numerical"
    else:
        msg = "the scenario is infeasible: " + "; ".join(first[:10])
        if others:
            msg += ("; or relax instead: " + ", ".join(
                planner_words(f)[0] for f in others))
    return Diagnosis(conflicts, fams, msg)


def _slack_conflicts(el: ArrayModel, slacks: list[tuple[str, str]], x: np.ndarray,
                     currency: str, option: int) -> list[Conflict]:
    """The conflicts of one elastic solution: every slack in use."""
    out = []
    for fam, name in slacks:
        blk = el.vars[name]
        vals = x[blk.start:blk.start + blk.n]
        for i in np.flatnonzero(vals > 1e-6):
            lab = {str(k): v for k, v in blk.labels.iloc[int(i)].items()}
            out.append(_conflict(fam, lab, float(vals[i]), currency, option))
    return out


def _conflict(fam: str, lab: dict[str, Any], amount: float, currency: str,
              option: int = 1) -> Conflict:
    name, verb, unit = planner_words(fam)
    unit = currency if unit == "currency" else unit
    where = _where(lab)
    if fam.startswith("forced"):
        text = f"the forced decision {fam.split(' ', 1)[1]} at {where} cannot hold with the " \
            "other rules"
    else:
        text = f"{name} cannot be met at {where}: {verb} {amount:,.2f} {unit}".rstrip()
    return Conflict(fam, lab, amount, text, option)


def irreducible_subsystem(am: ArrayModel, currency: str = "EUR", *,
                          time_limit: float | None = IIS_TIME_LIMIT) -> tuple[list[IisMember], str]:
    """The IIS of the LP relaxation from the engine with the "iis" feature (HiGHS'
    ``getIis``), in the model's names.

    Returns the members and a note; the list is empty, with the reason in the note,
    when the LP relaxation is feasible (only the integer decisions conflict) or the
    engine cannot find an IIS within ``time_limit`` seconds.
    """
    iis = engine_with("iis").session(am, relaxation=True).iis(time_limit)
    if iis.failure:
        return [], iis.failure
    col_lo, col_up = am.bounds()
    row_lo, row_up = am.row_bounds()
    members = []
    for i, side in iis.rows:
        fam, where = am.locate_row(i)
        members.append(_member("rule", fam, where, side, row_lo[i], row_up[i], currency))
    n_rows = len(members)
    for j, side in iis.cols:
        blk, where = am.locate_column(j)
        members.append(_member("bound", blk, where, side, col_lo[j], col_up[j], currency))
    note = (f"{n_rows} rule row(s) and {len(members) - n_rows} variable bound(s) cannot hold "
            "together even with fractional decisions; relaxing any one of them removes "
            "this conflict")
    return members, note


def _member(kind: str, fam: str, where: dict[str, Any], side: str, lo: float, up: float,
            currency: str) -> IisMember:
    value = float(up if side == "upper" else lo)
    name, _, unit = planner_words(fam)
    unit = currency if unit == "currency" else unit
    if side == "both":
        rel = f"between {lo:,.2f} and {up:,.2f}" if lo != up else f"= {lo:,.2f}"
    else:
        rel = f"{'at least' if side == 'lower' else 'at most'} {value:,.2f}"
    text = f"{name} at {_where(where)}: {rel} {unit}".rstrip()
    return IisMember(kind, fam, where, side, value, text)


UNSAFE_RATIO = 1e9  # largest / smallest |value| of the matrix, or of cost and bounds
UNSAFE_MAGNITUDE = 1e12  # any coefficient, cost, bound or right-hand side


def coefficient_range(am: ArrayModel) -> dict[str, tuple[float, float]]:
    """Smallest and largest nonzero magnitude of the matrix, the objective, and the
    finite row and column bounds of a built model ((0, 0) where there are none).
    """
    col_lo, col_up = am.bounds()
    row_lo, row_up = am.row_bounds()
    parts = {"matrix": np.concatenate([c.vals for c in am.cons.values()])
             if am.cons else np.zeros(0),
             "objective": am.cost,
             "bounds": np.concatenate([col_lo, col_up, row_lo, row_up])}
    out = {}
    for name, v in parts.items():
        a = np.abs(np.asarray(v, dtype=float))
        a = a[np.isfinite(a) & (a > 0)]
        out[name] = (float(a.min()), float(a.max())) if len(a) else (0.0, 0.0)
    return out


def numerical_warning(am: ArrayModel) -> str | None:
    """A warning when the built model's numbers span a range LP solvers handle badly
    (a ratio above 1e9 or a magnitude above 1e12), else None. Call once after build.
    """
    bad = []
    for name, (lo, hi) in coefficient_range(am).items():
        if hi > UNSAFE_MAGNITUDE or (lo > 0 and hi / lo > UNSAFE_RATIO):
            bad.append(f"{name} |values| from {lo:.3g} to {hi:.3g}")
    if not bad:
        return None
    return ("the model's numbers are numerically unsafe (" + "; ".join(bad) + "): the "
            "solver may return a wrong plan or status; rescale the inputs (e.g. thousands "
            "of units, thousands of EUR)")
