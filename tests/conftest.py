"""Shared fixtures. The tiny scenarios whose optimum is worked out by hand come from the
one factory, :mod:`scenario_factory` (``duo``, the base scenario, the every-rule
scenario, the small grid); the MIP's optimum of one from :mod:`optimum`.
"""

from __future__ import annotations

import pytest

from channel_opt.solving.backends import BACKENDS


@pytest.fixture(params=[n for n, b in BACKENDS.items() if b.is_available()])
def solver(request: pytest.FixtureRequest) -> str:
    """Every solver backend installed here (missing ones drop out)."""
    return str(request.param)
