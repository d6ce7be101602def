"""Shared fixtures: tiny scenarios whose optimum is worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from channel_opt.scenario import Scenario
from channel_opt.solving.backends import BACKENDS


def duo_tables(**overrides: Any) -> dict[str, Any]:
    """One product, one region, one segment, two channels (online, store).

    market 100, both alone-shares 0.5 (logit odds 1), price 100, unit cost 40;
    online costs 10 per unit, the store keeps 30% of revenue.
    By hand (mnl):  {online}: 50 units x 50 = 2500
                    {store}:  50 units x 30 = 1500
                    {online, store}: 100/3 units each x (50 + 30) = 2666.67
    """
    t: dict[str, Any] = {
        "channels": [
            {"id": "online", "kind": "online", "variable_cost": 10.0, "dc_use": 1.0},
            {"id": "store", "kind": "offline", "fee_share": 0.3, "labour_hours": 0.0},
        ],
        "brands": [{"id": "B"}],
        "products": [{"id": "P", "brand": "B", "unit_cost": 40.0, "ref_price": 100.0}],
        "regions": [{"id": "R"}],
        "segments": [{"id": "S"}],
        "cells": [{"product": "P", "region": "R", "segment": "S", "market_size": 100.0}],
        "shares": [
            {"product": "P", "region": "R", "segment": "S", "channel": "online", "share": 0.5},
            {"product": "P", "region": "R", "segment": "S", "channel": "store", "share": 0.5},
        ],
    }
    t.update(overrides)
    return t


def duo(settings: dict[str, Any] | None = None, **overrides: Any) -> Scenario:
    """The duo scenario with settings."""
    return Scenario.from_frames(duo_tables(**overrides), settings or {}, name="duo")


@pytest.fixture(params=[n for n, b in BACKENDS.items() if b.is_available()])
def solver(request: pytest.FixtureRequest) -> str:
    """Every solver backend installed here (missing ones drop out)."""
    return str(request.param)
