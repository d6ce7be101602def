"""Wall-clock benchmark of ``channel-opt solve`` under ``--time-limit`` (not a test).

For generated instances (``benchmarks/generator.py``) of 10^3, 10^4 (and 10^5) cells
and limits of 10, 30 and 120 s it runs the command line as a user would, measures
the wall time from start to exit and compares it with limit + grace
(:func:`channel_opt.solving.budget.grace_seconds`); a second run per instance is
sent SIGINT once solving has begun and the time from the signal to the exit is
measured. Prints a Markdown table (and writes it with ``--out``).

    python -m benchmarks.wallclock --cells 1000 10000 --limits 10 30 [--family all]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .report import emit

ROOT = Path(__file__).resolve().parents[1]


def write_instance(family: str, n_cells: int, folder: Path, seed: int = 0) -> Path:
    """Write a generated instance as YAML + CSV into ``folder``; its scenario path."""
    from channel_opt.scenario import Scenario, save_scenario

    from .generator import generate

    tables, settings = generate(family, n_cells, seed)
    name = f"{family}_{n_cells}"
    scen = Scenario.from_frames(tables, settings, name=name)
    folder.mkdir(parents=True, exist_ok=True)
    return save_scenario(scen, folder / f"{name}.yaml")


def _command(scenario: Path, out: Path, limit: float, solver: str) -> list[str]:
    return [sys.executable, "-m", "channel_opt.cli", "solve", str(scenario), "--out", str(out),
            "--time-limit", str(limit), "--solver", solver, "--no-plots"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_limit(scenario: Path, out: Path, limit: float, solver: str = "highs") -> dict[str, Any]:
    """One run to its end: wall time, exit status and the phases of ``summary.json``."""
    t = time.monotonic()
    p = subprocess.run(_command(scenario, out, limit, solver), env=_env(), cwd=ROOT,
                       capture_output=True, text=True, check=False)
    wall = time.monotonic() - t
    timings: dict[str, float] = {}
    status = ""
    summary = out / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        timings, status = s["timings_seconds"], s["termination"]
    return {"wall": wall, "exit": p.returncode, "termination": status, "timings": timings}


def run_interrupt(scenario: Path, out: Path, limit: float, solver: str = "highs",
                  marker: str = "solving with") -> dict[str, Any]:
    """A run sent SIGINT once its log says the solver starts (plus 1 s): the seconds
    from the signal to the exit, and the exit status."""
    p = subprocess.Popen(_command(scenario, out, limit, solver), env=_env(), cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    for line in p.stderr:
        if marker in line:
            break
    time.sleep(1.0)
    if p.poll() is not None:
        return {"latency": None, "exit": p.returncode, "note": "finished before the signal"}
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    p.wait()
    # a run past its solve (e.g. no time was left for the solver) may exit before the
    # signal is handled: say so rather than count it as a fast interrupt
    note = "" if "interrupted" in rest else "was already ending"
    return {"latency": time.monotonic() - t, "exit": p.returncode, "note": note}


def main(argv: list[str] | None = None) -> int:
    """Run the grid and print the table."""
    from channel_opt.solving.budget import grace_seconds

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--limits", type=float, nargs="+", default=[10.0, 30.0])
    ap.add_argument("--family", default="all")
    ap.add_argument("--solver", default="highs")
    ap.add_argument("--no-interrupt", action="store_true")
    ap.add_argument("--out", help="also write the table (Markdown) here")
    a = ap.parse_args(argv)
    rows = ["| cells | limit (s) | wall (s) | limit + grace (s) | within | exit | termination "
            "| phases (s) | SIGINT to exit (s) |", "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="wallclock-") as tmp:
        for n in a.cells:
            scen = write_instance(a.family, n, Path(tmp) / f"in_{n}")
            for limit in a.limits:
                r = run_limit(scen, Path(tmp) / f"out_{n}_{limit:g}", limit, a.solver)
                cap = limit + grace_seconds(limit)
                phases = ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items())
                lat = "-"
                if not a.no_interrupt:
                    i = run_interrupt(scen, Path(tmp) / f"int_{n}_{limit:g}", limit, a.solver)
                    lat = "finished first" if i["latency"] is None else \
                        f"{i['latency']:.1f} (exit {i['exit']}{', ' if i['note'] else ''}" \
                        f"{i['note']})"
                rows.append(f"| {n:,} | {limit:g} | {r['wall']:.1f} | {cap:g} | "
                            f"{'yes' if r['wall'] <= cap else '**no**'} | {r['exit']} | "
                            f"{r['termination']} | {phases} | {lat} |")
                print(rows[-1], flush=True)
    emit("\n".join(rows), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
