"""The solve pipeline: statuses, plan check, diagnosis, sensitivity (hand-computed)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from scenario_factory import duo, duo_tables

from channel_opt import Scenario, ScenarioError, solve
from channel_opt.model import build_array_model
from channel_opt.model.families.core import SALES
from channel_opt.scenario import load_scenario
from channel_opt.solving.check import check_plan, check_rows, checked_plan, plan_violations
from channel_opt.solving.engines import (
    SolveOptions,
    available_backends,
    get_backend,
    solve_watched,
)
from channel_opt.solving.results import extract_tables

ROOT = Path(__file__).resolve().parents[1]

BOTH = 100 / 3 * (50 + 30)  # both channels offered: 2666.67


def test_every_backend_finds_the_hand_optimum(solver: str) -> None:
    sol = solve(duo(), solver=solver)
    assert sol.plan_status == "optimal"
    assert sol.exit_code == 0
    assert sol.objective == pytest.approx(BOTH, rel=1e-6)
    assert sol.bound == pytest.approx(BOTH, rel=1e-4)
    cc = sol.tables["cell_channel"].set_index("channel")
    assert cc.loc["online", "sales"] == pytest.approx(100 / 3, rel=1e-6)
    assert cc.loc["store", "sales"] == pytest.approx(100 / 3, rel=1e-6)
    assert {"build", "handoff", "solve", "sensitivity", "extract"} <= set(sol.timings)
    # HiGHS solves this small model at once: the constructive plan is not needed
    assert ("heuristic" in sol.timings) != get_backend(solver).supports("in_memory")


def test_overlap_cost_makes_online_alone_best(solver: str) -> None:
    # both: 2666.67 - 200 = 2466.67 < online alone 2500
    sol = solve(duo({"rules": {"overlap": {"cost": 200.0}}}), solver=solver)
    assert sol.objective == pytest.approx(2500.0, rel=1e-6)
    assert sol.kpis["overlap_count"] == 0
    offered = sol.tables["cell_channel"].set_index("channel")["offered"]
    assert offered["online"] and not offered["store"]


def test_infeasible_partner_floor_is_diagnosed() -> None:
    # the store's 30% of at most 50 units x 100 = 1500 is all partners can make
    t = duo_tables(regions=[{"id": "R", "partner_profit_floor": 2000.0}])
    sol = solve(Scenario.from_frames(t, {"rules": {"partner_floor": True}}))
    assert sol.termination == "infeasible"
    assert sol.exit_code == 3
    assert not sol.has_plan
    assert sol.diagnosis is not None
    assert sol.diagnosis.families == ["partner_floor"]
    c = sol.diagnosis.conflicts[0]
    assert c.where == {"region": "R"}
    assert c.amount == pytest.approx(500.0, rel=1e-6)  # 2000 - 1500
    assert "partner profit floor" in c.text and "region R" in c.text
    # the IIS: the floor of 2000 and the store's sales of at most 50 (its demand alone)
    iis = {(m.kind, m.family, m.side, round(m.value, 6)) for m in sol.diagnosis.iis}
    assert iis == {("rule", "partner_floor", "lower", 2000.0), ("bound", "sales", "upper", 50.0)}
    store = next(m for m in sol.diagnosis.iis if m.kind == "bound")
    assert store.where["channel"] == "store"


def test_iis_names_every_rule_of_the_conflict() -> None:
    # the cell must sell at least 50% of its 100 units, but only 30 are in stock: the IIS is
    # exactly those two rows (the channel rows and the demand are not needed for it)
    t = duo_tables(products=[{"id": "P", "brand": "B", "unit_cost": 40.0, "ref_price": 100.0,
                              "inventory": 30.0}])
    sol = solve(Scenario.from_frames(t, {"rules": {"inventory": True,
                                                   "cell_service_level": 0.5}}))
    assert sol.exit_code == 3
    assert sol.diagnosis is not None
    iis = {(m.kind, m.family, m.side, round(m.value, 6)) for m in sol.diagnosis.iis}
    assert iis == {("rule", "inventory", "upper", 30.0),
                   ("rule", "cell_service_level", "lower", 50.0)}
    assert sol.diagnosis.iis_note.startswith("2 rule row(s) and 0 variable bound(s)")


def test_conflict_only_in_the_yes_no_decisions_has_no_iis() -> None:
    # partner floor 1200 needs {store} alone (partners 1500, 50 units); selling 55% of the
    # market needs {online, store} (66.7 units, partners 1000). No set does both, but
    # 0.5 {store} + 0.5 {both} does: the LP relaxation is feasible, so no IIS exists.
    # Least relative slack: {store} alone, 5 of 55 units short (9.1%), not {both} with
    # partners 200 of 1200 short (16.7%).
    t = duo_tables(regions=[{"id": "R", "partner_profit_floor": 1200.0}])
    sol = solve(Scenario.from_frames(t, {"rules": {"partner_floor": True,
                                                   "cell_service_level": 0.55}}))
    assert sol.exit_code == 3
    assert sol.diagnosis is not None
    assert sol.diagnosis.iis == []
    assert sol.diagnosis.iis_note.startswith("the LP relaxation is feasible")
    [c] = [c for c in sol.diagnosis.conflicts if c.option == 1]
    assert (c.family, c.amount) == ("cell_service_level", pytest.approx(5.0, rel=1e-6))
    # held firm, the service level leaves the floor to relax: {both}, 200 EUR short
    [alt] = [c for c in sol.diagnosis.conflicts if c.option == 2]
    assert (alt.family, alt.amount) == ("partner_floor", pytest.approx(200.0, rel=1e-6))
    assert sol.diagnosis.families == ["cell_service_level", "partner_floor"]


def test_diagnosis_weighs_slack_relative_to_the_rule() -> None:
    # floor 1100, 60% service: {store} is 10 of 60 units short (16.7%), {both} is 100 of
    # 1100 EUR short (9.1%). Relative slack names the floor; summing raw amounts would
    # have named the service level (10 < 100) because units are smaller numbers than EUR.
    t = duo_tables(regions=[{"id": "R", "partner_profit_floor": 1100.0}])
    sol = solve(Scenario.from_frames(t, {"rules": {"partner_floor": True,
                                                   "cell_service_level": 0.6}}))
    assert sol.diagnosis is not None
    [c] = [c for c in sol.diagnosis.conflicts if c.option == 1]
    assert (c.family, c.amount) == ("partner_floor", pytest.approx(100.0, rel=1e-6))


def test_partner_floor_changes_the_design() -> None:
    # floor 1200: store alone earns partners 1500 (profit 1500); both give 1000 (too little);
    # online alone gives 0. Best feasible: store alone, 1500.
    t = duo_tables(regions=[{"id": "R", "partner_profit_floor": 1200.0}])
    sol = solve(Scenario.from_frames(t, {"rules": {"partner_floor": True}}))
    assert sol.objective == pytest.approx(1500.0, rel=1e-6)


def test_store_labour_dual_is_the_value_of_an_hour() -> None:
    # store needs 0.5 h per unit; 10 hours -> 20 store units. Design: both channels
    # (online 33.3 + store 20: 1666.7 + 600 = 2266.7) beats online alone (2500)? no:
    # online alone 2500 wins, so make online worse: variable cost 40 -> margin 20.
    # online alone 50 x 20 = 1000; store alone min(50, 20) x 30 = 600;
    # both: online 33.3 x 20 + store 20 x 30 = 666.7 + 600 = 1266.7  <- best.
    t = duo_tables()
    t["channels"] = [
        {"id": "online", "kind": "online", "variable_cost": 40.0},
        {"id": "store", "kind": "offline", "fee_share": 0.3, "labour_hours": 0.5},
    ]
    t["regions"] = [{"id": "R", "store_labour_hours": 10.0}]
    sol = solve(Scenario.from_frames(t, {"rules": {"store_labour": True}}))
    assert sol.objective == pytest.approx(2000 / 3 + 600, rel=1e-6)
    sens = sol.sensitivity
    assert sens is not None
    row = sens[sens["family"] == "store_labour"].iloc[0]
    assert row["marginal_profit"] == pytest.approx(30 / 0.5, rel=1e-6)  # 60 per hour


def test_time_limited_solve_reports_termination_apart_from_plan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The solver stops at its limit without a plan of its own: the termination says why
    # it stopped, the plan is the constructive one, checked but not proven (exit 1).
    # By hand that plan offers both channels (the cell's best option: 100/3 units each,
    # 2666.67) and its cheap bound is the same best option's value. (HiGHS is stopped
    # in this process: the pipeline solves small models in process.)
    from channel_opt.solving.engines import RawResult, get_backend

    def stopped(self: object, am: object, opts: SolveOptions) -> RawResult:
        return RawResult("time_limit", None, None, None, "highs", "-", "stopped at the limit")

    monkeypatch.setattr(type(get_backend("highs")), "solve", stopped)
    sol = solve(duo())
    assert (sol.termination, sol.plan_status, sol.exit_code) == ("time_limit", "feasible", 1)
    assert sol.objective == pytest.approx(BOTH, rel=1e-9)
    assert sol.bound == pytest.approx(BOTH, rel=1e-9)
    assert sol.violations == []
    cc = sol.tables["cell_channel"].set_index("channel")
    assert cc["offered"].all()
    assert cc["sales"].tolist() == pytest.approx([100 / 3, 100 / 3], rel=1e-9)
    assert "constructive" in sol.solver_message


def test_plan_check_catches_a_corrupted_plan() -> None:
    scen = duo()
    sol = solve(scen)
    am, data = build_array_model(scen)
    assert sol.x is not None
    x = sol.x.copy()
    assert check_rows(am, x) == []
    q = am.vars["sales"]
    x[q.start] += 10.0  # sell 10 units more than the offered set's demand
    assert any(v.startswith("row demand") for v in check_rows(am, x))
    bad = check_plan(scen, extract_tables(am, data, x), float(am.cost @ x))
    assert any("exceed the demand" in v for v in bad)


def test_plan_check_catches_offer_without_opening() -> None:
    scen = duo()
    sol = solve(scen)
    am, data = build_array_model(scen)
    assert sol.x is not None
    x = sol.x.copy()
    o = am.vars["open_channel"]
    x[o.start:o.start + o.n] = 0.0
    assert any(v.startswith("row offer_needs_open") for v in check_rows(am, x))
    bad = check_plan(scen, extract_tables(am, data, x), float(am.cost @ x))
    assert any("not open in the region" in v for v in bad)


def test_unknown_solver_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown solver 'nope'"):
        solve(duo(), solver="nope")


def test_kpis_and_tables_are_the_hand_plan() -> None:
    # By hand (mnl, both channels offered): 100/3 units each of a market of 100, price
    # 100, so revenue 6666.67; HQ keeps 50 online and 70 - 40 = 30 in store per unit
    # (2666.67); the store keeps 30% of its 3333.33 (1000); one product sold online and
    # offline in the region is one overlap; no limit is set, so no capacity row.
    sol = solve(duo())
    k = sol.kpis
    assert k["units_sold"] == pytest.approx(200 / 3, rel=1e-9)
    assert k["lost_sales_units"] == pytest.approx(100 / 3, rel=1e-9)
    assert k["revenue"] == pytest.approx(20000 / 3, rel=1e-9)
    assert k["profit"] == pytest.approx(BOTH, rel=1e-9)
    assert (k["overlap_count"], k["channels_opened"], k["listings"]) == (1, 2, 2)
    assert (k["commission_paid"], k["brands_launched"]) == (0.0, [])
    assert k["max_capacity_utilization"] is None
    pc = sol.tables["product_channel"].set_index("channel")
    assert pc["revenue"].tolist() == pytest.approx([10000 / 3, 10000 / 3], rel=1e-9)
    assert pc["margin"].tolist() == pytest.approx([5000 / 3, 1000.0], rel=1e-9)
    partners = sol.tables["partners"].iloc[0]
    assert partners["fees_and_margin"] == pytest.approx(1000.0, rel=1e-9)
    assert sol.tables["capacity"].empty


@pytest.mark.slow  # 12 s: a 10^4-cell instance under a limit
def test_time_limit_on_a_large_instance_returns_an_incumbent_with_bound() -> None:
    from benchmarks.generator import generate

    tables, settings = generate("capacity", 10_000, seed=1)
    scen = Scenario.from_frames(tables, settings, name="capacity-1e4")
    sol = solve(scen, time_limit=10.0, sensitivity=False)  # the limit covers the build too
    assert sol.termination == "time_limit"
    assert sol.plan_status == "feasible"
    assert sol.exit_code == 1
    assert sol.objective is not None and sol.bound is not None
    assert sol.bound >= sol.objective
    assert sol.gap is not None and sol.gap > 0
    assert sol.violations == []


@pytest.mark.slow  # 4-5 s a backend (a child process each); the log-file test covers each
def test_every_backend_through_the_watchdog_process(solver: str) -> None:
    # with a time limit the solve runs in a child process that can be killed (HiGHS
    # solves small models in process: the Pyomo backends take the watchdog)
    sol = solve(duo(), solver=solver, time_limit=60.0)
    assert sol.plan_status == "optimal"
    assert sol.objective == pytest.approx(BOTH, rel=1e-6)
    assert sol.solver == solver


def test_every_backend_writes_its_log_file(solver: str, tmp_path: Path) -> None:
    log_file = tmp_path / "solver.log"
    sol = solve(duo(), solver=solver, log_file=str(log_file))
    assert sol.plan_status == "optimal"
    assert log_file.stat().st_size > 0


@pytest.mark.parametrize(("solver", "accepted"), [
    ("highs", "MIP start solution is feasible"),
    ("highs_pyomo", "MIP start solution is feasible"),
])  # cbc takes no start: it returned a start as optimal (engines/pyomo.CbcBackend)
def test_the_constructive_plan_is_the_mip_start(solver: str, accepted: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if solver not in available_backends():
        pytest.skip(f"{solver} is not installed here")
    from channel_opt.solving import pipeline

    monkeypatch.setattr(pipeline, "IN_PROCESS_NONZEROS", -1)  # duo counts as large here
    log_file = tmp_path / "solver.log"
    sol = solve(duo(), solver=solver, log_file=str(log_file))
    assert sol.objective == pytest.approx(BOTH, rel=1e-6)
    assert accepted in log_file.read_text()


def test_solve_takes_a_path_and_times_the_load() -> None:
    tiny = Path(__file__).parent.parent / "instances" / "tiny" / "tiny.yaml"
    sol = solve(tiny)
    assert sol.objective == pytest.approx(7440.0, rel=1e-6)  # tiny's hand optimum
    assert list(sol.timings)[0] == "load"
    with pytest.raises(ScenarioError, match="file not found"):
        solve(tiny.with_name("missing.yaml"))


@pytest.mark.parametrize("watched", [False, True])
def test_a_mip_solve_logs_its_progress(watched: bool, caplog: pytest.LogCaptureFixture) -> None:
    # in the watchdog's child process the lines travel over its stderr and are logged here
    tiny = load_scenario(Path(__file__).parent.parent / "instances" / "tiny" / "tiny.yaml")
    am, _ = build_array_model(tiny)
    opts = SolveOptions(time_limit=60.0 if watched else None, progress_seconds=0.0)
    with caplog.at_level(logging.INFO, logger="channel_opt"):
        raw = solve_watched("highs", am, opts) if watched else \
            get_backend("highs").solve(am, opts)
    assert raw.objective == pytest.approx(7440.0, rel=1e-6)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("solving: ")]
    assert lines and "best plan" in lines[-1] and "bound" in lines[-1]


def _cbc_pids() -> set[int]:
    import subprocess

    out = subprocess.run(["pgrep", "-x", "cbc"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.mark.parametrize(("solver", "allowed"), [
    ("highs", 1.0), pytest.param("cbc", 8.0, marks=pytest.mark.slow)])  # cbc: 10 s
def test_the_watchdog_kills_a_solver_past_its_limit(solver: str, allowed: float,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # the solver is told 60 s but the watchdog allows less: regional needs longer than that
    # (HiGHS ~5 s, CBC ~20 s; after 8 s the cbc program is running)
    if solver not in available_backends():
        pytest.skip(f"{solver} is not installed here")
    regional = load_scenario(Path(__file__).parent.parent / "instances" / "regional" /
                             "regional.yaml")
    am, _ = build_array_model(regional)
    monkeypatch.setattr(SolveOptions, "watchdog_seconds", lambda self: allowed)
    before = _cbc_pids()
    raw = solve_watched(solver, am, SolveOptions(time_limit=60.0))
    assert raw.termination == "time_limit"
    assert "killed by the watchdog" in raw.message
    assert raw.solve_seconds < allowed + 5.0
    # the cbc program the child started is gone too: killed with the child's process group
    # (an orphan would also die on its next write to the closed pipe; init must reap it)
    for _ in range(50):
        if _cbc_pids() <= before:
            break
        time.sleep(0.1)
    assert _cbc_pids() <= before


# Log lines as CBC 2.10 and GLPK 5.0 printed them on the shipped instances (maximizing).
CBC_GAP_EXIT = """\
Cbc0010I After 0 nodes, 1 on tree, -18335045 best solution, best possible -18337450 (17.63 s)
Cbc0011I Exiting as integer gap of 1712.8717 less than 1e-10 or 0.01%
Result - Optimal solution found
Objective value:                18335736.93867533
"""
CBC_TIME_LIMIT = """\
Cbc0020I Exiting on maximum time
Cbc0005I Partial search - best objective -16784857 (best possible -16802195), took 0 \
iterations and 0 nodes (4.75 seconds)
Result - Stopped on time limit
"""
GLPK_GAP_EXIT = """\
+ 44615: >>>>>   1.833551718e+07 <=   1.833720453e+07 < 0.1% (3306; 6548)
+ 44615: mip =   1.833551718e+07 <=   1.833720453e+07 < 0.1% (2315; 8510)
RELATIVE MIP GAP TOLERANCE REACHED; SEARCH TERMINATED
"""
GLPK_TREE_EMPTY = """\
+ 17347: mip =     not found yet <=   1.680219473e+07        (2; 0)
+ 17524: mip =   1.680207373e+07 <=     tree is empty   0.0% (0; 3)
INTEGER OPTIMAL SOLUTION FOUND
"""


def test_bounds_are_read_from_the_solver_logs() -> None:
    from channel_opt.solving.engines.pyomo import _cbc_log_bound, _glpk_log_bound

    # CBC minimizes the negated profit: its gap is added to the incumbent, its bound negated
    assert _cbc_log_bound(CBC_GAP_EXIT, "max", 18_335_736.94) == \
        pytest.approx(18_335_736.94 + 1712.8717)
    assert _cbc_log_bound(CBC_TIME_LIMIT, "max", 16_784_857.16) == 16_802_195.0
    assert _glpk_log_bound(GLPK_GAP_EXIT, 18_335_517.18) == 18_337_204.53
    assert _glpk_log_bound(GLPK_TREE_EMPTY, 16_802_073.73) == 16_802_073.73  # proven
    assert _glpk_log_bound("+ 1: mip = not found yet <= +inf (1; 0)\n", None) is None


def test_a_tolerance_leak_is_cleaned_and_a_real_breach_is_kept() -> None:
    """tiny's optimal plan with 3e-6 units sold through an option it does not offer
    (a solver's integrality tolerance): the LP of its design gives the clean plan at the
    same profit. The same plan with one sale raised by 10 units above its demand (profit
    up): the LP cannot keep that profit, so the breach is reported.
    """
    scen = load_scenario(ROOT / "instances" / "tiny" / "tiny.yaml")
    am, data = build_array_model(scen)
    sol = solve(scen, sensitivity=False)
    assert sol.x is not None and sol.plan_status == "optimal"
    sales = am.vars[SALES.name]
    q = sol.x[sales.start:sales.start + sales.n]
    leaky = sol.x.copy()
    j = sales.start + int(np.flatnonzero((q == 0.0) & (am.cost[sales.cols] > 0))[0])
    leaky[j] = 3e-6
    assert plan_violations(scen, am, data, leaky)[2]  # the check sees the leak
    x, _, bad = checked_plan(scen, am, data, leaky)
    assert bad == [] and float(am.cost @ x) == pytest.approx(sol.objective, rel=1e-9)
    inflated = sol.x.copy()
    k = sales.start + int(np.flatnonzero((q > 0) & (am.cost[sales.cols] > 0))[0])
    inflated[k] += 10.0
    _, _, bad = checked_plan(scen, am, data, inflated)
    assert bad
