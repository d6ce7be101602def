"""Benchmark driver: ``python -m benchmarks {build,solve,rootgap,check-floor} ...``.

Also reached as ``channel-opt bench ...`` (which calls :func:`main`). See
``benchmarks/README.md``.

build
    Per family and size, in fresh processes: generate, load, build and hand-off to
    HiGHS, timed per phase with peak memory, against the two floors (the
    hand-written numpy assembly of :mod:`benchmarks.floor`, core family only, and
    COO -> CSC + ``passModel`` of our own final triplets).
solve
    The solver matrix: every (family, size, solver) solved in its own process with
    the same time limit and gap; the process is killed if it has not returned
    ``grace`` seconds after the limit.
rootgap
    Per family and size: LP bound, root bound and best known plan, as gaps
    (:mod:`benchmarks.rootgap`).
check-floor
    Check that the numpy floor builds the same model as ours (rows, columns,
    nonzeros and LP-relaxation optimum) on a core instance.

Results are appended to ``<out>/<name>.csv``; ``<out>/<name>.md`` (Markdown table of
this run) and ``<out>/<name>.png`` (time vs cells) are rewritten.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import report, rootgap
from .generator import FAMILIES
from .runner import ROOT, WorkerRun, run_worker

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_SOLVERS = ("highs", "cbc", "glpk", "scip", "gurobi", "cplex", "xpress")


def _sizes(text: str) -> list[int]:
    try:
        out = [int(float(x)) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be numbers like 1e3,1e4: {text!r}") \
            from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("give at least one size >= 1")
    return out


def _families(text: str) -> list[str]:
    fams = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in fams if f not in FAMILIES]
    if bad or not fams:
        raise argparse.ArgumentTypeError(f"unknown family {', '.join(bad) or text!r}: use "
                                         f"{', '.join(FAMILIES)}")
    return fams


def _num(ev: dict[str, Any] | None, key: str) -> float | None:
    if ev is None or ev.get(key) is None:
        return None
    return float(ev[key])


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _errors(*runs: WorkerRun | None) -> str:
    return "; ".join(f"{r.first('start')['task'] if r.first('start') else 'worker'}: {r.error}"
                     for r in runs if r is not None and r.error)


def floor_supported(family: str) -> bool:
    """Whether the numpy floor can assemble this family (checked on a tiny instance)."""
    from channel_opt.scenario import Scenario

    from . import floor
    from .generator import generate

    tables, settings = generate(family, 60, 0)
    scen = Scenario.from_frames(tables, settings)
    return not floor.unsupported(dict(scen.tables), scen.settings)


# ---------------------------------------------------------------- build


def build_row(family: str, size: int, repeat: int, via_csv: bool, p: WorkerRun,
              fn: WorkerRun | None, fp: WorkerRun | None) -> dict[str, Any]:
    """One CSV row from the pipeline and floor workers of one (family, size, repeat)."""
    gen, load, build, hand = (p.phase(k) for k in ("generate", "load", "build", "handoff"))
    done = p.first("done")
    row: dict[str, Any] = {
        "family": family, "size": size, "repeat": repeat, "via_csv": via_csv,
        "cells": load and load.get("cells"), "shares": load and load.get("shares"),
        "n_cols": hand and hand.get("n_cols"), "n_rows": hand and hand.get("n_rows"),
        "nnz": hand and hand.get("nnz"),
        "t_generate": _num(gen, "seconds"), "t_load": _num(load, "seconds"),
        "t_write_csv": _num(p.phase("write_csv"), "seconds"),
        "t_build_data": _num(build, "build_data"),
        "t_build_array_model": _num(build, "build_array_model"),
        "t_build": _num(build, "seconds"), "t_handoff": _num(hand, "seconds"),
        "mem_build_handoff_mb": _num(done, "build_handoff_extra_mb"),
        "peak_build_handoff_mb": _num(done, "build_handoff_peak_mb"),
        "exact_memory": bool(p.first("start") and p.first("start").get("exact_memory")),
        "loadavg": report.loadavg(),
    }
    tb, th = row["t_build"], row["t_handoff"]
    row["t_build_handoff"] = tb + th if tb is not None and th is not None else None
    f = fn.phase("floor_numpy") if fn else None
    if f:
        row.update(t_floor_numpy=_num(f, "seconds"), t_floor_numpy_assemble=_num(f, "assemble"),
                   t_floor_numpy_passmodel=_num(f, "passmodel"),
                   mem_floor_numpy_mb=f["peak_mb"] - f["base_mb"], peak_floor_numpy_mb=f["peak_mb"],
                   floor_numpy_same_shape=bool(hand) and all(
                       f.get(k) == hand.get(k) for k in ("n_cols", "n_rows", "nnz")))
    g = fp.phase("floor_passmodel") if fp else None
    if g:
        row.update(t_floor_passmodel=_num(g, "seconds"),
                   mem_floor_passmodel_mb=g["peak_mb"] - g["base_mb"],
                   peak_floor_passmodel_mb=g["peak_mb"])
    row["ratio_time_numpy"] = _ratio(row["t_build_handoff"], row.get("t_floor_numpy"))
    row["ratio_time_passmodel"] = _ratio(row["t_build_handoff"], row.get("t_floor_passmodel"))
    row["ratio_mem_numpy"] = _ratio(row["mem_build_handoff_mb"], row.get("mem_floor_numpy_mb"))
    row["ratio_mem_passmodel"] = _ratio(row["mem_build_handoff_mb"],
                                        row.get("mem_floor_passmodel_mb"))
    row["error"] = _errors(p, fn, fp)
    return row


def cmd_build(a: argparse.Namespace) -> int:
    families: list[str] = a.family
    name = a.name or f"build_{'-'.join(families)}"
    out = Path(a.out)
    run_id = time.strftime("%Y%m%dT%H%M%S")
    rows = []
    with_numpy = {f: not a.no_floor and floor_supported(f) for f in families}
    for fam in families:
        for size in a.sizes:
            for rep in range(a.repeat):
                spec = {"family": fam, "n_cells": size, "seed": a.seed, "via_csv": a.via_csv}
                p = run_worker({**spec, "task": "pipeline"}, setup_timeout=a.timeout)
                fp = None if a.no_floor else run_worker({**spec, "task": "floor_passmodel"},
                                                        setup_timeout=a.timeout)
                fn = run_worker({**spec, "task": "floor_numpy"}, setup_timeout=a.timeout) \
                    if with_numpy[fam] else None
                row = build_row(fam, size, rep, a.via_csv, p, fn, fp)
                row.update(run_id=run_id, timestamp=time.strftime("%Y-%m-%d %H:%M:%S"))
                rows.append(row)
                _progress(row)
    notes = [f"command (latest run): `python -m benchmarks {' '.join(a.argv)}`"]
    if not all(r.get("exact_memory") for r in rows):
        notes.append("peak memory sampled every 2 ms (no /proc/self/clear_refs here)")
    _write(out, name, report.BUILD_FIELDS, rows, report.build_markdown, notes,
           ["family", "size"], None if a.no_plot else report.plot_build)
    return 1 if any(r["error"] for r in rows) else 0


def _loads(rows: list[dict[str, Any]]) -> str:
    vals = [float(r["loadavg"]) for r in rows if r.get("loadavg")]
    return f"{min(vals):.2f}–{max(vals):.2f}" if vals else "?"


def _progress(row: dict[str, Any]) -> None:
    def f(k: str, fmt: str = "{:.3f}") -> str:
        v = row.get(k)
        return "–" if v is None or v == "" else fmt.format(v)
    if "solver" in row:
        print(f"{row['family']:>11} {row['size']:>9,} {row['solver']:>8}: {row['status']:<11} "
              f"obj {f('objective', '{:,.1f}')} bound {f('bound', '{:,.1f}')} "
              f"gap {f('gap', '{:.2%}')} build {f('t_build')} handoff {f('t_handoff')} "
              f"solve {f('t_solve', '{:.1f}')} {row.get('note') or ''}", flush=True)
        return
    print(f"{row['family']:>11} {row['size']:>9,} #{row['repeat']}: load {f('t_load')} "
          f"build {f('t_build')} handoff {f('t_handoff')} | floor numpy {f('t_floor_numpy')} "
          f"passModel {f('t_floor_passmodel')} | ratio {f('ratio_time_numpy', '{:.2f}')}/"
          f"{f('ratio_time_passmodel', '{:.2f}')} | mem {f('mem_build_handoff_mb', '{:.0f}')} "
          f"vs {f('mem_floor_numpy_mb', '{:.0f}')}/{f('mem_floor_passmodel_mb', '{:.0f}')} MB"
          + (f" | ERROR {row['error']}" if row.get("error") else ""), flush=True)


def _write(out: Path, name: str, fields: list[str], rows: list[dict[str, Any]],
           markdown: Any, notes: list[str], keys: list[str], plot: Any) -> None:
    """Append this run's rows to the CSV; rewrite the table and plot from the latest
    run of every combination of ``keys`` found in the CSV (so runs of other sizes or
    families under the same name are kept)."""
    out.mkdir(parents=True, exist_ok=True)
    report.append_csv(out / f"{name}.csv", fields, rows)
    shown = report.latest(report.read_csv(out / f"{name}.csv"), keys)
    runs = sorted({str(r["run_id"]) for r in shown})
    notes = [*notes, f"load average (1 min) during the runs shown: {_loads(shown)}"]
    if len(runs) > 1:
        notes.append(f"table combines the latest run of each row in {name}.csv: "
                     f"{', '.join(runs)}")
    rows = shown
    md = markdown(rows, report.machine(), notes)
    (out / f"{name}.md").write_text(md, encoding="utf-8")
    written = [out / f"{name}.csv", out / f"{name}.md"]
    if plot is not None:
        png = plot(rows, out / f"{name}.png")
        if png:
            written.append(png)
    print("wrote " + ", ".join(str(p) for p in written))


# ---------------------------------------------------------------- solve


def solve_row(family: str, size: int, solver: str, a: argparse.Namespace, run: WorkerRun,
              log_file: Path | None) -> dict[str, Any]:
    """One CSV row from a solve worker."""
    T = a.time_limit
    load, build, ex = run.phase("load"), run.phase("build"), run.phase("extract")
    solved, hd, ss = run.first("solved"), run.first("handoff_done"), run.first("solve_start")
    row: dict[str, Any] = {
        "family": family, "size": size, "solver": solver, "time_limit": T,
        "mip_gap": a.mip_gap, "cells": load and load.get("cells"),
        "n_cols": build and build.get("n_cols"), "n_rows": build and build.get("n_rows"),
        "t_generate": _num(run.phase("generate"), "seconds"), "t_load": _num(load, "seconds"),
        "t_build": _num(build, "seconds"), "t_extract": _num(ex, "seconds"),
        "version": (solved or ss or {}).get("version", ""), "killed": run.killed,
        "wall": run.wall, "loadavg": report.loadavg(),
    }
    ex_ = run.first("exit")
    row["peak_mb"] = _num(ex_, "ru_maxrss_mb")
    notes = []
    wa = run.first("workaround")
    if wa:
        notes.append(f"workaround: {wa.get('note')}")
    if solved:
        row.update(status=solved["termination"], objective=solved.get("objective"),
                   bound=solved.get("bound"), t_handoff=solved.get("handoff"),
                   t_solve=solved.get("solve"))
        if solved["termination"] not in ("optimal", "time_limit"):
            notes.append(str(solved.get("message", "")))
        if ex and ex.get("row_violations"):
            notes.append(f"plan breaks {ex['row_violations']} rows")
        if ex and ex.get("error"):
            notes.append(f"extract: {ex['error']}")
    elif run.killed:
        row["status"] = "killed"
        if hd and ss:
            row["t_handoff"] = hd["t"] - ss["t"]
            row["t_solve"] = run.ended_at - hd["t"]
        notes.append(run.kill_reason)
        last = _last_log_line(log_file)
        if last:
            notes.append(f"last log line: {last}")
    else:
        row["status"] = "failed"
        notes.append(run.error or "no result")
    row["gap"] = _gap(row.get("objective"), row.get("bound"))
    ts = row.get("t_solve")
    over = ts is not None and T is not None and ts > 1.1 * T + 5
    if over and not run.killed:
        notes.append(f"returned {ts - T:.0f} s past the limit")
    row["stalled"] = bool(run.killed or over)
    parts = [row.get("t_load"), row.get("t_build"), row.get("t_handoff")]
    if ts and all(x is not None for x in parts):
        row["overhead_share"] = sum(parts) / ts  # type: ignore[arg-type]
    row.update(report.profile_columns(run.first("profile")))
    row["note"] = "; ".join(n for n in notes if n)
    return row


def _gap(obj: Any, bound: Any) -> float | None:
    if obj is None or bound is None:
        return None
    o, b = float(obj), float(bound)
    if not (math.isfinite(o) and math.isfinite(b)):
        return None
    return abs(b - o) / max(1e-10, abs(o))


def _last_log_line(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:100] if lines else ""


def cmd_solve(a: argparse.Namespace) -> int:
    from channel_opt.solving.backends import BACKENDS

    families: list[str] = a.family
    asked = [s.strip() for s in a.solvers.split(",") if s.strip()] if a.solvers else \
        list(DEFAULT_SOLVERS)
    unknown = [s for s in asked if s not in BACKENDS]
    if unknown:
        print(f"unknown solver(s) {', '.join(unknown)}: use {', '.join(BACKENDS)}",
              file=sys.stderr)
        return 2
    solvers = [s for s in asked if BACKENDS[s].is_available()]
    missing = [s for s in asked if s not in solvers]
    notes = [f"command (latest run): `python -m benchmarks {' '.join(a.argv)}`",
             f"time limit {a.time_limit} s, relative MIP gap {a.mip_gap}, threads "
             f"{a.threads or 'solver default'}; kill {a.grace_eff:.0f} s after the limit "
             "(counted from the end of the hand-off)"]
    if missing:
        msg = f"skipped (not installed here): {', '.join(missing)}"
        print(msg)
        notes.append(msg)
    name = a.name or f"solve_{'-'.join(families)}"
    run_id = time.strftime("%Y%m%dT%H%M%S")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_logs_") as logs:
        for fam in families:
            for size in a.sizes:
                for sv in solvers:
                    log_file = Path(logs) / f"{fam}_{size}_{sv}.log" if sv == "highs" else None
                    spec = {"task": "solve", "family": fam, "n_cells": size, "seed": a.seed,
                            "solver": sv, "time_limit": a.time_limit, "mip_gap": a.mip_gap,
                            "threads": a.threads,
                            "log_file": str(log_file) if log_file else None}
                    run = run_worker(spec, setup_timeout=a.timeout,
                                     solve_timeout=a.time_limit + a.grace_eff)
                    row = solve_row(fam, size, sv, a, run, log_file)
                    row.update(run_id=run_id, timestamp=time.strftime("%Y-%m-%d %H:%M:%S"))
                    rows.append(row)
                    _progress(row)
    _write(Path(a.out), name, report.SOLVE_FIELDS, rows, report.solve_markdown, notes,
           ["family", "size", "solver"], None if a.no_plot else report.plot_solve)
    return 1 if any(r["status"] == "failed" for r in rows) else 0


# ---------------------------------------------------------------- check-floor


def check_floor(n_cells: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Our model and the numpy floor on one core instance: sizes and LP optimum."""
    import numpy as np

    from channel_opt.model import build_array_model, to_highs
    from channel_opt.scenario import Scenario

    from . import floor
    from .generator import generate

    tables, settings = generate("core", n_cells, seed)
    scen = Scenario.from_frames(tables, settings)
    fm = floor.assemble(dict(scen.tables), scen.settings)
    am, _ = build_array_model(scen)
    h = to_highs(am)
    h.changeColsIntegrality(am.n_cols, np.arange(am.n_cols, dtype=np.int32),
                            np.zeros(am.n_cols, dtype=np.uint8))
    ours = floor.lp_optimum(h)
    theirs = floor.lp_optimum(floor.pass_model(fm, relax=True))
    return {"ours": (am.n_rows, am.n_cols, int(am.matrix().nnz)),
            "floor": (fm.n_rows, fm.n_cols, fm.nnz), "lp_ours": ours, "lp_floor": theirs}


def cmd_check_floor(a: argparse.Namespace) -> int:
    ok = True
    for size in a.sizes:
        r = check_floor(size, a.seed)
        same = r["ours"] == r["floor"]
        lp_ok = r["lp_ours"][0] == r["lp_floor"][0] == "Optimal" and math.isclose(
            r["lp_ours"][1], r["lp_floor"][1], rel_tol=1e-7)
        ok &= same and lp_ok
        print(f"core {size:,}: rows/cols/nnz ours {r['ours']} floor {r['floor']} "
              f"({'same' if same else 'DIFFERENT'}); LP optimum ours {r['lp_ours'][1]:,.4f} "
              f"floor {r['lp_floor'][1]:,.4f} ({'same' if lp_ok else 'DIFFERENT'})")
    return 0 if ok else 1


# ---------------------------------------------------------------- CLI


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def common(s: argparse.ArgumentParser, sizes: str) -> None:
        s.add_argument("--family", "--families", dest="family", type=_families,
                       default=["core"],
                       help=f"family or comma list: {', '.join(FAMILIES)} (default core)")
        s.add_argument("--sizes", "--cells", dest="sizes", type=_sizes, default=_sizes(sizes),
                       help=f"cells, comma list (default {sizes})")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--name", help="results file name (default <command>_<families>)")
        s.add_argument("--out", default=str(RESULTS), help="results folder "
                       "(default benchmarks/results)")
        s.add_argument("--no-plot", action="store_true", help="skip the PNG")

    b = sub.add_parser("build", help="time generate/load/build/hand-off against the floor")
    common(b, "1e3,1e4,1e5")
    b.add_argument("--repeat", type=int, default=1, help="fresh processes per size (median)")
    b.add_argument("--via-csv", action="store_true",
                   help="load through written YAML+CSV files and load_scenario")
    b.add_argument("--no-floor", action="store_true", help="skip both floors")
    b.add_argument("--timeout", type=float, default=3600.0,
                   help="kill a worker after this many seconds (default 3600)")
    b.set_defaults(fn=cmd_build)

    s = sub.add_parser("solve", help="the solver matrix")
    common(s, "1e3,1e4")
    s.add_argument("--solvers", help="comma list (default: every backend installed of "
                   f"{', '.join(DEFAULT_SOLVERS)})")
    s.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    s.add_argument("--mip-gap", type=float, default=1e-4, help="relative gap (default 1e-4)")
    s.add_argument("--threads", type=int)
    s.add_argument("--grace", type=float, help="kill this many seconds after the limit "
                   "(default 10 + 25%% of the limit)")
    s.add_argument("--timeout", type=float, default=1800.0,
                   help="kill a worker that has not handed off after this many seconds")
    s.set_defaults(fn=cmd_solve)

    rootgap.add_parser(sub, common)

    c = sub.add_parser("check-floor", help="check the numpy floor against our model")
    c.add_argument("--sizes", type=_sizes, default=[1000])
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(fn=cmd_check_floor)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point (``python -m benchmarks`` and ``channel-opt bench``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # ``channel-opt bench -- build ...``
        argv = argv[1:]
    try:
        a = parser().parse_args(argv)
    except SystemExit as e:  # argparse's usage errors and --help
        return int(e.code or 0)
    a.argv = argv
    if a.command == "solve":
        a.grace_eff = a.grace if a.grace is not None else 10.0 + 0.25 * a.time_limit
    if getattr(a, "repeat", 1) < 1:
        print("--repeat must be >= 1", file=sys.stderr)
        return 2
    return int(a.fn(a))


if __name__ == "__main__":
    sys.exit(main())
