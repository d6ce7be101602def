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

``--sweep N`` (issue 14: "a sweep of 20 small points takes at most 2x the sum of the
bare solver times") instead sweeps ``--sweep-key`` (default ``rules.overlap.cost``)
over N values on each instance and measures, alternating, ``--repeat`` times:

* **bare**: the sum over the N points of the bare HiGHS time of the point's model
  (built beforehand, outside the clock);
* **loop**: ``[solve(apply_overrides(scenario, point)) for point in points]``;
* **sweep**: ``channel_opt.sweep(scenario, grid, workers=1)`` (serial, no folder);
* **sweep+out**: the same writing the sweep folder (``out=``, as ``channel-opt
  sweep`` does: a result folder per point, ``sweep.csv``, the report and its plot);
* **bare kept** (printed below the table): when the points' models differ only in
  their objective (compared array by array), the points on one kept HiGHS instance
  with only the costs changed per point: what sharing the model could save at most.

The ratios loop/bare, sweep/bare and sweep+out/bare are printed, of wall time and of
CPU time (this process, HiGHS' threads included): on a machine shared with other jobs a
niced run's wall time swings with their load, its CPU time much less.

    python -m benchmarks.overhead [--repeat 3] [--limit 60] [--out results/overhead.md]
        [--instances tiny core:100 conflict:300 all:100 ...] [--regional]
    python -m benchmarks.overhead --sweep 20 [--instances tiny] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .report import emit

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


def same_structure(models: list[Any]) -> bool:
    """Whether the models differ in their objective alone: the same matrix (pattern and
    coefficients), column and row bounds and integrality (compared, not assumed).
    """
    import numpy as np

    def arrays(am: Any) -> list[Any]:
        m = am.matrix("csc")
        return [m.indptr, m.indices, m.data, *am.bounds(), am.integrality(), *am.row_bounds()]

    first = arrays(models[0])
    return all(len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
               for a, b in ((first, arrays(m)) for m in models[1:]))


def _bare_kept(models: list[Any], limit: float) -> list[float]:
    """The points on one kept HiGHS instance: the first model passed, then for each point
    only its costs changed (``changeColsCost``) and the model run again (HiGHS' warm
    state kept). Only for models of :func:`same_structure`.
    """
    import numpy as np

    from channel_opt.model.linear import to_highs
    from channel_opt.solving.engines.base import quiet_stdout

    with quiet_stdout():
        h = to_highs(models[0])
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.setOptionValue("time_limit", float(limit))
    out = []
    for am in models:
        n = am.n_cols
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(am.cost, float))
        h.run()
        out.append(float(h.getInfo().objective_function_value))
    return out


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


def sweep_values(n: int) -> list[float]:
    """N values of the swept key: 0, 50, 100, ... (an overlap cost in currency units)."""
    return [50.0 * i for i in range(n)]


def measure_sweep(spec: str, n: int, repeat: int, limit: float, key: str) -> dict[str, Any]:
    """Median wall seconds of bare (summed over the points), loop, sweep and sweep+out."""
    import tempfile

    from channel_opt import sweep
    from channel_opt.analysis.overrides import apply_overrides
    from channel_opt.model import build_array_model
    from channel_opt.solving import solve

    scen = _scenario(spec)
    grid = {key: sweep_values(n)}
    points = [{key: v} for v in grid[key]]
    models = [build_array_model(apply_overrides(scen, p))[0] for p in points]
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "loop": [], "sweep": [],
                                                   "sweep+out": []}
    objs: dict[str, list[float]] = {}

    def cold() -> None:  # each timed run starts from the loaded scenario as a user's does:
        getattr(scen.tables, "derived", {}).clear()  # nothing derived from its tables kept

    kept: list[Any] = [None] if same_structure(models) else []  # [None, (wall, cpu)...]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeat):
            total, cpu, bare_objs = 0.0, 0.0, []
            for am in models:
                w, c, obj = _timed(lambda am=am: _bare(am, limit))
                total += w
                cpu += c
                bare_objs.append(float(obj))
            runs["bare"].append((total, cpu))
            objs["bare"] = bare_objs
            if kept:
                w, c, objs["bare kept"] = _timed(lambda: _bare_kept(models, limit))
                kept.append((w, c))
            cold()
            w, c, sols = _timed(lambda: [solve(apply_overrides(scen, p), time_limit=limit)
                                         for p in points])
            runs["loop"].append((w, c))
            objs["loop"] = [float(s.objective) for s in sols]
            cold()
            w, c, tab = _timed(lambda: sweep(scen, grid, workers=1, time_limit=limit))
            runs["sweep"].append((w, c))
            objs["sweep"] = tab["objective"].astype(float).tolist()
            cold()
            w, c, tab = _timed(lambda r=r: sweep(scen, grid, workers=1, time_limit=limit,
                                                 out=Path(tmp) / f"sweep{r}"))
            runs["sweep+out"].append((w, c))
            objs["sweep+out"] = tab["objective"].astype(float).tolist()
    med = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu_med = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    worst = max(abs(a - b) / max(1.0, abs(b)) for k in objs
                for a, b in zip(objs[k], objs["bare"], strict=True))
    return {"instance": spec, "points": n, "cols": models[0].n_cols, "median": med,
            "cpu": cpu_med, "objective_mismatch": worst,
            "bare_kept": (statistics.median(w for w, _ in kept[1:]),
                          statistics.median(c for _, c in kept[1:])) if kept else None}


def sweep_table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`measure_sweep` rows."""
    out = ["| instance | points | time | bare (sum) s | loop s | sweep s | sweep+out s "
           "| loop / bare | sweep / bare | sweep+out / bare |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for what, m in (("wall", r["median"]), ("CPU", r["cpu"])):
            b = m["bare"]
            out.append(f"| {r['instance']} | {r['points']} | {what} | {b:.2f} "
                       f"| {m['loop']:.2f} | {m['sweep']:.2f} | {m['sweep+out']:.2f} "
                       f"| {m['loop'] / b:.1f}x | {m['sweep'] / b:.1f}x "
                       f"| {m['sweep+out'] / b:.1f}x |")
    return "\n".join(out)


def kept_lines(rows: list[dict[str, Any]]) -> str:
    """One line per instance: the bare sum against the same points on one kept HiGHS."""
    out = []
    for r in rows:
        if r["bare_kept"] is None:
            out.append(f"{r['instance']}: the points' models differ beyond the objective: "
                       "no kept-instance run")
            continue
        (kw, kc), bw, bc = r["bare_kept"], r["median"]["bare"], r["cpu"]["bare"]
        out.append(f"{r['instance']}: bare on one kept HiGHS (costs changed per point): wall "
                   f"{kw:.2f} s vs {bw:.2f} s fresh ({kw / bw:.2f}x), CPU {kc:.2f} s vs "
                   f"{bc:.2f} s ({kc / bc:.2f}x)")
    return "\n".join(out)


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
    p.add_argument("--sweep", type=int, metavar="N",
                   help="measure a sweep of N points per instance instead (default: tiny)")
    p.add_argument("--sweep-key", default="rules.overlap.cost", help="the swept override key")
    a = p.parse_args(argv)
    from channel_opt.solving import solve

    solve(_scenario("tiny"), sensitivity=False)  # imports and first-run costs out of the way
    if a.sweep:
        specs = a.instances if a.instances != DEFAULT_INSTANCES else ["tiny"]
        srows = []
        for spec in specs:
            r = measure_sweep(spec, a.sweep, a.repeat, a.limit, a.sweep_key)
            srows.append(r)
            print("\n".join(sweep_table([r]).splitlines()[-2:]), file=sys.stderr, flush=True)
            if r["objective_mismatch"] > 1e-4:
                print(f"warning: {spec}: objectives differ by {r['objective_mismatch']:.2e}",
                      file=sys.stderr)
        text = sweep_table(srows) + "\n\n" + kept_lines(srows)
        print(text)
        if a.out:
            Path(a.out).write_text(text + "\n", encoding="utf-8")
        return 0
    rows = []
    for spec in [*a.instances, *(["regional"] if a.regional else [])]:
        r = measure(spec, a.repeat, a.limit)
        rows.append(r)
        print(table([r]).splitlines()[-1], file=sys.stderr, flush=True)
        objs = r["objective"]
        if max(objs.values()) - min(objs.values()) > 1e-4 * max(1.0, abs(objs["bare"])):
            print(f"warning: {spec}: objectives differ {objs}", file=sys.stderr)
    emit(table(rows), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
