"""A run never starts a solver whose copy of the model would not fit in memory: it
keeps the constructive plan and its bound and says why (issue 13, 10^6 cells).
"""

from __future__ import annotations

import pytest
from scenario_factory import DUO_OPEN, duo_open

from channel_opt.solving import pipeline, solve
from channel_opt.solving.memory import HIGHS_BYTES_PER_NONZERO, available_bytes, too_large
from channel_opt.solving.relaxation import relax


def test_the_estimate_and_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANNEL_OPT_MEMORY", str(10 * 2**30))  # 10 GB
    assert available_bytes() == 10 * 2**30
    fits = int(0.85 * 10 * 2**30 / HIGHS_BYTES_PER_NONZERO) - 1000
    assert too_large(fits) is None
    assert too_large(fits, copies=2) is not None  # two copies: twice the memory
    why = too_large(10**8)
    assert why is not None and "100,000,000 nonzeros" in why and "10.0 GB" in why
    monkeypatch.delenv("CHANNEL_OPT_MEMORY")
    real = available_bytes()
    assert real is None or real > 0  # /proc/meminfo where there is one


@pytest.mark.usefixtures("capacities_priced_only")
def test_no_solver_and_no_lp_where_they_do_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    # duo with a store opening, solved as a large model on a machine with 1 kB free:
    # the LP is not started, nor the MIP; the run returns the constructive plan (at
    # most the optimum 2,566.67, at least online alone 2,500) with the cheap bound, the
    # best set per cell without the opening: 8,000 / 3 = 2,666.67
    monkeypatch.setattr(pipeline, "IN_PROCESS_NONZEROS", -1)
    monkeypatch.setenv("CHANNEL_OPT_MEMORY", "1000")
    from channel_opt.model import build_array_model

    am, _ = build_array_model(duo_open())
    assert relax(am, method="concurrent").status == "other_limit"
    _kept_the_constructive_phase("other_limit", "not started: the solver's copy of the model")


def _kept_the_constructive_phase(termination: str, message: str) -> None:
    """duo solved with a 60 s limit ends ``termination``, saying ``message``, with the
    constructive phase's plan (at most the optimum 2,566.67, at least online alone
    2,500) and the cheap bound 2,666.67, and no solver child."""
    sol = solve(duo_open(), time_limit=60.0)
    assert sol.termination == termination and sol.plan_status == "feasible"
    assert message in sol.solver_message
    assert 2500.0 - 1e-6 <= sol.objective <= DUO_OPEN + 1e-6
    assert sol.bound == pytest.approx(8000 / 3, rel=1e-9)
    assert "process" not in sol.timings


@pytest.mark.usefixtures("capacities_priced_only")
def test_no_solver_where_its_root_lp_would_not_fit_in_its_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the same duo as a large model whose LP runs at one column per hour: the MIP
    # could not solve its root LP in the tenth of the limit it would get, so it is not
    # started and the constructive phase has all the time (blocks off: no bound but
    # the cheap one, 2,666.67, so a gap is left); the run returns the phase's plan
    # (at most the optimum, at least online alone) and says why, with no solver child
    monkeypatch.setattr(pipeline, "IN_PROCESS_NONZEROS", -1)
    monkeypatch.setattr(pipeline, "LP_COLUMNS_PER_SECOND", 1 / 3600)
    monkeypatch.setattr(pipeline, "block_relax",
                        lambda *a, **k: pipeline.Relaxation("other_limit"))

    def no_child(*a: object, **k: object) -> None:
        raise AssertionError("the solver was started")

    monkeypatch.setattr(pipeline, "solve_watched", no_child)
    _kept_the_constructive_phase("time_limit", "not started: its root LP alone needs about")
