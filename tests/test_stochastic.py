"""The two-stage stochastic model (issue 15): demand scenarios, extensive form, VSS/EVPI.

Known answers: ``instances/vss_duo`` is worked out by hand in its README; one demand
scenario with multiplier 1 is the deterministic model; on random tiny two-scenario
cases the extensive form equals the best design of an enumeration (the brute force of
``tests/bruteforce.py`` gives every design's profit in each realization, built here
from scaled tables, not by the package).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bruteforce
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import duo, duo_tables
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from random_scenarios import shrink_to_limit, tiny_scenarios

from channel_opt.model import build_array_model
from channel_opt.model.linear import to_pyomo
from channel_opt.model.stochastic import SCENARIO_COLUMN, extensive_form, is_design, members
from channel_opt.scenario import Scenario, ScenarioError, load_scenario
from channel_opt.scenario.demand import demand_scenarios
from channel_opt.solving import solve
from channel_opt.solving.stochastic import scenario_lp_bound, solve_two_stage

ROOT = Path(__file__).parents[1]
VSS_DUO = ROOT / "instances" / "vss_duo" / "vss_duo.yaml"
TWO = [{"id": "low", "probability": 0.5, "market_multiplier": 0.4},
       {"id": "high", "probability": 0.5, "market_multiplier": 1.6}]


def test_vss_duo_reproduces_the_hand_computed_values() -> None:
    sol = solve(VSS_DUO)
    assert sol.plan_status == "optimal" and not sol.violations
    s = sol.summary()
    hand = {"rp": 1500.0, "ev": 2150.0, "eev": 1400.0, "ws": 1525.0, "vss": 100.0,
            "evpi": 25.0}
    for k, v in hand.items():
        assert s[k] == pytest.approx(v, abs=1e-6), k
    assert sol.objective == pytest.approx(1500.0)
    per = sol.stochastic.per_scenario.set_index(SCENARIO_COLUMN)  # type: ignore[union-attr]
    assert per.loc["low"].tolist()[1:] == pytest.approx([600.0, 650.0, 650.0])
    assert per.loc["high"].tolist()[1:] == pytest.approx([2400.0, 2150.0, 2400.0])
    # the design is shared: the store in both scenarios, sales 20 and 80
    cc = sol.tables["cell_channel"]
    offered = cc[cc["offered"]]
    assert offered["channel"].tolist() == ["store", "store"]
    assert dict(zip(offered[SCENARIO_COLUMN], offered["sales"], strict=True)) == \
        pytest.approx({"low": 20.0, "high": 80.0})


def test_under_a_time_limit_the_lp_phase_keeps_the_hand_values(
        caplog: pytest.LogCaptureFixture) -> None:
    # under a limit the extensive form's LP (bound 1,906.25: the store opened in part)
    # and the plan rounded from it (1,500) come first; the MIP still proves 1,500
    with caplog.at_level(logging.INFO, logger="channel_opt.solving.relaxation"):
        sol = solve(VSS_DUO, time_limit=60.0)
    assert "plan rounded from the LP: 1,500.00" in caplog.text
    assert sol.plan_status == "optimal" and sol.bound == pytest.approx(1500.0)
    s = sol.summary()
    assert (s["rp"], s["eev"], s["vss"], s["evpi"]) == pytest.approx((1500, 1400, 100, 25))
    # the scenarios' own MIP bounds: WS = 1,525 within the gap, above RP's proven 1,500
    assert sol.stochastic is not None and sol.stochastic.ws_bound is not None
    assert 1525.0 - 1e-6 <= sol.stochastic.ws_bound <= 1525.0 * (1 + 1e-4)


def test_the_perfect_information_lp_bound_by_hand(caplog: pytest.LogCaptureFixture) -> None:
    """Each demand scenario's LP alone (the online opening and offer fractional):
    low, market 40: online earns 50 · 20 − 350 = 650 per unit offered, the store 600,
    so 650; high, market 160: with a share o online and 1 − o store, online sells
    80 o until the DC's 50 units (o = 0.625): 3,650 o + 2,400 (1 − o) = 3,181.25 there,
    and less beyond. ½ · 650 + ½ · 3,181.25 = 1,915.625 ≥ WS 1,525 ≥ RP 1,500."""
    ms = members(load_scenario(VSS_DUO))
    assert scenario_lp_bound(ms, None) == pytest.approx(1915.625)
    assert scenario_lp_bound(ms, 10.0) == pytest.approx(1915.625)
    # under a time limit the extensive form takes it and keeps the lower of the two
    # (its own LP, 1,906.25, and then the MIP's 1,500)
    with caplog.at_level(logging.INFO, logger="channel_opt.solving.stochastic"):
        sol = solve(VSS_DUO, time_limit=60.0)
    assert "perfect-information LP bound (the 2 demand scenarios' LPs, each alone): " \
        "1,915.62" in caplog.text
    assert sol.bound == pytest.approx(1500.0)


def test_a_simplex_lp_without_a_bound_is_bounded_by_the_interior_point(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A simplex optimum whose duals give no finite bound (a reduced cost a hair above
    0 on a column with no upper bound) is solved again by the interior point; a
    scenario with no bound at all leaves no perfect-information bound."""
    import channel_opt.solving.stochastic as st_mod
    from channel_opt.solving.relaxation import Relaxation, relax

    methods: list[str] = []

    def simplex_without_duals(am: Any, limit: Any, *, method: str = "simplex") -> Relaxation:
        methods.append(method)
        return Relaxation("optimal") if method != "ipm" else relax(am, limit, method=method)

    monkeypatch.setattr(st_mod, "relax", simplex_without_duals)
    ms = members(load_scenario(VSS_DUO))
    assert scenario_lp_bound(ms, None) == pytest.approx(1915.625, rel=1e-6)
    assert methods == ["simplex", "ipm", "simplex", "ipm"]
    monkeypatch.setattr(st_mod, "relax", lambda am, limit, method="simplex": Relaxation("optimal"))
    assert scenario_lp_bound(ms, None) is None


def test_deterministic_solves_the_expected_value_problem() -> None:
    sol = solve(VSS_DUO, deterministic=True)
    assert sol.stochastic is None and sol.objective == pytest.approx(2150.0)
    assert sol.scenario_hash == load_scenario(VSS_DUO).hash
    off = sol.tables["cell_channel"]
    assert off.loc[off["offered"], "channel"].tolist() == ["online"]


def test_one_scenario_with_multiplier_one_is_the_deterministic_model() -> None:
    one = duo(demand_scenarios=[{"id": "only", "probability": 1.0}])
    det = solve(duo(), sensitivity=False)
    sol = solve(one)
    assert sol.plan_status == "optimal" and not sol.violations
    assert sol.objective == det.objective == pytest.approx(8000 / 3)
    assert sol.summary()["vss"] == pytest.approx(0.0, abs=1e-9)
    assert sol.summary()["evpi"] == pytest.approx(0.0, abs=1e-9)


def test_doubling_every_market_doubles_the_sales_margin() -> None:
    # before issue 15 the table was ignored; now it is the model
    sol = solve(duo(demand_scenarios=[{"id": "x2", "probability": 1.0,
                                       "market_multiplier": 2.0}]))
    assert sol.objective == pytest.approx(2 * 8000 / 3)


def test_online_adoption_factor_scales_the_online_alone_share() -> None:
    # high: online share 0.5 x 1.2 = 0.6 (odds 1.5), store odds 1, market 150:
    # {online, store}: 150*1.5/3.5 x 50 + 150/3.5 x 30 = 4500; {online}: 90 x 50 = 4500
    # low: market 50, both: 8000/3 / 2; the shared design offers both: 2916.67
    scen = duo(demand_scenarios=[{"id": "low", "probability": 0.5, "market_multiplier": 0.5},
                                 {"id": "high", "probability": 0.5,
                                  "market_multiplier": 1.5}],
               demand_factors=[{"scenario": "high", "applies_to": "online", "factor": 1.2}])
    sol = solve(scen)
    assert sol.objective == pytest.approx(0.5 * 4000 / 3 + 0.5 * 4500)
    cc = sol.tables["cell_channel"]
    high = cc[(cc[SCENARIO_COLUMN] == "high") & (cc["channel"] == "online")]
    assert high["demand"].iloc[0] == pytest.approx(150 * 1.5 / 3.5)


def test_the_extensive_form_shares_design_columns_and_stacks_operations() -> None:
    ts = extensive_form(members(duo(demand_scenarios=TWO)))
    am = ts.am
    assert am.vars["offer"].n == ts.members[0].am.vars["offer"].n  # once
    assert am.vars["sales"].n == 2 * ts.members[0].am.vars["sales"].n  # per scenario
    assert SCENARIO_COLUMN not in am.cons["offer_one_set"].labels  # design-only: once
    assert set(am.cons["demand"].labels[SCENARIO_COLUMN]) == {"low", "high"}
    # the Pyomo hand-off of the same arrays: one component per block
    m = to_pyomo(am)
    assert len(m.sales) == am.vars["sales"].n and len(m.offer) == am.vars["offer"].n


def test_a_pyomo_backend_solves_the_extensive_form_unchanged() -> None:
    pytest.importorskip("pyomo")
    from channel_opt.solving.backends import BACKENDS

    if not BACKENDS["glpk"].is_available():
        pytest.skip("glpk not installed")
    out, _ = solve_two_stage(load_scenario(VSS_DUO), solver="glpk", values=False)
    assert out["objective"] == pytest.approx(1500.0)


def components(scen: Scenario) -> set[str]:
    """Names of the variable and constraint blocks of the Pyomo model of the scenario's
    first demand scenario (a member of the two-stage model).
    """
    import pyomo.environ as pyo

    m = to_pyomo(members(scen)[0].am)
    return {c.local_name for c in m.component_objects((pyo.Var, pyo.Constraint))}


def test_floors_hold_in_every_scenario_or_cost_the_shortfall() -> None:
    # service level 0.6 of the market; one channel reaches at most half of it
    doc = yaml.safe_load(VSS_DUO.read_text())
    scen = load_scenario(VSS_DUO)
    frames = {k: scen.tables[k] for k in scen.tables}
    frames["regions"] = frames["regions"].assign(service_level=0.6)
    rules = {**doc["settings"]["rules"], "service_level": True}
    hard = Scenario.from_frames(frames, {**doc["settings"], "rules": rules})
    assert solve(hard).termination == "infeasible"
    soft = Scenario.from_frames(frames, {**doc["settings"], "rules": rules,
                                         "stochastic": {"shortfall_cost": 10.0}})
    # the shortfall is the registry's block: built for every demand scenario's model when
    # the cost is set, never with floors held firm nor in the deterministic model
    assert {"shortfall", "service_level"} <= components(soft)
    assert "shortfall" not in components(hard)
    assert "shortfall" not in set(build_array_model(soft)[0].vars)
    sol = solve(soft)
    # store: low 20 of 24 needed (4 short), high 80 of 96 (16 short): 1500 - 10 x 10
    # online: low 4 short, high 50 of 96 (46 short): 1400 - 250 = 1150; none: -600
    assert sol.plan_status == "optimal" and not sol.violations
    assert sol.objective == pytest.approx(1400.0)
    short = sol.tables["shortfall"].set_index(SCENARIO_COLUMN)["short"]
    assert short.to_dict() == pytest.approx({"low": 4.0, "high": 16.0})


def test_probabilities_must_sum_to_one() -> None:
    with pytest.raises(ScenarioError) as e:
        duo(demand_scenarios=[{"id": "a", "probability": 0.5},
                              {"id": "b", "probability": 0.4}])
    (p,) = [p for p in e.value.problems if p.table == "demand_scenarios"]
    assert p.column == "probability" and "sum to 0.9" in p.rule


def test_a_factor_that_pushes_a_share_to_one_is_named_with_its_row() -> None:
    with pytest.raises(ScenarioError) as e:
        duo(demand_scenarios=TWO, demand_factors=[
            {"scenario": "low", "applies_to": "market", "factor": 1.5},
            {"scenario": "high", "applies_to": "online", "factor": 2.0}])
    (p,) = e.value.problems
    assert (p.table, p.row, p.column) == ("demand_factors", 3, "factor")
    assert "online" in p.rule and "to 1" in p.rule and "'high'" in p.rule and "below 1" in p.rule


def test_factor_rows_are_checked_like_every_table() -> None:
    with pytest.raises(ScenarioError) as e:
        duo(demand_scenarios=TWO, demand_factors=[
            {"scenario": "nope", "factor": 1.5},
            {"scenario": "low", "region": "Mars", "factor": 1.5},
            {"scenario": "low", "applies_to": "dealers", "factor": 1.5},
            {"scenario": "high", "factor": 0.0}])
    got = {(p.row, p.column) for p in e.value.problems}
    assert {(2, "scenario"), (3, "region"), (4, "applies_to"), (5, "factor")} <= got
    with pytest.raises(ScenarioError) as e:
        duo(demand_factors=[{"scenario": "low", "factor": 1.5}])
    assert any("without demand scenarios" in p.rule for p in e.value.problems)


def test_scoped_market_factor_only_moves_its_region() -> None:
    t = duo_tables()
    t["regions"] = [{"id": "R"}, {"id": "Q"}]
    t["cells"] = t["cells"] + [{**t["cells"][0], "region": "Q"}]
    t["shares"] = t["shares"] + [{**s, "region": "Q"} for s in t["shares"]]
    t["demand_scenarios"] = [{"id": "only", "probability": 1.0}]
    t["demand_factors"] = [{"scenario": "only", "region": "Q", "factor": 3.0}]
    sol = solve(Scenario.from_frames(t, {}))
    assert sol.objective == pytest.approx((1 + 3) * 8000 / 3)


# ------------------------------------------------------------ against the brute force

ON_LINE = {"online"}
COUPLING = ("partner_floor", "dealer_min_volume", "store_labour", "dealer_capacity",
            "inventory", "service_level", "dc_capacity", "cell_service_level")


def _realized(scen: Scenario, market: float, online: float) -> Scenario:
    """The scenario with every market x ``market`` and every online-kind share x
    ``online`` (written here from the tables, not by the package).
    """
    frames = {k: scen.tables[k] for k in scen.tables}
    kind = frames["channels"].set_index("id")["kind"]
    sh = frames["shares"]
    is_on = kind.reindex(sh["channel"]).to_numpy() == "online"
    frames["shares"] = sh.assign(share=np.where(is_on, sh["share"] * online, sh["share"]))
    frames["cells"] = frames["cells"].assign(market_size=frames["cells"]["market_size"] * market)
    return Scenario.from_frames(frames, scen.settings)


COMMON: dict[str, Any] = {
    "deadline": None, "derandomize": True, "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
CASES = (tiny_scenarios(), st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from([0.5, 1.0, 1.4]),
         st.sampled_from([0.25, 0.5, 0.8]))


@pytest.mark.slow
@settings(max_examples=40, **COMMON)
@given(*CASES)
def test_extensive_form_equals_the_best_design_of_the_enumeration(
        case: tuple[dict[str, Any], dict[str, Any]], m_high: float, f_high: float,
        p_low: float) -> None:
    check_against_enumeration(case, m_high, f_high, p_low)


def check_against_enumeration(case: tuple[dict[str, Any], dict[str, Any]], m_high: float,
                              f_high: float, p_low: float) -> None:
    """Two demand scenarios (the drawn one, and markets x ``m_high`` with online shares
    x ``f_high``): the extensive form's optimum is the best probability-weighted sum
    of a design's profits in the two realizations.
    """
    tables, settings_ = case
    settings_ = {**settings_, "rules": {k: v for k, v in settings_["rules"].items()
                                        if k not in COUPLING}}
    base, refused = shrink_to_limit(tables, settings_)
    assume(not refused)
    try:
        bruteforce.read_problem(base)
    except ValueError:
        assume(False)
    lo, hi = _realized(base, 1.0, 1.0), _realized(base, m_high, f_high)
    v_lo, v_hi = bruteforce.solve(lo).values, bruteforce.solve(hi).values
    frames: dict[str, Any] = {k: base.tables[k] for k in base.tables}
    frames["demand_scenarios"] = pd.DataFrame([
        {"id": "lo", "probability": p_low}, {"id": "hi", "probability": 1 - p_low,
                                             "market_multiplier": m_high}])
    frames["demand_factors"] = pd.DataFrame([{"scenario": "hi", "applies_to": "online",
                                              "factor": f_high}])
    two = Scenario.from_frames(frames, base.settings)
    out, _ = solve_two_stage(two, mip_gap=1e-9, values=False)
    if v_lo is None or v_hi is None:  # some realization has no feasible design
        assert out["raw"].termination == "infeasible"
        return
    expected = p_low * v_lo + (1 - p_low) * v_hi
    best = float(np.max(expected))
    assert math.isfinite(best)
    assert out["raw"].termination == "optimal" and not out["violations"]
    assert out["objective"] == pytest.approx(best, rel=1e-6, abs=1e-6)


# ------------------------------------------------------------------- command line

@pytest.mark.slow
def test_cli_writes_the_measures_and_solves_ev_with_deterministic(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "channel_opt.cli", "-q", "solve", str(VSS_DUO)]
    r = subprocess.run([*cmd, "--out", str(tmp_path / "rp")], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "rp" / "summary.json").read_text())
    assert (s["rp"], s["ev"], s["eev"], s["ws"], s["vss"], s["evpi"]) == pytest.approx(
        (1500, 2150, 1400, 1525, 100, 25))
    report = (tmp_path / "rp" / "report.md").read_text()
    assert "Value of the stochastic solution" in report
    r = subprocess.run([*cmd, "--deterministic", "--out", str(tmp_path / "ev")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert s["objective"] == pytest.approx(2150) and "vss" not in s


# ---------------------------------------------------------- progressive hedging

def test_ph_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from channel_opt.solving import stochastic_ph

    monkeypatch.setattr(stochastic_ph.shutil, "which", lambda _name: None)
    with pytest.raises(ValueError, match="mpiexec.*openmpi-bin"):
        solve(VSS_DUO, method="ph")
    monkeypatch.undo()
    if stochastic_ph.ph_missing() is None:
        with pytest.raises(ValueError, match="multiple of 3"):
            solve(VSS_DUO, method="ph", ranks=2)
    with pytest.raises(ValueError, match="demand_scenarios"):
        solve(duo(), method="ph")


@pytest.mark.slow
def test_ph_without_mpiexec_exits_2_from_the_cli(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "channel_opt.cli", "-q", "solve", str(VSS_DUO),
                        "--method", "ph", "--out", str(tmp_path / "out")], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "mpiexec" in r.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_ph_agrees_with_the_extensive_form_under_mpiexec() -> None:
    from channel_opt.solving.stochastic_ph import ph_missing

    if ph_missing():
        pytest.skip(str(ph_missing()))
    sol = solve(VSS_DUO, method="ph", ranks=3)
    assert sol.has_plan and not sol.violations, sol.solver_message
    assert sol.solver == "mpi-sppy" and sol.bound is not None
    assert "PH failed" not in (sol.solver_message or ""), sol.solver_message
    # the EF optimum 1,500 lies between PH's plan and its Lagrangian bound
    assert sol.objective is not None
    assert sol.objective - 1e-6 <= 1500.0 <= sol.bound + 1e-6
    assert sol.objective >= 1500.0 * (1 - (sol.gap or 0.0)) - 1e-6
    assert sol.summary()["method"] == "progressive_hedging"
    assert sol.summary()["vss"] == pytest.approx(sol.objective - 1400.0, abs=1e-6)


def _pickled_duo(tmp_path: Path, scen: Scenario | None = None) -> tuple[Scenario, Path]:
    """The two-scenario duo (or ``scen``) and its pickle (what the MPI ranks read)."""
    import pickle

    scen = duo(demand_scenarios=TWO) if scen is None else scen
    pk = tmp_path / "scenario.pkl"
    pk.write_bytes(pickle.dumps(scen))
    return scen, pk


def test_ph_design_comes_back_by_column(tmp_path: Path) -> None:
    # mpi-sppy's model of a sub-problem holds its first-stage variables only: the design
    # written by a rank maps back by column (it once came back permuted, and the plan of
    # a three-block design could not be operated in any scenario)
    pytest.importorskip("mpisppy")
    from channel_opt.solving import stochastic_ph

    scen, pk = _pickled_duo(tmp_path)
    model = stochastic_ph.scenario_creator("low", scenario_pickle=str(pk))
    am = members(scen, [("low", 0.5)])[0].am
    design = [b for b in am.vars.values() if is_design(b.name) and b.n]
    assert len(design) >= 3
    sub = model._array_sub
    for i, v in model.x.items():  # each first-stage variable at its own column
        v.set_value(float(sub.nonant[i]), skip_validation=True)
    stochastic_ph._design_writer(str(tmp_path / "d.npy"), model, False)
    cols, vals = np.load(tmp_path / "d.npy")
    assert sorted(cols.astype(int)) == sorted(np.concatenate([b.cols for b in design]))
    assert np.array_equal(cols, vals)  # a bundle of one: its columns are the member's


FAKE_RANKS = """
import os, subprocess, sys, time
import numpy as np
folder = sys.argv[1]
# a rank that ignores SIGTERM (the group's SIGKILL must end it)
rank = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                         "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
open(os.path.join(folder, "rank.pid"), "w").write(str(rank.pid))
np.save(os.path.join(folder, "design_columns.npy"), np.array([4, 1]))
np.save(os.path.join(folder, "incumbent_0000.npy"), np.array([1.0, 0.0]))
np.save(os.path.join(folder, "incumbent_0001.npy"), np.array([1.0, 1.0]))
open(os.path.join(folder, "incumbent_0002.npy"), "wb").write(b"\\x93NUMPY")  # cut short
with open(os.path.join(folder, "trace_LagrangianOuterBound.csv"), "w") as f:
    f.write("time,bound\\n0.5,130.0\\n0.9,120.0\\n1.2,inf\\n1.3,")  # cut short
with open(os.path.join(folder, "trace_XhatShuffleInnerBound.csv"), "w") as f:
    f.write("time,bound\\n0.7,90.0\\n0.8,100.0\\n")
open(os.path.join(folder, "ready"), "w").write("1")
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie nobody has reaped yet


def test_ranks_stopped_at_the_limit_leave_their_last_plan_and_bound(tmp_path: Path) -> None:
    # mpi-sppy looks at its time limit only between PH iterations (one iteration of 200
    # apparel-sized scenarios outlasts any limit), and a spoke that fails leaves the hub
    # waiting: the driver stops the whole process group at the limit, a rank that
    # ignores SIGTERM included, and reads what the ranks had written
    from channel_opt.solving import stochastic_ph as sp

    script = tmp_path / "ranks.py"
    script.write_text(FAKE_RANKS)
    t = time.perf_counter()
    code, _, stopped = sp._run_ranks([sys.executable, str(script), str(tmp_path)],
                                     dict(os.environ), str(tmp_path), 3.0)
    took = time.perf_counter() - t
    assert stopped == sp.LIMIT_STOP and code != 0
    assert (tmp_path / "ready").exists()
    assert 3.0 <= took <= 3.0 + sp.STOP_SECONDS + 3.0
    pid = int((tmp_path / "rank.pid").read_text())
    for _ in range(50):  # the orphaned rank is reaped by init, not by us
        if _gone(pid):
            break
        time.sleep(0.1)
    assert _gone(pid)
    got = sp.read_snapshots(str(tmp_path), 6)
    # the last incumbent that loads (0002 is cut short), by column; the best finite
    # value of each trace: the objective is maximized, so the highest plan value and the
    # lowest bound (each bound a spoke sends is valid on its own)
    assert got["design"].tolist() == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert got["inner"] == 100.0
    assert got["outer"] == 120.0


def test_ranks_whose_plan_and_bound_meet_the_gap_are_stopped_then(tmp_path: Path) -> None:
    # mpi-sppy looks at its gap only between PH iterations: the driver stops the ranks as
    # soon as what they wrote is within the run's gap. The fake ranks' plan is 100 and
    # bound 120: a gap of 0.2, met at 0.25 and not at 0.1
    from channel_opt.solving import stochastic_ph as sp

    script = tmp_path / "ranks.py"
    script.write_text(FAKE_RANKS)
    cmd, env = [sys.executable, str(script), str(tmp_path)], dict(os.environ)
    met = functools.partial(sp._within, str(tmp_path), 6)
    t = time.perf_counter()
    code, _, stopped = sp._run_ranks(cmd, env, str(tmp_path), 60.0, met=lambda: met(0.25))
    assert stopped == sp.GAP_STOP and code != 0
    # two looks after the files are written (a second or so), then SIGTERM and SIGKILL
    assert time.perf_counter() - t <= 2 + 3 * sp.POLL_SECONDS + sp.STOP_SECONDS + 3.0
    assert not met(0.1)
    code, _, stopped = sp._run_ranks(cmd, env, str(tmp_path), 4.0, met=lambda: met(0.1))
    assert stopped == sp.LIMIT_STOP


def test_an_interrupt_stops_the_ranks_at_once(tmp_path: Path) -> None:
    from channel_opt.solving import stochastic_ph as sp

    script = tmp_path / "ranks.py"
    script.write_text(FAKE_RANKS)

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    t = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            sp._run_ranks([sys.executable, str(script), str(tmp_path)], dict(os.environ),
                          str(tmp_path), 60.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.perf_counter() - t <= 2.0 + sp.STOP_SECONDS + 3.0
    pid = int((tmp_path / "rank.pid").read_text())
    for _ in range(50):
        if _gone(pid):
            break
        time.sleep(0.1)
    assert _gone(pid)


@pytest.mark.slow
def test_ph_stopped_at_its_limit_answers_what_mpisppy_wrote(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a real mpi-sppy run on vss_duo, read back as if the driver had stopped it at the
    # end: the xhat spoke's incumbent design (mpi-sppy's order, mapped to columns) and the
    # Lagrangian spoke's bounds give a plan operable in both scenarios, at least the
    # expected-value design's 1,400 (EEV) and at most the EF optimum 1,500, and a valid
    # bound (at least 1,500; the WS solves bound it by 1,525 whatever PH wrote)
    from channel_opt.solving import stochastic_ph as sp

    if sp.ph_missing():
        pytest.skip(str(sp.ph_missing()))
    run = sp._run_ranks

    def as_if_stopped(*a: Any, **kw: Any) -> tuple[int, str, str]:
        code, out, _ = run(*a)
        assert code == 0, out
        return code, out, sp.LIMIT_STOP

    monkeypatch.setattr(sp, "_run_ranks", as_if_stopped)
    sol = solve(VSS_DUO, method="ph", ranks=3)
    assert sol.has_plan and not sol.violations, sol.solver_message
    assert "stopped at the time limit" in (sol.solver_message or "")
    assert "no plan found" not in (sol.solver_message or "")  # the design was read
    assert sol.objective is not None and 1400.0 - 1e-6 <= sol.objective <= 1500.0 + 1e-6
    assert sol.bound is not None and 1500.0 - 1e-6 <= sol.bound <= 1525.0 + 1e-6


@pytest.mark.slow
def test_ph_plan_of_a_multi_block_design_is_operable_in_every_scenario() -> None:
    from channel_opt.solving.stochastic_ph import ph_missing

    if ph_missing():
        pytest.skip(str(ph_missing()))
    from benchmarks.generator import generate
    from benchmarks.stochastic import with_demand_scenarios

    # a generated core case of 60 cells and 3 demand scenarios: with the design read
    # back in mpi-sppy's order, PH's plan could not be operated in any scenario
    tables, settings_ = generate("core", 60, 1)
    scen = with_demand_scenarios(Scenario.from_frames(tables, settings_, name="core_60"), 3, 1)
    ef = solve(scen)
    sol = solve(scen, method="ph", ranks=3, time_limit=120)
    assert sol.has_plan and not sol.violations, sol.solver_message
    assert ef.objective is not None and sol.objective is not None and sol.bound is not None
    assert sol.objective - 1e-6 <= ef.objective <= sol.bound + 1e-6


def test_a_soft_floor_does_not_force_the_openings_its_cover_cut_would() -> None:
    """duo with a partner floor of 1200 in its region, the store costing 2000 to open and
    a shortfall cost of 0.5 per unit of money short (one demand scenario, multiplier 1).
    By hand: online alone 2500 - 0.5 x 1200 = 1900 (optimal); both channels
    2666.67 - 2000 - 0.5 x 200 = 566.67; the store alone 1500 - 2000 = -500. The floor's
    cover cut (the store must open: online earns partners nothing) holds only when the
    floor must be met: with it the model gave 566.67.
    """
    t = duo_tables(regions=[{"id": "R", "partner_profit_floor": 1200.0}])
    t["channels"][1]["open_cost"] = 2000.0
    scen = Scenario.from_frames(t, {"rules": {"partner_floor": True},
                                    "stochastic": {"shortfall_cost": 0.5}},
                                name="soft-floor")
    scen = Scenario.from_frames({**{k: scen.tables[k] for k in scen.tables},
                                 "demand_scenarios": [{"id": "only", "probability": 1.0}]},
                                scen.settings, name="soft-floor")
    sol = solve(scen)
    assert sol.plan_status == "optimal" and not sol.violations
    assert sol.objective == pytest.approx(1900.0, rel=1e-9)


def _soft_floor() -> Scenario:
    """The soft-floor case above (one demand scenario; optimum 1900 by hand)."""
    t = duo_tables(regions=[{"id": "R", "partner_profit_floor": 1200.0}])
    t["channels"][1]["open_cost"] = 2000.0
    scen = Scenario.from_frames(t, {"rules": {"partner_floor": True},
                                    "stochastic": {"shortfall_cost": 0.5}},
                                name="soft-floor")
    return Scenario.from_frames({**{k: scen.tables[k] for k in scen.tables},
                                 "demand_scenarios": [{"id": "only", "probability": 1.0}]},
                                scen.settings, name="soft-floor")


def test_a_freed_cover_cut_reaches_the_pyomo_backends_as_a_free_row() -> None:
    # the shortfall option frees the floor's cover cuts (both bounds infinite): Pyomo
    # refused such a row ("does not have a proper value"), so every Pyomo backend and PH
    # failed on the shipped apparel_stochastic instance. The row is kept, unbounded.
    pytest.importorskip("pyomo")
    scen = _soft_floor()
    am = members(scen)[0].am
    cut = am.cons["partner_floor_cover"]
    assert not np.isfinite(cut.lower).any() and not np.isfinite(cut.upper).any()
    m = to_pyomo(am)
    assert len(m.partner_floor_cover) == cut.n
    assert not any(c.has_lb() or c.has_ub() for c in m.partner_floor_cover.values())
    out, _ = solve_two_stage(scen, solver="highs_pyomo", values=False)
    assert out["objective"] == pytest.approx(1900.0, rel=1e-9)


def test_the_profit_breakdown_pays_the_shortfall_on_its_own_line() -> None:
    # by hand (the soft-floor case above): online alone earns 2500 and falls 1200 short
    # of the partner floor at 0.5 per unit: 2500 - 600 = 1900, on the registry's line
    from channel_opt.model.registry import VAR
    from channel_opt.solving.check import check_plan, profit_lines

    scen = _soft_floor()
    sol = solve(scen)
    assert sol.objective == pytest.approx(1900.0, rel=1e-9) and not sol.violations
    line = VAR["shortfall"].profit_line
    assert line == "shortfall cost"
    prof = sol.tables["profit"].groupby("component")["amount"].sum()
    assert prof[line] == pytest.approx(-600.0) and prof["sales margin"] == pytest.approx(2500.0)
    assert prof.sum() == pytest.approx(sol.objective, rel=1e-12)
    # the plan check prices it from the scenario's shortfall cost: equal, and a
    # breakdown that hides it is caught on its line
    one = {k: v.drop(columns="demand_scenario") for k, v in sol.tables.items()
           if "demand_scenario" in v}
    assert profit_lines(scen, one)[VAR["shortfall"]] == pytest.approx(-600.0)
    hidden = one["profit"].copy()
    hidden.loc[hidden["component"] == line, "amount"] = 0.0
    errors = check_plan(scen, {**one, "profit": hidden}, 2500.0)
    assert len(errors) == 1 and "shortfall cost 0 vs -600" in errors[0]


def test_two_stage_shortfall_lines_add_up_per_demand_scenario() -> None:
    # vss_duo with a service level of 0.6 and 10 per unit short (the case above): the
    # store sells 20 of 24 needed in low (4 short: -40) and 80 of 96 in high (16 short:
    # -160); each scenario's lines add up to its profit, and their mean to 1,400
    doc = yaml.safe_load(VSS_DUO.read_text())
    scen = load_scenario(VSS_DUO)
    frames = {k: scen.tables[k] for k in scen.tables}
    frames["regions"] = frames["regions"].assign(service_level=0.6)
    soft = Scenario.from_frames(frames, {**doc["settings"], "rules": {
        **doc["settings"]["rules"], "service_level": True},
        "stochastic": {"shortfall_cost": 10.0}})
    sol = solve(soft)
    assert sol.objective == pytest.approx(1400.0) and not sol.violations
    prof = sol.tables["profit"]
    short = prof[prof["component"] == "shortfall cost"].set_index(SCENARIO_COLUMN)["amount"]
    assert short.to_dict() == pytest.approx({"low": -40.0, "high": -160.0})
    per = prof.groupby(SCENARIO_COLUMN)["amount"].sum()
    assert per.to_dict() == pytest.approx({"low": 600.0 - 40.0, "high": 2400.0 - 160.0})
    assert 0.5 * per.sum() == pytest.approx(sol.objective)


def test_ph_starts_every_scenario_from_the_start_plan(tmp_path: Path) -> None:
    # iteration 0 warm-starts each scenario's sub-MIP from the variable values its model
    # is created with (the start plan of that demand scenario), and the xhat spoke's
    # first candidate is the start design in mpi-sppy's order of the design variables
    pytest.importorskip("mpisppy")
    from channel_opt.model.stochastic import is_design
    from channel_opt.solving import stochastic_ph

    scen, pk = _pickled_duo(tmp_path)
    ms = members(scen)
    n = ms[0].am.n_cols
    # distinct values per scenario and column; design columns near-integral
    start = [np.arange(n) + 0.25 + 1000.0 * i for i in range(len(ms))]
    design = np.zeros(n, bool)
    for b in ms[0].am.vars.values():
        if is_design(b.name):
            design[b.cols] = True
            start[0][b.cols] = (b.cols % 2) + (1e-7 if b.integer else 0.5)
    sf = str(tmp_path / "start.npz")
    stochastic_ph.write_start(sf, ms, start)
    for i, m in enumerate(ms):
        model = stochastic_ph.scenario_creator(m.id, scenario_pickle=str(pk), start_file=sf)
        sub = model._array_sub
        assert np.array_equal(sub.x, start[i]), m.id  # the first solve's MIP start
        got = np.array([v.value for v in model.x.values()])
        assert np.array_equal(got, start[i][sub.nonant]), m.id
    cand = stochastic_ph.feasible_xhat_creator(scenario_pickle=str(pk), start_file=sf)["ROOT"]
    cols = model._design_columns
    integer = ms[0].am.integrality()[cols] == 1
    want = start[0][cols]
    assert np.array_equal(cand[integer], np.round(want[integer]))  # fixed at integers
    assert np.array_equal(cand[~integer], want[~integer])
    assert sorted(cols) == list(np.flatnonzero(design))


@pytest.mark.parametrize("outcome", ["fails", "no plan"])
def test_ph_answers_the_expected_value_plan_when_it_finds_none_better(
        monkeypatch: pytest.MonkeyPatch, outcome: str) -> None:
    # vss_duo by hand: the expected-value design (online) earns EEV = 1,400 in
    # expectation; PH that fails or returns no design leaves that plan, and the bound
    # of the scenarios' LPs (1,915.625: test_the_perfect_information_lp_bound_by_hand),
    # then the lower one of their own MIPs (WS = 1,525, within the default gap 1e-4)
    from channel_opt.solving import stochastic_ph

    if stochastic_ph.ph_missing():
        pytest.skip(str(stochastic_ph.ph_missing()))
    seen: dict[str, Any] = {}

    def fake(scen: Scenario, ms: list[Any], **kw: Any) -> dict[str, Any]:
        seen.update(kw)
        if outcome == "fails":
            raise RuntimeError("progressive hedging failed (mpiexec exit 1)")
        return {"design": None, "inner": None, "outer": None, "seconds": 0.0, "rho": 1.0}

    monkeypatch.setattr(stochastic_ph, "solve_ph", fake)
    sol = solve(VSS_DUO, method="ph", ranks=3)
    assert seen["start"] is not None and len(seen["start"]) == 2  # a plan per scenario
    assert sol.has_plan and not sol.violations
    assert sol.objective == pytest.approx(1400.0)
    assert sol.bound is not None and 1525.0 - 1e-6 <= sol.bound <= 1525.0 * (1 + 1e-4)
    msg = sol.solver_message or ""
    assert "the expected-value design" in msg
    assert "bound: the perfect-information LP bound 1,915.62" in msg
    assert "bound: the demand scenarios' own MIP bounds (≥ WS), 1,525" in msg
    assert sol.plan_status == "feasible"  # 1,400 is 8.2 % below 1,525


def test_a_bundle_is_the_extensive_form_of_its_scenarios(tmp_path: Path) -> None:
    # a PH sub-problem of several demand scenarios (a bundle) is their extensive form
    # built from the arrays: its probability is the sum of theirs, its objective at a
    # plan the expected profit given the bundle, its design once and by member column
    pytest.importorskip("mpisppy")
    from channel_opt.solving import stochastic_ph

    scen, pk = _pickled_duo(tmp_path)
    ms = members(scen)
    groups = stochastic_ph.bundles([(m.id, m.probability) for m in ms], 2)
    assert list(groups.values()) == [[m.id for m in ms]]
    assert stochastic_ph.bundles([(m.id, m.probability) for m in ms], 1) == \
        {m.id: [m.id] for m in ms}
    bf = tmp_path / "bundles.json"
    bf.write_text(json.dumps(groups))
    design = np.zeros(ms[0].am.n_cols, bool)
    for b in ms[0].am.vars.values():
        if is_design(b.name):
            design[b.cols] = True
    # one design (1 at every design column), operations different in each scenario
    start = [np.where(design, 1.0, 0.5 * (i + 1)) for i in range(len(ms))]
    sf = str(tmp_path / "start.npz")
    stochastic_ph.write_start(sf, ms, start)
    name = next(iter(groups))
    model = stochastic_ph.scenario_creator(name, scenario_pickle=str(pk), start_file=sf,
                                           bundles_file=str(bf))
    assert model._mpisppy_probability == pytest.approx(1.0)
    want = sum(m.probability * float(m.am.cost @ x) for m, x in zip(ms, start, strict=True))
    sub = model._array_sub
    assert float(sub.arrays.cost @ sub.x) == pytest.approx(want)
    assert sorted(model._design_columns) == list(np.flatnonzero(design))
    assert len(model.x) == int(design.sum())  # mpi-sppy's model: the design, once


def test_the_xhat_spoke_writes_its_best_plan_not_the_restored_values(tmp_path: Path) -> None:
    # mpi-sppy 0.14 wrote each improving design from the variables' values, which after
    # its first write are the nonants restored after the evaluation: the design written
    # must be the best-solution cache's (the plan the spoke evaluated)
    pytest.importorskip("mpisppy")
    from types import SimpleNamespace as NS

    import pyomo.environ as pyo
    from mpisppy.utils import sputils

    from channel_opt.solving import stochastic_ph

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), initialize=0.0)
    sputils.attach_root_node(m, 0, [m.x])
    best = pyo.ComponentMap((m.x[i], float(i + 1)) for i in range(3))
    m._mpisppy_data = NS(best_solution_cache=best)

    class Spoke:  # what the method reads of mpi-sppy's spoke
        def __init__(self) -> None:
            prefix = str(tmp_path / "incumbent")
            self.opt = NS(options={"incumbent_on_improvement_filename_prefix": prefix},
                          local_scenarios={"s": m}, local_scenario_names=["s"])
            self.cylinder_rank = 0
            self._incumbent_write_counter = 0

    cls = stochastic_ph.best_writing(Spoke)
    assert cls.__name__ == "Spoke"  # it names the spoke's trace file (plans or bounds)
    spoke = cls()
    spoke._maybe_write_incumbent_on_improvement()
    for i in range(3):
        m.x[i].set_value(-5.0)  # restored after the next evaluation
    best[m.x[0]] = 9.0  # the next improvement
    spoke._maybe_write_incumbent_on_improvement()
    assert np.load(tmp_path / "incumbent_0000.npy").tolist() == [1.0, 2.0, 3.0]
    assert np.load(tmp_path / "incumbent_0001.npy").tolist() == [9.0, 2.0, 3.0]


def test_a_spoke_with_nothing_new_from_the_hub_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    # mpi-sppy 0.14's spokes poll the hub without a pause: a waiting spoke kept a core
    # busy that the other cylinders' sub-MIPs needed (benchmarks/README.md). It pauses
    # once nothing has come for SPIN_SECONDS (a wait's first second stays busy: on a
    # small model the hub ends within milliseconds)
    from types import SimpleNamespace as NS

    from channel_opt.solving import stochastic_ph

    slept: list[float] = []
    spin = stochastic_ph.SPIN_SECONDS
    clock = iter([0.0, 0.5 * spin, 2.0 * spin, 2.5 * spin, 3.5 * spin, 3.6 * spin])
    monkeypatch.setattr(stochastic_ph, "time", NS(monotonic=lambda: next(clock),
                                                   sleep=slept.append))

    class Spoke:  # what the override calls of mpi-sppy's spoke
        news = [False, False, True, False, False, False]

        def _update_nonant_len_buffer(self) -> bool:
            return self.news.pop(0)

    cls = stochastic_ph.yielding(Spoke)
    assert cls.__name__ == "Spoke"  # it names the spoke's trace file
    spoke = cls()
    got = [spoke._update_nonant_len_buffer() for _ in range(6)]
    assert got == [False, False, True, False, False, False]
    # quiet from 0 (under a second at 0.5), news at 2, quiet for a second from 3.5 on
    assert slept == [stochastic_ph.WAIT_SECONDS] * 2


def _guest_solve(model: Any, fixed: np.ndarray | None = None, **ph: Any) -> Any:
    """Solve mpi-sppy's model of a sub-problem through the guest, as mpi-sppy would:
    ``fixed`` design values fix the first-stage variables (the xhat spoke), ``ph``
    (``W``, ``rho``, ``xbar`` arrays, ``W_on``, ``prox_on``) the PH terms.
    """
    from types import SimpleNamespace as NS

    from channel_opt.solving.stochastic_guest import ArrayGuest

    keys = [("ROOT", i) for i in range(len(model.x))]
    model._mpisppy_data = NS(nonant_indices=dict(zip(keys, model.x.values(), strict=True)))
    model._solver_plugin = NS(options={"mipgap": 0.0, "threads": 1})
    if ph:
        def params(a: np.ndarray) -> dict[Any, Any]:
            return {k: NS(value=float(v)) for k, v in zip(keys, a, strict=True)}
        model._mpisppy_model = NS(W=params(ph["W"]), rho=params(ph["rho"]),
                                  xbars=params(ph["xbar"]), W_on=NS(value=ph["W_on"]),
                                  prox_on=NS(value=ph["prox_on"]))
    for i, v in model.x.items():
        if fixed is not None:
            v.fix(float(fixed[i]))
        else:
            v.unfix()
    ArrayGuest().solve_one(None, model, {"warmstart": False}, gripe=False)
    return model._mpisppy_data


def test_the_guest_solves_each_sub_problem_from_its_arrays(tmp_path: Path) -> None:
    # vss_duo by hand: RP = 1,500 (both scenarios in one sub-problem: the EF), WS =
    # 1,525 (each scenario alone, ½ each); the first-stage variables fixed at RP's design
    # (the xhat spoke) earn RP again
    pytest.importorskip("mpisppy")
    from channel_opt.solving import stochastic_ph

    scen, pk = _pickled_duo(tmp_path, load_scenario(VSS_DUO))
    ids = [sid for sid, _ in demand_scenarios(scen)]
    bf = tmp_path / "bundles.json"
    bf.write_text(json.dumps({"both": ids}))
    both = stochastic_ph.scenario_creator("both", scenario_pickle=str(pk),
                                          bundles_file=str(bf))
    got = _guest_solve(both)
    assert got.solution_available
    assert got.inner_bound == pytest.approx(1500.0) and got.outer_bound == pytest.approx(1500.0)
    rp = np.array([v.value for v in both.x.values()])
    again = _guest_solve(both, fixed=rp)
    assert again.inner_bound == pytest.approx(1500.0)
    assert [v.value for v in both.x.values()] == rp.tolist()  # fixed values untouched
    ws = 0.0
    for sid, p in demand_scenarios(scen):
        one = stochastic_ph.scenario_creator(sid, scenario_pickle=str(pk))
        ws += p * _guest_solve(one).inner_bound
    assert ws == pytest.approx(1525.0)


def test_the_guest_adds_mpisppys_terms_to_the_objective(tmp_path: Path) -> None:
    # W.x is taken off the profit when W_on; each proximal square rho/2 (x - xbar)^2 by
    # its secant over [0, 1] when prox_on: exact at x = 0 and 1. With W above any profit
    # the scenario can make on every design column, none is taken (the Lagrangian
    # maximum is the plan with nothing decided)
    pytest.importorskip("mpisppy")
    from channel_opt.solving import stochastic_ph
    from channel_opt.solving.stochastic_guest import ph_objective

    scen, pk = _pickled_duo(tmp_path)
    model = stochastic_ph.scenario_creator("low", scenario_pickle=str(pk))
    sub = model._array_sub
    n = len(model.x)
    c = sub.arrays.cost[sub.nonant]
    rho, xbar = np.full(n, 2.0), np.full(n, 0.25)
    big = 1e7  # vss_duo's whole profit is a few thousand
    got = _guest_solve(model, W=np.full(n, big), rho=rho, xbar=xbar, W_on=1, prox_on=0)
    x = np.array([v.value for v in model.x.values()])
    assert np.allclose(x, 0.0)
    cost, offset = ph_objective(model, sub.arrays, sub.nonant)
    assert offset == 0.0 and np.allclose(cost[sub.nonant], c - big)
    assert got.inner_bound == pytest.approx(float(sub.arrays.cost @ sub.x))
    model._mpisppy_model.W_on.value, model._mpisppy_model.prox_on.value = 0, 1
    cost, offset = ph_objective(model, sub.arrays, sub.nonant)
    # rho/2 (x - 1/4)^2 at x = 1: 9/16, at x = 0: 1/16 (profit: subtracted)
    assert cost[sub.nonant] - c == pytest.approx(np.full(n, -(9 / 16 - 1 / 16)))
    assert offset == pytest.approx(-n / 16)


@pytest.mark.slow
def test_ph_on_one_bundle_of_both_scenarios_proves_the_two_stage_optimum() -> None:
    # vss_duo by hand: RP = 1,500. With both demand scenarios in one bundle PH's one
    # sub-problem is the extensive form: its plan is RP and its bound proves it
    from channel_opt.solving import stochastic_ph

    if stochastic_ph.ph_missing():
        pytest.skip(str(stochastic_ph.ph_missing()))
    scen = load_scenario(VSS_DUO)
    ms = members(scen)
    got = stochastic_ph.solve_ph(scen, ms, ranks=3, bundle_size=2)
    assert got["inner"] == pytest.approx(1500.0, rel=1e-6)
    assert got["outer"] == pytest.approx(1500.0, rel=1e-3)
    assert got["design"] is not None


@pytest.mark.slow
def test_a_rank_that_fails_ends_every_rank(tmp_path: Path) -> None:
    # the xhat spoke fails on a start design of the wrong length (the hub and the
    # Lagrangian spoke do not read it): the other ranks must not wait for it forever
    from channel_opt.solving import stochastic_ph

    if stochastic_ph.ph_missing():
        pytest.skip(str(stochastic_ph.ph_missing()))
    scen, pk = _pickled_duo(tmp_path)
    ms = members(scen)
    sf = tmp_path / "start.npz"
    np.savez(sf, ids=np.array([m.id for m in ms]),
             x=np.vstack([np.zeros(m.am.n_cols) for m in ms]), design=np.zeros(1))
    cmd = ["mpiexec", "-n", "3", "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, "-m", "channel_opt.solving.stochastic_ph", str(pk),
            str(tmp_path / "d.npy"), str(tmp_path / "r.json"), "--start", str(sf)]
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}
    # before the fix this ran until killed: stopped at 300 s (the whole group), it fails
    code, out, stopped = stochastic_ph._run_ranks(cmd, env, str(tmp_path), 300.0)
    assert not stopped and code != 0
    assert "IndexError" in out
    assert not (tmp_path / "r.json").exists()
