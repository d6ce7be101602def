"""Root gap and time of capacitated facility location with and without the cover cut.

``PYTHONPATH=. python tests/test_cfl_gap.py`` prints, per random CFL with binding capacities (total
capacity 1.2 x demand), the root gap after HiGHS's cuts (one node) and the time to a
proven optimum of the channel_opt model with ``capacity_cover`` and with that row
removed, next to the direct model's optimum (``grain_direct.cfl_direct``). The numbers
in ``models/channel_design.md`` come from it (a shared machine: compare side by side).
The slow test checks that both forms reach the direct optimum, so the cut removes no
integer solution.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from grain_direct import cfl_direct, cfl_scenario, random_cfl, without

from channel_opt.model import build_array_model
from channel_opt.model.linear import ArrayModel, to_highs

CASES = [(20, 60, 1), (20, 100, 2), (30, 100, 3)]


def run(am: ArrayModel, *, nodes: int | None = None, time_limit: float = 120.0
        ) -> dict[str, Any]:
    h = to_highs(am)
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.setOptionValue("time_limit", time_limit)
    if nodes is not None:
        h.setOptionValue("mip_max_nodes", nodes)
    t0 = time.perf_counter()
    h.run()
    info = h.getInfo()
    return {"time": time.perf_counter() - t0, "objective": info.objective_function_value,
            "bound": info.mip_dual_bound, "status": str(h.getModelStatus())}


def measure(n_w: int, n_c: int, seed: int) -> list[dict[str, Any]]:
    p = random_cfl(n_w, n_c, seed, tight=1.2)
    best = cfl_direct(p)
    assert best is not None
    am, _ = build_array_model(cfl_scenario(p))
    out = []
    for form, m in (("with cover", am), ("without cover", without(am, "capacity_cover"))):
        root = run(m, nodes=1)
        full = run(m)
        out.append({"case": f"{n_w}x{n_c} seed {seed}", "form": form,
                    "root_gap_pct": 100 * (root["bound"] + best) / best,
                    "solve_s": full["time"], "status": full["status"],
                    "cost": -full["objective"], "direct": best})
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("n_w", "n_c", "seed"), CASES[:2])
def test_both_forms_reach_the_direct_optimum(n_w: int, n_c: int, seed: int) -> None:
    for row in measure(n_w, n_c, seed):
        assert row["cost"] == pytest.approx(row["direct"], rel=2e-4)


if __name__ == "__main__":
    for case in CASES:
        for row in measure(*case):
            print(f"{row['case']:18s} {row['form']:14s} root gap {row['root_gap_pct']:6.2f} % "
                  f"solve {row['solve_s']:6.2f} s {row['status']} cost {row['cost']:.2f} "
                  f"(direct {row['direct']:.2f})", flush=True)
