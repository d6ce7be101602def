"""Run a worker task in a fresh process and kill it if it does not stop in time."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the repository (parent of benchmarks/)
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


@dataclass
class WorkerRun:
    """What a worker reported, and how it ended."""

    events: list[dict[str, Any]] = field(default_factory=list)
    killed: bool = False
    kill_reason: str = ""
    returncode: int | None = None
    wall: float = 0.0
    stderr_tail: str = ""
    ended_at: float = 0.0

    def phase(self, name: str) -> dict[str, Any] | None:
        """The last ``phase`` event of that name."""
        for e in reversed(self.events):
            if e.get("event") == "phase" and e.get("phase") == name:
                return e
        return None

    def first(self, event: str) -> dict[str, Any] | None:
        """The first event of that kind."""
        return next((e for e in self.events if e.get("event") == event), None)

    @property
    def error(self) -> str:
        """The worker's error message, or how it died."""
        e = self.first("error")
        if e:
            return str(e.get("error"))
        if self.killed:
            return self.kill_reason
        if self.returncode not in (0, None):
            sig = -self.returncode if self.returncode < 0 else None
            how = f"signal {signal.Signals(sig).name}" if sig else f"exit {self.returncode}"
            return f"worker died ({how}) {self.stderr_tail[-200:]}".strip()
        return ""


def _read_events(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return out
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line cut by a kill
            out.append(json.loads(line))
    return out


def _available_mb() -> float:
    try:
        import psutil

        return float(psutil.virtual_memory().available) / 2**20
    except Exception:  # noqa: BLE001
        return float("inf")


def run_worker(spec: dict[str, Any], *, setup_timeout: float = 1800.0,
               solve_timeout: float | None = None, poll: float = 0.1,
               min_free_mb: float = 1024.0) -> WorkerRun:
    """Run one task in a new process (its own process group).

    The worker is killed (SIGKILL to its whole process group, so solver executables
    it started die too) ``setup_timeout`` seconds after it starts if it has not yet
    reported ``handoff_done``, or ``solve_timeout`` seconds after that report; and
    at once if the machine's available memory falls below ``min_free_mb`` (a 10^6-cell
    instance must not push other work on the machine into the OOM killer).
    """
    with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
        ev_path = Path(tmp) / "events.jsonl"
        err_path = Path(tmp) / "stderr.txt"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("PYTHONWARNINGS", "ignore")
        # big arrays mmapped and unmapped when freed, so that a phase's RSS peak counts
        # only what it allocates (glibc otherwise reuses memory freed by earlier phases)
        env.update(MALLOC_ENV)
        t0 = time.monotonic()
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.worker", json.dumps(spec), str(ev_path)],
                cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, start_new_session=True)
            run = WorkerRun()
            deadline = t0 + setup_timeout
            started_solver = False
            n_seen = 0
            while True:
                rc = proc.poll()
                if rc is not None:
                    run.returncode = rc
                    break
                if solve_timeout is not None and not started_solver:
                    evs = _read_events(ev_path)
                    for e in evs[n_seen:]:
                        if e.get("event") == "handoff_done":
                            started_solver = True
                            deadline = time.monotonic() + solve_timeout
                    n_seen = len(evs)
                if _available_mb() < min_free_mb:
                    run.killed = True
                    run.kill_reason = (f"killed: the machine had less than {min_free_mb:.0f} MB "
                                       "of memory left")
                    _kill_group(proc)
                    run.returncode = proc.wait()
                    break
                if time.monotonic() > deadline:
                    run.killed = True
                    run.kill_reason = (
                        f"killed: solver still running {solve_timeout:.0f} s after the hand-off"
                        if started_solver else f"killed: no hand-off within {setup_timeout:.0f} s")
                    _kill_group(proc)
                    run.returncode = proc.wait()
                    break
                time.sleep(poll)
        run.wall = time.monotonic() - t0
        run.ended_at = time.time()
        run.events = _read_events(ev_path)
        with contextlib.suppress(OSError):
            run.stderr_tail = err_path.read_text(errors="replace")[-2000:]
    return run


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's process group (the worker and any solver it started)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.kill()
