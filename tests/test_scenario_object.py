"""The Scenario and Solution objects: read-only tables, pickling, equality by content."""

from __future__ import annotations

import multiprocessing
import pickle
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from scenario_factory import duo, duo_tables

from channel_opt.scenario import Scenario, load_scenario
from channel_opt.scenario.scenario import content_hash
from channel_opt.solving import Solution, solve

TINY = Path(__file__).parents[1] / "instances" / "tiny" / "tiny.yaml"
BOTH = 100 / 3 * 80  # duo's optimum by hand (conftest): both channels, 100/3 units each
TINY_OPTIMUM = 7440.0  # instances/tiny/README.md


# ---- item 6: a validated scenario cannot be changed in place -------------------------

def test_changing_a_table_leaves_the_scenario_unchanged() -> None:
    scen = duo()
    cells = scen.cells
    cells.loc[0, "market_size"] = 1e5  # on the copy handed out
    with warnings.catch_warnings():  # pandas warns that these chained forms never work
        warnings.simplefilter("ignore")
        scen.cells.loc[0, "market_size"] = 1e5  # the form of the issue
        scen.tables["shares"].loc[0, "share"] = 1.0
        scen.cells["market_size"] = -500.0  # a whole column
    assert scen.cells["market_size"].tolist() == [100.0]
    assert scen.shares["share"].tolist() == [0.5, 0.5]
    assert content_hash(scen.settings, scen.tables) == scen.hash  # hash still the content
    assert solve(scen, sensitivity=False).objective == pytest.approx(BOTH)


def test_the_arrays_handed_out_are_read_only() -> None:
    scen = duo()
    with pytest.raises(ValueError, match="read-only"):
        scen.cells["market_size"].to_numpy()[0] = 1e5
    assert scen.cells["market_size"].tolist() == [100.0]


def test_the_tables_mapping_cannot_be_replaced() -> None:
    scen = duo()
    with pytest.raises(TypeError):
        scen.tables["cells"] = scen.cells  # type: ignore[index]
    with pytest.raises(AttributeError):
        scen.tables = {}  # type: ignore[misc]


# ---- item 5: pickling and equality -------------------------------------------------

def test_scenario_pickles_and_compares_by_content() -> None:
    a = load_scenario(TINY)
    b = pickle.loads(pickle.dumps(a))
    assert a == b and hash(a) == hash(b) and b.hash == a.hash
    assert b.name == a.name and b.cells.equals(a.cells)
    assert load_scenario(TINY) == a  # loaded twice: the same content
    renamed = Scenario.from_frames(duo_tables(), {}, name="other name")
    assert renamed == duo()  # the name is not content
    t = duo_tables()
    t["cells"] = [{**t["cells"][0], "market_size": 200.0}]
    assert Scenario.from_frames(t, {}) != duo()
    assert duo() != "duo" and len({a, b, duo(), renamed}) == 2


def test_solution_pickles_and_compares_by_content() -> None:
    s = solve(duo(), sensitivity=False)
    r = pickle.loads(pickle.dumps(s))
    assert isinstance(r, Solution) and r == s and hash(r) == hash(s)
    assert r.objective == pytest.approx(BOTH) and r.tables["cell_channel"].equals(
        s.tables["cell_channel"])
    assert solve(duo(), sensitivity=False) == s  # same scenario, same plan
    t = duo_tables()
    t["cells"] = [{**t["cells"][0], "market_size": 200.0}]
    assert solve(Scenario.from_frames(t, {}), sensitivity=False) != s


def _objective(scen: Scenario) -> float | None:
    return solve(scen, sensitivity=False).objective


@pytest.mark.slow
def test_solve_maps_over_a_process_pool() -> None:
    """Scenarios cross to spawned worker processes (before: mappingproxy would not pickle)."""
    scens = [duo(), load_scenario(TINY)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        objs = list(pool.map(_objective, scens))
        sols = list(pool.map(solve, scens))
    assert objs == [pytest.approx(BOTH), pytest.approx(TINY_OPTIMUM)]
    assert [s.scenario_hash for s in sols] == [s.hash for s in scens]
    assert sols[0] == solve(scens[0])
