"""A bare solver on a model file: the reference "monolithic HiGHS / SCIP" (not a test).

Reads an MPS file (``benchmarks.decompose`` writes the model of each instance with
``highs_from_arrays(...).writeModel``, the arrays ``channel_opt.solve`` hands HiGHS)
and solves it with the solver's defaults and nothing of channel_opt's: no
constructive plan, no LP phase, no bound but the solver's own. Only the time limit
and the relative gap are set. Prints one JSON line: status, objective, bound, the
solver's own run time, and the gap as ``channel_opt`` computes it.

    python -m benchmarks.bare MODEL.mps --solver highs --limit 600 --gap 0.01
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from channel_opt.solving.backends import relative_gap


def _timed(run: Callable[[], object]) -> float:
    """Seconds ``run()`` took: the solver's own time, the file read excluded."""
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def run_highs(path: str, limit: float, gap: float) -> dict[str, Any]:
    """HiGHS with its defaults (its own threads) on the file."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(path)
    h.setOptionValue("time_limit", float(limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    took = _timed(h.run)
    info = h.getInfo()
    has_plan = info.primal_solution_status == 2  # kSolutionStatusFeasible
    return {"status": h.modelStatusToString(h.getModelStatus()), "seconds": took,
            "objective": info.objective_function_value if has_plan else None,
            "bound": info.mip_dual_bound, "nodes": int(info.mip_node_count)}


def run_scip(path: str, limit: float, gap: float) -> dict[str, Any]:
    """SCIP with its defaults on the file."""
    from pyscipopt import Model

    m = Model()
    m.hideOutput()
    m.readProblem(path)
    m.setParam("limits/time", float(limit))
    m.setParam("limits/gap", float(gap))
    took = _timed(m.optimize)
    has_plan = m.getNSols() > 0
    return {"status": m.getStatus(), "seconds": took,
            "objective": m.getObjVal() if has_plan else None,
            "bound": m.getDualbound(), "nodes": int(m.getNNodes())}


def main(argv: list[str] | None = None) -> int:
    """Solve the file and print one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--solver", choices=["highs", "scip"], default="highs")
    ap.add_argument("--limit", type=float, required=True)
    ap.add_argument("--gap", type=float, default=0.01)
    a = ap.parse_args(argv)
    r = (run_highs if a.solver == "highs" else run_scip)(a.model, a.limit, a.gap)
    bound = r["bound"]
    if bound is None or not math.isfinite(bound):
        r["bound"] = None
    r["gap"] = relative_gap(r["objective"], r["bound"])
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
