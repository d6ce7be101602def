"""Smoke run of the benchmark drivers (``python -m benchmarks``), small and quick."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.__main__ import check_floor, main  # noqa: E402


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _pos(v: str) -> float:
    x = float(v)
    assert math.isfinite(x) and x > 0, v
    return x


@pytest.mark.slow  # 16 s: fresh processes per phase
def test_build_driver_writes_csv_and_markdown(tmp_path: Path) -> None:
    rc = main(["build", "--family", "core,all", "--sizes", "1e3", "--out", str(tmp_path),
               "--name", "smoke", "--no-plot"])
    assert rc == 0
    rows = _rows(tmp_path / "smoke.csv")
    assert list(rows[0]) == report.BUILD_FIELDS
    assert [r["family"] for r in rows] == ["core", "all"]
    for r in rows:
        assert r["error"] == ""
        assert int(r["size"]) == 1000
        assert 900 <= int(r["cells"]) <= 1100
        assert int(r["n_cols"]) > 0 and int(r["n_rows"]) > 0 and int(r["nnz"]) > 0
        for k in ("t_generate", "t_load", "t_build", "t_handoff", "t_floor_passmodel",
                  "mem_build_handoff_mb", "ratio_time_passmodel"):
            _pos(r[k])
        assert float(r["t_build_handoff"]) == pytest.approx(
            float(r["t_build"]) + float(r["t_handoff"]), rel=1e-4)
    core, all_ = rows
    # the numpy floor covers the core family only, and builds the very same matrix
    _pos(core["t_floor_numpy"])
    _pos(core["ratio_time_numpy"])
    assert core["floor_numpy_same_shape"] == "True"
    assert all_["t_floor_numpy"] == ""
    md = (tmp_path / "smoke.md").read_text()
    assert "| family | cells |" in md and "| core | " in md and "| all | " in md
    # a second run appends to the CSV; the table keeps one row per family and size
    assert main(["build", "--family", "core", "--sizes", "1e3", "--out", str(tmp_path),
                 "--name", "smoke", "--no-plot", "--no-floor"]) == 0
    assert len(_rows(tmp_path / "smoke.csv")) == 3
    md = (tmp_path / "smoke.md").read_text()
    assert md.count("| core | ") == 1


@pytest.mark.slow  # 6 s: a solver subprocess per family
def test_solve_driver_with_highs(tmp_path: Path) -> None:
    rc = main(["solve", "--family", "core", "--sizes", "1e3", "--solvers", "highs",
               "--time-limit", "3", "--grace", "20", "--out", str(tmp_path), "--name", "smoke"])
    assert rc == 0
    rows = _rows(tmp_path / "smoke.csv")
    assert list(rows[0]) == report.SOLVE_FIELDS
    (r,) = rows
    assert r["solver"] == "highs"
    assert r["status"] in report.STATUSES
    assert r["status"] in ("optimal", "time_limit")
    assert r["killed"] == "False"
    _pos(r["t_build"])
    _pos(r["t_solve"])
    _pos(r["objective"])
    if r["status"] == "optimal":
        assert float(r["gap"]) <= 1e-4 + 1e-9
    md = (tmp_path / "smoke.md").read_text()
    assert "| core | 1,0" in md and "highs" in md and "## Winner" in md
    assert (tmp_path / "smoke.png").stat().st_size > 0


def test_missing_and_unknown_solvers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--solvers", "nosuch", "--out", str(tmp_path)]) == 2
    assert main(["build", "--family", "nosuch"]) == 2
    capsys.readouterr()


def test_numpy_floor_is_the_same_model() -> None:
    r = check_floor(1000, 0)
    assert r["ours"] == r["floor"]
    assert r["lp_ours"][0] == r["lp_floor"][0] == "Optimal"
    assert r["lp_floor"][1] == pytest.approx(r["lp_ours"][1], rel=1e-9)


def test_a_stalled_worker_is_killed() -> None:
    from benchmarks.runner import run_worker

    run = run_worker({"task": "stall", "seconds": 600}, solve_timeout=1.0)
    assert run.killed
    assert run.first("handoff_done") is not None
    assert run.first("done") is None
    assert run.wall < 60
    assert "killed" in run.error


# ---------------------------------------------------------------- families (no solve)

from benchmarks import generator  # noqa: E402
from benchmarks.report import binding_by_rule, plan_profile, rules_on  # noqa: E402
from channel_opt.model import build_array_model, to_highs  # noqa: E402
from channel_opt.model.registry import ROWS  # noqa: E402
from channel_opt.scenario import Scenario  # noqa: E402


def _family(name: str, n: int = 200, seed: int = 0) -> Scenario:
    tables, settings = generator.generate(name, n, seed)
    return Scenario.from_frames(tables, settings, name=name)


@pytest.mark.parametrize("name", list(generator.FAMILIES))
def test_family_structure(name: str) -> None:
    """Every family validates, is seeded, reaches every channel, and builds rows for
    every rule family it names (read from the registry); its levers are finite."""
    fam = generator.FAMILIES[name]
    t0, s0 = generator.generate(name, 200, 0)
    t1, _ = generator.generate(name, 200, 0)
    t2, _ = generator.generate(name, 200, 1)
    assert all(t0[k].equals(t1[k]) for k in t0)  # the same seed, the same instance
    assert not t0["shares"].equals(t2["shares"])
    scen = Scenario.from_frames(t0, s0, name=name)
    assert 120 <= len(scen.cells) <= 300
    assert set(scen.shares["channel"]) == set(generator.CHANNEL_IDS)
    on = rules_on(scen.settings)
    assert on == set(fam.rules)
    am, data = build_array_model(scen)
    for switch in on:  # every rule switch of the family has rows in the model
        blocks = [r.name for r in ROWS if r.switch == switch and r.name in am.cons]
        assert blocks, switch
    if fam.price_levels:
        lv = t0["price_levels"]
        assert (lv["price"] < lv["product"].map(
            t0["products"].set_index("id")["ref_price"])).any()
    if "overlap" in on:
        assert scen.settings.rules.overlap is not None and scen.settings.rules.overlap.cost > 0
    regions = t0["regions"]
    for col in ("partner_profit_floor", "dealer_min_volume", "store_labour_hours",
                "dealer_capacity", "shelf_capacity", "service_level"):
        if col in regions:
            vals = regions[col].to_numpy(float)
            assert (vals >= 0).all() and (np.isfinite(vals) & (vals > 0)).any(), col


def test_apparel_family_is_shaped_like_the_shipped_instance() -> None:
    from channel_opt.scenario import load_scenario

    shipped = load_scenario(ROOT / "instances" / "apparel" / "apparel.yaml")
    scen = _family("apparel", 400)
    assert set(scen.brands["id"]) == set(shipped.brands["id"])
    new = scen.brands.set_index("id")
    assert bool(new.loc["nuvo", "new"]) and new.loc["nuvo", "allowed_kinds"] == "online"
    assert dict(zip(scen.segments["id"], scen.segments["channels"], strict=True)) == dict(
        zip(shipped.segments["id"], shipped.segments["channels"], strict=True))
    assert sorted(scen.channels["kind"]) == sorted(shipped.channels["kind"])
    assert set(scen.price_levels["level"]) == set(shipped.price_levels["level"])
    assert rules_on(scen.settings) == rules_on(shipped.settings)
    assert [(r.action, r.channel, r.season) for r in scen.settings.channel_rules] == \
        [(r.action, r.channel, r.season) for r in shipped.settings.channel_rules]
    # no product has both price levels and finite inventory (instances/README.md)
    finite = scen.products.loc[np.isfinite(scen.products["inventory"]), "id"]
    assert not set(finite) & set(scen.price_levels["product"])


def test_generator_is_vectorized_at_scale() -> None:
    """10^5 cells generate in a few seconds (10^6 in benchmarks/README.md)."""
    import time

    t = time.perf_counter()
    tables, _ = generator.generate("apparel", 100_000, 0)
    assert 80_000 <= len(tables["cells"]) <= 120_000
    assert time.perf_counter() - t < 60  # a guard against a Python loop per cell


def test_plan_profile_on_a_hand_computed_plan() -> None:
    """Duo scenario (conftest) with a DC capacity of 30 units. By hand: offering
    {online, store} sells 100/3 units each without the cap, so the cap cuts online to
    30: profit 30 x 50 + 100/3 x 30 = 2,500 (against 1,500 for either channel alone).
    The DC row binds; online carries 30 / (30 + 100/3) = 47.4 % of the units."""
    from conftest import duo_tables

    scen = Scenario.from_frames(duo_tables(), {"rules": {"dc_capacity": 30.0}}, name="duo")
    am, data = build_array_model(scen)
    h = to_highs(am)
    h.run()
    x = np.asarray(h.getSolution().col_value)
    assert h.getInfo().objective_function_value == pytest.approx(2500.0, rel=1e-6)
    prof = plan_profile(am, data, x, rules_on(scen.settings))
    assert prof["mix"] == pytest.approx({"online": 30 / (30 + 100 / 3),
                                         "store": (100 / 3) / (30 + 100 / 3)}, rel=1e-6)
    assert prof["binding"] == {"dc_capacity": (1, 1)}
    assert binding_by_rule(prof["binding"]) == {"dc_capacity": (1, 1)}
    # the same plan with the capacity raised out of reach binds nothing
    scen2 = Scenario.from_frames(duo_tables(), {"rules": {"dc_capacity": 31.0}}, name="duo")
    am2, data2 = build_array_model(scen2)
    assert plan_profile(am2, data2, x, {"dc_capacity"})["binding"] == {"dc_capacity": (0, 1)}


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_bare_solver_finds_tinys_optimum_on_the_models_file(tmp_path: Path,
                                                            solver: str) -> None:
    """The bare-solver reference of ``benchmarks/decompose.py``: the model written as
    MPS and solved by the solver alone reaches tiny's optimum worked out by hand."""
    if solver == "scip":
        pytest.importorskip("pyscipopt")
    from benchmarks.decompose import _write_mps, run_bare, table

    model = _write_mps(ROOT / "instances" / "tiny" / "tiny.yaml", tmp_path / "tiny.mps")
    r = run_bare(model, solver=solver, limit=30.0, gap=1e-6)
    assert r["objective"] == pytest.approx(7440.0)
    assert r["bound"] == pytest.approx(7440.0, rel=1e-6)
    assert r["time_to_target"] is not None and r["time_to_target"] <= r["wall"]
    r.update(family="tiny", cells=8)
    ours = {"method": "monolithic", "solver": "highs", "family": "tiny", "cells": 8,
            "time_to_target": 2 * r["time_to_target"], "plan": "optimal", "gap": 0.0,
            "wall": 1.0}
    md = table([ours, r], ["highs"], 1e-6, (solver,))
    assert f"bare {solver}" in md and "0.5× the fastest" in md
