"""The engine registry: features callers query, the engine they get, one module per job."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import duo

from channel_opt.model import build_array_model
from channel_opt.solving.engines import (
    BACKENDS,
    FEATURES,
    HighsBackend,
    SolverUnavailableError,
    Termination,
    engine_with,
)

PACKAGE = Path(__file__).resolve().parents[1] / "channel_opt"


def test_features_are_queried_by_name() -> None:
    assert HighsBackend.supports("iis") and HighsBackend.supports("duals")
    assert BACKENDS["highs_pyomo"].supports("mip_start") and not BACKENDS["cbc"].supports("iis")
    assert not BACKENDS["cbc"].supports("mip_start")  # it returned a start as optimal
    assert not BACKENDS["glpk"].supports("mip_start")
    assert all(b.supports("integers") for b in BACKENDS.values())
    assert all(f in FEATURES for b in BACKENDS.values() for f in b.features)
    with pytest.raises(ValueError, match="unknown feature 'iiss'"):
        HighsBackend.supports("iiss")


def test_engine_with_takes_the_first_installed_engine_with_the_feature(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(engine_with("iis"), HighsBackend)
    monkeypatch.setattr(HighsBackend, "is_available", classmethod(lambda cls: False))
    with pytest.raises(SolverUnavailableError, match="no installed solver supports 'iis'"):
        engine_with("iis")


def test_a_session_solves_again_after_bound_changes() -> None:
    """duo by hand: both channels 2666.67; with the store column fixed to 0, online
    alone 2500 (see conftest.duo)."""
    am, _ = build_array_model(duo())
    s = engine_with("in_memory").session(am)
    out = s.solve()
    assert out.termination == Termination.OPTIMAL and out.x is not None
    assert float(am.cost @ out.x) == pytest.approx(100 / 3 * 80)
    integer = am.integrality().astype(bool)
    store = [j for j in range(am.n_cols)  # every yes/no decision that involves the store
             if integer[j] and any("store" in str(v) for v in am.locate_column(j)[1].values())]
    assert len(store) >= 2
    s.set_col_bounds(np.asarray(store), np.zeros(len(store)), np.zeros(len(store)))
    out = s.solve()
    assert out.x is not None and float(am.cost @ out.x) == pytest.approx(2500.0)


def test_termination_values_are_the_summary_strings() -> None:
    assert [t.value for t in Termination] == ["optimal", "time_limit", "other_limit",
                                              "infeasible", "unbounded", "interrupted",
                                              "error"]
    assert json.dumps({"t": Termination.TIME_LIMIT}) == '{"t": "time_limit"}'


def test_only_the_highs_runner_and_the_hand_off_import_highspy() -> None:
    allowed = {PACKAGE / "solving" / "engines" / "highs.py", PACKAGE / "model" / "linear.py",
               # the decomposition is a HiGHS algorithm (PDLP duals, pieces in workers):
               # its two modules drive HiGHS directly until they move onto engine sessions
               PACKAGE / "solving" / "decompose.py", PACKAGE / "solving" / "decompose_parts.py"}
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "highspy" for n in names):
                importers.add(path)
    assert importers <= allowed and importers, sorted(map(str, importers))


def test_no_solving_module_exceeds_600_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in (PACKAGE / "solving").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long


def test_highs_never_returns_the_start_next_to_a_better_objective() -> None:
    """HiGHS 1.16 with presolve handed back the MIP start's values (profit 8,180, the
    constructive plan of tiny with overlap free) next to the optimum 8,520; the runner
    now solves again without the start, so plan and objective agree.
    """
    from channel_opt.analysis.overrides import apply_overrides, parse_override
    from channel_opt.model import build_array_model
    from channel_opt.scenario import load_scenario
    from channel_opt.solving.engines import SolveOptions, get_backend
    from channel_opt.solving.heuristic import construct

    scen = apply_overrides(load_scenario(str(PACKAGE.parent / "instances" / "tiny" / "tiny.yaml")),
                           [parse_override("rules.overlap.cost=0")])
    am, data = build_array_model(scen)
    start = construct(am, data)
    assert start.objective == pytest.approx(8180.0)
    raw = get_backend("highs").solve(am, SolveOptions(None, 1e-4, None, None, None, start.x))
    assert raw.objective == pytest.approx(8520.0)
    assert float(am.cost @ raw.x) == pytest.approx(8520.0)


def _hard_mips(tmp_path: Path, n: int) -> list[object]:
    """``n`` HiGHS instances of a 10^3-cell `all` model (minutes to prove optimal)."""
    from benchmarks.wallclock import write_instance
    from channel_opt.model.linear import highs_arrays, highs_from_arrays
    from channel_opt.scenario import load_scenario

    am, _ = build_array_model(load_scenario(write_instance("all", 1000, tmp_path)))
    hs = [highs_from_arrays(highs_arrays(am)) for _ in range(n)]
    for h in hs:
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("time_limit", 120.0)
    return hs


def test_ctrl_c_stops_the_mips_of_worker_threads_at_once(tmp_path: Path) -> None:
    """Ctrl-C in the main thread (here `interrupt_main` from a timer) while HiGHS runs
    MIPs in worker threads: the interrupt comes through within a second or two, every
    MIP was cancelled (not left running until its 120-s limit), and no item after the
    cancel starts. The pool this replaced waited for the running MIPs.
    """
    import _thread
    import threading
    import time

    from channel_opt.solving.engines.highs import Cancel, run_threads, unsettled_solver

    hs = _hard_mips(tmp_path, 3)
    started: list[int] = []

    def solve(i: int) -> str:
        started.append(i)
        hs[i].run()
        return str(hs[i].modelStatusToString(hs[i].getModelStatus()))

    threading.Timer(1.0, _thread.interrupt_main).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_threads(solve, 3, 2, Cancel(hs))
    assert time.monotonic() - t0 < 5.0
    # HiGHS sees the cancel at its next check of the callbacks (its root phase checks
    # seldom: a thread still in it is left to settle, and the command line then exits
    # with os._exit); each MIP stops long before its 120-s limit, and the third never
    # started
    end = time.monotonic() + 60.0
    while unsettled_solver() and time.monotonic() < end:
        time.sleep(0.1)
    assert not unsettled_solver()
    assert sorted(started) == [0, 1]
    assert all(h.modelStatusToString(h.getModelStatus()) == "Interrupted by user"
               for h in hs[:2])


def test_a_second_ctrl_c_while_the_workers_settle_still_counts_them_unsettled() -> None:
    """Ctrl-C, then Ctrl-C again within the second the workers get to stop: a worker
    still running (here one that never looks at the cancel) must count as unsettled,
    so that the command line leaves with os._exit instead of aborting in HiGHS at
    exit. Before, the second interrupt cut the wait short and the worker was lost.
    """
    import _thread
    import threading
    import time

    from channel_opt.solving.engines import highs

    release = threading.Event()

    def stubborn(i: int) -> int:
        release.wait(30.0)
        return i

    for at in (0.3, 0.6):
        threading.Timer(at, _thread.interrupt_main).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            highs.run_threads(stubborn, 1, 1, highs.Cancel(), settle_seconds=2.0)
        assert highs.unsettled_solver()
    finally:
        release.set()
    end = time.monotonic() + 10.0
    while highs.unsettled_solver() and time.monotonic() < end:
        time.sleep(0.05)
    assert not highs.unsettled_solver()


def test_worker_threads_keep_the_order_and_raise_what_fails() -> None:
    from channel_opt.solving.engines.highs import Cancel, run_threads

    assert run_threads(lambda i: i * i, 5, 2, Cancel()) == [0, 1, 4, 9, 16]
    assert run_threads(lambda i: i, 0, 2, Cancel()) == []

    def fail(i: int) -> int:
        if i == 2:
            raise ValueError("piece 2")
        return i

    with pytest.raises(ValueError, match="piece 2"):
        run_threads(fail, 4, 2, Cancel())
