"""The fast path of a sweep (issue 14): a settings-only what-if keeps the validated
tables, the model data of equal tables and settings is shared, and every answer equals
the one of a full validation and a fresh solve.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

import channel_opt
from channel_opt import Scenario, ScenarioError
from channel_opt.analysis.overrides import apply_overrides, as_overrides
from channel_opt.model import build_array_model
from channel_opt.model.data import DATA_SETTINGS, _build_data, build_data, data_key
from channel_opt.scenario.validate import Source
from channel_opt.solving.results import CHECK_TABLES, RESULT_TABLES, extract_tables

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return channel_opt.load_scenario(TINY)


def _full(scen: Scenario, texts: list[str]) -> Scenario:
    """The same overrides through a full validation of every table (the reference)."""
    settings = scen.settings.model_dump()
    for ov in as_overrides(texts):
        node = settings
        for p in (ov.head, *ov.path)[:-1]:
            if node.get(p) is None:
                node[p] = {}  # a family switched on by one of its options
            node = node[p]
        last = (ov.head, *ov.path)[-1]
        node[last] = node[last] * ov.value if ov.scale else ov.value
    src = {"settings": Source("--set " + "; --set ".join(texts), "settings")}
    return Scenario.from_frames({k: scen.tables[k] for k in scen.tables}, settings,
                                name=scen.name, description=scen.description, sources=src)


@pytest.mark.parametrize("texts", [
    ["rules.overlap.cost=600"],
    ["rules.overlap.cost*=1.5", "rules.partner_floor=false"],
    ["demand_model=independent"],
    ["max_channels_per_cell=1"],
    ["rules.reserved_segments={large: [dealer]}"],
    ["rules.dc_capacity=100"],  # switches a family on: notes on dc_use appear
    ["channel_rules=[{action: forbid, channel: online, region: south}]"],
])
def test_settings_only_override_equals_a_full_validation(tiny: Scenario,
                                                         texts: list[str]) -> None:
    fast = apply_overrides(tiny, texts)
    assert fast.tables is tiny.tables  # the validated tables are kept, not re-validated
    full = _full(tiny, texts)
    assert fast.tables is not full.tables
    assert fast.hash == full.hash != tiny.hash
    assert fast.settings == full.settings
    assert list(fast.tables) == list(full.tables)
    for k in full.tables:  # the same values (re-validating a default-filled text column
        # of a loaded table turns its object dtype into str: the values stay)
        pd.testing.assert_frame_equal(fast.tables[k], full.tables[k], check_exact=True,
                                      check_dtype=False)
    assert [str(n) for n in fast.notes] == [str(n) for n in full.notes]
    assert (fast.name, fast.description) == (full.name, full.description)


@pytest.mark.parametrize(("texts", "words"), [
    (["rules.reserved_segments={huge: [dealer]}"], ["unknown segment in rule", "huge"]),
    (["rules.reserved_segments={large: [van]}"], ["channel 'van' that does not exist"]),
    (["channel_rules=[{action: force, channel: dealer, segment: small}]"],
     ["force rule has no target"]),
    (["channel_rules=[{action: forbid, channel: web}]"], ["channel 'web' that does not exist"]),
    (["rules.overlap.cost=-1"], ["greater than or equal to 0"]),
])
def test_settings_override_breaking_a_cross_check_raises_the_same_error(
        tiny: Scenario, texts: list[str], words: list[str]) -> None:
    with pytest.raises(ScenarioError) as fast:
        apply_overrides(tiny, texts)
    with pytest.raises(ScenarioError) as full:
        _full(tiny, texts)
    assert [str(p) for p in fast.value.problems] == [str(p) for p in full.value.problems]
    for w in words + [f"--set {texts[0]}"]:
        assert w in str(fast.value), (w, str(fast.value))


def test_mnl_share_check_reruns_when_the_demand_model_changes() -> None:
    """A share of 1 is fine under independent demand, not under mnl: switching the
    setting alone must re-run that check on the kept tables.
    """
    from scenario_factory import duo_tables

    tables: dict[str, Any] = duo_tables()
    tables["shares"] = [dict(r, share=1.0) if i == 0 else r
                        for i, r in enumerate(tables["shares"])]
    indep = Scenario.from_frames(tables, {"demand_model": "independent"})
    with pytest.raises(ScenarioError) as fast:
        apply_overrides(indep, ["demand_model=mnl"])
    with pytest.raises(ScenarioError) as full:
        Scenario.from_frames(tables, {"demand_model": "mnl"},
                             sources={"settings": Source("--set demand_model=mnl", "settings")})
    assert "mnl share must be strictly between 0 and 1" in str(fast.value)
    assert [str(p) for p in fast.value.problems] == [str(p) for p in full.value.problems]


def test_table_override_still_validates_every_table(tiny: Scenario) -> None:
    new = apply_overrides(tiny, ["rules.overlap.cost=600", "regions.partner_profit_floor*=2"])
    assert new.tables is not tiny.tables
    with pytest.raises(ScenarioError, match="negative number"):
        apply_overrides(tiny, ["rules.overlap.cost=600", "regions.partner_profit_floor=-1"])


def model_digest(am: Any) -> str:
    """SHA-256 of everything the array model hands a solver and its labels."""
    import hashlib

    h = hashlib.sha256()
    m = am.matrix("csc")
    for a in (m.data, m.indices, m.indptr, am.cost, *am.bounds(), am.integrality(),
              *am.row_bounds()):
        h.update(np.ascontiguousarray(a).tobytes())
    for blocks in (am.vars, am.cons):
        for name, b in blocks.items():
            h.update(name.encode())
            h.update(b.labels.to_csv(index=False).encode())
    return h.hexdigest()


@pytest.mark.parametrize("texts", [
    ["rules.overlap.cost=600"],
    ["rules.overlap.cost=0", "rules.partner_floor=false"],
    ["max_channels_per_cell=1"],
    ["demand_model=independent"],
    ["channel_rules=[{action: forbid, channel: online, region: south}]"],
])
def test_shared_model_data_give_the_same_array_model(tiny: Scenario, texts: list[str]) -> None:
    build_array_model(tiny)  # the base's model data are kept with its tables
    fast = apply_overrides(tiny, texts)
    am, data = build_array_model(fast)
    assert data.scenario is fast
    fresh = _full(tiny, texts)
    assert fresh.tables is not tiny.tables and not fresh.tables.derived.get(
        ("model_data", data_key(fresh.settings)))
    am2, _ = build_array_model(fresh)
    assert model_digest(am) == model_digest(am2)
    # each scenario's model data are its own copies: a change to one leaves the kept ones
    data.cells["extra"] = 1
    assert "extra" not in build_data(fast).cells


class _Recorder:
    """Wraps settings and records every path read below them."""

    def __init__(self, obj: Any, path: str, seen: set[str]) -> None:
        self._obj, self._path, self._seen = obj, path, seen

    def __getattr__(self, name: str) -> Any:
        path = f"{self._path}.{name}" if self._path else name
        self._seen.add(path)
        value = getattr(self._obj, name)
        return _Recorder(value, path, self._seen) if isinstance(value, BaseModel) else value


@pytest.mark.parametrize("texts", [
    [],
    ["rules.reserved_segments={large: [dealer]}", "max_channels_per_cell=2",
     "channel_rules=[{action: forbid, channel: online, region: south}]"],
    ["demand_model=independent", "rules.price_parity.band=0.1", "rules.dc_capacity=10"],
])
def test_model_data_read_only_the_settings_they_are_kept_by(tiny: Scenario,
                                                            texts: list[str]) -> None:
    """Model data are shared between scenarios whose DATA_SETTINGS agree: build_data
    must read no other setting (else a shared copy could be wrong).
    """
    scen = apply_overrides(tiny, texts) if texts else tiny
    seen: set[str] = set()
    view = SimpleNamespace(**{k: scen.tables[k] for k in scen.tables}, tables=dict(scen.tables),
                           settings=_Recorder(scen.settings, "", seen))
    _build_data(view)  # type: ignore[arg-type]
    assert seen, "the recorder saw nothing"
    read = {p for p in seen if not any(q.startswith(p + ".") for q in seen)}  # leaves only
    assert read <= set(DATA_SETTINGS), read - set(DATA_SETTINGS)


def _table_kpis(am: Any, d: Any, x: np.ndarray) -> dict[str, Any]:
    """The KPIs read off the full result tables (how they were defined before they were
    computed from the plan vector): the independent reference.
    """
    t = extract_tables(am, d, x)
    cc, cap = t["cell_channel"], t["capacity"]
    util = cap[cap["kind"] == "capacity"]["utilization"]
    market = float(d.cells["market"].sum())
    return {"profit": float(am.cost @ x), "revenue": float(cc["revenue"].sum()),
            "units_sold": float(cc["sales"].sum()), "market_units": market,
            "lost_sales_units": market - float(cc["sales"].sum()),
            "overlap_count": len(t["overlaps"]),
            "channels_opened": int(t["region_channel"]["open"].sum()),
            "listings": int(t["product_channel"]["listed"].sum()),
            "commission_paid": float(t["partners"]["commission"].sum()),
            "max_capacity_utilization": float(util.max()) if len(util.dropna()) else None}


@pytest.mark.parametrize("texts", [
    [],
    ["rules.overlap.cost=0"],
    ["rules.dc_capacity=150", "rules.commission.share=0.1"],  # a capacity, a commission
    ["demand_model=independent", "rules.partner_floor=false"],
])
def test_kpis_from_the_plan_equal_the_tables(tiny: Scenario, texts: list[str]) -> None:
    scen = apply_overrides(tiny, texts) if texts else tiny
    sol = channel_opt.solve(scen, sensitivity=False)
    am, d = build_array_model(scen)
    want = _table_kpis(am, d, sol.x)
    got = sol.kpis
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12, abs=1e-9) if v is not None \
            else got[k] is None, k
    if "dc_capacity" in str(texts):
        assert want["max_capacity_utilization"] is not None
    # without result tables: only the check's, and the same KPIs and statuses
    lean = channel_opt.solve(scen, sensitivity=False, result_tables=False)
    assert set(lean.tables) == set(CHECK_TABLES)
    assert (lean.kpis, lean.plan_status, lean.objective) == (got, sol.plan_status,
                                                            sol.objective)
    assert np.array_equal(lean.x, sol.x)


@pytest.mark.parametrize("grid", [
    # the partner floor switches a rule family (rows) on and off, the channel cap
    # changes the model data (offer options): both change the model's structure
    {"rules.partner_floor": [True, False], "rules.overlap.cost": [0]},
    pytest.param({"rules.partner_floor": [True, False], "max_channels_per_cell": [1, 3],
                  "rules.overlap.cost": [0]}, marks=pytest.mark.slow),  # 4 s: 12 solves
])
def test_sweep_rows_equal_fresh_solves(tiny: Scenario, grid: dict[str, list[Any]]) -> None:
    """Every point of a sweep (settings-only points on shared tables and model data,
    no result tables) against a fresh, fully validated scenario solved on its own.
    """
    table = channel_opt.sweep(tiny, grid, workers=1)
    assert table["objective"].nunique() == len(table) == np.prod([len(v) for v in
                                                                  grid.values()])
    for _, row in table.iterrows():
        texts = [f"{k}={row[k]}" for k in grid]
        fresh = channel_opt.solve(_full(tiny, texts), sensitivity=False)
        assert row["scenario_hash"] == fresh.scenario_hash
        assert (row["plan_status"], row["termination"]) == (fresh.plan_status,
                                                            fresh.termination)
        assert row["objective"] == fresh.objective and row["gap"] == fresh.gap
        for k in ("overlap_count", "listings", "channels_opened", "units_sold", "revenue"):
            assert row[k] == fresh.kpis[k], k
        # the plan of the sweep's path (kept tables and model data, no result tables)
        point = channel_opt.solve(apply_overrides(tiny, texts), sensitivity=False,
                                  result_tables=False)
        assert point.scenario_hash == fresh.scenario_hash
        assert np.array_equal(point.x, fresh.x)


def test_all_result_tables_in_their_order(tiny: Scenario) -> None:
    sol = channel_opt.solve(tiny, sensitivity=False)
    assert list(sol.tables) == list(RESULT_TABLES)
    am, d = build_array_model(tiny)
    some = extract_tables(am, d, sol.x, ["profit"])
    assert list(some) == [k for k in RESULT_TABLES if k in (*CHECK_TABLES, "profit")]
    for k, df in some.items():
        pd.testing.assert_frame_equal(df, sol.tables[k])
