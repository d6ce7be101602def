"""Solve options: every thread count works, bounds are bounds, bad options are refused."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scenario_factory import duo

from channel_opt.model import build_array_model
from channel_opt.scenario import load_scenario
from channel_opt.solving import solve
from channel_opt.solving.engines import (
    ERROR,
    OPTIMAL,
    TIME_LIMIT,
    Backend,
    RawResult,
    SolveOptions,
    normalize_result,
)
from channel_opt.solving.options import OptionsError, check_options

ROOT = Path(__file__).parents[1]
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"
TINY_OPTIMUM = 7440.0  # instances/tiny/README.md: derived by hand


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


# ---- item 3: thread counts ----------------------------------------------------------

@pytest.mark.parametrize("solver", ["highs", pytest.param("highs_pyomo",
                                                          marks=pytest.mark.slow)])
def test_every_thread_count_solves_in_one_process(solver: str) -> None:
    """HiGHS sizes its scheduler on the first run of a thread; 1, 2, 3 in a row all work
    (before: every count but the first failed and the constructive plan was returned).
    """
    scen = load_scenario(TINY)
    for threads in (1, 2, 3, 1):
        sol = solve(scen, solver=solver, threads=threads, sensitivity=False)
        assert sol.termination == OPTIMAL, (threads, sol.solver_message)
        assert sol.plan_status == "optimal"
        assert sol.objective == pytest.approx(TINY_OPTIMUM)
        assert sol.bound is not None and sol.bound >= sol.objective - 1e-6


@pytest.mark.slow
def test_thread_count_in_the_watchdog_child() -> None:
    scen = load_scenario(TINY)
    for threads in (1, 3):
        sol = solve(scen, threads=threads, time_limit=30, sensitivity=False)
        assert sol.termination == OPTIMAL
        assert sol.objective == pytest.approx(TINY_OPTIMUM)
        assert sol.bound is not None and sol.bound >= sol.objective - 1e-6


def test_cli_threads_1_is_optimal(tmp_path: Path) -> None:
    out = tmp_path / "res"
    r = subprocess.run([sys.executable, "-m", "channel_opt.cli", "-q", "solve", str(TINY),
                        "--threads", "1", "--out", str(out), "--no-plots"],
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["termination"] == "optimal"
    assert summary["objective"] == pytest.approx(TINY_OPTIMUM)
    assert summary["bound"] >= summary["objective"] - 1e-6


# ---- item 3: a bound on the wrong side of the plan is no bound ---------------------

def _raw(term: str, obj: float | None, bound: float | None) -> RawResult:
    return RawResult(term, None, obj, bound, "fake", "", "")


def test_normalize_drops_a_bound_on_the_wrong_side() -> None:
    assert normalize_result(_raw(TIME_LIMIT, 100.0, 0.0), "max").bound is None
    assert normalize_result(_raw(TIME_LIMIT, 100.0, 120.0), "max").bound == 120.0
    assert normalize_result(_raw(TIME_LIMIT, 100.0, 120.0), "min").bound is None
    assert normalize_result(_raw(TIME_LIMIT, 100.0, 80.0), "min").bound == 80.0
    assert normalize_result(_raw(TIME_LIMIT, None, math.inf), "max").bound is None
    assert normalize_result(_raw(ERROR, None, 0.0), "max").bound is None  # a failed run


def test_every_backend_result_is_normalized() -> None:
    """A backend reporting a bound below its own plan (maximizing): no bound reaches the
    caller, and the pipeline falls back on the constructive bound, which is valid.
    """

    class Liar(Backend):
        name = "liar"

        def _solve(self, am: object, opts: SolveOptions) -> RawResult:
            return _raw(OPTIMAL, 10.0, 0.0)

    am, _ = build_array_model(duo())
    assert Liar().solve(am, SolveOptions()).bound is None


def test_fallback_plan_never_gets_a_bound_below_it() -> None:
    """The solver stopped without a plan but with a 'bound' (0) below the constructive
    plan (7380 on tiny, say): the reported bound is the constructive bound, not 0.
    """
    from channel_opt.solving.heuristic import Construction
    from channel_opt.solving.pipeline import _with_fallback

    am, _ = build_array_model(duo())
    start = Construction(np.zeros(am.n_cols), 100.0, 250.0)
    out = _with_fallback(_raw(TIME_LIMIT, None, 0.0), start, am)
    assert (out.objective, out.bound) == (100.0, 250.0)
    out = _with_fallback(_raw(TIME_LIMIT, None, 180.0), start, am)  # a valid, tighter one
    assert (out.objective, out.bound) == (100.0, 180.0)


# ---- item 6: option validation -----------------------------------------------------

@pytest.mark.parametrize(("option", "value", "words"), [
    ("mip_gap", 2.0, "[0, 1)"), ("mip_gap", -0.1, "[0, 1)"), ("mip_gap", math.nan, "[0, 1)"),
    ("threads", 0, ">= 1"), ("threads", -3, ">= 1"), ("threads", 2.5, "integer"),
    ("threads", True, "number"), ("time_limit", -1.0, "> 0"), ("time_limit", 0, "> 0"),
    ("time_limit", math.nan, "> 0"), ("time_limit", math.inf, "> 0"),
    ("time_limit", "60", "not str"), ("seed", -1, "[0,"), ("solver", "gurobix", "highs, cbc"),
    ("sensitivity", 1, "True or False"), ("log_file", 3, "file path"),
])
def test_bad_option_is_refused_by_name(option: str, value: object, words: str) -> None:
    kw: dict[str, object] = {"solver": "highs", option: value}
    with pytest.raises(OptionsError) as e:
        solve(duo(), **kw)  # type: ignore[arg-type]
    assert f"option '{option}'" in str(e.value) and words in str(e.value)
    assert len(e.value.problems) == 1


def test_all_bad_options_at_once() -> None:
    with pytest.raises(OptionsError) as e:
        solve(duo(), mip_gap=2, threads=0, time_limit=-5)
    assert len(e.value.problems) == 3


def test_good_options_pass_including_numpy_numbers() -> None:
    o = check_options(duo(), solver="highs", threads=np.int64(2), time_limit=np.float64(3),
                      mip_gap=0, seed=0, log_file=Path("x.log"))
    assert (o.threads, o.time_limit, o.mip_gap, o.log_file) == (2, 3.0, 0.0, "x.log")


def test_solve_none_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="needs a Scenario"):
        solve(None)  # type: ignore[arg-type]


def test_cli_bad_options_exit_2_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "res"
    r = subprocess.run([sys.executable, "-m", "channel_opt.cli", "-q", "solve", str(TINY),
                        "--out", str(out), "--mip-gap", "2", "--threads", "0",
                        "--time-limit", "-1", "--solver", "nosuch"],
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    for option in ("mip_gap", "threads", "time_limit", "solver"):  # all at once
        assert f"option '{option}'" in r.stderr
    assert "use one of highs, cbc" in r.stderr
    assert not out.exists()


# ---- issue 11: an unknown solver is a typed error; solver options pass through ------

def test_unknown_solver_is_a_typed_options_error_listing_the_backends() -> None:
    from channel_opt.solving.engines import BACKENDS, UnknownSolverError, available, get

    for call in (lambda: solve(duo(), solver="nosuch", mip_gap=2.0), lambda: get("nosuch")):
        with pytest.raises(UnknownSolverError) as e:
            call()
        assert isinstance(e.value, OptionsError) and e.value.solver == "nosuch"
        assert "use one of " + ", ".join(BACKENDS) in str(e.value)
        assert "installed here: " + ", ".join(available()) in str(e.value)
    with pytest.raises(UnknownSolverError) as e:  # the other problems are kept
        solve(duo(), solver="nosuch", mip_gap=2.0)
    assert any("option 'mip_gap'" in p for p in e.value.problems)


@pytest.mark.parametrize(("options", "words"), [
    ({"no_such_option": 1}, "'no_such_option': HiGHS has no such option"),
    ({"mip_max_nodes": "many"}, "'mip_max_nodes': HiGHS wants int, not str"),
    ({"mip_max_nodes": 2.5}, "'mip_max_nodes': HiGHS wants int, not float"),
    ({"presolve": True}, "'presolve': HiGHS wants str, not bool"),
    ({"mip_heuristic_effort": -1.0}, "'mip_heuristic_effort': HiGHS refuses the value -1.0"),
    ({"time_limit": 5.0}, "'time_limit': set by the solve itself; use the option 'time_limit'"),
    ({"mip_rel_gap": 0.1}, "use the option 'mip_gap'"),
])
def test_bad_highs_options_are_refused_by_name(options: dict[str, object], words: str) -> None:
    for solver in ("highs", "highs_pyomo"):  # both check against HiGHS' own option list
        with pytest.raises(OptionsError) as e:
            check_options(duo(), solver=solver, solver_options=options)
        assert words in str(e.value) and len(e.value.problems) == 1


def test_pyomo_solvers_refuse_only_the_options_the_solve_sets() -> None:
    check_options(duo(), solver="cbc", solver_options={"cuts": "off", "strong": 5})
    with pytest.raises(OptionsError, match="'sec': set by the solve itself"):
        check_options(duo(), solver="cbc", solver_options={"sec": 5})


def test_highs_option_changes_the_outcome() -> None:
    """``mip_max_nodes=0`` stops HiGHS before its first node on tiny: no plan from the
    solver's search (termination other_limit), so the checked constructive plan (its
    MIP start) comes back as merely feasible; the default run proves the optimum 7440
    (derived by hand). The options are recorded; an int for a float option is taken.
    """
    scen = load_scenario(TINY)
    default = solve(scen, sensitivity=False)
    assert (default.termination, default.plan_status) == (OPTIMAL, "optimal")
    assert default.objective == pytest.approx(TINY_OPTIMUM)
    capped = solve(scen, sensitivity=False,
                   solver_options={"mip_max_nodes": 0, "mip_heuristic_effort": 1})
    assert capped.termination == "other_limit" and capped.plan_status == "feasible"
    assert capped.objective is not None and capped.objective <= TINY_OPTIMUM + 1e-6
    assert capped.options["solver_options"] == {"mip_max_nodes": 0, "mip_heuristic_effort": 1}


def test_cli_solver_option_is_passed_and_recorded(tmp_path: Path) -> None:
    from channel_opt.cli import main, solver_option

    assert [solver_option(t) for t in ("a=1", "b=0.5", "c=true", "d=off", "e=1e-3")] == [
        ("a", 1), ("b", 0.5), ("c", True), ("d", "off"), ("e", 1e-3)]
    out = tmp_path / "res"
    assert main(["-q", "solve", str(TINY), "--out", str(out), "--no-plots",
                 "--solver-option", "mip_max_nodes=0",
                 "--solver-option", "presolve=off"]) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["termination"] == "other_limit"
    assert summary["options"]["solver_options"] == {"mip_max_nodes": 0, "presolve": "off"}
    bad = tmp_path / "bad"
    for opt in ("no_such_option=1", "mip_max_nodes=many"):
        assert main(["-q", "solve", str(TINY), "--out", str(bad), "--no-plots",
                     "--solver-option", opt]) == 2
        assert not bad.exists()
