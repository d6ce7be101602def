"""The fast path of a sweep (issue 14): a settings-only what-if keeps the validated
tables, the model data of equal tables and settings is shared, and every answer equals
the one of a full validation and a fresh solve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import channel_opt
from channel_opt import Scenario, ScenarioError
from channel_opt.analysis.overrides import apply_overrides, as_overrides
from channel_opt.scenario.validate import Source

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
