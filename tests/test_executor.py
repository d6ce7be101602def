"""The batch executor: every kind returns the serial results in input order."""

from __future__ import annotations

import os
import tempfile

import pytest

from channel_opt.executor import (
    DaskExecutor,
    ExecutorError,
    ProcessExecutor,
    SerialExecutor,
    TaskError,
    get_executor,
    run_batch,
)


def square_where(x: int) -> tuple[int, int, str]:
    """x², the worker's pid and its temporary folder."""
    return x * x, os.getpid(), tempfile.gettempdir()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def sleep_long(x: int) -> int:
    """A task that outlasts the test unless it is killed (as a region's MIP would)."""
    import time

    time.sleep(60.0)
    return x


def interrupted_on_two(x: int) -> int:
    """As a worker's task sees Ctrl-C typed in a terminal (sent to the process group)."""
    if x == 2:
        raise KeyboardInterrupt
    return x


def test_a_worker_interrupted_interrupts_the_batch() -> None:
    # the worker's KeyboardInterrupt was reported as task 3 failing (a TaskError)
    ex = ProcessExecutor(2)
    root = ex._tmp
    with pytest.raises(KeyboardInterrupt), ex:
        ex.map(interrupted_on_two, [0, 1, 2, 3])
    procs = list(ex._pool._processes.values()) if ex._pool._processes else []
    assert all(not p.is_alive() for p in procs)
    assert not os.path.exists(root)


def test_ctrl_c_kills_the_running_workers() -> None:
    """Ctrl-C (SIGINT to the main thread, from a timer) while workers run long tasks: the
    interrupt comes through at once and the workers are gone, their folder too. Closing
    the pool waited for the running tasks (a region's MIP there: 10-13 s after Ctrl-C
    at 10^3 cells of `all` with ``--method decompose``).
    """
    import signal
    import threading
    import time

    ex = ProcessExecutor(2)
    root = ex._tmp
    main = threading.main_thread().ident
    assert main is not None
    threading.Timer(2.0, signal.pthread_kill, (main, signal.SIGINT)).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt), ex:
        ex.map(sleep_long, [1, 2, 3])
    assert time.monotonic() - t0 < 10.0
    procs = list(ex._pool._processes.values()) if ex._pool._processes else []
    assert all(not p.is_alive() for p in procs)
    assert not os.path.exists(root)


def test_serial_is_the_plain_loop() -> None:
    seen: list[tuple[int, int]] = []
    out = SerialExecutor().map(square_where, [3, 1, 2], progress=lambda d, t: seen.append((d, t)))
    assert [r[0] for r in out] == [9, 1, 4]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_processes_keep_input_order_and_private_temp_dirs() -> None:
    items = list(range(12))
    with ProcessExecutor(2) as ex:
        out = ex.map(square_where, items)
        root = ex._tmp
        with pytest.raises(TaskError, match=r"task 4 \(d\) failed: ValueError: three") as e:
            ex.map(fail_on_three, [0, 1, 2, 3], labels=["a", "b", "c", "d"])
        assert e.value.index == 3
    assert [r[0] for r in out] == [x * x for x in items]
    pids = {r[1] for r in out}
    assert os.getpid() not in pids
    dirs = {r[1]: r[2] for r in out}
    assert all(d.startswith(root) for d in dirs.values())
    assert len(set(dirs.values())) == len(dirs)  # one folder per worker process
    assert not os.path.exists(root)  # removed on close


def test_a_failing_task_is_named() -> None:
    with pytest.raises(TaskError, match="task 4"):
        run_batch(fail_on_three, [0, 1, 2, 3], workers=1)


def test_choice_of_executor() -> None:
    assert isinstance(get_executor(1), SerialExecutor)
    with pytest.raises(ExecutorError, match="at least 1"):
        get_executor(0)
    with pytest.raises(ExecutorError, match="either workers or"):
        get_executor(2, "tcp://127.0.0.1:1")


def test_dask_cluster_gives_the_serial_results() -> None:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        out = run_batch(square_where, list(range(8)), scheduler=cluster.scheduler_address)
    assert [r[0] for r in out] == [x * x for x in range(8)]


def test_unreachable_scheduler_is_a_clear_error() -> None:
    pytest.importorskip("dask.distributed")
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1.0)
