"""Demand scenarios: the realizations of a scenario's demand, and their mean.

One definition of how ``demand_scenarios`` and ``demand_factors`` change a scenario:
a realization multiplies every cell's market by the scenario's ``market_multiplier``
and by the ``market`` factors that match the cell (scope: region, brand, product,
segment; empty matches all), and the alone-share of every channel of a kind by the
factors that apply to that kind. Factors that match multiply. The validator
(:mod:`channel_opt.scenario.validate`) and the two-stage model
(:mod:`channel_opt.model.stochastic`) both read these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the validator imports this module before the scenario exists
    from .scenario import Scenario

SCOPES = ("region", "brand", "product", "segment")


def has_demand_scenarios(scen: Scenario) -> bool:
    """The scenario has rows in ``demand_scenarios`` (so it is a two-stage model)."""
    return "demand_scenarios" in scen.tables and len(scen.tables["demand_scenarios"]) > 0


def _matches(fac: pd.DataFrame, target: pd.DataFrame, brand_of: pd.Series) -> list[np.ndarray]:
    """For each factor row, the mask of ``target`` rows (product, region, segment) it
    scopes.
    """
    brand = brand_of.reindex(target["product"]).to_numpy()
    cols = {"region": target["region"].to_numpy(), "brand": brand,
            "product": target["product"].to_numpy(), "segment": target["segment"].to_numpy()}
    out = []
    for r in fac.itertuples(index=False):
        m = np.ones(len(target), bool)
        for s in SCOPES:
            v = getattr(r, s)
            if v != "":
                m &= cols[s] == v
        out.append(m)
    return out


def market_factors(t: Mapping[str, pd.DataFrame], sid: str) -> np.ndarray:
    """The factor on each ``cells`` row's market in demand scenario ``sid``."""
    ds = t["demand_scenarios"].drop_duplicates("id")
    base = ds["market_multiplier"].to_numpy(float)[(ds["id"] == sid).to_numpy()]
    cells = t["cells"]
    mult = np.full(len(cells), float(base[0]) if len(base) else 1.0)
    fac = t["demand_factors"]
    fac = fac[(fac["scenario"] == sid) & (fac["applies_to"] == "market")]
    brand_of = t["products"].drop_duplicates("id").set_index("id")["brand"]
    for f, m in zip(fac["factor"].to_numpy(), _matches(fac, cells, brand_of), strict=True):
        mult[m] *= f
    return mult


def share_factors(t: Mapping[str, pd.DataFrame], sid: str,
                  kind_of: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The factor on each ``shares`` row in demand scenario ``sid``, and the index of
    the (last) ``demand_factors`` row that scales it (-1: none), for error messages.
    """
    shares = t["shares"]
    mult = np.ones(len(shares))
    row = np.full(len(shares), -1)
    fac = t["demand_factors"]
    fac = fac[(fac["scenario"] == sid) & (fac["applies_to"] != "market")]
    if not len(fac):
        return mult, row
    brand_of = t["products"].drop_duplicates("id").set_index("id")["brand"]
    kind = kind_of.reindex(shares["channel"]).to_numpy()
    for i, f, k, m in zip(fac.index, fac["factor"].to_numpy(), fac["applies_to"].to_numpy(),
                          _matches(fac, shares, brand_of), strict=True):
        m = m & (kind == k)
        mult[m] *= f
        row[m] = i
    return mult, row


def _with_demand(scen: Scenario, name: str, market: np.ndarray, share: np.ndarray) -> Scenario:
    """The scenario with these market sizes and shares and no demand scenarios (a
    deterministic scenario; the tables keep their canonical order, so no re-validation).
    """
    from .scenario import Scenario, Tables, content_hash

    frames = {k: scen.tables[k] for k in scen.tables}
    frames["cells"] = frames["cells"].assign(market_size=market)
    frames["shares"] = frames["shares"].assign(share=share)
    for k in ("demand_scenarios", "demand_factors"):
        if k in frames:
            frames[k] = frames[k].iloc[:0]
    return Scenario(settings=scen.settings, tables=Tables(frames), name=name,
                    description=scen.description, hash=content_hash(scen.settings, frames),
                    notes=scen.notes)


def demand_scenarios(scen: Scenario) -> list[tuple[str, float]]:
    """(id, probability) of every demand scenario, in table order."""
    ds = scen.tables["demand_scenarios"]
    return list(zip(ds["id"].astype(str), ds["probability"].astype(float), strict=True))


def _realized_arrays(scen: Scenario, sid: str) -> tuple[np.ndarray, np.ndarray]:
    t = scen.tables
    kind_of = t["channels"].set_index("id")["kind"]
    market = t["cells"]["market_size"].to_numpy() * market_factors(t, sid)
    share = t["shares"]["share"].to_numpy() * share_factors(t, sid, kind_of)[0]
    return market, share


def realize(scen: Scenario, sid: str) -> Scenario:
    """The deterministic scenario of demand scenario ``sid``."""
    market, share = _realized_arrays(scen, sid)
    return _with_demand(scen, f"{scen.name}[{sid}]", market, share)


def expected_value_scenario(scen: Scenario) -> Scenario:
    """The expected-value scenario: every market size and share at its mean over the
    demand scenarios (the EV problem of stochastic programming).
    """
    market = np.zeros(len(scen.tables["cells"]))
    share = np.zeros(len(scen.tables["shares"]))
    for sid, p in demand_scenarios(scen):
        m, s = _realized_arrays(scen, sid)
        market += p * m
        share += p * s
    return _with_demand(scen, f"{scen.name}[expected value]", market, share)
