"""The watchdog: a solve in a child process that is killed at its limit, dies with
its parent (Linux parent-death signal) and keeps its temporary files in a private
run folder removed at the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from ...model.linear import ArrayModel
from .base import ERROR, TIME_LIMIT, RawResult, SolveOptions

log = logging.getLogger(__name__)

RELAY_PREFIX = "\x1echannel_opt-log "  # marks a log record on the watchdog child's stderr
RUN_DIR_PREFIX = "channel_opt-run-"  # + PID + "-" + random: temporary files of one solve


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
def children_die_with_us() -> Iterator[None]:
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

    from . import BACKENDS

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
