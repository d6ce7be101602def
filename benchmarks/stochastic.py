"""Extensive form vs progressive hedging on the two-stage model (issue 15).

``python -m benchmarks.stochastic --family core --cells 500 --scenarios 10 50``
generates one scenario of the family (``benchmarks.generator``), adds ``N`` seeded
demand scenarios (market ×U(0.6, 1.4), online alone-shares ×U(0.7, 1.3) kept
below 0.99, equal probabilities) and solves the two-stage model by the extensive
form and, where mpi-sppy and ``mpiexec`` are there, by PH on ``--ranks`` ranks. One
Markdown row per (N, method): seconds, plan (expected profit, evaluated in every
scenario), bound and gap. Only the two-stage solve is timed (no EV/EEV/WS).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from channel_opt.scenario import Scenario
from channel_opt.solving.stochastic import METHOD_EF, METHOD_PH, solve_two_stage
from channel_opt.solving.stochastic_ph import ph_missing

from .generator import generate


def with_demand_scenarios(base: Scenario, n: int, seed: int) -> Scenario:
    """``base`` with ``n`` equally likely demand scenarios of market and online adoption."""
    rng = np.random.default_rng(seed)
    tables: dict[str, Any] = {k: base.tables[k] for k in base.tables}
    kind = tables["channels"].set_index("id")["kind"]
    sh = tables["shares"]
    top = float(sh.loc[kind.reindex(sh["channel"]).to_numpy() == "online", "share"].max())
    ids = [f"d{i:03d}" for i in range(n)]
    tables["demand_scenarios"] = pd.DataFrame({
        "id": ids, "probability": np.full(n, 1.0 / n),
        "market_multiplier": rng.uniform(0.6, 1.4, n).round(3)})
    online = np.minimum(rng.uniform(0.7, 1.3, n), 0.99 / max(top, 1e-9)).round(3)
    tables["demand_factors"] = pd.DataFrame({"scenario": ids, "applies_to": "online",
                                             "factor": online})
    return Scenario.from_frames(tables, base.settings, name=f"{base.name}_{n}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stochastic")
    p.add_argument("--family", default="core")
    p.add_argument("--cells", type=int, default=500)
    p.add_argument("--scenarios", type=int, nargs="+", default=[10, 50])
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--ranks", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    tables, settings = generate(a.family, a.cells, a.seed)
    base = Scenario.from_frames(tables, settings, name=f"{a.family}_{a.cells}")
    methods = [METHOD_EF] + ([] if ph_missing() else [METHOD_PH])
    print("| demand scenarios | method | seconds | plan | bound | gap |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in a.scenarios:
        scen = with_demand_scenarios(base, n, a.seed)
        for method in methods:
            t = time.perf_counter()
            out, _ = solve_two_stage(scen, time_limit=a.time_limit, values=False,
                                     method=method, ranks=a.ranks)
            sec = time.perf_counter() - t
            obj, bound = out["objective"], out["raw"].bound
            gap = None if obj is None or bound is None else \
                max(0.0, bound - obj) / max(1e-9, abs(obj))
            print(f"| {n} | {method} | {sec:.1f} | {_f(obj)} | {_f(bound)} | "
                  f"{'n/a' if gap is None else f'{gap:.3%}'} |", flush=True)
    return 0


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
