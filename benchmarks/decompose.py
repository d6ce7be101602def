"""Time to a gap: region decomposition against one monolithic MIP, and the scaling
table (not a test).

For every family of ``benchmarks/generator.py`` at the given cell counts it writes
the instance once and runs ``channel-opt solve`` as a user would, one run after the
other on the same machine: ``--method decompose`` and ``--method monolithic`` with
HiGHS (``--methods`` picks; SCIP with ``--scip`` when installed), all with
``--mip-gap`` = the target gap (``--gap``, 1 %) and one ``--time-limit``. A run that
stops with a checked plan at gap <= the target took its wall time to get there; one
that does not reports its gap at the limit. ``--methods bare`` adds the bare solvers
(``benchmarks/bare.py``: HiGHS, and SCIP where installed, with their defaults on the
model's MPS file, nothing of channel_opt's) with a limit of ``--bare-factor`` (5) times
the fastest time to the target of the runs above on the same instance (times the
``--time-limit`` where none reached it): a bare solver that does not reach the target
within it is at least that many times slower; its time is the solver's own (the file
read excluded). The peak resident memory of each run is
that of its largest process (the command or the solver child it starts, from the
kernel's accounting of the run: ``wait4``). Prints a Markdown table (``--out`` writes
it, ``--json`` the raw rows).

    python -m benchmarks.decompose --cells 10000 --limit 120 [--family core capacity]
    python -m benchmarks.decompose --cells 100000 --limit 600 --gap 0.02 --methods monolithic
    python -m benchmarks.decompose --cells 10000 --methods monolithic bare --scip
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .wallclock import ROOT, _env, write_instance

TARGET_GAP = 0.01


def _measured(cmd: list[str], kill_after: float | None = None,
              stdout: bool = False) -> tuple[float, int, int, str]:
    """Run ``cmd`` to its end (killed after ``kill_after`` s): its wall time, exit code,
    the peak resident memory (KB) of its largest process (``wait4``) and its stderr
    (with its stdout where ``stdout``).
    """
    t = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, env=_env(), cwd=ROOT, text=True, stderr=err,
                             stdout=err if stdout else subprocess.DEVNULL)
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG if kill_after else 0)
            if pid:
                break
            if kill_after is not None and time.monotonic() - t > kill_after:
                p.kill()
            time.sleep(0.1)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t
        err.seek(0)
        return wall, p.returncode, usage.ru_maxrss, err.read()


def run(scenario: Path, out: Path, *, method: str, solver: str, limit: float,
        workers: int | None, gap: float = TARGET_GAP) -> dict[str, Any]:
    """One command-line solve to its end: wall time, peak memory and what
    ``summary.json`` says.
    """
    cmd = [sys.executable, "-m", "channel_opt.cli", "-q", "solve", str(scenario), "--out",
           str(out), "--time-limit", str(limit), "--solver", solver, "--method", method,
           "--mip-gap", str(gap), "--no-plots", "--overwrite"]
    if workers is not None and method == "decompose":
        cmd += ["--workers", str(workers)]
    wall, code, maxrss, stderr = _measured(cmd)
    row: dict[str, Any] = {"method": method, "solver": solver, "wall": wall,
                           "exit": code, "peak_gb": maxrss / 2**20}
    summary = out / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        row.update(plan=s["plan_status"], objective=s["objective"], bound=s["bound"],
                   gap=s["gap"], iterations=(s.get("method") or {}).get("iterations"),
                   bound_origin=(s.get("method") or {}).get("bound_origin"))
    else:
        row.update(plan="none", error=stderr[-500:])
    reached = row.get("plan") in ("optimal", "feasible") and row.get("gap") is not None \
        and row["gap"] <= gap + 1e-12
    row["time_to_target"] = wall if reached else None
    return row


def run_bare(model: Path, *, solver: str, limit: float, gap: float) -> dict[str, Any]:
    """A bare solver (``benchmarks/bare.py``) on the model file, in its own process:
    killed at twice its limit plus a minute (SCIP was seen overrunning its limit).
    """
    cmd = [sys.executable, "-m", "benchmarks.bare", str(model), "--solver", solver,
           "--limit", str(limit), "--gap", str(gap)]
    wall, _, maxrss, text = _measured(cmd, kill_after=2 * limit + 60, stdout=True)
    row: dict[str, Any] = {"method": "bare", "solver": solver, "wall": wall, "limit": limit,
                           "peak_gb": maxrss / 2**20}
    try:
        r = json.loads(text.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        row.update(plan="none", error=text[-500:])
        row["time_to_target"] = None
        return row
    row.update(plan="feasible" if r["objective"] is not None else "none",
               objective=r["objective"], bound=r["bound"], gap=r["gap"], status=r["status"],
               solver_seconds=r["seconds"], nodes=r["nodes"])
    reached = r["gap"] is not None and r["gap"] <= gap + 1e-12
    row["time_to_target"] = r["seconds"] if reached else None
    # within the gap only when stopped by the limit: it got there some time before
    row["by_limit"] = reached and r["status"].lower().replace(" ", "") in (
        "timelimitreached", "timelimit")
    return row


def _fmt(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    mem = f", {r['peak_gb']:.1f} GB" if r.get("peak_gb") else ""
    if r.get("plan") in (None, "none"):
        return f"no plan ({r['wall']:.0f} s{mem})"
    gap = "n/a" if r.get("gap") is None else f"{r['gap']:.2%}"
    if r["time_to_target"] is not None:
        return f"**{r['time_to_target']:.1f} s** (gap {gap}{mem})"
    at = r.get("solver_seconds", r["wall"])
    return f"not reached: gap {gap} at {at:.0f} s{mem}"


def _fmt_bare(r: dict[str, Any] | None, mine: list[dict[str, Any]]) -> str:
    """A bare run against the fastest channel_opt run of the same instance."""
    if r is None:
        return "–"
    ours = [o["time_to_target"] for o in mine if o["method"] != "bare" and o["time_to_target"]]
    if r["time_to_target"] is not None:
        at_most = "≤ " if r.get("by_limit") else ""  # reached before its limit stopped it
        ratio = f"; {at_most}{r['time_to_target'] / min(ours):.1f}× the fastest" if ours \
            else ""
        return _fmt(r) + (" by its limit" if r.get("by_limit") else "") + ratio
    return _fmt(r) + (f"; > {r['limit'] / min(ours):.1f}× the fastest" if ours else "")


def table(rows: list[dict[str, Any]], solvers: list[str], gap: float = TARGET_GAP,
          bare_solvers: tuple[str, ...] = ("highs", "scip")) -> str:
    """Markdown: one line per family and size, one column per method run."""
    has_dec = any(r["method"] == "decompose" for r in rows)
    has_bare = any(r["method"] == "bare" for r in rows)
    heads = ["family", "cells"] + (["decompose (HiGHS regions)"] if has_dec else []) + \
        [f"monolithic {s}" for s in solvers] + \
        (["speed-up vs HiGHS", "decompose: iterations, bound"] if has_dec else []) + \
        [f"bare {s}" for s in bare_solvers if has_bare]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    keys = sorted({(r["family"], r["cells"]) for r in rows}, key=lambda k: (k[1], k[0]))
    for fam, n in keys:
        mine = [r for r in rows if r["family"] == fam and r["cells"] == n]
        mono = {r["solver"]: r for r in mine if r["method"] == "monolithic"}
        cells = [fam, f"{n:,}"]
        dec = next((r for r in mine if r["method"] == "decompose"), None)
        if dec is not None:
            cells.append(_fmt(dec))
        cells += [_fmt(mono.get(s)) for s in solvers]
        if dec is not None:
            h = mono.get("highs")
            if h is not None and dec["time_to_target"] and h["time_to_target"]:
                speed = f"{h['time_to_target'] / dec['time_to_target']:.1f}x"
            elif dec["time_to_target"] and h is not None:
                speed = f"monolithic never reached {gap:.0%}"
            else:
                speed = "–"
            cells += [speed, f"{dec.get('iterations')}, {dec.get('bound_origin')}"]
        bare = {r["solver"]: r for r in mine if r["method"] == "bare"}
        if has_bare:
            cells += [_fmt_bare(bare.get(s), mine) for s in bare_solvers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_mps(scenario: Path, path: Path) -> Path:
    """The model ``channel_opt.solve`` builds for the scenario, as an MPS file."""
    from channel_opt.model import build_array_model
    from channel_opt.model.linear import highs_arrays, highs_from_arrays
    from channel_opt.scenario import load_scenario

    am, _ = build_array_model(load_scenario(scenario))
    highs_from_arrays(highs_arrays(am)).writeModel(str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the table."""
    from .generator import FAMILIES

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, nargs="+", default=[10_000])
    ap.add_argument("--family", nargs="+", default=list(FAMILIES))
    ap.add_argument("--limit", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scip", action="store_true", help="also monolithic SCIP")
    ap.add_argument("--methods", nargs="+", default=["decompose", "monolithic"],
                    choices=["decompose", "monolithic", "bare"])
    ap.add_argument("--bare-factor", type=float, default=5.0,
                    help="the bare solvers' limit: this times the fastest run's time")
    ap.add_argument("--gap", type=float, default=TARGET_GAP, help="target gap (--mip-gap)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the Markdown table here")
    ap.add_argument("--json", help="write the raw rows here")
    a = ap.parse_args(argv)
    solvers = ["highs"] + (["scip"] if a.scip else [])
    bare_solvers = ["highs"] + (["scip"] if importlib.util.find_spec("pyscipopt") else [])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-decompose-") as tmp:
        for n in a.cells:
            for fam in a.family:
                scen = write_instance(fam, n, Path(tmp) / f"{fam}_{n}", a.seed)
                runs = ([("decompose", "highs")] if "decompose" in a.methods else []) + \
                    ([("monolithic", s) for s in solvers] if "monolithic" in a.methods else [])
                for method, solver in runs:
                    r = run(scen, Path(tmp) / "out", method=method, solver=solver,
                            limit=a.limit, workers=a.workers, gap=a.gap)
                    r.update(family=fam, cells=n, limit=a.limit)
                    rows.append(r)
                    print(json.dumps({k: v for k, v in r.items() if k != "error"}),
                          file=sys.stderr, flush=True)
                if "bare" in a.methods:
                    model = _write_mps(scen, Path(tmp) / f"{fam}_{n}.mps")
                    ours = [r["time_to_target"] for r in rows if r["family"] == fam and
                            r["cells"] == n and r["time_to_target"]]
                    bare_limit = a.bare_factor * (min(ours) if ours else a.limit)
                    for solver in bare_solvers:
                        r = run_bare(model, solver=solver, limit=bare_limit, gap=a.gap)
                        r.update(family=fam, cells=n)
                        rows.append(r)
                        print(json.dumps({k: v for k, v in r.items() if k != "error"}),
                              file=sys.stderr, flush=True)
    md = table(rows, solvers, a.gap, tuple(bare_solvers))
    print(md)
    if a.out:
        Path(a.out).write_text(md + "\n")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
