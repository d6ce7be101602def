"""Shared fixtures. The tiny scenarios whose optimum is worked out by hand come from the
one factory, :mod:`scenario_factory` (``duo``, the base scenario, the every-rule
scenario, the small grid), imported here and by the tests; the MIP's optimum of one
from :mod:`optimum`. (``duo`` and ``duo_tables`` are re-exported for tests written
against this module; import them from :mod:`scenario_factory`.)
"""

from __future__ import annotations

import pytest
from scenario_factory import duo, duo_tables

from channel_opt.solving.backends import BACKENDS

__all__ = ["duo", "duo_tables", "solver"]


@pytest.fixture(params=[n for n, b in BACKENDS.items() if b.is_available()])
def solver(request: pytest.FixtureRequest) -> str:
    """Every solver backend installed here (missing ones drop out)."""
    return str(request.param)


@pytest.fixture
def capacities_priced_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The constructive phase prices the capacities only, not the fixed costs: the
    tests of the phases after it (LP, rounding, memory guard, solver child) run on
    ``duo_open``, whose optimum the fixed costs' prices prove before any of them
    (``test_link_prices_charge_the_opening_cost``).
    """
    from channel_opt.solving import pipeline

    priced = pipeline.capacity_prices
    monkeypatch.setattr(pipeline, "capacity_prices",
                        lambda *a, **k: priced(*a, **{**k, "links": False}))
