"""Solve the two-stage stochastic model and measure what the stochastic solution is worth.

``solve_two_stage`` solves the extensive form (:mod:`channel_opt.model.stochastic`),
checks the first-stage plan in every demand scenario (rows, bounds and integrality of
that scenario's own model, and the plan re-evaluated from its own tables), and
computes the classic measures of stochastic programming:

* **RP**: the two-stage (recourse problem) optimum, the expected profit of the plan;
* **EV**: the optimum of the expected-value problem (every market and share at its
  mean, floors as in the two-stage model);
* **EEV**: the expected profit of the EV plan's design when demand turns out as each
  scenario says (its operations re-optimized per scenario); ``None`` when the EV
  design cannot meet a floor in some scenario (an infinite loss);
* **WS**: wait-and-see, ``Σ_s p_s`` (optimum of scenario ``s`` alone);
* **VSS** = RP − EEV ≥ 0 and **EVPI** = WS − RP ≥ 0.

They are exact when every solve is proven optimal (each within ``mip_gap``
otherwise, as their ``gap`` says).

Under a time limit the extensive form's bound, and always progressive hedging's, is
also the **perfect-information LP bound** ``Σ_s p_s LP_s`` (:func:`scenario_lp_bound`;
the lower bound is kept): every demand scenario's LP
relaxation with its design free, each ``LP_s ≥ OPT_s``, so the sum is ``≥ WS ≥ RP``.
It costs one small LP per scenario (0.5 s each on the apparel-sized members) and
holds where the extensive form's own LP does not finish: on the shipped
`apparel_stochastic` it is 0.31 % above RP.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..model.families.partners import SHORTFALL
from ..model.linear import ArrayModel
from ..model.stochastic import (
    SCENARIO_COLUMN,
    Member,
    extensive_form,
    is_design,
    members,
)
from ..scenario import Scenario
from ..scenario.demand import expected_value_scenario
from .backends import (
    INFEASIBLE,
    LIMIT,
    OPTIMAL,
    TIME_LIMIT,
    RawResult,
    SolveOptions,
    get_backend,
    normalize_result,
    relative_gap,
    tighter,
    trivial_result,
)
from .budget import MIN_PHASE_SECONDS
from .check import check_plan, check_rows
from .heuristic import construct
from .relaxation import lp_method, lp_phase, relax
from .results import extract_tables, kpis, tidy_plan

log = logging.getLogger(__name__)

METHOD_EF = "extensive_form"
METHOD_PH = "progressive_hedging"
LP_PHASE_SHARE = 0.8  # of the extensive form's time, what its LP and rounding may take
SCENARIO_LP_SHARE = 0.25  # of the LP phase's time, what the scenarios' LPs may take
SCENARIO_LP_MIN = 5.0  # seconds, the least one scenario's LP gets (scenario_lp_bound)
PH_RESERVE = 0.15  # share of the time limit kept from mpi-sppy (start-up, plan evaluation)
INNER_GAP_SHARE = 0.25  # of the run's gap, for the solves in it (EV start, PH sub-MIPs)


@dataclass
class StochasticResult:
    """RP, EV, EEV, WS, VSS, EVPI and the per-scenario profits of the two designs."""

    method: str
    rp: float | None
    ev: float | None
    eev: float | None
    ws: float | None
    per_scenario: pd.DataFrame  # demand_scenario, probability, stochastic, ev_design, ws
    notes: list[str] = field(default_factory=list)
    bound: float | None = None  # on RP (the extensive form's or PH's)
    ws_bound: float | None = None  # Σ_s p_s (scenario s's own MIP bound) ≥ WS ≥ RP

    @property
    def vss(self) -> float | None:
        """Value of the stochastic solution, RP − EEV."""
        if self.rp is None or self.eev is None:
            return math.inf if self.rp is not None and self.ev is not None else None
        return self.rp - self.eev

    @property
    def evpi(self) -> float | None:
        """Expected value of perfect information, WS − RP."""
        return None if self.rp is None or self.ws is None else self.ws - self.rp

    def summary(self) -> dict[str, Any]:
        """The measures as JSON-ready numbers (an infinite VSS as the string "inf")."""
        vss = self.vss
        return {"method": self.method, "ev": self.ev, "eev": self.eev, "rp": self.rp,
                "ws": self.ws, "vss": "inf" if vss == math.inf else vss, "evpi": self.evpi,
                "bound": self.bound, "notes": self.notes,
                "demand_scenarios": self.per_scenario.to_dict("records")}


@dataclass
class _Opts:
    solver: str
    mip_gap: float
    threads: int | None
    seed: int | None
    deadline: float | None = None  # time.monotonic() by which every solve has stopped

    def left(self) -> float | None:
        """Seconds left for the next solve (None: no limit)."""
        return None if self.deadline is None else self.deadline - time.monotonic()


def _solve(am: ArrayModel, o: _Opts, log_file: str | None = None,
           share: float = 1.0, start: np.ndarray | None = None) -> RawResult:
    """Solve under what is left of the time limit (``share`` of it)."""
    if am.n_cols == 0:
        return trivial_result(am)
    left = o.left()
    if left is not None and left < MIN_PHASE_SECONDS:
        return RawResult(TIME_LIMIT, None, None, None, o.solver, "", "not started: the time "
                         "limit was used up")
    backend = get_backend(o.solver)
    limit = None if left is None else share * left
    raw = backend.solve(am, SolveOptions(limit, o.mip_gap, o.threads, o.seed, log_file, start))
    return normalize_result(raw, am.sense)


def design_blocks(am: ArrayModel) -> list[str]:
    """The design (first-stage) variable blocks of a model."""
    return [b for b in am.vars if is_design(b)]


def _evaluate(m: Member, design_x: np.ndarray, o: _Opts) -> tuple[float | None,
                                                                   np.ndarray | None]:
    """Profit of scenario ``m`` with the design fixed at ``design_x`` (its operations
    optimized; an LP once every design column is fixed), and the plan.
    """
    fixed = m.am.fixed(design_x, design_blocks(m.am))
    raw = _solve(fixed, o)
    if raw.x is None or raw.termination == INFEASIBLE:
        return None, None
    return float(m.am.cost @ raw.x), raw.x


def _alone(m: Member, o: _Opts, share: float = 1.0,
           start: np.ndarray | None = None) -> tuple[float | None, np.ndarray | None,
                                                    RawResult]:
    """Scenario ``m`` solved on its own (its design free)."""
    raw = _solve(m.am, o, share=share, start=start)
    return (None if raw.x is None else float(m.am.cost @ raw.x)), raw.x, raw


@dataclass
class _EV:
    """The expected-value problem's outcome and its design under every scenario."""

    value: float | None
    raw: RawResult | None
    eev: list[float]  # profit of the EV design in each demand scenario (nan: infeasible)
    plans: list[np.ndarray] | None  # its plan in each scenario (None: not in all)


def expected_value(scen: Scenario, ms: list[Member], o: _Opts) -> _EV:
    """Solve the EV problem (from the constructive plan where floors hold firm) and
    evaluate its design in every demand scenario: EEV, and a plan of the two-stage
    model to start from.
    """
    ev_m = members(expected_value_scenario(scen), [("", 1.0)])[0]
    start = None
    if scen.settings.stochastic.shortfall_cost is None:  # the heuristic knows no shortfall
        left = o.left()
        start = construct(ev_m.am, ev_m.data,
                          time_limit=None if left is None else 0.1 * left).x
    o_ev = dataclasses.replace(o, mip_gap=INNER_GAP_SHARE * o.mip_gap)  # a tight start
    raw = _solve(ev_m.am, o_ev, share=0.2, start=start)
    if raw.x is None:
        return _EV(None, raw, [math.nan] * len(ms), None)
    vals, plans = [], []
    for m in ms:
        val, x = _evaluate(m, raw.x, o)
        vals.append(math.nan if val is None else val)
        plans.append(x)
    ok = all(x is not None for x in plans)
    return _EV(float(ev_m.am.cost @ raw.x), raw, vals,
               [x for x in plans if x is not None] if ok else None)


def measures(ms: list[Member], plan: list[np.ndarray] | None, ev: _EV,
             o: _Opts) -> StochasticResult:
    """EV, EEV and WS around a two-stage plan (``plan``: each member's plan)."""
    notes: list[str] = []
    probs = np.array([m.probability for m in ms])
    ids = [m.id for m in ms]
    rp_s = [float(m.am.cost @ x) for m, x in zip(ms, plan, strict=True)] if plan else \
        [math.nan] * len(ms)
    if ev.raw is not None and ev.raw.termination != OPTIMAL:
        notes.append(f"the expected-value problem stopped at {ev.raw.termination}")
    eev_s = ev.eev
    for m, v in zip(ms, eev_s, strict=True):
        if ev.value is not None and math.isnan(v):
            notes.append(f"the expected-value design cannot meet the floors in demand "
                         f"scenario {m.id!r}: EEV is minus infinity (VSS infinite)")
    ev_val = ev.value
    ws_s, ws_b = [], []
    for i, m in enumerate(ms):  # each from the two-stage plan, with an equal share of time
        val, _, raw = _alone(m, o, share=1.0 / (len(ms) - i),
                             start=None if plan is None else plan[i])
        if raw.termination != OPTIMAL:
            notes.append(f"demand scenario {m.id!r} alone stopped at {raw.termination}")
        ws_s.append(math.nan if val is None else val)
        ws_b.append(math.nan if raw.bound is None else raw.bound)

    def expect(v: list[float]) -> float | None:
        a = np.array(v, float)
        return None if np.isnan(a).any() else float(probs @ a)

    per = pd.DataFrame({SCENARIO_COLUMN: ids, "probability": probs,
                        "stochastic_design": rp_s, "ev_design": eev_s, "wait_and_see": ws_s})
    return StochasticResult(METHOD_EF, expect(rp_s), ev_val, expect(eev_s), expect(ws_s), per,
                            notes, ws_bound=expect(ws_b))


def stack_tables(ms: list[Member], xs: list[np.ndarray]) -> tuple[dict[str, pd.DataFrame],
                                                                  list[str]]:
    """Every result table of the plan in every demand scenario (led by the
    ``demand_scenario`` column), and the violations of each scenario's check.
    """
    parts: dict[str, list[pd.DataFrame]] = {}
    violations: list[str] = []
    for m, x in zip(ms, xs, strict=True):
        bad = check_rows(m.am, x)
        tables = extract_tables(m.am, m.data, x)
        if SHORTFALL.name in m.am.vars:  # units short of each floor, and what they cost
            sf = m.am.values(x, SHORTFALL.name).rename(columns={"value": "short"})
            blk = m.am.vars[SHORTFALL.name]
            tables[SHORTFALL.name] = sf.assign(cost=-m.am.cost[blk.start:blk.start + blk.n]
                                          * sf["short"].to_numpy())
        # (the plan check prices the shortfall: its line of the profit breakdown)
        bad += check_plan(m.scenario, tables, float(m.am.cost @ x))
        violations += [f"demand scenario {m.id}: {v}" for v in bad]
        for name, df in tables.items():
            df = df.copy()
            df.insert(0, SCENARIO_COLUMN, m.id)
            parts.setdefault(name, []).append(df)
    return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}, violations


def _tidy(ms: list[Member], design: np.ndarray, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Each member's plan with unused design switched off (tidied once: the design is
    shared, so every scenario sees the same one).
    """
    m0 = ms[0]
    x0 = tidy_plan(m0.am, m0.data, xs[0])
    return [np.where(design, x0, x) for x in xs]


def design_mask(am: ArrayModel) -> np.ndarray:
    """True at the design (first-stage) columns of a model."""
    return np.concatenate([np.full(b.n, is_design(b.name)) for b in am.vars.values()])


def scenario_lp_bound(ms: list[Member], time_limit: float | None,
                      deadline: float | None = None) -> float | None:
    """``Σ_s p_s`` (the LP bound of demand scenario ``s`` alone, its design free): an
    upper bound on WS and so on the two-stage optimum (module docstring). Each LP gets
    an equal share of what is left of ``time_limit``, but at least ``SCENARIO_LP_MIN``
    seconds (one scenario without a bound leaves none at all, and an apparel-sized LP
    takes 0.5 s, its interior point 2.7 s), and none past ``deadline``
    (``time.monotonic()``, the run's). None where a scenario gives no bound in its time.
    """
    t0 = time.monotonic()
    total = 0.0
    for i, m in enumerate(ms):
        now = time.monotonic()
        limit = None if time_limit is None else \
            max(SCENARIO_LP_MIN, (time_limit - (now - t0)) / (len(ms) - i))
        if deadline is not None:
            limit = min(limit if limit is not None else math.inf, deadline - now)
            if limit <= 0.0:
                return None
        rel = relax(m.am, limit, method=lp_method(m.am))
        if rel.bound is None and rel.status == OPTIMAL:
            # a fallback: the simplex's duals can leave a reduced cost a hair above 0
            # on a column that neither its bounds nor one row bound (dual_bound; the
            # commission of 50 apparel scenarios did before rows bounded it), where the
            # interior point's duals are centred (2.7 s there, against 0.5 s)
            rel = relax(m.am, limit, method="ipm")
        if rel.bound is None:
            log.info("no perfect-information LP bound: demand scenario %r's LP gave none "
                     "in %.1f s", m.id, rel.seconds)
            return None
        total += m.probability * rel.bound
    log.info("perfect-information LP bound (the %d demand scenarios' LPs, each alone): "
             "%s in %.1f s", len(ms), f"{total:,.2f}", time.monotonic() - t0)
    return total


def _ef_plan(ms: list[Member], o: _Opts, log_file: str | None, values: bool,
             ev: _EV | None) -> tuple[RawResult, list[np.ndarray] | None]:
    ts = extensive_form(ms, name=f"{ms[0].scenario.name}_two_stage")
    log.info("extensive form of %d demand scenarios: %d columns, %d rows", len(ms),
             ts.am.n_cols, ts.am.n_rows)
    start: np.ndarray | None = None
    if ev is not None and ev.plans is not None:  # the EV design operated in each scenario
        start = np.zeros(ts.am.n_cols)
        for mp, x in zip(ts.col_map, ev.plans, strict=True):
            start[mp] = x
    # under a time limit the extensive form gets half of what is left; WS the rest
    share = 0.5 if values else 1.0
    left = o.left()
    lp_bound, origin = None, "the expected-value design"
    if left is not None and left > 2.0:  # the LP's bound and the plan rounded from it
        phase = LP_PHASE_SHARE * share * left
        t = time.monotonic()  # first the scenarios' LPs: a bound where the EF's LP has none
        lp_bound = scenario_lp_bound(ms, SCENARIO_LP_SHARE * phase, o.deadline)
        rest = phase - (time.monotonic() - t)
        if rest > 2.0:  # the scenarios' LPs get at least SCENARIO_LP_MIN s each
            rel, rounded = lp_phase(ts.am, rest, o.mip_gap, incumbent=start)
            if tighter(rel.bound, lp_bound):
                lp_bound = rel.bound
            if rounded is not None and (start is None or
                                        ts.am.cost @ rounded > ts.am.cost @ start):
                start, origin = rounded, "rounded from the LP relaxation"
    start_obj = None if start is None else float(ts.am.cost @ start)
    proven = relative_gap(start_obj, lp_bound)
    if proven is not None and proven <= o.mip_gap:
        raw = RawResult(OPTIMAL, start, start_obj, lp_bound, o.solver, "",
                        f"not started: the plan {origin} is within the gap of the LP bound")
    else:
        raw = _solve(ts.am, o, log_file, share=share, start=start)
    if start is not None and raw.termination in (TIME_LIMIT, LIMIT) and (
            raw.x is None or (raw.objective or -math.inf) < float(ts.am.cost @ start)):
        # stopped without a better plan (e.g. the limit hit in presolve): the start (the
        # EV design operated in every scenario, or the LP's rounded plan) is a plan
        raw.x, raw.objective = start, float(ts.am.cost @ start)
        raw.message += f"; plan: {origin} (the solver found none better)"
        raw = normalize_result(raw, ts.am.sense)
    if tighter(lp_bound, raw.bound):
        raw.bound = lp_bound
    if raw.x is None:
        return raw, None
    return raw, _tidy(ms, ts.design, [ts.member_x(s, raw.x) for s in range(len(ms))])


def _ph_plan(scen: Scenario, ms: list[Member], o: _Opts, ranks: int,
             values: bool, ev: _EV | None) -> tuple[RawResult, list[np.ndarray] | None]:
    """Progressive hedging's design, evaluated in every demand scenario; PH starts from
    the expected-value design operated in every scenario, and that plan is the answer
    when PH finds none better (as for the extensive form). The bound is the lower of
    PH's (its Lagrangian spoke's) and the perfect-information LP bound
    (:func:`scenario_lp_bound`, computed first, with the share of time the extensive
    form gives it): PH's spoke has none until its iteration 0 ends (200 apparel-sized
    scenarios on 2 cores: 11 minutes after the ranks start).
    """
    from .stochastic_ph import solve_ph

    share = 0.5 if values else 1.0
    left = o.left()
    pi_bound = scenario_lp_bound(ms, None if left is None else
                                 SCENARIO_LP_SHARE * LP_PHASE_SHARE * share * left, o.deadline)
    left = o.left()
    # PH gets its share of what is left less PH_RESERVE (MPI start-up, building the
    # sub-models on the ranks, and evaluating the plan below, which mpi-sppy's clock
    # does not see)
    start = None if ev is None else ev.plans
    t = time.perf_counter()
    try:
        ph = solve_ph(scen, ms, ranks=ranks, mip_gap=o.mip_gap,
                      time_limit=None if left is None else
                      share * (1.0 - PH_RESERVE) * left, start=start)
    except RuntimeError as e:  # solve_ph stops the ranks at its limit itself
        if start is None:
            raise
        # the expected-value plan is still a plan of the two-stage model (no bound)
        ph = {"design": None, "inner": None, "outer": None, "rho": math.nan,
              "seconds": time.perf_counter() - t, "note": f"PH failed: {str(e)[:300]}"}
    msg = (f"mpi-sppy PH hub + Lagrangian and xhat-shuffle spokes on {ranks} ranks "
           f"(rho {ph['rho']:.4g}); plan {ph['inner']}, bound {ph['outer']}")
    if ph.get("note"):  # failed, or stopped (time limit, or within the gap)
        msg += f"; {ph['note']}"
    bound = ph["outer"]
    if tighter(pi_bound, bound):
        bound = pi_bound
        msg += f"; bound: the perfect-information LP bound {pi_bound:,.2f}"
    raw = RawResult(LIMIT, None, None, bound, "mpi-sppy", _mpisppy_version(), msg,
                    solve_seconds=ph["seconds"])
    xs: list[np.ndarray] | None = None
    if ph["design"] is None:
        raw.message += "; no plan found"
    else:
        xs = []
        ev_o = dataclasses.replace(o, deadline=None)  # LPs: without them there is no plan
        for m in ms:
            val, x = _evaluate(m, ph["design"], ev_o)
            if x is None:
                raw.message += f"; the plan cannot be operated in demand scenario {m.id!r}"
                xs = None
                break
            xs.append(x)

    def expect(p: list[np.ndarray]) -> float:
        return float(sum(m.probability * float(m.am.cost @ x) for m, x in zip(ms, p,
                                                                              strict=True)))

    if start is not None and (xs is None or expect(xs) < expect(start)):
        xs = start
        raw.message += "; plan: the expected-value design (PH found none better)"
    if xs is None:
        return raw, None
    plan = _tidy(ms, design_mask(ms[0].am), xs)
    raw.objective = expect(plan)
    gap = relative_gap(raw.objective, raw.bound)
    raw.termination = OPTIMAL if gap is not None and gap <= o.mip_gap else LIMIT
    return raw, plan


def _mpisppy_version() -> str:
    from importlib.metadata import version

    return version("mpi-sppy")


def solve_two_stage(scen: Scenario, *, solver: str = "highs", time_limit: float | None = None,
                    mip_gap: float = 1e-4, threads: int | None = None, seed: int | None = None,
                    log_file: str | None = None, values: bool = True,
                    method: str = METHOD_EF,
                    ranks: int = 3) -> tuple[dict[str, Any], StochasticResult | None]:
    """Solve the two-stage model by the extensive form (``method`` ``extensive_form``)
    or progressive hedging (``progressive_hedging``, on ``ranks`` MPI ranks); returns
    the fields of a :class:`~channel_opt.solving.solution.Solution` and the measures
    (``values``: also EV, EEV and WS, one solve per demand scenario more).
    """
    if method == METHOD_PH:
        from .stochastic_ph import check_ph

        check_ph(ranks)  # before any work: what is missing, or a bad rank count
    o = _Opts(solver, mip_gap, threads, seed,
              None if time_limit is None else time.monotonic() + time_limit)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ms = members(scen)
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()  # the EV design: EEV, and the start of the EF and of PH
    ev = expected_value(scen, ms, o)
    timings["expected_value"] = time.perf_counter() - t
    if method == METHOD_PH:
        raw, plan = _ph_plan(scen, ms, o, ranks, values, ev)
    else:
        raw, plan = _ef_plan(ms, o, log_file, values, ev)
    timings["handoff"], timings["solve"] = raw.handoff_seconds, raw.solve_seconds
    t = time.perf_counter()
    out: dict[str, Any] = {"raw": raw, "tables": {}, "violations": [], "x": None,
                           "kpis": {}, "objective": raw.objective}
    if plan is not None:
        out["x"] = np.concatenate(plan)
        out["tables"], out["violations"] = stack_tables(ms, plan)
        out["objective"] = float(sum(m.probability * float(m.am.cost @ x)
                                     for m, x in zip(ms, plan, strict=True)))
        out["kpis"] = _expected_kpis(ms, plan, out["tables"])
    timings["extract"] = time.perf_counter() - t
    res = None
    if values:
        t = time.perf_counter()
        assert ev is not None
        res = measures(ms, plan, ev, o)
        # each scenario's own MIP bound bounds its OPT, so their mean bounds WS and RP:
        # where it is the lower bound (the EF or PH stopped early, and the scenarios'
        # MIPs got further than their LPs) it is the plan's bound
        if tighter(res.ws_bound, raw.bound):
            raw.bound = res.ws_bound
            raw.message += ("; bound: the demand scenarios' own MIP bounds (≥ WS), "
                            f"{res.ws_bound:,.2f}")
            gap = relative_gap(out["objective"], raw.bound)
            if plan is not None and gap is not None and gap <= mip_gap:
                raw.termination = OPTIMAL
        res.method, res.bound = method, raw.bound
        timings["values"] = time.perf_counter() - t
    out["timings"] = timings
    return out, res


def _expected_kpis(ms: list[Member], plan: list[np.ndarray],
                   tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The headline numbers, probability-weighted over the demand scenarios (counts of
    design decisions are the same in every scenario).
    """
    out: dict[str, Any] = {}
    for m, x in zip(ms, plan, strict=True):
        sub = {k: v[v[SCENARIO_COLUMN] == m.id].drop(columns=SCENARIO_COLUMN)
               for k, v in tables.items()}
        k = kpis(m.am, m.data, x, sub)
        for name, v in k.items():
            if name == "max_capacity_utilization":
                out[name] = v if out.get(name) is None else \
                    (out[name] if v is None else max(out[name], v))
            elif isinstance(v, float):
                out[name] = out.get(name, 0.0) + m.probability * v
            elif name not in out:
                out[name] = v
    out["profit"] = float(sum(m.probability * float(m.am.cost @ x)
                              for m, x in zip(ms, plan, strict=True)))
    return out


def most_probable(res: StochasticResult) -> str:
    """The id of the most probable demand scenario (the first of equals)."""
    per = res.per_scenario
    return str(per[SCENARIO_COLUMN].iloc[int(np.argmax(per["probability"].to_numpy()))])


def one_scenario(tables: dict[str, pd.DataFrame], sid: str) -> dict[str, pd.DataFrame]:
    """The rows of one demand scenario of stacked result tables, without the column."""
    return {k: (v[v[SCENARIO_COLUMN] == sid].drop(columns=SCENARIO_COLUMN)
                .reset_index(drop=True) if SCENARIO_COLUMN in v else v)
            for k, v in tables.items()}


def _money(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return "infinite" if v in (math.inf, "inf") else f"{float(v):,.2f}"


def shown(sol: Any) -> Any:
    """The :class:`~channel_opt.solving.solution.Solution` the report's per-plan
    sections and plots show: with demand scenarios, the rows of the most probable one
    (the CSV tables keep them all).
    """
    if sol.stochastic is None:
        return sol
    return dataclasses.replace(sol, tables=one_scenario(sol.tables,
                                                        most_probable(sol.stochastic)))


def report_lines(res: StochasticResult, currency: str) -> list[str]:
    """The report's two-stage section (Markdown lines)."""
    s = res.summary()
    shown_id = most_probable(res)
    rows = [("RP", "two-stage optimum: expected profit of the plan", s["rp"]),
            ("EV", "expected-value problem (every market and share at its mean)", s["ev"]),
            ("EEV", "expected profit of the EV design under the demand scenarios", s["eev"]),
            ("WS", "wait-and-see: each demand scenario solved knowing its demand", s["ws"]),
            ("VSS", "value of the stochastic solution, RP − EEV", s["vss"]),
            ("EVPI", "expected value of perfect information, WS − RP", s["evpi"])]
    out = ["## Value of the stochastic solution", "",
           f"The design (openings, listings, brands, offered sets, price levels, policies) is "
           f"decided once for {len(res.per_scenario)} demand scenarios; sales and commission "
           f"follow each scenario ({res.method.replace('_', ' ')}).", "",
           f"| measure | meaning | {currency} |", "|---|---|---:|"]
    out += [f"| {a} | {b} | {_money(v)} |" for a, b, v in rows]
    out += ["", "Profit per demand scenario of the stochastic design, of the EV design and "
            "with perfect information (`stochastic.csv`):", "",
            "| demand scenario | probability | stochastic design | EV design | wait and see |",
            "|---|---:|---:|---:|---:|"]
    for r in res.per_scenario.itertuples(index=False):
        out.append(f"| {r[0]} | {r[1]:.4g} | {_money(r[2])} | {_money(r[3])} | "
                   f"{_money(r[4])} |")
    out += [""] + [f"- {n}" for n in res.notes] + ([""] if res.notes else [])
    out += [f"The sections below show demand scenario **{shown_id}** (the most probable); the "
            "CSV tables hold every demand scenario (column `demand_scenario`).", ""]
    return out


def profit_plot(path: Any, res: StochasticResult) -> list[str]:
    """Bars: per demand scenario, the profit of the stochastic and of the EV design
    (the file's name, or nothing without matplotlib).
    """
    per = res.per_scenario
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    xs = np.arange(len(per))
    fig, ax = plt.subplots(figsize=(min(16.0, max(5.0, 2 + 0.6 * len(per))), 4))
    ax.bar(xs - 0.2, per["stochastic_design"], 0.4, label="stochastic design")
    ax.bar(xs + 0.2, per["ev_design"].fillna(0.0), 0.4, label="expected-value design")
    ax.set_xticks(xs, per[SCENARIO_COLUMN], rotation=90 if len(per) > 8 else 0, fontsize=8)
    ax.set_ylabel("profit")
    ax.legend(frameon=False)
    ax.set_title("Profit per demand scenario: stochastic vs expected-value design")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [path.name]
