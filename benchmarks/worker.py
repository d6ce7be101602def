"""One benchmark measurement in a fresh process: ``python -m benchmarks.worker SPEC OUT``.

``SPEC`` is a JSON object (the task and its parameters); the worker appends one JSON
object per line to the file ``OUT`` as each phase finishes, so a parent that kills a
stalled worker still knows how far it got. Tasks:

``pipeline``
    generate -> load -> build (``build_data`` + ``build_array_model``) -> hand-off
    (``to_highs``), each phase timed and its peak RSS measured.
``floor_numpy``
    generate -> load -> the hand-written numpy/scipy assembly of the core model
    (:mod:`benchmarks.floor`) -> ``passModel``.
``floor_passmodel``
    generate -> load -> build, then from the model's final coefficient triplets
    only scipy COO -> CSC and ``passModel`` (timed and measured alone).
``solve``
    generate -> load -> build -> hand-off + solve with one backend -> extract.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


class Events:
    """Line-buffered JSON-lines writer."""

    def __init__(self, path: str) -> None:
        self.f = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(self, event: str, **kw: Any) -> None:
        rec = {"event": event, "t": time.time(), **kw}
        self.f.write(json.dumps(rec, default=_jsonable) + "\n")
        self.f.flush()


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    return str(v)


def _scenario(spec: dict[str, Any], ev: Events, meter: Any) -> Any:
    """Generate and load the instance (timed), returning the scenario."""
    from channel_opt.scenario import Scenario, load_scenario, save_scenario

    from .generator import generate

    with meter.phase() as ph:
        t = time.perf_counter()
        tables, settings = generate(spec["family"], int(spec["n_cells"]), int(spec["seed"]))
        t_gen = time.perf_counter() - t
    ev.emit("phase", phase="generate", seconds=t_gen, peak_mb=ph.peak_mb)
    name = f"{spec['family']}_{spec['n_cells']}"
    if spec.get("via_csv"):
        scen0 = Scenario.from_frames(tables, settings, name=name)
        del tables
        tmp = tempfile.mkdtemp(prefix="bench_csv_")
        t = time.perf_counter()
        path = save_scenario(scen0, Path(tmp) / f"{name}.yaml")
        ev.emit("phase", phase="write_csv", seconds=time.perf_counter() - t)
        del scen0
        gc.collect()
        with meter.phase() as ph:
            t = time.perf_counter()
            scen = load_scenario(path)
            t_load = time.perf_counter() - t
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        with meter.phase() as ph:
            t = time.perf_counter()
            scen = Scenario.from_frames(tables, settings, name=name)
            t_load = time.perf_counter() - t
        del tables
    gc.collect()
    ev.emit("phase", phase="load", seconds=t_load, peak_mb=ph.peak_mb,
            cells=len(scen.cells), shares=len(scen.shares))
    return scen


def task_pipeline(spec: dict[str, Any], ev: Events, meter: Any) -> None:
    from channel_opt.model import build_array_model, build_data, to_highs

    scen = _scenario(spec, ev, meter)
    with meter.phase() as b:
        t = time.perf_counter()
        data = build_data(scen)
        t_data = time.perf_counter() - t
        am, _ = build_array_model(scen, data)
        t_build = time.perf_counter() - t
    ev.emit("phase", phase="build", seconds=t_build, build_data=t_data,
            build_array_model=t_build - t_data, base_mb=b.base_mb, peak_mb=b.peak_mb,
            n_cols=am.n_cols, n_rows=am.n_rows)
    with meter.phase() as hp:
        t = time.perf_counter()
        h = to_highs(am)
        t_h = time.perf_counter() - t
    ev.emit("phase", phase="handoff", seconds=t_h, base_mb=hp.base_mb, peak_mb=hp.peak_mb,
            nnz=int(h.getNumNz()), n_cols=int(h.getNumCol()), n_rows=int(h.getNumRow()))
    ev.emit("done", build_handoff_peak_mb=max(b.peak_mb, hp.peak_mb),
            build_handoff_extra_mb=max(b.peak_mb, hp.peak_mb) - b.base_mb)


def task_floor_numpy(spec: dict[str, Any], ev: Events, meter: Any) -> None:
    from . import floor

    scen = _scenario(spec, ev, meter)
    tables, settings = dict(scen.tables), scen.settings
    why = floor.unsupported(tables, settings)
    if why:
        ev.emit("skipped", reason="; ".join(why))
        return
    with meter.phase() as ph:
        t = time.perf_counter()
        fm = floor.assemble(tables, settings)
        t_asm = time.perf_counter() - t
        h = floor.pass_model(fm)
        t_all = time.perf_counter() - t
    ev.emit("phase", phase="floor_numpy", seconds=t_all, assemble=t_asm, passmodel=t_all - t_asm,
            base_mb=ph.base_mb, peak_mb=ph.peak_mb, n_cols=fm.n_cols, n_rows=fm.n_rows,
            nnz=int(h.getNumNz()))
    ev.emit("done")


def _triplets(am: Any) -> dict[str, Any]:
    """The model's final arrays: COO triplets (as ``ArrayModel.matrix`` concatenates them),
    costs, bounds and integrality."""
    cons = list(am.cons.values())
    if cons:
        rows = np.concatenate([c.rows + c.start for c in cons])
        cols = np.concatenate([c.cols for c in cons])
        vals = np.concatenate([c.vals for c in cons])
    else:
        rows = cols = np.zeros(0, np.int64)
        vals = np.zeros(0)
    lo, up = am.bounds()
    rlo, rup = am.row_bounds()
    return {"n_rows": am.n_rows, "n_cols": am.n_cols, "rows": rows, "cols": cols, "vals": vals,
            "cost": am.cost, "lower": lo, "upper": up, "row_lower": rlo, "row_upper": rup,
            "integrality": am.integrality(), "sense": -1 if am.sense == "max" else 1}


def task_floor_passmodel(spec: dict[str, Any], ev: Events, meter: Any) -> None:
    from channel_opt.model import build_array_model

    from . import floor

    scen = _scenario(spec, ev, meter)
    am, data = build_array_model(scen)
    arrays = _triplets(am)
    del am, data, scen
    gc.collect()
    with meter.phase() as ph:
        t = time.perf_counter()
        h = floor.pass_triplets(**arrays)
        t_all = time.perf_counter() - t
    ev.emit("phase", phase="floor_passmodel", seconds=t_all, base_mb=ph.base_mb,
            peak_mb=ph.peak_mb, nnz=int(h.getNumNz()), n_cols=int(h.getNumCol()),
            n_rows=int(h.getNumRow()))
    ev.emit("done")


def task_solve(spec: dict[str, Any], ev: Events, meter: Any) -> None:
    import channel_opt.solving.engines as bk
    import channel_opt.solving.engines.highs as bk_highs
    import channel_opt.solving.engines.pyomo as bk_pyomo
    from channel_opt.model import build_array_model, build_data

    scen = _scenario(spec, ev, meter)
    t = time.perf_counter()
    data = build_data(scen)
    am, _ = build_array_model(scen, data)
    ev.emit("phase", phase="build", seconds=time.perf_counter() - t, n_cols=am.n_cols,
            n_rows=am.n_rows)
    # tell the parent when the hand-off is done: its kill deadline counts from there
    for mod, fn_name in ((bk_highs, "new_highs"), (bk_pyomo, "to_pyomo")):
        orig = getattr(mod, fn_name, None)
        if orig is None:
            continue

        def wrapped(*a: Any, _orig: Any = orig, **k: Any) -> Any:
            out = _orig(*a, **k)
            ev.emit("handoff_done")
            return out
        setattr(mod, fn_name, wrapped)
    glpk = getattr(bk, "GlpkBackend", None)
    if spec["solver"] == "glpk" and glpk is not None and getattr(glpk, "shell", False):
        # channel_opt passes Pyomo's ``timelimit`` (limit + grace, a float) for shell
        # solvers; Pyomo's GLPK plugin turns it into ``--tmlim 7.0``, which glpsol rejects
        # ("Invalid time limit"), so every GLPK solve with a limit fails. Until that is
        # fixed, run GLPK with its own ``tmlim`` only; this process's kill is the watchdog.
        glpk.shell = False
        ev.emit("workaround", note="GLPK without Pyomo's timelimit (float --tmlim bug)")
    backend = bk.get_backend(spec["solver"])
    opts = bk.SolveOptions(time_limit=spec.get("time_limit"), mip_gap=spec.get("mip_gap"),
                           threads=spec.get("threads"), log_file=spec.get("log_file"))
    ev.emit("solve_start", version=backend.version())
    t = time.perf_counter()
    raw = backend.solve(am, opts)
    wall = time.perf_counter() - t
    ev.emit("solved", termination=raw.termination, objective=raw.objective, bound=raw.bound,
            handoff=raw.handoff_seconds, solve=raw.solve_seconds, wall=wall,
            message=str(raw.message)[:200], version=raw.version,
            has_x=raw.x is not None)
    if raw.x is not None:
        from channel_opt.solving.check import check_rows
        from channel_opt.solving.results import extract_tables

        t = time.perf_counter()
        try:
            extract_tables(am, data, raw.x)
            err = ""
        except Exception as e:  # noqa: BLE001 - the measurement goes on
            err = f"{type(e).__name__}: {e}"
        t_ex = time.perf_counter() - t
        try:
            bad = len(check_rows(am, raw.x))
        except Exception:  # noqa: BLE001
            bad = -1
        ev.emit("phase", phase="extract", seconds=t_ex, error=err, row_violations=bad)
        from .report import plan_profile, rules_on

        ev.emit("profile", **plan_profile(am, data, raw.x, rules_on(scen.settings)))
    ev.emit("done")


def task_stall(spec: dict[str, Any], ev: Events, meter: Any) -> None:
    """A solver that never returns (tests the parent's kill): hand-off, then sleep."""
    ev.emit("handoff_done")
    time.sleep(float(spec.get("seconds", 3600)))
    ev.emit("done")


TASKS = {"pipeline": task_pipeline, "stall": task_stall, "floor_numpy": task_floor_numpy,
         "floor_passmodel": task_floor_passmodel, "solve": task_solve}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    ev = Events(argv[1])
    from .memory import PeakMeter

    meter = PeakMeter()
    ev.emit("start", pid=os.getpid(), exact_memory=meter.exact, task=spec["task"])
    try:
        TASKS[spec["task"]](spec, ev, meter)
    except MemoryError:
        ev.emit("error", error="MemoryError")
        return 3
    except Exception as e:  # noqa: BLE001 - reported to the parent
        import traceback

        ev.emit("error", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
        return 2
    finally:
        import resource

        ev.emit("exit", ru_maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        meter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
