"""Solver backends: one class per solver, each declaring what it can do.

Every backend takes the same :class:`~channel_opt.model.linear.ArrayModel` and
returns the same :class:`RawResult`. Solver quirks (option names, status codes,
where the bound lives) are handled here and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..model.linear import (
    ArrayModel,
    to_highs,
    to_pyomo,
)

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 10.0  # how often a long MIP solve reports its progress
RELAY_PREFIX = "\x1echannel_opt-log "  # marks a log record on the watchdog child's stderr

# Termination reasons (kept apart from whether a plan exists).
OPTIMAL = "optimal"
TIME_LIMIT = "time_limit"
LIMIT = "other_limit"
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
INTERRUPTED = "interrupted"
ERROR = "error"


@dataclass
class SolveOptions:
    """Options every backend understands."""

    time_limit: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    seed: int | None = None
    log_file: str | None = None
    start: np.ndarray | None = None  # a feasible plan to start from (MIP start)
    progress_seconds: float = PROGRESS_SECONDS  # cadence of the progress log line
    # time.monotonic() by which the solver must stop (the clock is shared by the
    # solver child, so its start-up and the model transfer come out of the limit)
    deadline: float | None = None

    def seconds_left(self) -> float | None:
        """The solver's time limit as of now: ``time_limit``, cut to the deadline."""
        if self.deadline is None:
            return self.time_limit
        left = max(0.1, self.deadline - time.monotonic())
        return left if self.time_limit is None else min(self.time_limit, left)

    def watchdog_seconds(self) -> float | None:
        """Wall-clock limit of the outer watchdog: the time limit plus a grace period."""
        if self.time_limit is None:
            return None
        return self.time_limit + max(5.0, 0.2 * self.time_limit)


@dataclass
class RawResult:
    """What a backend returns."""

    termination: str
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    solver: str
    version: str
    message: str
    handoff_seconds: float = 0.0
    solve_seconds: float = 0.0
    process_seconds: float = 0.0  # solver child: start-up, model transfer, result back
    extra: dict[str, Any] = field(default_factory=dict)


CAPABILITIES = ("integers", "in_memory", "iis", "dual_bound", "duals", "mip_start")


class Backend:
    """A solver backend; its capabilities are the flags named in ``CAPABILITIES``."""

    name: ClassVar[str]
    integers: ClassVar[bool] = True
    in_memory: ClassVar[bool] = False
    iis: ClassVar[bool] = False
    dual_bound: ClassVar[bool] = True
    mip_start: ClassVar[bool] = False  # takes the constructive plan as a starting solution
    duals: ClassVar[bool] = False

    @classmethod
    def is_available(cls) -> bool:
        """Whether the solver is installed and usable here."""
        raise NotImplementedError

    @classmethod
    def version(cls) -> str:
        """The solver's version string."""
        raise NotImplementedError

    def solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        """Solve the model; the result is normalized by :func:`normalize_result`."""
        return normalize_result(self._solve(am, opts), am.sense)

    def _solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        """The solver's own result, before normalization."""
        raise NotImplementedError


def normalize_result(raw: RawResult, sense: str) -> RawResult:
    """The one place a backend's result is made consistent before anyone reads it.

    A bound that is not finite, or lies on the wrong side of the solver's own plan
    (below it when maximizing), or comes from a run that failed, is no bound: it
    becomes ``None`` (the pipeline then falls back on the constructive bound).
    """
    failed = raw.termination == ERROR
    if failed or (raw.bound is not None and not math.isfinite(raw.bound)):
        raw.bound = None
    raw.bound = _valid_bound(raw.bound, sense, raw.objective)
    return raw


def highs_threads(threads: int | None) -> None:
    """Let the next HiGHS run in this thread use ``threads`` threads.

    HiGHS keeps one task scheduler per calling thread, sized by the thread count of
    the first run; a later run asking for another count fails ("global scheduler has
    already been initialized"). Shutting this thread's scheduler down lets the next
    run start one of the size asked for; schedulers of other threads are untouched.
    Runs without a thread count (``threads`` 0, HiGHS' default) accept any scheduler.
    """
    if threads is None:
        return
    import highspy

    highspy.Highs.resetGlobalScheduler(True)


@contextlib.contextmanager
def _quiet_stdout(to: str = os.devnull) -> Iterator[None]:
    """Send writes to stdout, C-level and Python-level, to the file ``to``.

    By default they are silenced: HiGHS prints a banner on construction. SCIP's log
    is sent to the log file this way.
    """
    sys.stdout.flush()
    try:
        fd = os.dup(1)
    except OSError:  # no real stdout (e.g. some embedded interpreters)
        yield
        return
    try:
        # Python-level writes too (pyscipopt routes SCIP's messages through sys.stdout)
        with open(to, "a") as null, contextlib.redirect_stdout(null):
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                _flush_c_stdout()  # C's buffered stdout would spill after the switch back
                os.dup2(fd, 1)
    finally:
        os.close(fd)


def _flush_c_stdout() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to reach: nothing buffered by us
        pass


def new_highs(am: ArrayModel) -> Any:
    """The model passed to an in-memory HiGHS instance, quietly."""
    with _quiet_stdout():
        return to_highs(am)


class HighsBackend(Backend):
    """HiGHS through highspy: the model is passed in memory as one sparse matrix."""

    name = "highs"
    in_memory = True
    iis = True
    mip_start = True
    duals = True

    @classmethod
    def is_available(cls) -> bool:  # noqa: D102
        try:
            import highspy  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def version(cls) -> str:  # noqa: D102
        import highspy

        try:
            from importlib.metadata import version

            return version("highspy")
        except Exception:  # noqa: BLE001
            return str(getattr(highspy, "__version__", "unknown"))

    def _solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        t0 = time.perf_counter()
        h = new_highs(am)
        t1 = time.perf_counter()
        out = run_highs(h, opts, integer=bool(am.integrality().any()))
        t2 = time.perf_counter()
        return RawResult(out["termination"], out["x"], out["objective"], out["bound"],
                         self.name, self.version(), out["message"], t1 - t0, t2 - t1)


def trivial_result(am: ArrayModel) -> RawResult:
    """The outcome of a model without columns (no cell can use any channel): the empty
    plan if every row admits 0, else infeasible. Solvers disagree on such models.
    """
    rlo, rup = am.row_bounds()
    ok = bool(np.all(rlo <= 1e-9) and np.all(rup >= -1e-9))
    return RawResult(OPTIMAL if ok else INFEASIBLE, np.zeros(0) if ok else None,
                     0.0 if ok else None, 0.0 if ok else None, "none", "",
                     "empty model: nothing can be offered")


def run_highs(h: Any, opts: SolveOptions, *, integer: bool) -> dict[str, Any]:
    """Set the options, run HiGHS and read the outcome as plain values.

    ``integer``: whether the model has integer columns (known from the ArrayModel;
    asking HiGHS would copy the whole model out with ``getLp``).
    """
    import highspy

    if opts.log_file:
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", str(opts.log_file))
    limit = opts.seconds_left()
    if limit is not None:
        h.setOptionValue("time_limit", float(limit))
    if opts.mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(opts.mip_gap))
    if opts.threads is not None:
        h.setOptionValue("threads", int(opts.threads))
        highs_threads(opts.threads)
    if opts.seed is not None:
        h.setOptionValue("random_seed", int(opts.seed))
    if opts.start is not None and integer:
        n = h.getNumCol()
        h.setSolution(n, np.arange(n, dtype=np.int32), np.asarray(opts.start, float))
    if integer and log.isEnabledFor(logging.INFO):
        h.cbMipInterrupt.subscribe(_Progress(opts.progress_seconds))
    run_interruptible(h)
    st = h.getModelStatus()
    MS = highspy.HighsModelStatus
    term = {
        MS.kOptimal: OPTIMAL, MS.kTimeLimit: TIME_LIMIT, MS.kInfeasible: INFEASIBLE,
        MS.kUnbounded: UNBOUNDED, MS.kUnboundedOrInfeasible: INFEASIBLE,
        MS.kInterrupt: INTERRUPTED, MS.kIterationLimit: LIMIT,
        MS.kSolutionLimit: LIMIT, MS.kObjectiveBound: LIMIT, MS.kObjectiveTarget: LIMIT,
    }.get(st, ERROR)
    info = h.getInfo()
    has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, float) if has else None
    obj = float(info.objective_function_value) if has else None
    bound: float | None
    if integer:
        bound = float(info.mip_dual_bound)
        if not math.isfinite(bound):
            bound = None
    else:
        bound = obj if term == OPTIMAL else None
    return {"termination": term, "x": x, "objective": obj, "bound": bound,
            "message": h.modelStatusToString(st)}


_UNSETTLED: list[Any] = []  # HiGHS threads still running after an interrupt


def unsettled_solver() -> bool:
    """Whether an interrupted HiGHS solve is still running in its thread (HiGHS
    checks for interrupts only between phases, at times 30 s apart): the command line
    then leaves with ``os._exit`` instead of waiting, or aborting in C++ at exit.
    """
    return any(t.is_alive() for t in _UNSETTLED)


def run_interruptible(h: Any, settle_seconds: float = 1.0) -> None:
    """``h.run()`` in HiGHS' own thread while this one waits, so that Ctrl-C or
    SIGTERM (a :class:`KeyboardInterrupt`) is seen within 0.1 s: the solve is
    cancelled, given ``settle_seconds`` to stop, and the interrupt goes on.

    Off the main thread (no signals there) it is a plain ``h.run()``.
    """
    import threading

    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(h, "startSolve"):
        h.run()
        return
    h.HandleUserInterrupt = True  # interrupt callbacks watch for cancelSolve()
    thread = h.startSolve()
    try:
        while not h.wait(0.1)[0]:
            pass
    except KeyboardInterrupt:
        h.cancelSolve()
        thread.join(settle_seconds)
        if thread.is_alive():
            _UNSETTLED.append(thread)
        raise


def die_with_parent() -> None:
    """In a child process (Linux): be killed when the parent process dies.

    Used as ``preexec_fn`` of solver processes, so a ``kill -9`` of channel-opt
    takes its solver worker and the solver programs (``cbc``, ``glpsol``) with it.
    """
    if _PRCTL is not None:
        _PRCTL(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl  # loaded before any fork
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


@contextlib.contextmanager
def _children_die_with_us() -> Iterator[None]:
    """Processes started inside (by Pyomo's shell interfaces) die with this one."""
    import subprocess

    if _PRCTL is None:
        yield
        return
    real = subprocess.Popen

    class Popen(real):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("preexec_fn") is None:
                kwargs["preexec_fn"] = die_with_parent
            super().__init__(*args, **kwargs)

    subprocess.Popen = Popen  # type: ignore[misc]
    try:
        yield
    finally:
        subprocess.Popen = real  # type: ignore[misc]


RUN_DIR_PREFIX = "channel_opt-run-"  # + PID + "-" + random: temporary files of one solve


@contextlib.contextmanager
def run_temp_dir() -> Iterator[str]:
    """A private temporary folder for one solve (Pyomo's ``.lp``/``.soln`` files and
    solver logs), removed at the end whatever happens; folders left by killed runs
    (their process gone) are removed first.
    """
    import shutil
    import tempfile

    from pyomo.common.tempfiles import TempfileManager

    clean_stale_run_dirs()
    d = tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-")
    before = TempfileManager.tempdir  # Pyomo's shell solvers push contexts of their own,
    TempfileManager.tempdir = d  # which fall back to the manager's folder
    try:
        yield d
    finally:
        TempfileManager.tempdir = before
        shutil.rmtree(d, ignore_errors=True)


def clean_stale_run_dirs() -> list[str]:
    """Remove this user's ``channel_opt-run-PID-*`` temporary folders whose process
    is gone. Returns what was removed.
    """
    import re
    import shutil
    import tempfile

    base = tempfile.gettempdir()
    removed = []
    pat = re.compile(re.escape(RUN_DIR_PREFIX) + r"(\d+)-\w+$")
    with contextlib.suppress(OSError):
        for e in os.scandir(base):
            m = pat.match(e.name)
            if not m or not e.is_dir(follow_symlinks=False):
                continue
            if e.stat(follow_symlinks=False).st_uid != os.getuid() or \
                    _alive(int(m.group(1))):
                continue
            shutil.rmtree(e.path, ignore_errors=True)
            removed.append(e.path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(proc: Any) -> None:
    """Kill the watchdog child and every process of its group (e.g. a cbc it started)."""
    if os.name == "posix":
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()
    proc.wait()


class _Progress:
    """A progress line (time, best plan, bound, gap) every ``every`` seconds of a MIP."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.next = every

    def __call__(self, event: Any) -> None:
        d = event.data_out
        if d.running_time < self.next:
            return
        self.next = d.running_time + self.every
        plan = d.mip_primal_bound
        log.info("solving: %.0f s, best plan %s, bound %s, gap %s", d.running_time,
                 f"{plan:,.2f}" if math.isfinite(plan) else "none yet",
                 f"{d.mip_dual_bound:,.2f}" if math.isfinite(d.mip_dual_bound) else "none",
                 f"{d.mip_gap:.4%}" if math.isfinite(plan) and math.isfinite(d.mip_gap)
                 else "n/a")


def solve_watched(name: str, am: ArrayModel, opts: SolveOptions,
                  kill_after: float | None = None) -> RawResult:
    """Solve with backend ``name`` in a child process killed at the watchdog limit
    (``kill_after`` seconds from now; default the time limit plus its grace).

    Solvers do not check their time limit everywhere (HiGHS' presolve of a large
    model can run minutes past it; in-process Pyomo solvers cannot be interrupted at
    all); a process can always be stopped. The child is a fresh interpreter
    (``python -m channel_opt.solving.worker``) fed the model over a pipe, so it never
    re-runs the caller's main script.

    The child dies with this process (Linux: parent-death signal) and is killed, with
    its process group, when this one is interrupted (Ctrl-C, SIGTERM), so no solver
    is left running. Its start-up and the model transfer are ``process_seconds``.
    """
    import pickle
    import subprocess
    import threading
    from collections import deque

    t0 = time.perf_counter()
    payload = pickle.dumps((name, am, opts), protocol=pickle.HIGHEST_PROTOCOL)
    # its own process group, so the watchdog also stops the solver programs it starts
    proc = subprocess.Popen([sys.executable, "-m", "channel_opt.solving.worker"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=os.name == "posix",
                            preexec_fn=die_with_parent if _PRCTL is not None else None,
                            env={**os.environ, "CHANNEL_OPT_PARENT_PID": str(os.getpid())})
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    chunks: list[bytes] = []
    tail: deque[str] = deque(maxlen=40)  # the child's last words, for a failure report

    def read_result() -> None:
        assert proc.stdout is not None
        chunks.append(proc.stdout.read())

    def relay_log() -> None:  # the child's progress lines become our log records
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith(RELAY_PREFIX):
                level, _, msg = line[len(RELAY_PREFIX):].partition(" ")
                log.log(int(level), "%s", msg)
            else:
                tail.append(line)

    def send_model() -> None:  # blocks until the child has read it all (after its imports)
        assert proc.stdin is not None
        try:
            proc.stdin.write(payload)
        except OSError:  # the child is gone (killed, crashed): reported below
            pass
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()

    limit = opts.watchdog_seconds() if kill_after is None else kill_after
    readers = [threading.Thread(target=f, daemon=True)
               for f in (read_result, relay_log, send_model)]
    for r in readers:
        r.start()
    version = BACKENDS[name].version()
    try:
        # the watchdog's clock runs from the start, child start-up and transfer included
        proc.wait(timeout=None if limit is None else max(0.0, limit - (time.perf_counter()
                                                                        - t0)))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        log.warning("watchdog: %s ran past its time limit (%s); killed", name,
                    f"{opts.time_limit:g} s" if opts.time_limit is not None else "none")
        return RawResult(TIME_LIMIT, None, None, None, name, version,
                         "killed by the watchdog after ignoring the time limit",
                         0.0, time.perf_counter() - t0)
    except BaseException:  # Ctrl-C, SIGTERM: the solver goes too, at once
        _kill_group(proc)
        raise
    finally:
        for r in readers:
            r.join()
        proc.stdout.close()
        proc.stderr.close()
    out = b"".join(chunks)
    if proc.returncode != 0 or not out:
        how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else \
            f"exit code {proc.returncode}"
        return RawResult(ERROR, None, None, None, name, version,
                         f"the solver process failed ({how}): "
                         + "\n".join(tail)[-500:], 0.0, time.perf_counter() - t0)
    result: RawResult = pickle.loads(out)  # noqa: S301 - our own child's output
    result.process_seconds = max(0.0, time.perf_counter() - t0 - result.handoff_seconds
                                 - result.solve_seconds)
    return result


class PyomoBackend(Backend):
    """A solver driven through a Pyomo ``ConcreteModel``."""

    pyomo_name: ClassVar[str]
    # our option -> the solver's option name; "log_file" here means the solver takes its
    # log file as an option, otherwise Pyomo's ``logfile`` keyword is used
    option_names: ClassVar[dict[str, str]] = {}
    # False: the interface has no log file; its console output is sent to the file
    logfile_keyword: ClassVar[bool] = True

    @classmethod
    def _factory(cls) -> Any:
        import pyomo.environ as pyo

        return pyo.SolverFactory(cls.pyomo_name)

    @classmethod
    def is_available(cls) -> bool:  # noqa: D102
        try:
            with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
                return bool(cls._factory().available(exception_flag=False))
        except Exception:  # noqa: BLE001
            return False

    @classmethod
    def version(cls) -> str:  # noqa: D102
        try:
            v = cls._factory().version()
            return ".".join(str(p) for p in v) if isinstance(v, tuple) else str(v)
        except Exception:  # noqa: BLE001
            return "unknown"

    def _options(self, opts: SolveOptions) -> dict[str, Any]:
        values = {"time_limit": opts.seconds_left(), "mip_gap": opts.mip_gap,
                  "threads": opts.threads, "seed": opts.seed,
                  "log_file": None if opts.log_file is None else str(opts.log_file)}
        return {self.option_names[k]: v for k, v in values.items()
                if v is not None and k in self.option_names}

    def _solve(self, am: ArrayModel, opts: SolveOptions) -> RawResult:
        with run_temp_dir() as tmp, _children_die_with_us():
            return self._solve_in(am, opts, tmp)

    def _solve_in(self, am: ArrayModel, opts: SolveOptions, tmp: str) -> RawResult:
        from pyomo.opt import SolverStatus
        from pyomo.opt import TerminationCondition as TC

        t0 = time.perf_counter()
        m = to_pyomo(am)
        t1 = time.perf_counter()
        solver = self._factory()
        kw: dict[str, Any] = {"load_solutions": False, "tee": False}
        to_console = bool(opts.log_file) and not self.logfile_keyword
        # a shell solver's log is also where its true bound is: keep one even unasked
        log_path = None
        if self.logfile_keyword and "log_file" not in self.option_names:
            log_path = str(opts.log_file) if opts.log_file else \
                os.path.join(tmp, f"{self.name}.log")
            kw["logfile"] = log_path
        if to_console:
            kw["tee"] = True
        if opts.start is not None and self.mip_start and _warm_start_capable(solver):
            for v, val in zip(m._array_model_columns, opts.start, strict=True):
                v.set_value(float(val), skip_validation=True)
            kw["warmstart"] = True
        self._prepare(opts)
        try:
            with _quiet_stdout(str(opts.log_file)) if to_console else contextlib.nullcontext():
                res = solver.solve(m, options=self._options(opts), **kw)
        except Exception as e:  # noqa: BLE001 - a backend failure is a result, not a crash
            return RawResult(ERROR, None, None, None, self.name, self.version(),
                             f"{type(e).__name__}: {e}", t1 - t0, time.perf_counter() - t1)
        finally:
            log_text = _read_log(log_path, keep=bool(opts.log_file))
        t2 = time.perf_counter()
        tc = res.solver.termination_condition
        term = {TC.optimal: OPTIMAL, TC.maxTimeLimit: TIME_LIMIT, TC.infeasible: INFEASIBLE,
                TC.infeasibleOrUnbounded: INFEASIBLE, TC.unbounded: UNBOUNDED,
                TC.maxIterations: LIMIT, TC.maxEvaluations: LIMIT, TC.userInterrupt: INTERRUPTED,
                TC.feasible: LIMIT, TC.other: LIMIT, TC.locallyOptimal: OPTIMAL,
                TC.globallyOptimal: OPTIMAL}.get(tc, ERROR)
        if res.solver.status == SolverStatus.aborted and term == ERROR:
            term = TIME_LIMIT
        term = self._termination(term, log_text)
        x = obj = None
        if len(res.solution) > 0:
            try:
                m.solutions.load_from(res)
                vals = [v.value for v in m._array_model_columns]
                if all(v is not None for v in vals):
                    x = np.asarray(vals, float)
                    obj = float(am.cost @ x)
            except Exception as e:  # noqa: BLE001
                log.warning("%s: could not load the solution: %s", self.name, e)
        bound = self._bound(res, am.sense, obj, log_text)
        if term == OPTIMAL and bound is None and not opts.mip_gap and obj is not None:
            bound = obj  # only when the solver proved optimality without a gap tolerance
        msg = str(getattr(res.solver, "message", "") or tc)
        return RawResult(term, x, obj, bound, self.name, self.version(), msg, t1 - t0, t2 - t1)

    def _prepare(self, opts: SolveOptions) -> None:
        """Anything the solver needs done in this process before it runs."""

    def _bound(self, res: Any, sense: str, objective: float | None,
               log_text: str) -> float | None:
        """The solver's best bound in the model's own sense, if it reports one."""
        return _pyomo_bound(res, sense)

    def _termination(self, term: str, log_text: str) -> str:
        """Pyomo's termination, corrected from the solver's log where Pyomo misreads it."""
        return term


def _read_log(path: str | None, keep: bool) -> str:
    if path is None:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
    finally:
        if not keep:
            with contextlib.suppress(OSError):
                os.remove(path)


def _valid_bound(bound: float | None, sense: str, objective: float | None) -> float | None:
    """``bound`` unless it lies on the wrong side of the incumbent (then it is none)."""
    if bound is None or objective is None:
        return bound
    tol = 1e-9 * max(1.0, abs(objective))
    wrong = bound < objective - tol if sense == "max" else bound > objective + tol
    return None if wrong else bound


def _warm_start_capable(solver: Any) -> bool:
    try:
        return bool(solver.warm_start_capable())
    except Exception:  # noqa: BLE001 - an interface without the query takes no start
        return False


def _pyomo_bound(res: Any, sense: str) -> float | None:
    try:
        b = res.problem.upper_bound if sense == "max" else res.problem.lower_bound
        b = float(b)
    except (TypeError, ValueError, AttributeError):
        return None
    return b if math.isfinite(b) else None


class CbcBackend(PyomoBackend):
    """COIN-OR CBC (Debian package ``coinor-cbc``), through Pyomo's shell interface."""

    name = "cbc"
    mip_start = True
    pyomo_name = "cbc"
    option_names = {"time_limit": "sec", "mip_gap": "ratioGap", "threads": "threads",
                    "seed": "randomSeed"}

    def _options(self, opts: SolveOptions) -> dict[str, Any]:
        o = super()._options(opts)
        if "sec" in o:
            o["timeMode"] = "elapsed"  # CBC's limit is CPU time unless told otherwise
        return o

    def _bound(self, res: Any, sense: str, objective: float | None,
               log_text: str) -> float | None:
        # Pyomo reports the objective as the bound of a run that stopped at the gap
        # tolerance, and at a time limit CBC's internal bound (of the negated objective
        # of a maximization). CBC's own log has the truth.
        return _cbc_log_bound(log_text, sense, objective)


def _cbc_log_bound(text: str, sense: str, objective: float | None) -> float | None:
    """The bound in CBC's log: the gap it exited on, else its last "best possible"."""
    import re

    sign = -1.0 if sense == "max" else 1.0  # CBC minimizes; a maximum is negated
    gap = re.findall(r"Exiting as integer gap of ([-+0-9.eE]+)", text)
    if gap and objective is not None:
        g = abs(float(gap[-1]))
        return objective + g if sense == "max" else objective - g
    best = re.findall(r"best possible ([-+0-9.eE]+)", text)
    if best:
        return sign * float(best[-1])
    if "Result - Optimal solution found" in text:
        return objective  # the search finished without exiting on a gap: proven
    return None


class GlpkBackend(PyomoBackend):
    """GLPK (Debian package ``glpk-utils``), through Pyomo's shell interface."""

    name = "glpk"
    pyomo_name = "glpk"
    option_names = {"time_limit": "tmlim", "mip_gap": "mipgap"}

    # All cut families and hybrid pseudocost branching (flags: value None). Measured on
    # apparel: GLPK's defaults end 600 s at a 0.26% gap; with these it stops at the 1e-4
    # gap in about 7 minutes, and its root bound is tighter.
    flags: ClassVar[dict[str, None]] = {"cuts": None, "pcost": None}

    def _options(self, opts: SolveOptions) -> dict[str, Any]:
        o: dict[str, Any] = {**self.flags, **super()._options(opts)}
        if "tmlim" in o:
            o["tmlim"] = max(1, int(math.ceil(o["tmlim"])))
        return o

    def _termination(self, term: str, log_text: str) -> str:
        # Pyomo calls a stop at the gap tolerance "feasible"; it is optimal within the gap,
        # as for every other solver
        return OPTIMAL if "MIP GAP TOLERANCE REACHED" in log_text else term

    def _bound(self, res: Any, sense: str, objective: float | None,
               log_text: str) -> float | None:
        # Pyomo reports the objective as the bound when GLPK stops at its gap tolerance;
        # GLPK's progress lines "+ it: mip = best <= bound" have the bound
        bound = _glpk_log_bound(log_text, objective)
        return bound if bound is not None else _pyomo_bound(res, sense)


def _glpk_log_bound(text: str, objective: float | None) -> float | None:
    """The bound on GLPK's last progress line ("tree is empty": the objective)."""
    import re

    lines = re.findall(r"^\+\s*\d+: .*?(?:<=|>=)\s+(.+?)\s*(?:<\s*)?[-0-9.]*%?\s*\(",
                       text, flags=re.MULTILINE)
    if not lines:
        return None
    last = lines[-1].strip()
    if last.startswith("tree is empty"):
        return objective
    try:
        value = float(last.split()[0])
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class ScipBackend(PyomoBackend):
    """SCIP from the ``pyscipopt`` wheel, through Pyomo's ``scip_direct``."""

    name = "scip"
    pyomo_name = "scip_direct"
    option_names = {"time_limit": "limits/time", "mip_gap": "limits/gap",
                    "threads": "parallel/maxnthreads", "seed": "randomization/randomseedshift"}
    logfile_keyword = False


class HighsPyomoBackend(PyomoBackend):
    """HiGHS through Pyomo (``appsi_highs``): the reference for the Pyomo hand-off."""

    name = "highs_pyomo"
    mip_start = True
    pyomo_name = "appsi_highs"
    option_names = {"time_limit": "time_limit", "mip_gap": "mip_rel_gap",
                    "threads": "threads", "seed": "random_seed", "log_file": "log_file"}

    def _prepare(self, opts: SolveOptions) -> None:
        highs_threads(opts.threads)  # appsi_highs runs highspy in this process


class GurobiBackend(PyomoBackend):
    """Gurobi (licensed), through Pyomo's ``gurobi_direct``."""

    name = "gurobi"
    mip_start = True
    pyomo_name = "gurobi_direct"
    option_names = {"time_limit": "TimeLimit", "mip_gap": "MIPGap", "threads": "Threads",
                    "seed": "Seed"}


class CplexBackend(PyomoBackend):
    """CPLEX (licensed), through Pyomo's ``cplex_direct``."""

    name = "cplex"
    mip_start = True
    pyomo_name = "cplex_direct"
    option_names = {"time_limit": "timelimit", "mip_gap": "mip_tolerances_mipgap",
                    "threads": "threads", "seed": "randomseed"}


class XpressBackend(PyomoBackend):
    """FICO Xpress (licensed), through Pyomo's ``xpress_direct``."""

    name = "xpress"
    mip_start = True
    pyomo_name = "xpress_direct"
    option_names = {"time_limit": "maxtime", "mip_gap": "miprelstop", "threads": "threads",
                    "seed": "randomseed"}


BACKENDS: dict[str, type[Backend]] = {
    b.name: b for b in (HighsBackend, CbcBackend, GlpkBackend, ScipBackend, HighsPyomoBackend,
                        GurobiBackend, CplexBackend, XpressBackend)
}


def available_backends() -> list[str]:
    """Names of the backends usable on this machine."""
    return [n for n, b in BACKENDS.items() if b.is_available()]


def get_backend(name: str) -> Backend:
    """An instance of the named backend; ``ValueError`` if unknown or not installed."""
    if name not in BACKENDS:
        raise ValueError(f"unknown solver '{name}': use one of {', '.join(BACKENDS)}")
    cls = BACKENDS[name]
    if not cls.is_available():
        raise ValueError(f"solver '{name}' is not installed here; available: "
                         f"{', '.join(available_backends())}")
    return cls()
