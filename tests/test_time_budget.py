"""A time limit covers the whole run (issue 10, item 3).

The budget arithmetic is checked by hand; the pipeline is checked on the duo
scenario with a budget that started earlier (as the command line's does, at
process start); the command line is timed on a generated 10^3-cell instance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scenario_factory import duo

from channel_opt.cli import main
from channel_opt.model import build_array_model
from channel_opt.solving import pipeline
from channel_opt.solving.budget import Budget, grace_seconds, process_age

ROOT = Path(__file__).resolve().parents[1]


def test_budget_arithmetic() -> None:
    assert grace_seconds(10) == 5.0 and grace_seconds(30) == 6.0 and grace_seconds(120) == 24.0
    b = Budget(10.0, start=time.monotonic() - 4.0)  # 4 s used of 10
    assert b.remaining() == pytest.approx(6.0, abs=0.05)
    assert b.post_solve_reserve() == pytest.approx(1.0)
    assert b.phase_limit(0.25, reserve=1.0) == pytest.approx(1.25, abs=0.05)  # (6-1)/4
    assert b.hard_stop() == pytest.approx(6.0 + 2.5, abs=0.05)  # limit + half the grace
    assert b.allows(5.0) and not b.allows(7.0) and not b.expired()
    late = Budget(10.0, start=time.monotonic() - 11.0)
    assert late.expired() and late.phase_limit() == 0.0 and late.hard_stop() == \
        pytest.approx(-1.0 + 2.5, abs=0.05)
    free = Budget()
    assert free.remaining() is None and free.phase_limit() is None and free.allows(1e9)
    assert free.hard_stop() is None and free.grace == 0.0


@pytest.mark.slow
def test_process_age_counts_the_start_up() -> None:
    r = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.6); "
                        "from channel_opt.solving.budget import process_age; "
                        "print(process_age())"], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert float(r.stdout) >= 0.6
    assert process_age() > 0.0


def spy_watched(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = pipeline.solve_watched

    def spy(name: str, am: Any, opts: Any, kill_after: float | None = None) -> Any:
        calls.append({"limit": opts.time_limit, "deadline": opts.deadline,
                      "kill_after": kill_after, "at": time.monotonic()})
        return real(name, am, opts, kill_after=kill_after)

    monkeypatch.setattr(pipeline, "solve_watched", spy)
    return calls


@pytest.mark.slow
def test_solver_gets_what_is_left_of_the_whole_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_watched(monkeypatch)
    budget = Budget(40.0, start=time.monotonic() - 12.0)  # 12 s went on load and start-up
    sol = pipeline.solve(duo(), budget=budget)
    assert sol.plan_status == "optimal"
    assert sol.objective == pytest.approx(100 / 3 * 80, rel=1e-6)
    (c,) = calls
    # 28 s were left minus the 4 s reserve for the phases after the solver
    assert 22.0 < c["limit"] <= 24.0
    assert c["deadline"] == pytest.approx(c["at"] + c["limit"], abs=0.5)
    assert c["kill_after"] == pytest.approx(budget.limit - (c["at"] - budget.start) + 4.0,
                                            abs=0.5)
    assert {"build", "heuristic", "handoff", "solve", "process", "sensitivity",
            "extract"} <= set(sol.timings)
    assert sol.options["time_limit"] == 40.0


def test_nothing_is_started_once_the_limit_is_used_up(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_watched(monkeypatch)

    def no_heuristic(*a: object, **k: object) -> None:
        raise AssertionError("the constructive plan should have been skipped")

    monkeypatch.setattr(pipeline, "construct", no_heuristic)
    t = time.monotonic()
    sol = pipeline.solve(duo(), budget=Budget(5.0, start=time.monotonic() - 6.0))
    assert time.monotonic() - t < 3.0
    assert not calls
    assert sol.termination == "time_limit" and sol.plan_status == "none"
    assert sol.exit_code == 4 and sol.bound is None
    assert "not started" in sol.solver_message


def test_diagnosis_is_skipped_without_time_and_says_so() -> None:
    am, _ = build_array_model(duo({"rules": {"partner_floor": True}},
                                  regions=[{"id": "R", "partner_profit_floor": 2000.0}]))
    d = pipeline._diagnose(am, "EUR", Budget(10.0, start=time.monotonic() - 9.8))
    assert "diagnosis was skipped" in d.message and not d.conflicts
    d = pipeline._diagnose(am, "EUR", Budget(10.0))  # the time is there: the real answer
    assert d.families == ["partner_floor"]


def test_summary_has_every_phase(tmp_path: Path) -> None:
    import yaml
    from scenario_factory import duo_tables

    scen = tmp_path / "duo.yaml"
    scen.write_text(yaml.safe_dump({"name": "duo", "tables": duo_tables()}), encoding="utf-8")
    assert main(["-q", "solve", str(scen), "--out", str(tmp_path / "r"), "--time-limit", "60",
                 "--no-plots"]) == 0
    t = json.loads((tmp_path / "r" / "summary.json").read_text())["timings_seconds"]
    assert list(t)[:2] == ["startup", "load"]
    assert t["startup"] == 0.0  # called as a function: the budget starts with the call
    assert {"build", "heuristic", "handoff", "solve", "process", "extract"} <= set(t)
    assert t["process"] > 0.0, t  # the solver child's start-up, counted in no phase before


@pytest.mark.slow
def test_command_returns_within_limit_and_grace(tmp_path: Path) -> None:
    from benchmarks.wallclock import run_limit, write_instance

    scen = write_instance("all", 1000, tmp_path / "in")
    r = run_limit(scen, tmp_path / "out", 20.0)
    assert r["exit"] in (0, 1), r
    assert r["wall"] <= 20.0 + grace_seconds(20.0), r
    assert r["termination"] in ("time_limit", "optimal")
    assert sum(r["timings"].values()) <= r["wall"]
