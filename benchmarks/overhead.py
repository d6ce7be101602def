"""What ``channel_opt.solve`` adds to the bare HiGHS solve of the same model (issue 13
item 5; not a test).

For each instance the scenario is loaded once, then, alternating, ``--repeat`` times:

* **bare**: the built :class:`~channel_opt.model.linear.ArrayModel` passed to a new
  ``highspy.Highs`` (``to_highs``) and run at the same gap (1e-4) and time limit,
  quietly;
* **solve**: ``channel_opt.solve(scenario, time_limit=...)`` as a user calls it
  (build, solve, plan check, result tables, sensitivity);
* **watched**: the same with the small-model path turned off
  (``pipeline.IN_PROCESS_NONZEROS = -1``): the constructive plan first and the solver
  in the watchdog's child process, as every solve under a time limit ran before.

Medians of wall and CPU time (this process; the watchdog child's CPU is not in it)
are reported, with overhead = solve - bare, the phases of the solve, and the model
size. Measured side by side in one run, so the ratios hold on a busy machine even
when the absolute times do not.

    python -m benchmarks.overhead [--repeat 3] [--limit 60] [--out results/overhead.md]
        [--instances tiny core:100 conflict:300 all:100 ...] [--regional]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INSTANCES = ["tiny", "core:100", "core:300", "conflict:100", "conflict:300",
                     "partners:100", "capacity:100"]


def _scenario(spec: str) -> Any:
    from channel_opt.scenario import Scenario, load_scenario

    if ":" not in spec:
        return load_scenario(ROOT / "instances" / spec / f"{spec}.yaml")
    from .generator import generate

    family, cells = spec.split(":")
    tables, settings = generate(family, int(cells), 0)
    return Scenario.from_frames(tables, settings, name=spec.replace(":", "_"))


def _timed(fn: Any) -> tuple[float, float, Any]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def _bare(am: Any, limit: float) -> Any:
    from channel_opt.model.linear import to_highs
    from channel_opt.solving.engines.base import quiet_stdout

    with quiet_stdout():
        h = to_highs(am)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.setOptionValue("time_limit", float(limit))
    h.run()
    return h.getInfo().objective_function_value


def measure(spec: str, repeat: int, limit: float) -> dict[str, Any]:
    """Median wall/CPU seconds of bare, solve and watched runs of one instance."""
    from channel_opt.model import build_array_model
    from channel_opt.solving import pipeline, solve

    scen = _scenario(spec)
    am, _ = build_array_model(scen)
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "solve": [], "watched": []}
    phases: list[dict[str, float]] = []
    objective: dict[str, float] = {}
    keep = pipeline.IN_PROCESS_NONZEROS
    for _ in range(repeat):
        w, c, obj = _timed(lambda: _bare(am, limit))
        runs["bare"].append((w, c))
        objective["bare"] = float(obj)
        w, c, sol = _timed(lambda: solve(scen, time_limit=limit))
        runs["solve"].append((w, c))
        phases.append(sol.timings)
        objective["solve"] = float(sol.objective)
        pipeline.IN_PROCESS_NONZEROS = -1
        try:
            w, c, sol = _timed(lambda: solve(scen, time_limit=limit))
        finally:
            pipeline.IN_PROCESS_NONZEROS = keep
        runs["watched"].append((w, c))
        objective["watched"] = float(sol.objective)
    med = {k: (statistics.median(v[0] for v in vals), statistics.median(v[1] for v in vals))
           for k, vals in runs.items()}
    keys = sorted({k for p in phases for k in p})
    return {"instance": spec, "cols": am.n_cols, "rows": am.n_rows,
            "nnz": sum(len(c.vals) for c in am.cons.values()), "median": med,
            "phases": {k: statistics.median(p.get(k, 0.0) for p in phases) for k in keys},
            "objective": objective}


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`measure` rows."""
    out = ["| instance | cols | nnz | bare s | solve s | overhead s | solve CPU overhead s "
           "| watched s | watched / solve | phases of solve (s) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        (bw, bc), (sw, sc), (ww, _) = (r["median"][k] for k in ("bare", "solve", "watched"))
        ph = ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items() if v >= 0.005)
        out.append(f"| {r['instance']} | {r['cols']:,} | {r['nnz']:,} | {bw:.2f} | {sw:.2f} "
                   f"| {sw - bw:.2f} | {sc - bc:.2f} | {ww:.2f} | {ww / sw:.1f}x | {ph} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Measure and print (and with ``--out`` write) the table."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", nargs="+", default=DEFAULT_INSTANCES,
                   help="shipped instance names or FAMILY:CELLS of benchmarks/generator.py")
    p.add_argument("--regional", action="store_true",
                   help="also the shipped regional instance (its solve takes about a minute)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--limit", type=float, default=60.0, help="time limit of each solve")
    p.add_argument("--out", help="write the table here too")
    a = p.parse_args(argv)
    from channel_opt.solving import solve

    solve(_scenario("tiny"), sensitivity=False)  # imports and first-run costs out of the way
    rows = []
    for spec in [*a.instances, *(["regional"] if a.regional else [])]:
        r = measure(spec, a.repeat, a.limit)
        rows.append(r)
        print(table([r]).splitlines()[-1], file=sys.stderr, flush=True)
        objs = r["objective"]
        if max(objs.values()) - min(objs.values()) > 1e-4 * max(1.0, abs(objs["bare"])):
            print(f"warning: {spec}: objectives differ {objs}", file=sys.stderr)
    text = table(rows)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
