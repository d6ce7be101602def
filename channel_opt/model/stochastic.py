"""The two-stage stochastic model as an extensive form, stacked from array models.

Every demand scenario ``s`` (:func:`channel_opt.scenario.demand.realize`) gives a
deterministic :class:`~channel_opt.model.linear.ArrayModel` built by the one builder
(:func:`~channel_opt.model.build.build_array_model`). The extensive form stacks them
block-angularly:

* columns of *design* blocks (registry stage ``design``) appear once, shared by every
  scenario;
* columns of *operations* blocks (``sales``, ``commission``, ``shortfall``) appear
  once per scenario, their labels led by a ``demand_scenario`` column;
* a row that touches an operations column appears once per scenario; a row on
  design columns only appears once when it is the same in every scenario (else once
  per scenario: it must hold in each);
* the objective is the expected profit: ``Σ_s p_s c_s`` over each scenario's columns
  (design costs do not depend on demand, so they come out once).

It is one :class:`ArrayModel`, so every backend (HiGHS in memory, the Pyomo
backends) solves it unchanged, and the value of each scenario's columns maps back to
that scenario's own model (:attr:`TwoStage.col_map`) for the plan check and tables.

Floors and service levels (registry role ``floor``) hold in every scenario, unless
``settings.stochastic.shortfall_cost`` is set: then each floor row of each scenario
gets a ``shortfall`` column (≥ 0, on the row's lower side) paid at that cost per unit
short (per unit of the row's bound: currency for the partner floor, units for
service levels and dealer volumes), weighted by the scenario's probability. The block
is a registry record (``families.partners.SHORTFALL``, stage ``operations``, switch
``shortfall_cost``) built by the one builder for every demand scenario's model
(``build_array_model(two_stage=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..scenario import Scenario
from ..scenario.demand import demand_scenarios, realize
from .build import build_array_model
from .data import ModelData
from .linear import ArrayModel, ConBlock
from .registry import VAR

SCENARIO_COLUMN = "demand_scenario"
SHARED_ROW = "*"  # the demand_scenario label of a row kept once in a mixed block


def is_design(block: str) -> bool:
    """A variable block decided before demand is known (registry stage ``design``)."""
    return block in VAR and VAR[block].stage == "design"


@dataclass
class Member:
    """One demand scenario: its deterministic scenario, model and data."""

    id: str
    probability: float
    scenario: Scenario
    am: ArrayModel
    data: ModelData


@dataclass
class TwoStage:
    """The extensive form and the map from each member's columns to its columns."""

    am: ArrayModel
    members: list[Member]
    col_map: list[np.ndarray]  # per member: its column j is column col_map[s][j] here
    design: np.ndarray  # bool per member column: a design (first-stage) column

    def member_x(self, s: int, x: np.ndarray) -> np.ndarray:
        """The plan of member ``s`` (its own column order) from an extensive-form plan."""
        return x[self.col_map[s]]

    def design_values(self, x: np.ndarray) -> np.ndarray:
        """The first-stage values (member column order, zero at operations columns)."""
        return np.where(self.design, x[self.col_map[0]], 0.0)


def members(scen: Scenario, ids: list[tuple[str, float]] | None = None) -> list[Member]:
    """The deterministic model of every demand scenario (or of ``ids``: (id,
    probability) pairs, or ``("", 1.0)`` for ``scen`` itself).
    """
    out = []
    for sid, p in ids if ids is not None else demand_scenarios(scen):
        sc = realize(scen, sid) if sid else scen
        am, data = build_array_model(sc, two_stage=True)  # with the shortfall, if it has a cost
        out.append(Member(sid, p, sc, am, data))
    return out


def extensive_form(ms: list[Member], name: str = "two_stage") -> TwoStage:
    """Stack the members' models block-angularly (see the module's documentation)."""
    base = ms[0].am
    for m in ms[1:]:
        if [(b.name, b.n) for b in m.am.vars.values()] != \
                [(b.name, b.n) for b in base.vars.values()]:
            raise ValueError(f"demand scenario {m.id!r} changes the model's columns; "
                             "factors must keep every market and share positive")
    ef = ArrayModel(name=name)
    maps = [np.empty(base.n_cols, np.int64) for _ in ms]
    design = np.zeros(base.n_cols, bool)
    costs = [m.am.cost for m in ms]
    prob = [m.probability for m in ms]
    for b in base.vars.values():
        sl = slice(b.start, b.start + b.n)
        if is_design(b.name):
            design[sl] = True
            lo = np.max([m.am.vars[b.name].lower for m in ms], axis=0)
            up = np.min([m.am.vars[b.name].upper for m in ms], axis=0)
            cost = np.sum([p * c[sl] for p, c in zip(prob, costs, strict=True)], axis=0)
            blk = ef.add_vars(b.name, b.labels, lower=lo, upper=up, integer=b.integer,
                              cost=cost, description=b.description)
            for mp in maps:
                mp[sl] = blk.cols
        else:
            lab = pd.concat([_lead(m.am.vars[b.name].labels, m.id) for m in ms],
                            ignore_index=True)
            blk = ef.add_vars(b.name, lab,
                              lower=np.concatenate([m.am.vars[b.name].lower for m in ms]),
                              upper=np.concatenate([m.am.vars[b.name].upper for m in ms]),
                              integer=b.integer,
                              cost=np.concatenate([p * c[sl] for p, c in
                                                   zip(prob, costs, strict=True)]),
                              description=b.description)
            for s, mp in enumerate(maps):
                mp[sl] = blk.start + s * b.n + np.arange(b.n)
    mats = [m.am.matrix("csr") for m in ms]
    names = list(dict.fromkeys(n for m in ms for n in m.am.cons))
    for name in names:
        blocks = [m.am.cons.get(name) for m in ms]
        _stack_rows(ef, name, ms, blocks, mats, maps, design)
    return TwoStage(ef, ms, maps, design)


def _lead(labels: pd.DataFrame, sid: str) -> pd.DataFrame:
    """Labels with the demand scenario as the first column."""
    out = labels.copy()
    out.insert(0, SCENARIO_COLUMN, sid)
    return out


def _stack_rows(ef: ArrayModel, name: str, ms: list[Member], blocks: list[ConBlock | None],
                mats: list[sp.csr_matrix], maps: list[np.ndarray], design: np.ndarray) -> None:
    """One constraint block of the extensive form from the members' blocks."""
    present = [(s, c) for s, c in enumerate(blocks) if c is not None]
    subs = {s: mats[s][c.start:c.start + c.n] for s, c in present}
    s0, c0 = present[0]
    a0 = subs[s0]
    aligned = len(present) == len(ms) and all(
        c.n == c0.n and c.labels.equals(c0.labels) for _, c in present)
    # rows kept once: the same in every scenario and on design columns only
    same = np.zeros(c0.n, bool)
    if aligned:
        same[:] = True
        for s, c in present:
            a = subs[s]
            same &= np.asarray(a[:, ~design].getnnz(axis=1) == 0)
            if s != s0:
                same &= np.asarray((a != a0).getnnz(axis=1) == 0)
                same &= (c.lower == c0.lower) & (c.upper == c0.upper)
    if same.all():  # a design-only block: kept once as it is
        a = a0.tocoo()
        ef.add_cons(name, c0.labels, [(a.row, maps[s0][a.col], a.data)], lower=c0.lower,
                    upper=c0.upper, description=c0.description)
        return
    labels, terms, lower, upper = [], [], [], []
    at = 0
    once = np.flatnonzero(same)
    if len(once):
        a = a0[once].tocoo()
        labels.append(_lead(c0.labels.iloc[once], SHARED_ROW))
        terms.append((a.row + at, maps[s0][a.col], a.data))
        lower.append(c0.lower[once])
        upper.append(c0.upper[once])
        at += len(once)
    for s, c in present:
        keep = np.flatnonzero(~same) if aligned else np.arange(c.n)
        if not len(keep):
            continue
        sub = subs[s][keep].tocoo()
        labels.append(_lead(c.labels.iloc[keep], ms[s].id))
        terms.append((sub.row + at, maps[s][sub.col], sub.data))
        lower.append(c.lower[keep])
        upper.append(c.upper[keep])
        at += len(keep)
    ef.add_cons(name, pd.concat(labels, ignore_index=True), terms,
                lower=np.concatenate(lower), upper=np.concatenate(upper),
                description=c0.description)
