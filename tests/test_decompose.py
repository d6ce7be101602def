"""Region decomposition: classification, a valid Lagrangian bound, checked plans.

The bound is checked against the independent brute force (``tests/bruteforce.py``) on
random tiny two-region scenarios, at the LP-dual start and at random multipliers;
plans against the plan check and the known optima of the shipped instances.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

import bruteforce  # noqa: E402
from random_scenarios import brute_optimum, shrink_to_limit, tiny_scenarios  # noqa: E402
from scenario_factory import shared_inventory  # noqa: E402

import channel_opt  # noqa: E402
from channel_opt.executor import SerialExecutor  # noqa: E402
from channel_opt.model import build_array_model  # noqa: E402
from channel_opt.model.registry import ROW  # noqa: E402
from channel_opt.scenario import Scenario, load_scenario  # noqa: E402
from channel_opt.solving.backends import SolveOptions  # noqa: E402
from channel_opt.solving.check import check_rows  # noqa: E402
from channel_opt.solving.decompose import (  # noqa: E402
    DecomposeSettings,
    Decomposition,
    choose_method,
    decompose,
)
from channel_opt.solving.decompose_parts import (  # noqa: E402
    COUPLING,
    MASTER,
    REGIONAL,
    classify,
    registry_agrees,
)
from channel_opt.solving.options import OptionsError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"
TOL = 1e-6


def _close(a: float, b: float, rel: float = TOL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


# ------------------------------------------------------------------ classification

@pytest.mark.parametrize("name", ["tiny", "regional", "apparel"])
def test_classification_agrees_with_registry(name: str) -> None:
    am, _ = build_array_model(load_scenario(ROOT / "instances" / name / f"{name}.yaml"))
    split = classify(am)
    assert registry_agrees(am, split) == []
    assert len(split.keys) >= 2
    for c in am.cons.values():
        kinds = set(split.row_kind[c.start:c.start + c.n].tolist())
        if ROW[c.name].coupling in REGIONAL:
            assert min(kinds) >= 0, c.name  # inside one region
        if c.name in ("listing_needs_brand", "price_one_level", "price_parity",
                      "brand_launch"):
            assert kinds == {MASTER}, c.name
        if c.name in ("offer_needs_level",):  # a global decision inside a region's row
            assert min(kinds) >= 0, c.name
    if name == "apparel":  # inventory per product sums over the regions
        inv = am.cons["inventory"]
        assert (split.row_kind[inv.start:inv.start + inv.n] == COUPLING).any()
    for b in am.vars.values():  # a column is regional iff its registry coupling says so
        from channel_opt.model.registry import VAR

        regional = split.col_key[b.start:b.start + b.n] >= 0
        assert regional.all() if VAR[b.name].coupling in REGIONAL else not regional.any()


@pytest.mark.parametrize("by", ["region", "product"])
def test_columns_by_piece_are_each_pieces_columns(by: str) -> None:
    """The one-pass grouping gives each piece exactly the columns labelled with it."""
    am, _ = build_array_model(load_scenario(ROOT / "instances" / "apparel" / "apparel.yaml"))
    split = classify(am, by=by)
    groups = split.cols_by_piece()
    assert len(groups) == len(split.keys)
    for r, cols in enumerate(groups):
        assert np.array_equal(cols, np.flatnonzero(split.col_key == r))


def test_registry_disagreement_is_reported() -> None:
    am, _ = build_array_model(load_scenario(TINY))
    split = classify(am)
    blk = am.cons["offer_one_set"]  # a cell family: pretend one row spanned regions
    split.row_kind[blk.start] = COUPLING
    out = registry_agrees(am, split)
    assert out and "offer_one_set" in out[0]


# ------------------------------------------------------------------ a valid bound

def _two_region(case: tuple[dict[str, Any], dict[str, Any]]) -> Scenario:
    tables, settings_ = case
    assume(len(tables["regions"]) == 2)
    scen, refused = shrink_to_limit(tables, settings_)
    assume(not refused)
    return scen


def _bound_checks(scen: Scenario, seed: int) -> None:
    opt = brute_optimum(scen)
    assume(build_array_model(scen)[0].n_cols > 0)
    _bound_checks_at(scen, opt, seed)


def _bound_checks_at(scen: Scenario, opt: float, seed: int) -> None:
    am, _ = build_array_model(scen)
    dec = Decomposition(am)
    ex = SerialExecutor()
    status, lp_bound, pi = dec.lp_duals(None)
    assert status == "optimal" and lp_bound is not None and pi is not None
    lam, mu = dec.multipliers_from_duals(pi)
    value, _res, _adj = dec.evaluate(ex, lam, mu, None, 1e-9)
    assert value is not None
    # at the LP-dual start: at least the optimum, at most the LP bound
    assert value >= opt - TOL * max(1.0, abs(opt)), (value, opt)
    assert value <= lp_bound + 1e-5 * max(1.0, abs(lp_bound)), (value, lp_bound)
    # at the split costs (the start without LP duals): an upper bound
    v, _, _ = dec.evaluate(ex, *dec.multipliers_from_costs(), None, 1e-9)
    assert v is not None and v >= opt - TOL * max(1.0, abs(opt)), (v, opt)
    # at any multipliers: still an upper bound
    rng = np.random.default_rng(seed)
    scale = max(1.0, float(np.abs(am.cost).max()))
    for _ in range(3):
        lam_r = [rng.normal(0, scale, len(x)) for x in lam]
        mu_r = dec.project_mu(rng.normal(0, 0.3 * scale, len(mu)))
        v, _, _ = dec.evaluate(ex, lam_r, mu_r, None, 1e-9)
        assert v is not None and v >= opt - TOL * max(1.0, abs(opt)), (v, opt)


def test_lagrangian_bound_is_valid_on_known_optima() -> None:
    """tiny (7,440 by hand, instances/tiny/README.md) and the shared inventory
    (3,310 by hand and by the brute force): optimum <= L(LP duals) <= LP bound, and
    optimum <= L at random multipliers."""
    _bound_checks_at(load_scenario(TINY), 7440.0, 0)
    _bound_checks_at(shared_inventory(), 3310.0, 1)


@pytest.mark.slow
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(tiny_scenarios(), st.integers(0, 10**6))
def test_lagrangian_bound_is_valid_on_bruteforced_scenarios(
        case: tuple[dict[str, Any], dict[str, Any]], seed: int) -> None:
    _bound_checks(_two_region(case), seed)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(tiny_scenarios(), st.integers(0, 10**6))
def test_lagrangian_bound_is_valid_thorough(case: tuple[dict[str, Any], dict[str, Any]],
                                            seed: int) -> None:
    _bound_checks(_two_region(case), seed)


@pytest.mark.slow
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(tiny_scenarios())
def test_decomposed_plan_is_checked_and_within_its_bound(
        case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _plan_checks(_two_region(case))


def _plan_checks(scen: Scenario) -> None:
    try:
        brute = bruteforce.solve(scen)
    except ValueError:
        assume(False)
        return
    sol = channel_opt.solve(scen, method="decompose", workers=1, sensitivity=False,
                            diagnose_infeasible=False)
    if brute.profit is None:
        assert not sol.has_plan
        return
    opt = float(brute.profit)
    assert sol.plan_status in ("optimal", "feasible"), (sol.violations, sol.solver_message)
    assert sol.violations == []
    assert sol.objective is not None and sol.objective <= opt + TOL * max(1.0, abs(opt))
    assert sol.bound is not None and sol.bound >= opt - TOL * max(1.0, abs(opt))
    if sol.plan_status == "optimal":
        assert sol.objective >= opt - 2e-4 * max(1.0, abs(opt))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(tiny_scenarios())
def test_decomposed_plan_is_checked_thorough(case: tuple[dict[str, Any], dict[str, Any]]
                                             ) -> None:
    _plan_checks(_two_region(case))


# ------------------------------------------------------------------ instances

def test_decompose_finds_the_tiny_optimum() -> None:
    sol = channel_opt.solve(TINY, method="decompose", workers=1, sensitivity=False)
    assert sol.method["method"] == "decompose"
    assert sol.plan_status == "optimal" and sol.violations == []
    assert _close(sol.objective or 0.0, 7440.0)  # instances/tiny/README.md, by hand
    assert sol.bound is not None and sol.bound >= 7440.0 - TOL


@pytest.mark.slow
@pytest.mark.parametrize(("name", "gap"), [("regional", 1e-4), ("electronics", 1e-4),
                                           ("apparel", 1e-3)])
def test_decompose_agrees_with_monolithic_on_shipped(name: str, gap: float) -> None:
    # every shipped instance of one demand scenario (`decompose` refuses the two-stage
    # ones: test_decompose_refuses_the_two_stage_model): both plans checked, each
    # within the gap of the other's bound
    path = ROOT / "instances" / name / f"{name}.yaml"
    mono = channel_opt.solve(path, method="monolithic", mip_gap=gap, sensitivity=False)
    dec = channel_opt.solve(path, method="decompose", workers=2, mip_gap=gap,
                            sensitivity=False)
    assert dec.plan_status in ("optimal", "feasible") and dec.violations == []
    assert mono.plan_status == "optimal" and mono.violations == []
    assert mono.objective is not None and dec.objective is not None
    assert dec.bound is not None and mono.bound is not None
    assert dec.bound >= mono.objective - TOL * abs(mono.objective)
    assert mono.bound >= dec.objective - TOL * abs(dec.objective)
    assert abs(dec.objective - mono.objective) <= gap * abs(mono.objective)


# ------------------------------------------------------------------ a binding coupling row

def test_binding_inventory_is_repaired() -> None:
    scen = shared_inventory()
    assert _close(float(bruteforce.solve(scen).profit or 0.0), 3310.0)
    am, _ = build_array_model(scen)
    dec = Decomposition(am)
    assert len(dec.k_rows) == 1  # the inventory row spans both regions
    # with the coupling row unpriced (μ = 0) each region sells its 50 units: the
    # assembled plan breaks the inventory row, and the repair LP cuts it to 60
    lam, mu = dec.zero_multipliers()
    ex = SerialExecutor()
    _, res, adj = dec.evaluate(ex, lam, mu, None, 1e-9)
    raw_x = dec.assemble(res[0].x, res[1:])  # type: ignore[arg-type]
    assert any("inventory" in v for v in check_rows(am, raw_x))
    x = dec.plan(ex, adj, res[0].x, res[1:], None, 1e-9)  # type: ignore[arg-type]
    assert x is not None and check_rows(am, x) == [] and dec.repairs == 1
    assert _close(float(am.cost @ x), 3310.0)
    # the Lagrangian dual here is the LP bound, 3,330 (listing 0.6, 30 units per
    # region): a duality gap of 0.6 %, so the plan is optimal but not proven
    sol = channel_opt.solve(scen, method="decompose", workers=1, sensitivity=False)
    assert sol.plan_status in ("optimal", "feasible") and sol.violations == []
    assert _close(sol.objective or 0.0, 3310.0)
    assert sol.bound is not None and 3310.0 - TOL <= sol.bound <= 3330.0 + 1e-6


def test_split_costs_charge_each_region_its_share_by_hand() -> None:
    # the listing (50) is copied by both regions: each pays 25 at the split-cost start.
    # Each region then sells its 50 units at 56 less 25 = 2,775, the master pays
    # nothing: L = 5,550 (with λ = 0 the regions list for free: 2 x 2,800 = 5,600);
    # both bound the optimum 3,310
    am, _ = build_array_model(shared_inventory())
    dec = Decomposition(am)
    lam, mu = dec.multipliers_from_costs()
    assert [float(x.sum()) for x in lam] == pytest.approx([-25.0, -25.0])
    ex = SerialExecutor()
    split, _, _ = dec.evaluate(ex, lam, mu, None, 1e-9)
    zero, _, _ = dec.evaluate(ex, *dec.zero_multipliers(), None, 1e-9)
    assert split == pytest.approx(5550.0) and zero == pytest.approx(5600.0)


def test_decompose_without_lp_duals_still_bounds_and_plans(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LP duals (as when the LP runs out of time) the subgradient steps from
    the split costs still give a valid bound and a checked plan."""
    from channel_opt.solving import decompose as module
    from channel_opt.solving.relaxation import Relaxation

    monkeypatch.setattr(module, "relax", lambda *a, **k: Relaxation("time_limit"))
    scen = shared_inventory()
    am, _ = build_array_model(scen)
    raw = decompose(am, SolveOptions(mip_gap=1e-9), workers=1,
                    settings=DecomposeSettings(max_iterations=30))
    assert raw.x is not None and check_rows(am, raw.x) == []
    assert raw.bound is not None and raw.bound >= 3310.0 - TOL
    assert raw.extra["iterations"] >= 1 and raw.extra["trace"]


# ------------------------------------------------------------------ options and CLI

def test_auto_picks_decompose_only_for_large_multi_region_highs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from channel_opt.solving import decompose

    # measured: one MIP was faster at every size tried, so auto never decomposes today
    assert math.isinf(decompose.AUTO_MIN_CELLS)
    assert choose_method("auto", "highs", 10**7, 50, None) == "monolithic"
    monkeypatch.setattr(decompose, "AUTO_MIN_CELLS", 100_000)  # the rule, at a threshold
    assert choose_method("auto", "highs", 100_000, 2, None) == "decompose"
    assert choose_method("auto", "highs", 99_999, 2, None) == "monolithic"
    assert choose_method("auto", "highs", 10**6, 1, None) == "monolithic"
    assert choose_method("auto", "cbc", 10**6, 9, None) == "monolithic"
    assert choose_method("monolithic", "highs", 10**6, 9, None) == "monolithic"
    with pytest.raises(OptionsError, match="method"):
        choose_method("fast", "highs", 1, 1, None)
    with pytest.raises(OptionsError, match="decompose solves its regions with highs"):
        choose_method("decompose", "cbc", 1, 1, None)
    with pytest.raises(OptionsError, match="workers"):
        choose_method("decompose", "highs", 1, 1, 0)
    with pytest.raises(OptionsError, match="method"):
        channel_opt.solve(TINY, method="fast")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "channel_opt.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def test_cli_method_decompose_records_it(tmp_path: Path) -> None:
    out = tmp_path / "res"
    p = _cli("solve", str(TINY), "--method", "decompose", "--workers", "1", "--out",
             str(out), "--no-plots", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"]["method"] == "decompose"
    assert summary["method"]["iterations"] >= 1
    assert summary["method"]["bound_origin"]
    assert math.isclose(summary["objective"], 7440.0, rel_tol=1e-9)
    assert "decompose   1: bound" in p.stderr


def test_cli_decompose_with_another_solver_is_bad_input(tmp_path: Path) -> None:
    p = _cli("solve", str(TINY), "--method", "decompose", "--solver", "cbc", "--out",
             str(tmp_path / "res"), cwd=tmp_path)
    assert p.returncode == 2 and "decompose solves its regions with highs" in p.stderr
    assert not (tmp_path / "res").exists()


def test_decompose_refuses_the_two_stage_model(tmp_path: Path) -> None:
    # vss_duo has demand scenarios: the extensive form or ph solve it, not the regions
    path = ROOT / "instances" / "vss_duo" / "vss_duo.yaml"
    with pytest.raises(OptionsError, match="does not solve the two-stage model"):
        channel_opt.solve(path, method="decompose", workers=1)
    p = _cli("solve", str(path), "--method", "decompose", "--out", str(tmp_path / "res"),
             cwd=tmp_path)
    assert p.returncode == 2 and "does not solve the two-stage model" in p.stderr
    assert not (tmp_path / "res").exists()


@pytest.mark.slow
def test_worker_processes_give_the_serial_result() -> None:
    scen = load_scenario(ROOT / "instances" / "regional" / "regional.yaml")
    am, _ = build_array_model(scen)
    opts = SolveOptions(mip_gap=1e-4)
    cfg = DecomposeSettings(max_iterations=2)
    serial = decompose(am, opts, workers=1, settings=cfg)
    parallel = decompose(am, opts, workers=2, settings=cfg)
    assert serial.bound == pytest.approx(parallel.bound, rel=1e-9)
    assert serial.objective == pytest.approx(parallel.objective, rel=1e-9)
