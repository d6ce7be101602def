"""Progressive hedging for the two-stage model, through mpi-sppy on MPI.

``solve_ph`` starts ``mpiexec -n RANKS python -m channel_opt.solving.stochastic_ph``.
Under MPI, mpi-sppy's ``WheelSpinner`` runs three cylinders: a PH hub, a Lagrangian
spoke (the outer bound) and an xhat-shuffle spoke (plans: it fixes a candidate design
in every scenario and evaluates it); ranks are split evenly between the three, so
``RANKS`` is a multiple of 3. Every sub-problem is the extensive form of a bundle of
demand scenarios (one scenario each up to :data:`SUBPROBLEMS` of them; above, bundles
of consecutive scenarios so that a cylinder holds at most that many), stacked from
their :class:`~channel_opt.model.linear.ArrayModel`, its design blocks (registry stage
``design``) the first-stage (non-anticipative) variables. mpi-sppy runs in its
"agnostic" mode: its Pyomo model of a sub-problem holds the first-stage variables
only, and HiGHS solves the sub-problem from its arrays
(:mod:`~channel_opt.solving.stochastic_guest`). No PH of our own.

The best plan's design comes back to this process, which evaluates it in every demand
scenario (its operations optimized, the plan checked there): the expected profit is
that evaluation, the bound is the Lagrangian bound, the gap between the two.

PH starts from a plan (``start``: the expected-value design operated in every demand
scenario, by the caller). Every scenario model carries it as its variable values and
iteration 0 (the hub's and the Lagrangian spoke's) warm-starts each sub-MIP from it
(mpi-sppy's ``warmstart_subproblems`` / ``user_warmstart``), so that a sub-MIP stopped
by its time limit still returns a solution; the xhat spoke evaluates that design first
(``xhatshuffle_try_feasible_xhat_first``: :func:`feasible_xhat_creator`). Without it,
iteration 0 solved each apparel-sized scenario MIP from scratch and, under a
sub-solve time limit, found no feasible point: PH could not start.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import json
import logging
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..model.stochastic import Member, extensive_form, is_design, members
from ..scenario import Scenario
from ..scenario.demand import demand_scenarios
from .engines.base import relative_gap

log = logging.getLogger(__name__)

CYLINDERS = 3  # PH hub, Lagrangian bound spoke, xhat-shuffle spoke
# what the ranks leave in the snapshot folder (read by :func:`read_snapshots`)
COLUMNS_FILE = "design_columns.npy"
TRACE_PREFIX = "trace_"
INCUMBENT = "incumbent"
OWN_LIMIT_SHARE = 0.8  # of the driver's limit, mpi-sppy's own (it may end gracefully)
STOP_SECONDS = 3.0  # from SIGTERM to SIGKILL of the ranks the driver stops
POLL_SECONDS = 2.0  # how often the driver looks at the ranks and what they wrote
STOPPED = {"limit": "at the time limit", "gap": "with its plan and bound within the gap"}
LIMIT_STOP, GAP_STOP = STOPPED  # why the driver stopped the ranks (_run_ranks)
# the solver mpi-sppy names: its option names (the sub-problem's gap, time limit and
# threads, read by the guest); the guest solves with highspy itself
PYOMO_SOLVER = "appsi_highs"
SUB_MIN_SECONDS = 5.0  # least time limit of one sub-MIP solve under a time limit
# of PH's time limit, what iteration 0 may take (the time limit of each sub-MIP is this
# share over the sub-problems per rank). Iteration 0 gives the Lagrangian spoke its
# first bound and the xhat spoke its candidates; at 200 apparel-sized scenarios on 2
# cores it is most of what PH does in 30 minutes. Measured there: with a quarter, each
# bundle's sub-MIP had 8.3 s, its root LP was not done and the bound was infinite.
ITER0_SHARE = 0.6
SUBPROBLEMS = 40  # sub-problems per cylinder above which demand scenarios are bundled
SPIN_SECONDS, WAIT_SECONDS = 1.0, 0.05  # a waiting spoke's busy time, then pause (yielding)


def ph_missing() -> str | None:
    """What progressive hedging needs and this machine lacks (None: nothing)."""
    missing = [p for p in ("mpisppy", "mpi4py") if importlib.util.find_spec(p) is None]
    msg = []
    if missing:
        msg.append(f"the Python package(s) {', '.join(missing)} (pip install -e "
                   "\".[stochastic]\" installs mpi-sppy and mpi4py)")
    if shutil.which("mpiexec") is None:
        msg.append("the MPI runtime: no 'mpiexec' on PATH (Debian: apt-get install "
                   "openmpi-bin libopenmpi-dev)")
    return "; ".join(msg) or None


class PHUnavailable(ValueError):
    """mpi-sppy, mpi4py or the MPI runtime is missing."""


def check_ph(ranks: int) -> None:
    """Raise (a ``ValueError``: bad input, exit 2) when PH cannot run as asked."""
    why = ph_missing()
    if why:
        raise PHUnavailable(f"--method ph needs {why}")
    if ranks < CYLINDERS or ranks % CYLINDERS:
        raise ValueError(f"--ranks must be a multiple of {CYLINDERS} (a PH hub, a Lagrangian "
                         f"bound spoke and an xhat spoke), got {ranks}")


# ------------------------------------------------------------ inside the MPI ranks


@functools.lru_cache(maxsize=1)
def _scenario(path: str) -> Scenario:
    with open(path, "rb") as f:
        scen: Scenario = pickle.load(f)
    return scen


# the design columns in the order of the nonanticipative variables of this process's
# scenario models (the same for every scenario: one structure)
_NONANT_COLUMNS: list[np.ndarray] = []


@functools.lru_cache(maxsize=1)
def _start_plans(start_file: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The start plan of every demand scenario by id, and the start design."""
    with np.load(start_file) as f:
        return dict(zip(f["ids"].tolist(), f["x"], strict=True)), f["design"]


def _start(start_file: str, sname: str) -> tuple[np.ndarray, np.ndarray]:
    """The start plan of demand scenario ``sname`` and the start design."""
    plans, design = _start_plans(start_file)
    return (plans[sname] if sname else np.zeros(0)), design


def bundles(ids: list[tuple[str, float]], size: int) -> dict[str, list[str]]:
    """The demand scenarios ``ids`` ((id, probability) pairs, in order) in consecutive
    bundles of ``size`` (the last one may be smaller), by name: a bundle of one is named
    by its scenario.
    """
    if size <= 1:
        return {sid: [sid] for sid, _ in ids}
    return {f"bundle_{i // size:04d}": [sid for sid, _ in ids[i:i + size]]
            for i in range(0, len(ids), size)}


def default_bundle_size(n: int) -> int:
    """Scenarios per bundle: at most :data:`SUBPROBLEMS` sub-problems per cylinder."""
    return max(1, math.ceil(n / SUBPROBLEMS))


def scenario_creator(sname: str, scenario_pickle: str = "", start_file: str = "",
                     snapshots: str = "", bundles_file: str = "") -> Any:
    """mpi-sppy's model of ``sname``, a demand scenario or a bundle of them
    (``bundles_file``: a JSON map of bundle name to scenario ids): the host of a
    :class:`~channel_opt.solving.stochastic_guest.SubProblem` (its first-stage
    variables, in column order) at the start plan when there is one (iteration 0's warm
    start). A bundle is the extensive form of its scenarios
    (:func:`~channel_opt.model.stochastic.extensive_form`, the design once), built from
    the arrays: its probability is the sum of theirs, its objective the expected profit
    given the bundle (mpi-sppy's proper bundles, without a model per scenario).
    With ``snapshots`` (a folder) the member column of each first-stage variable is
    written there once (``design_columns.npy``): the order of the incumbent designs
    mpi-sppy writes on each improvement.
    """
    from ..model.linear import highs_arrays
    from .stochastic_guest import SubProblem, host_model

    scen = _scenario(scenario_pickle)
    prob = dict(demand_scenarios(scen))
    ids = [sname]
    if bundles_file:
        ids = json.loads(Path(bundles_file).read_text(encoding="utf-8"))[sname]
    p_b = sum(prob[i] for i in ids)
    ms = members(scen, [(i, prob[i] / p_b) for i in ids])
    ts = extensive_form(ms, name=sname)
    design_columns = np.flatnonzero(ts.design)  # member columns
    sub = SubProblem(highs_arrays(ts.am), ts.col_map[0][design_columns])
    _NONANT_COLUMNS[:] = [design_columns]
    if snapshots and not os.path.exists(os.path.join(snapshots, COLUMNS_FILE)):
        _atomic_save(os.path.join(snapshots, COLUMNS_FILE), design_columns)
    if start_file:
        sub.x = np.zeros(ts.am.n_cols)
        for m, mp in zip(ms, ts.col_map, strict=True):
            sub.x[mp] = _start(start_file, m.id)[0]
    model = host_model(sname, sub, p_b)
    model._design_columns = design_columns
    return model


def feasible_xhat_creator(solver_name: str = "", solver_options: Any = None,
                          scenario_pickle: str = "", start_file: str = "",
                          snapshots: str = "", bundles_file: str = "") -> dict[str, Any]:
    """The start design as mpi-sppy's first candidate plan, in the order of the
    nonanticipative variables (the xhat spoke evaluates it in every scenario first).
    """
    _, design = _start(start_file, "") if start_file else (None, None)
    if design is None or not _NONANT_COLUMNS:
        raise RuntimeError("no start design: feasible_xhat_creator needs --start")
    return {"ROOT": np.asarray(design, float)[_NONANT_COLUMNS[0]]}


def scenario_denouement(rank: int, scenario_name: str, scenario: Any) -> None:
    """Nothing to report per scenario (the driver evaluates the plan)."""


def _design_writer(file_name: str, scenario: Any, bundling: bool) -> None:
    """The first-stage values and their columns (an ``.npy`` file of two rows)."""
    import pyomo.environ as pyo

    vals = np.array([pyo.value(v) for v in scenario.x.values()], float)
    np.save(file_name, np.vstack([scenario._design_columns.astype(float), vals]))


def best_writing(spoke_class: type) -> type:
    """The xhat spoke ``spoke_class`` writing each improving design from its best-solution
    cache. mpi-sppy 0.14 writes it from the variables' current values, loading the cache
    only at the first write: later writes held the nonants the spoke had restored after
    evaluating the plan, not the plan (measured, PH 10: the spoke's plan was worth
    17,369,239, the design written below the start's 17,290,813).
    """

    class BestWriting(spoke_class):
        def _maybe_write_incumbent_on_improvement(self) -> None:
            prefix = self.opt.options.get("incumbent_on_improvement_filename_prefix")
            s = self.opt.local_scenarios[self.opt.local_scenario_names[0]]
            cache = s._mpisppy_data.best_solution_cache
            if prefix is None or cache is None:
                return
            if self.cylinder_rank == 0:
                vals = np.array([cache[v] for v in s._mpisppy_node_list[0].nonant_vardata_list],
                                float)
                _atomic_save(f"{prefix}_{self._incumbent_write_counter:04d}.npy", vals)
            self._incumbent_write_counter += 1

    # the spoke's name names its trace file (trace_XhatShuffleInnerBound.csv: read as
    # plans, not bounds, by read_snapshots)
    BestWriting.__name__ = BestWriting.__qualname__ = spoke_class.__name__
    return BestWriting


def yielding(spoke_class: type) -> type:
    """The spoke ``spoke_class`` pausing :data:`WAIT_SECONDS` before each look for new
    ``W`` or nonants once it has had none for :data:`SPIN_SECONDS`. mpi-sppy 0.14's
    spokes look without a pause: a waiting spoke kept a core busy that the other
    cylinders' sub-MIPs needed (3 ranks on 2 cores). A wait's first second stays busy:
    on a small model the hub ends within milliseconds, and a spoke pausing at once
    missed it (PH on one bundle of vss_duo ended without a plan).
    """

    class Yielding(spoke_class):
        _quiet_since: float | None = None  # its first look, or when it last got news

        def _update_nonant_len_buffer(self) -> bool:
            new = bool(super()._update_nonant_len_buffer())
            now = time.monotonic()
            if new or self._quiet_since is None:
                self._quiet_since = now
            elif now - self._quiet_since >= SPIN_SECONDS:
                time.sleep(WAIT_SECONDS)
            return new

    Yielding.__name__ = Yielding.__qualname__ = spoke_class.__name__  # its trace file
    return Yielding


def _run_wheel(a: argparse.Namespace) -> None:
    """The MPI program: PH hub, Lagrangian and xhat-shuffle spokes."""
    import mpisppy.utils.cfg_vanilla as vanilla
    from mpi4py import MPI
    from mpisppy.agnostic.agnostic import Agnostic
    from mpisppy.spin_the_wheel import WheelSpinner
    from mpisppy.utils import config

    from .stochastic_guest import ArrayGuest

    scen = _scenario(a.scenario_pickle)
    names = [s for s, _ in demand_scenarios(scen)]
    if a.bundles:
        names = list(json.loads(Path(a.bundles).read_text(encoding="utf-8")))
    cfg = config.Config()
    cfg.popular_args()
    cfg.two_sided_args()
    cfg.ph_args()
    cfg.xhatshuffle_args()
    cfg.lagrangian_args()
    cfg.add_mipgap_specs()
    cfg.solver_name = PYOMO_SOLVER
    cfg.default_rho = a.rho
    cfg.max_iterations = a.iterations
    cfg.rel_gap = a.rel_gap
    cfg.time_limit = a.time_limit
    # mpi-sppy's own model of the objective stays linear (never solved: the guest takes
    # the secant of each proximal square, stochastic_guest.ph_objective)
    cfg.linearize_proximal_terms = True
    cfg.linearize_binary_proximal_terms = True
    cfg.display_progress = False
    cfg.max_solver_threads = 1  # one HiGHS thread per rank: the ranks share the cores
    # each scenario sub-MIP within a gap and a time limit: mpi-sppy checks its own limit
    # only between iterations, and unbounded sub-solves kept apparel-sized runs in
    # iteration 0 for twice the limit (the Lagrangian bound uses each solve's bound, so
    # it stays valid)
    cfg.iter0_mipgap = cfg.iterk_mipgap = a.sub_gap
    if a.sub_time_limit is not None:
        cfg.solver_options = f"time_limit={a.sub_time_limit!r}"
    kw = {"scenario_pickle": a.scenario_pickle, "start_file": a.start or "",
          "snapshots": a.snapshots or "", "bundles_file": a.bundles or ""}
    if a.snapshots:  # what the run has found so far, for a driver that stops it
        # each bound a spoke sends (trace_<spoke class>.csv: time,bound) and each design
        # the xhat spoke improves on (incumbent_NNNN.npy, mpi-sppy's order)
        cfg.trace_prefix = os.path.join(a.snapshots, TRACE_PREFIX)
        cfg.incumbent_on_improvement_filename_prefix = os.path.join(a.snapshots, INCUMBENT)
    if a.start:  # iteration 0 from the start plan; the xhat spoke tries its design first
        cfg.warmstart_subproblems = cfg.user_warmstart = True
        cfg.xhatshuffle_try_feasible_xhat_first = True
    beans = (cfg, scenario_creator, scenario_denouement, names)
    hub = vanilla.ph_hub(*beans, scenario_creator_kwargs=kw)
    spokes = [vanilla.lagrangian_spoke(*beans, scenario_creator_kwargs=kw),
              vanilla.xhatshuffle_spoke(*beans, scenario_creator_kwargs=kw,
                                        feasible_xhat_creator=feasible_xhat_creator
                                        if a.start else None)]
    spokes[1]["spoke_class"] = best_writing(spokes[1]["spoke_class"])
    for spoke in spokes:
        spoke["spoke_class"] = yielding(spoke["spoke_class"])
    # every sub-problem solved by HiGHS from its arrays (mpi-sppy's agnostic mode)
    guest = Agnostic(ArrayGuest(), cfg)
    for cylinder in (hub, *spokes):
        cylinder["opt_kwargs"]["options"]["Ag"] = guest
    t = time.perf_counter()
    wheel = WheelSpinner(hub, spokes)
    wheel.spin()
    wheel.write_first_stage_solution(a.design_file, first_stage_solution_writer=_design_writer)
    if MPI.COMM_WORLD.Get_rank() == 0:
        out = {"inner": wheel.BestInnerBound, "outer": wheel.BestOuterBound,
               "seconds": time.perf_counter() - t}
        Path(a.result_file).write_text(json.dumps(out), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the MPI ranks (started by :func:`solve_ph`)."""
    p = argparse.ArgumentParser(prog="channel_opt.solving.stochastic_ph")
    p.add_argument("scenario_pickle")
    p.add_argument("design_file")
    p.add_argument("result_file")
    p.add_argument("--rho", type=float, default=1.0)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--rel-gap", type=float, default=1e-3)
    p.add_argument("--time-limit", type=float, default=None)
    p.add_argument("--sub-gap", type=float, default=1e-4)
    p.add_argument("--sub-time-limit", type=float, default=None)
    p.add_argument("--start", help="the start plan (.npz: ids, x per scenario, design)")
    p.add_argument("--snapshots", help="a folder for the bounds and designs found so far")
    p.add_argument("--bundles", help="the bundles (.json: bundle name to scenario ids)")
    a = p.parse_args(argv)
    try:
        _run_wheel(a)
    except BaseException:
        # one rank that fails leaves the others waiting for it forever (the hub for a
        # spoke that never reports; measured: 86 minutes until killed by hand): every
        # rank ends, mpiexec exits non-zero and the driver answers without PH
        from mpi4py import MPI

        traceback.print_exc()
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)
    return 0


# ------------------------------------------------------------------- the driver


def default_rho(ms: list[Member]) -> float:
    """PH's penalty: a tenth of the mean absolute profit coefficient of the design
    columns that carry a cost, at least 1 (the design binaries move between 0 and 1,
    so rho is in currency per unit of a decision).
    """
    c = np.concatenate([m.am.cost[b.cols] for m in ms[:1] for b in m.am.vars.values()
                        if is_design(b.name)])
    c = np.abs(c[c != 0])
    return max(1.0, 0.1 * float(c.mean())) if len(c) else 1.0


def solve_ph(scen: Scenario, ms: list[Member], *, ranks: int = 3,
             time_limit: float | None = None, mip_gap: float = 1e-4,
             iterations: int = 50, rho: float | None = None,
             start: list[np.ndarray] | None = None,
             bundle_size: int | None = None) -> dict[str, Any]:
    """Run the MPI program; returns the design (member column order, zero at
    operations columns), the inner (plan) and outer (bound) values and the seconds.
    ``start``: a plan of each member (one design operated in every scenario), PH's
    iteration 0 warm start and the xhat spoke's first candidate. ``bundle_size``:
    demand scenarios per PH sub-problem (:func:`bundles`; default
    :func:`default_bundle_size`).
    """
    from .stochastic import INNER_GAP_SHARE

    check_ph(ranks)
    rho = default_rho(ms) if rho is None else rho
    size = default_bundle_size(len(ms)) if bundle_size is None else bundle_size
    groups = bundles([(m.id, m.probability) for m in ms], size)
    with tempfile.TemporaryDirectory(prefix="channel_opt_ph_") as tmp:
        pk = os.path.join(tmp, "scenario.pkl")
        with open(pk, "wb") as f:
            pickle.dump(scen, f)
        design_file = os.path.join(tmp, "design.npy")
        result_file = os.path.join(tmp, "result.json")
        start_file = os.path.join(tmp, "start.npz")
        if start is not None:
            write_start(start_file, ms, start)
        bundles_file = os.path.join(tmp, "bundles.json")
        Path(bundles_file).write_text(json.dumps(groups), encoding="utf-8")
        cmd = ["mpiexec", "-n", str(ranks)]
        if os.geteuid() == 0:  # Open MPI refuses root unless told
            cmd.append("--allow-run-as-root")
        cmd += ["--oversubscribe", sys.executable, "-m", "channel_opt.solving.stochastic_ph",
                pk, design_file, result_file, "--rho", repr(rho), "--iterations",
                str(iterations), "--rel-gap", repr(max(mip_gap, 1e-6))]
        if time_limit is not None:
            # iteration 0 solves every sub-problem of a rank: ITER0_SHARE of the limit
            per_rank = math.ceil(len(groups) / (ranks // CYLINDERS))
            # mpi-sppy's clock starts after the set-up and it looks at it between
            # iterations only: it gets OWN_LIMIT_SHARE, the driver stops it at the limit
            cmd += ["--time-limit", repr(OWN_LIMIT_SHARE * time_limit), "--sub-time-limit",
                    repr(max(SUB_MIN_SECONDS, ITER0_SHARE * time_limit / per_rank))]
        cmd += ["--sub-gap", repr(INNER_GAP_SHARE * mip_gap), "--bundles", bundles_file]
        if start is not None:
            cmd += ["--start", start_file]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]),
            # Open MPI's shared-memory single copy (CMA) needs ptrace rights that
            # containers lack: measured, PH runs then stalled in iteration 0 for minutes
            "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}
        snapshots = os.path.join(tmp, "snapshots")
        os.mkdir(snapshots)
        cmd += ["--snapshots", snapshots]
        log.info("progressive hedging on %d MPI ranks (rho %.4g, %d sub-problems of up to "
                 "%d demand scenarios): %s", ranks, rho, len(groups), size, " ".join(cmd[:4]))
        t = time.perf_counter()
        # in the temporary folder: mpi-sppy writes its log files into the working folder
        code, out, stopped = _run_ranks(
            cmd, env, tmp, time_limit,
            met=functools.partial(_within, snapshots, ms[0].am.n_cols, mip_gap))
        seconds = time.perf_counter() - t
        log.debug("mpi-sppy output:\n%s", out)
        if stopped:  # what the ranks had written when they were stopped
            got, why = read_snapshots(snapshots, ms[0].am.n_cols), STOPPED[stopped]
            log.info("mpi-sppy stopped %s (%.0f s) before it ended: its last plan and "
                     "bound are kept", why, seconds)
            return {**got, "seconds": seconds, "rho": rho,
                    "note": f"stopped {why}: the last plan and bound it wrote"}
        if code != 0 or not os.path.exists(result_file):
            tail = out.strip().splitlines()[-5:]
            raise RuntimeError(f"progressive hedging failed (mpiexec exit {code}): "
                               + " | ".join(tail))
        res = json.loads(Path(result_file).read_text(encoding="utf-8"))
        first = np.load(design_file) if os.path.exists(design_file) else None
    design = None
    if first is not None:
        design = np.zeros(ms[0].am.n_cols)
        design[first[0].astype(int)] = first[1]
    return {"design": design, "inner": _finite(res["inner"]),
            "outer": _finite(res["outer"]), "seconds": seconds, "rho": rho}


def _run_ranks(cmd: list[str], env: dict[str, str], cwd: str, time_limit: float | None,
               met: Callable[[], bool] | None = None) -> tuple[int, str, str | None]:
    """Run ``mpiexec`` in a process group of its own: its exit code, its output, and why
    the driver stopped it (None: it ended; a key of :data:`STOPPED`): at ``time_limit``
    seconds, or once ``met()`` holds at two looks :data:`POLL_SECONDS` apart (the
    ranks' plan and bound within the gap; the second look lets the xhat spoke write the
    design after the value): SIGTERM to the group, SIGKILL after :data:`STOP_SECONDS`.
    mpi-sppy checks its limit and gap only between PH iterations (at 200 apparel-sized
    scenarios one takes most of 30 minutes): the driver keeps what the ranks wrote so
    far (:func:`read_snapshots`). An interrupt (Ctrl-C, SIGTERM) stops the group the
    same way and is raised.
    """
    out_path = os.path.join(cwd, "mpiexec.out")
    end = None if time_limit is None else time.monotonic() + time_limit
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        stopped, looks = None, 0
        try:
            while stopped is None:
                wait = POLL_SECONDS if end is None else \
                    max(0.0, min(POLL_SECONDS, end - time.monotonic()))
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    pass
                looks = looks + 1 if met is not None and met() else 0
                if end is not None and time.monotonic() >= end:
                    stopped = LIMIT_STOP
                elif looks >= 2:
                    stopped = GAP_STOP
            if stopped is not None:
                _stop_group(proc)
        except BaseException:
            _stop_group(proc)
            raise
    text = Path(out_path).read_text(encoding="utf-8", errors="replace")
    return proc.returncode, text, stopped


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group of ``proc``, SIGKILL if it has not ended after
    :data:`STOP_SECONDS`; returns once ``proc`` has ended.
    """
    for sig, wait in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()
    with contextlib.suppress(ProcessLookupError):  # a rank that outlived mpiexec
        os.killpg(proc.pid, signal.SIGKILL)


def _within(folder: str, n_cols: int, gap: float) -> bool:
    """Whether the ranks wrote a design, and a plan and bound within ``gap``."""
    got = read_snapshots(folder, n_cols)
    rel = relative_gap(got["inner"], got["outer"])
    return got["design"] is not None and rel is not None and rel <= gap


def read_snapshots(folder: str, n_cols: int) -> dict[str, Any]:
    """What a stopped run had found: the last incumbent design the xhat spoke wrote (by
    column, zero elsewhere; a file cut short by the stop is skipped), the best plan value
    and the best bound the spokes sent (their traces: each line a value of its own, so
    the best of them is valid; the objective is maximized). None where there is none.
    """
    inner: list[float] = []
    outer: list[float] = []
    for f in sorted(Path(folder).glob(TRACE_PREFIX + "*.csv")):
        values = []
        for line in f.read_text(encoding="utf-8").splitlines()[1:]:
            try:
                values.append(float(line.split(",")[1]))
            except (IndexError, ValueError):
                continue  # the line the stop cut short
        values = [v for v in values if math.isfinite(v)]
        (inner if "Inner" in f.name else outer).extend(values)
    design = None
    cols_file = Path(folder) / COLUMNS_FILE
    if cols_file.exists():
        cols = np.load(cols_file)
        for f in sorted(Path(folder).glob(INCUMBENT + "_*.npy"), reverse=True):
            try:
                vals = np.load(f)
            except (OSError, ValueError, EOFError):
                continue
            if vals.shape == cols.shape:
                design = np.zeros(n_cols)
                design[cols] = vals
                break
    return {"design": design, "inner": max(inner, default=None),
            "outer": min(outer, default=None)}


def _atomic_save(path: str, a: np.ndarray) -> None:
    """``np.save`` to ``path`` through a temporary file (ranks write it side by side)."""
    tmp = f"{path}.{os.getpid()}.tmp.npy"
    np.save(tmp, a)
    os.replace(tmp, path)


def write_start(path: str, ms: list[Member], start: list[np.ndarray]) -> None:
    """The start plan for the ranks: each member's plan by id, and the design."""
    np.savez(path, ids=np.array([m.id for m in ms]), x=np.vstack(start),
             design=_design_values(ms[0], start[0]))


def _design_values(m: Member, x: np.ndarray) -> np.ndarray:
    """``x`` at the design columns (integers rounded: the xhat spoke fixes them), zero
    elsewhere.
    """
    out = np.zeros(m.am.n_cols)
    for b in m.am.vars.values():
        if is_design(b.name) and b.n:
            v = x[b.cols]
            out[b.cols] = np.round(v) if b.integer else v
    return out


def _finite(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


if __name__ == "__main__":
    sys.exit(main())
