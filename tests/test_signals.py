"""Ctrl-C, SIGTERM and kills of ``channel-opt solve``, its solver worker and ``cbc``
(issue 10, item 2): a previous result is never replaced, the exit status says what
happened, no solver process outlives the command and its temporary files go.

Each test runs the command line on a generated 10^3-cell instance with every rule
family (HiGHS needs minutes to prove it optimal), waits until the log says the
solver starts, then signals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from channel_opt.scenario import load_scenario
from channel_opt.solving.engines import BACKENDS
from channel_opt.solving.engines.watchdog import RUN_DIR_PREFIX, clean_stale_run_dirs

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.wallclock import write_instance

    return write_instance("all", 1000, tmp_path_factory.mktemp("inst"))


def previous_result(folder: Path, scenario: Path) -> bytes:
    """A result folder channel_opt wrote earlier for this scenario (marker + summary)."""
    folder.mkdir()
    scen = load_scenario(scenario)
    (folder / ".channel_opt-result").write_text(json.dumps({
        "written_by": "channel_opt", "scenario": scen.name, "scenario_hash": scen.hash,
        "input": str(scenario.resolve()), "pid": 1, "partial": False}))
    summary = json.dumps({"termination": "optimal", "objective": 1.0}).encode()
    (folder / "summary.json").write_bytes(summary)
    return summary


class Run:
    """``channel-opt solve`` in the background, its stderr collected by a thread."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.p = subprocess.Popen([sys.executable, "-m", "channel_opt.cli", "solve", *args],
                                  cwd=cwd, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.solving = threading.Event()
        self.searching = threading.Event()  # the constructive phase's neighbourhood search
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self.err.append(line)
            if "solving with" in line:
                self.solving.set()
            if "neighbourhood search, pass" in line:
                self.searching.set()

    def wait_solving(self, extra: float = 1.5, timeout: float = 120.0) -> None:
        assert self.solving.wait(timeout), "".join(self.err)
        time.sleep(extra)
        assert self.p.poll() is None, "".join(self.err)

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        # stderr belongs to the reader thread alone: communicate() would read it too and
        # take the last lines (the "interrupted" message) away from it
        self.p.wait(timeout=timeout)
        assert self.p.stdout is not None
        out = self.p.stdout.read()
        self.reader.join(5)
        self.p.stdout.close()
        if self.p.stderr is not None:
            self.p.stderr.close()
        return self.p.returncode, out, "".join(self.err)


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of ``pid`` (from /proc)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for_child(pid: int, word: str, timeout: float = 120.0) -> int:
    """The first descendant of ``pid`` whose command line has ``word``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for c in descendants(pid):
            if word in cmdline(c):
                return c
        time.sleep(0.1)
    raise AssertionError(f"no {word} process under {pid}")


def gone_within(pids: list[int], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize(("sig", "code", "limit"), [
    (signal.SIGINT, 130, None),  # in-process HiGHS
    (signal.SIGTERM, 143, None),
    (signal.SIGINT, 130, "120"),  # HiGHS in the watchdog's child
    (signal.SIGTERM, 143, "120")])
def test_interrupt_keeps_the_previous_result(big: Path, tmp_path: Path, sig: int, code: int,
                                             limit: str | None) -> None:
    res = tmp_path / "res"
    kept = previous_result(res, big)
    run = Run(str(big), "--out", str(res), "--no-plots",
              *(["--time-limit", limit] if limit else []), cwd=tmp_path)
    run.wait_solving()
    kids = descendants(run.p.pid)
    assert bool(kids) == bool(limit)  # the watchdog's child exists only with a limit
    t = time.monotonic()
    run.p.send_signal(sig)
    rc, out, err = run.finish()
    latency = time.monotonic() - t
    assert rc == code, err
    # the solve is stopped, not awaited (measured about 1 s; margin for a loaded machine)
    assert latency < (5.0 if limit else 8.0), latency
    assert "interrupted" in err and out == ""
    assert (res / "summary.json").read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no half-written folder
    assert gone_within(kids, 2.0)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_in_the_neighbourhood_search_stops_at_once(big: Path, tmp_path: Path,
                                                             sig: int, code: int) -> None:
    """Before the solver starts, a run under a time limit improves its plan by MIPs in
    worker threads (``solving.neighbourhood``): a signal there stops them too. It took
    the rest of the running MIPs' time (up to 50 s), and where Ctrl-C cut the wait for a
    thread short the interpreter later aborted in C++ (exit -6) with HiGHS still running.
    """
    res = tmp_path / "res"
    kept = previous_result(res, big)
    run = Run(str(big), "--out", str(res), "--no-plots", "--time-limit", "120", cwd=tmp_path)
    assert run.searching.wait(120), "".join(run.err)
    time.sleep(0.5)
    assert not run.solving.is_set() and run.p.poll() is None, "".join(run.err)
    t = time.monotonic()
    run.p.send_signal(sig)
    rc, out, err = run.finish()
    latency = time.monotonic() - t
    assert rc == code, err
    assert latency < 5.0, latency
    assert "interrupted" in err and out == ""
    assert (res / "summary.json").read_bytes() == kept


def test_interrupt_of_the_decomposition_kills_its_workers(big: Path, tmp_path: Path) -> None:
    """``--method decompose --workers 2``: the regions' MIPs run in worker processes;
    Ctrl-C kills them with their tasks (closing the pool waited for them: 10-13 s).
    """
    res = tmp_path / "res"
    kept = previous_result(res, big)
    run = Run(str(big), "--out", str(res), "--no-plots", "--time-limit", "120",
              "--method", "decompose", "--workers", "2", cwd=tmp_path)
    wait_for_child(run.p.pid, "multiprocessing")  # the region workers (spawned)
    time.sleep(2.0)
    kids = descendants(run.p.pid)
    assert run.p.poll() is None, "".join(run.err)
    t = time.monotonic()
    run.p.send_signal(signal.SIGINT)
    rc, out, err = run.finish()
    latency = time.monotonic() - t
    assert rc == 130, err
    assert latency < 5.0, latency
    assert (res / "summary.json").read_bytes() == kept
    assert gone_within(kids, 2.0)


def test_kill_9_of_the_command_takes_the_worker_along(big: Path, tmp_path: Path) -> None:
    run = Run(str(big), "--out", str(tmp_path / "res"), "--time-limit", "120", "--no-plots",
              cwd=tmp_path)
    worker = wait_for_child(run.p.pid, "channel_opt.solving.worker")
    run.wait_solving(extra=1.0)
    assert alive(worker)
    run.p.kill()
    run.finish()
    assert gone_within([worker], 3.0), cmdline(worker)


def test_killed_worker_is_a_solver_failure(big: Path, tmp_path: Path) -> None:
    res = tmp_path / "res"
    kept = previous_result(res, big)
    run = Run(str(big), "--out", str(res), "--time-limit", "120", "--no-plots", cwd=tmp_path)
    run.wait_solving(extra=1.0)
    worker = wait_for_child(run.p.pid, "channel_opt.solving.worker")
    os.kill(worker, signal.SIGKILL)
    rc, out, err = run.finish()
    assert rc == 4, err
    assert "plan none (solver: error)" in out and "previous result kept" in out
    assert "killed by signal 9" in err
    assert (res / "summary.json").read_bytes() == kept


def test_first_run_with_a_killed_worker_writes_the_failure(big: Path, tmp_path: Path) -> None:
    res = tmp_path / "res"
    run = Run(str(big), "--out", str(res), "--time-limit", "120", "--no-plots", cwd=tmp_path)
    run.wait_solving(extra=1.0)
    os.kill(wait_for_child(run.p.pid, "channel_opt.solving.worker"), signal.SIGKILL)
    rc, out, err = run.finish()
    assert rc == 4, err
    s = json.loads((res / "summary.json").read_text())
    assert s["termination"] == "error" and s["plan_status"] == "none"
    assert s["bound"] is None and s["objective"] is None  # nothing it does not have


needs_cbc = pytest.mark.skipif(not BACKENDS["cbc"].is_available(), reason="cbc not installed")


def run_dirs() -> set[str]:
    import tempfile

    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(RUN_DIR_PREFIX)}


@needs_cbc
def test_killed_cbc_is_a_solver_failure_and_leaves_no_files(big: Path, tmp_path: Path) -> None:
    res = tmp_path / "res"
    kept = previous_result(res, big)
    run = Run(str(big), "--out", str(res), "--solver", "cbc", "--no-plots", cwd=tmp_path)
    cbc = wait_for_child(run.p.pid, "-solve")  # the solve, not a version probe
    mine = {n for n in run_dirs() if n.startswith(f"{RUN_DIR_PREFIX}{run.p.pid}-")}
    assert mine  # the .lp and .soln files live in the run's own folder
    os.kill(cbc, signal.SIGKILL)
    rc, out, err = run.finish()
    assert rc == 4, err
    assert "solver: error" in out
    assert (res / "summary.json").read_bytes() == kept
    assert not mine & run_dirs()


@needs_cbc
def test_kill_9_of_the_command_takes_cbc_along(big: Path, tmp_path: Path) -> None:
    run = Run(str(big), "--out", str(tmp_path / "res"), "--solver", "cbc", "--no-plots",
              cwd=tmp_path)
    cbc = wait_for_child(run.p.pid, "-solve")
    mine = {n for n in run_dirs() if n.startswith(f"{RUN_DIR_PREFIX}{run.p.pid}-")}
    run.p.kill()
    run.finish()
    assert gone_within([cbc], 3.0)
    assert mine and mine <= run_dirs()  # a kill -9 leaves the folder...
    clean_stale_run_dirs()  # ...which the next run removes (its owner is gone)
    assert not mine & run_dirs()
