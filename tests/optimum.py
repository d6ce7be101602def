"""The MIP's optimum of a test scenario: the one place the tests call the MIP for a
number to compare with a hand-computed or brute-force answer.
"""

from __future__ import annotations

from channel_opt.scenario import Scenario

# The MIP is called in one place, mip_optimum: through channel_opt.solve() (the whole
# pipeline: constructive start, tidy-up, plan check), or with USE_PIPELINE = False
# straight from the array model to HiGHS.
USE_PIPELINE = True


def mip_optimum(scen: Scenario) -> float | None:
    """The MIP's optimal profit (None if infeasible). The one place the MIP is called."""
    if USE_PIPELINE:
        import channel_opt

        sol = channel_opt.solve(scen, mip_gap=1e-9, sensitivity=False,
                                diagnose_infeasible=False)
        if sol.termination == "infeasible":
            return None
        assert sol.plan_status == "optimal", (sol.termination, sol.solver_message)
        return sol.objective

    import highspy

    from channel_opt.model import build_array_model, to_highs

    am, _data = build_array_model(scen)
    h = to_highs(am)
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("mip_abs_gap", 1e-9)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kModelEmpty:  # no columns: every row reads 0
        lo, up = am.row_bounds()
        return 0.0 if ((lo <= 1e-9).all() and (up >= -1e-9).all()) else None
    if status in (highspy.HighsModelStatus.kInfeasible,
                  highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return None
    assert status == highspy.HighsModelStatus.kOptimal, h.modelStatusToString(status)
    return float(h.getInfo().objective_function_value)
