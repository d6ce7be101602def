"""Scenario analysis: sweep, frontier and compare on cases known by hand or by an
independent enumeration.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_factory import duo

import channel_opt
from benchmarks.frontier_check import GAP, budget_profit, enumerated_frontier
from channel_opt import output
from channel_opt.analysis.compare import profit_lines
from channel_opt.analysis.overrides import apply_overrides
from channel_opt.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"


def test_duo_frontier_by_hand() -> None:
    # {online}: 2500 with no overlap; {online, store}: 100/3 x (50 + 30) = 2666.67 with one
    f = channel_opt.frontier(duo({"rules": {"overlap": {"cost": 0}}}), workers=1, mip_gap=GAP,
                             current=False)
    assert f["overlap_count"].tolist() == [0, 1]
    assert f["objective"].to_numpy() == pytest.approx([2500.0, 8000 / 3])
    assert (f["plan_status"] == "optimal").all()


def test_frontier_without_possible_overlap_is_one_point() -> None:
    # only the store may serve: {store} alone, 50 units x 30 = 1500, never an overlap
    scen = duo({"rules": {"overlap": {"cost": 0}}}, shares=[
        {"product": "P", "region": "R", "segment": "S", "channel": "store", "share": 0.5}])
    f = channel_opt.frontier(scen, workers=1, current=False)
    assert f["overlap_count"].tolist() == [0]
    assert f["objective"].tolist() == pytest.approx([1500.0])


@pytest.mark.slow
def test_duo_frontier_with_overlap_costs_by_hand() -> None:
    # an overlap cost of 100 is part of the profit: 2566.67 at one overlap
    f = channel_opt.frontier(duo({"rules": {"overlap": {"cost": 100}}}), workers=1,
                             mip_gap=GAP)
    assert f["objective"].to_numpy() == pytest.approx([2500.0, 8000 / 3 - 100])
    # a cost of 200 makes the overlap point dominated: a single point
    f = channel_opt.frontier(duo({"rules": {"overlap": {"cost": 200}}}), workers=1,
                             mip_gap=GAP)
    assert f["overlap_count"].tolist() == [0]
    assert bool(f["current"].iloc[0])


@pytest.mark.slow
@pytest.mark.parametrize("cost", [0, 400])
def test_tiny_frontier_equals_enumeration(cost: int) -> None:
    scen = apply_overrides(channel_opt.load_scenario(TINY), {"rules.overlap.cost": cost})
    f = channel_opt.frontier(scen, workers=1, mip_gap=GAP, current=False)
    upto = int(f["overlap_count"].max())
    # nothing above the frontier's top: one more overlap allowed adds no profit
    assert budget_profit(scen, upto + 1) == pytest.approx(f["objective"].max())
    e = enumerated_frontier(scen, upto)
    assert f["overlap_count"].tolist() == e["overlap_count"].tolist()
    assert f["objective"].to_numpy() == pytest.approx(e["objective"].to_numpy(), rel=1e-7)
    assert np.all(np.diff(f["objective"].to_numpy()) > 0)  # no dominated point
    if cost == 0:  # tiny's four overlap levels, each its own Pareto point
        assert f["overlap_count"].tolist() == [0, 1, 2, 3]


@pytest.mark.slow
def test_frontier_grid_points_lie_on_the_frontier() -> None:
    scen = apply_overrides(channel_opt.load_scenario(TINY), {"rules.overlap.cost": 0})
    full = channel_opt.frontier(scen, workers=1, mip_gap=GAP, current=False)
    some = channel_opt.frontier(scen, 3, workers=1, mip_gap=GAP, current=False)
    assert set(some["overlap_count"]) <= set(full["overlap_count"])
    assert {0, 3} <= set(some["overlap_count"])  # both ends of the payoff table
    exact = full.set_index("overlap_count")["objective"]
    for _, r in some.iterrows():
        assert r["objective"] == pytest.approx(exact[r["overlap_count"]], rel=1e-7)


@pytest.mark.slow
def test_sweep_rows_folders_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    scen = channel_opt.load_scenario(TINY)
    table = channel_opt.sweep(scen, {"rules.overlap.cost": [400, 1000]}, workers=1, out=out,
                              input_path=TINY)
    assert list(table["rules.overlap.cost"]) == [400, 1000]
    assert {"objective", "plan_status", "gap", "bound", "overlap_count", "folder"} <= \
        set(table.columns)
    # 400: tiny's hand-computed optimum (instances/tiny/README.md); 1000: checked
    # against the plain solve of the same what-if
    assert table["objective"].iloc[0] == pytest.approx(7440.0)
    plain = channel_opt.solve(apply_overrides(scen, ["rules.overlap.cost=1000"]))
    assert table["objective"].iloc[1] == pytest.approx(plain.objective)
    assert (table["plan_status"] == "optimal").all()
    pd.testing.assert_frame_equal(pd.read_csv(out / "sweep.csv")[["objective"]],
                                  table[["objective"]])
    for folder, cost in zip(table["folder"], [400, 1000], strict=True):
        s = json.loads((out / folder / "summary.json").read_text())
        assert s["overrides"] == {"rules.overlap.cost": cost}
        assert s["input"] == str(TINY)
        assert output.read_marker(out / folder) is not None
        # a point's folder: every table and a readable report, no single-solve plots
        assert "## Key figures" in (out / folder / "report.md").read_text()
        assert (out / folder / "sensitivity.csv").exists()
        assert not list((out / folder).glob("*.png"))
    assert (out / "sweep_1_rules.overlap.cost.png").exists()
    assert "sweep_1_rules.overlap.cost.png" in (out / "report.md").read_text()
    # the same sweep again replaces its own folder; another scenario's is refused
    channel_opt.sweep(scen, {"rules.overlap.cost": [400]}, workers=1, out=out,
                      input_path=TINY, plots=False)
    with pytest.raises(output.OutputRefused):
        channel_opt.sweep(duo(), {"rules.overlap.cost": [0]}, workers=1, out=out,
                          plots=False)


def test_sweep_bad_key_is_refused_before_solving(tmp_path: Path) -> None:
    with pytest.raises(channel_opt.ScenarioError, match="--set rules.overlap.cst=1"):
        channel_opt.sweep(duo(), {"rules.overlap.cst": [1, 2]}, workers=1,
                          out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_compare_tables_follow_the_runs(tmp_path: Path) -> None:
    base = duo({"rules": {"overlap": {"cost": 0}}})
    a = channel_opt.solve(base)  # {online, store}
    b = channel_opt.solve(apply_overrides(base, ["channels[id=store].fee_share=1"]))  # online
    t = channel_opt.compare(a, b, names=["both", "online"], out=tmp_path / "cmp")
    k = t["kpis"].set_index("kpi")
    assert k.loc["profit", "both"] == pytest.approx(8000 / 3)
    assert k.loc["profit", "online"] == pytest.approx(2500.0)
    assert k.loc["profit", "Δ online"] == pytest.approx(2500.0 - 8000 / 3)
    assert k.loc["overlap_count", "Δ online"] == -1
    p = t["profit"]
    total = p[p["component"] == "profit"].iloc[0]
    assert total["both"] == pytest.approx(8000 / 3) and total["online"] == pytest.approx(2500)
    # margin by channel, by hand: store 100/3 x 30 = 1000 -> 0 units
    store = p[(p["component"] == "sales margin") & (p["channel"] == "store")].iloc[0]
    assert store["both"] == pytest.approx(1000.0) and store["online"] == 0.0
    assert set(p["component"]) - {"profit"} <= set(profit_lines())
    cells = t["cells"]
    assert cells[["both", "online"]].values.tolist() == [["online+store", "online"]]
    assert t["listings"][["channel", "both", "online"]].values.tolist() == \
        [["store", "yes", "no"]]
    assert len(t["openings"]) == 1 and t["openings"]["channel"].iloc[0] == "store"
    assert (tmp_path / "cmp" / "profit.png").exists()
    assert "Plan differences" in (tmp_path / "cmp" / "report.md").read_text()


@pytest.mark.slow
def test_cli_sweep_frontier_compare(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sw, fr, cmp = tmp_path / "sw", tmp_path / "fr", tmp_path / "cmp"
    assert main(["-q", "sweep", str(TINY), "--set", "rules.overlap.cost=400,1000",
                 "--workers", "1", "--out", str(sw), "--no-plots", "--format", "xlsx"]) == 0
    assert len(pd.read_csv(sw / "sweep.csv")) == 2
    book = pd.read_excel(sw / "sweep.xlsx", sheet_name=None)
    assert list(book) == ["summary", "sweep"]
    assert book["sweep"]["objective"].tolist() == pytest.approx(
        pd.read_csv(sw / "sweep.csv")["objective"].tolist())
    assert main(["-q", "frontier", str(TINY), "--workers", "1", "--out", str(fr)]) == 0
    f = pd.read_csv(fr / "frontier.csv")
    assert {"overlap_count", "objective", "plan_status"} <= set(f.columns)
    assert (fr / "frontier.png").exists()
    assert f.loc[f["current"], "objective"].tolist() == pytest.approx([7440.0])
    folders = [sw / n for n in pd.read_csv(sw / "sweep.csv")["folder"]]
    assert main(["-q", "compare", *map(str, folders), "--out", str(cmp), "--no-plots"]) == 0
    assert "plan differences" in capsys.readouterr().out
    assert main(["-q", "sweep", str(TINY), "--set", "rules.overlap.cots=1",
                 "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_marginals_resolve_where_the_fixed_design_says_free() -> None:
    # duo, store partners earn 30/unit; {online, store} pays them 100/3 x 30 = 1000, so a
    # floor of 1000 binds. Lowered by 10 % the plan stays (no change); raised by 10 % only
    # {store} alone reaches it (50 x 30 = 1500): profit 1500, by hand -1166.67
    scen = duo({"rules": {"partner_floor": True}},
               regions=[{"id": "R", "partner_profit_floor": 1000.0}])
    m = channel_opt.marginals(scen, workers=1, mip_gap=GAP)
    assert m["family"].tolist() == ["partner_floor"]
    r = m.iloc[0]
    assert r["profit"] == pytest.approx(8000 / 3)
    assert r["change_minus"] == pytest.approx(0.0, abs=1e-6)
    assert r["change_plus"] == pytest.approx(1500 - 8000 / 3)
    assert r["per_unit_plus"] == pytest.approx((1500 - 8000 / 3) / 100)
    assert r["basis"] == "re-solve"
    # the fixed-design dual prices a move the design cannot make: not the true cost
    assert r["fixed_design_marginal"] != pytest.approx(r["per_unit_plus"])
    # a capacity: dc 30 units for online (1/unit, margin 50): 50 per unit both ways
    m = channel_opt.marginals(duo({"rules": {"dc_capacity": 30}}), workers=1, mip_gap=GAP)
    assert m["per_unit_minus"].iloc[0] == pytest.approx(50.0)
    assert m["per_unit_plus"].iloc[0] == pytest.approx(50.0)
