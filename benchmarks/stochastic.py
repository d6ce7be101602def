"""Extensive form vs progressive hedging on the two-stage model (issue 15).

``python -m benchmarks.stochastic --family core --cells 500 --scenarios 10 50``
generates one scenario of the family (``benchmarks.generator``), or loads one
(``--base instances/apparel_stochastic/apparel_stochastic.yaml``: the shipped apparel
instance, its settings and shortfall cost), replaces its demand scenarios by ``N``
seeded ones (market ×U(0.6, 1.4), online alone-shares ×U(0.7, 1.3) kept below 0.99,
equal probabilities) and solves the two-stage model by the extensive form and, where
mpi-sppy and ``mpiexec`` are there, by PH on ``--ranks`` ranks, in the order EF N₁,
PH N₁, EF N₂, ... One Markdown row per (N, method): seconds, plan (expected profit,
evaluated in every scenario), bound, gap, the time limit it had and the load average
at its start and end (the machine may be shared). Only the two-stage solve is timed
(no WS; the EF includes its expected-value start). ``--out FILE`` appends each row to
``FILE`` as it finishes, so that a partial run is not lost.

Time limits: ``--time-limit`` for every row, ``--limit ef200=1200 ph200=1800`` for
single rows; ``--until 08:35`` (UTC) cuts every limit so that the run ends by then
(a row whose limit was cut says so).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from channel_opt.scenario import Scenario, load_scenario
from channel_opt.solving.stochastic import METHOD_EF, METHOD_PH, solve_two_stage
from channel_opt.solving.stochastic_ph import ph_missing

from .generator import generate

SHORT = {METHOD_EF: "ef", METHOD_PH: "ph"}
HEADER = ("| demand scenarios | method | columns (EF) | seconds | limit s | plan | bound | "
          "gap | load avg start → end | note |\n"
          "|---:|---|---:|---:|---:|---:|---:|---:|---|---|")


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


def _limits(items: list[str]) -> dict[tuple[str, int], float]:
    """``ef200=1200`` -> {("ef", 200): 1200.0}."""
    out = {}
    for it in items:
        key, _, sec = it.partition("=")
        meth, n = key[:2].lower(), key[2:]
        if meth not in ("ef", "ph") or not n.isdigit() or not sec:
            raise SystemExit(f"--limit {it!r}: expected e.g. ef200=1200 or ph10=300")
        out[(meth, int(n))] = float(sec)
    return out


def _deadline(until: str | None) -> float | None:
    """Seconds since the epoch of today's ``HH:MM`` UTC."""
    if until is None:
        return None
    hh, mm = (int(v) for v in until.split(":"))
    now = dt.datetime.now(dt.UTC)
    return now.replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def run_row(scen: Scenario, n: int, method: str, limit: float, ranks: int,
            note: str, mip_gap: float = 1e-4) -> str:
    """Solve once; the Markdown row."""
    load0 = _load()
    t = time.perf_counter()
    try:
        out, _ = solve_two_stage(scen, time_limit=limit, values=False, method=method,
                                 ranks=ranks, mip_gap=mip_gap)
    except Exception as exc:  # noqa: BLE001 - a failed row is a result, not a crash
        sec = time.perf_counter() - t
        return (f"| {n} | {SHORT[method].upper()} | | {sec:.1f} | {limit:.0f} | n/a | n/a | "
                f"n/a | {load0} → {_load()} | failed: {str(exc)[:200]} |")
    sec = time.perf_counter() - t
    raw = out["raw"]
    obj, bound = out["objective"], raw.bound
    gap = None if obj is None or bound is None else \
        max(0.0, bound - obj) / max(1e-9, abs(obj))
    cols = "" if method == METHOD_PH else f"{_ef_cols(scen, n):,}"
    msg = "; ".join(s for s in (note, raw.termination,
                                raw.message if method == METHOD_PH else "") if s)
    return (f"| {n} | {SHORT[method].upper()} | {cols} | {sec:.1f} | {limit:.0f} | {_f(obj)} | "
            f"{_f(bound)} | {'n/a' if gap is None else f'{gap:.3%}'} | {load0} → {_load()} "
            f"| {msg.replace('|', '/')} |")


def _ef_cols(scen: Scenario, n: int) -> int:
    """Columns of the extensive form: the design once, the operations per scenario."""
    from channel_opt.model.stochastic import is_design, members
    from channel_opt.scenario.demand import demand_scenarios

    am = members(scen, demand_scenarios(scen)[:1])[0].am
    design = sum(b.n for b in am.vars.values() if is_design(b.name))
    return design + n * (am.n_cols - design)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stochastic")
    p.add_argument("--family", default="core")
    p.add_argument("--cells", type=int, default=500)
    p.add_argument("--base", help="a scenario file to start from instead of the generator")
    p.add_argument("--scenarios", type=int, nargs="+", default=[10, 50])
    p.add_argument("--methods", nargs="+", default=["ef", "ph"], choices=["ef", "ph"])
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--limit", nargs="*", default=[], help="e.g. ef200=1200 ph200=1800")
    p.add_argument("--rows", nargs="*", help="only these rows, e.g. ph10 ef200")
    p.add_argument("--until", help="HH:MM UTC by which the whole run must end")
    p.add_argument("--ranks", type=int, default=3)
    p.add_argument("--mip-gap", type=float, default=1e-4, help="the run's relative gap")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="append the rows to this Markdown file as they finish")
    a = p.parse_args(argv)
    limits, end = _limits(a.limit), _deadline(a.until)
    if a.base:
        base = load_scenario(a.base, allow_outside=True)
    else:
        tables, settings = generate(a.family, a.cells, a.seed)
        base = Scenario.from_frames(tables, settings, name=f"{a.family}_{a.cells}")
    want = {"ef": METHOD_EF, "ph": METHOD_PH}
    methods = [want[m] for m in a.methods if m == "ef" or not ph_missing()]

    def emit(line: str) -> None:
        print(line, flush=True)
        if a.out:
            with Path(a.out).open("a", encoding="utf-8") as f:
                f.write(line + "\n")

    emit(f"\n<!-- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: {base.name}, "
         f"{len(base.tables['cells']):,} cells, seed {a.seed}, {a.ranks} PH ranks, "
         f"{os.cpu_count()} cores -->\n")
    emit(HEADER)
    for n in a.scenarios:
        scen = with_demand_scenarios(base, n, a.seed)
        for method in methods:
            if a.rows and f"{SHORT[method]}{n}" not in a.rows:
                continue
            limit = limits.get((SHORT[method], n), a.time_limit)
            note = ""
            if end is not None:
                left = end - time.time()
                if left < limit:
                    limit, note = max(60.0, left), f"limit cut from {limit:.0f} s (deadline)"
            emit(run_row(scen, n, method, limit, a.ranks, note, a.mip_gap))
    return 0


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
