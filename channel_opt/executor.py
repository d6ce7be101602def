"""The batch executor: one interface for running independent tasks side by side.

Sweeps, frontiers, comparisons and the region decomposition all hand a list of
independent tasks to an :class:`Executor` and get the results back **in input
order**. Three kinds sit behind the one interface:

- :class:`SerialExecutor` runs the tasks in this process, one after the other
  (``workers=1``); it is what tests and tiny batches use and the reference every other
  executor must agree with.
- :class:`ProcessExecutor` runs them in local worker processes started with ``spawn``
  (a clean interpreter each: no inherited solver state, threads or locks), each with a
  private temporary folder that is removed when the executor closes.
- :class:`DaskExecutor` sends them to a ``dask.distributed`` cluster given by its
  scheduler address (``tcp://host:port``); the workers there must have channel_opt
  installed. Dask is an optional extra (``pip install -e ".[dask]"``).

A task is ``fn(item)`` with ``fn`` a module-level function (it is pickled by
reference) and ``item`` a picklable value: workers receive a :class:`Scenario` (which
pickles by content) and build their model themselves, never a solver object. A task
that raises makes :meth:`Executor.map` raise :class:`TaskError` naming the task; the
remaining tasks are cancelled where the executor can cancel them.

Progress: ``map`` reports each finished task to ``progress(done, total)`` when given,
else as an INFO log line of the ``channel_opt`` logger (what the command line prints).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any, Protocol, TypeVar

log = logging.getLogger("channel_opt")

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]

WORKER_DIR_PREFIX = "channel_opt-worker-"


class ExecutorError(ValueError):
    """An executor that cannot be set up (bad worker count, Dask missing, no scheduler)."""


class TaskError(RuntimeError):
    """A task of a batch failed; ``index`` is its position in the batch."""

    def __init__(self, index: int, label: str, cause: BaseException) -> None:
        super().__init__(f"task {index + 1} ({label}) failed: {type(cause).__name__}: {cause}")
        self.index = index
        self.label = label


class Executor(Protocol):
    """Runs ``fn`` on every item and returns the results in input order."""

    workers: int

    def map(self, fn: Callable[[T], R], items: Sequence[T], *,
            labels: Sequence[str] | None = None, progress: Progress | None = None) -> list[R]:
        """``[fn(x) for x in items]``, run side by side where the executor can."""
        ...

    def close(self) -> None:
        """Release the workers (and their temporary folders)."""
        ...


def _report(progress: Progress | None, done: int, total: int, what: str) -> None:
    if progress is not None:
        progress(done, total)
    else:
        log.info("%s: %d/%d done", what, done, total)


def _labels(labels: Sequence[str] | None, n: int) -> list[str]:
    if labels is None:
        return [f"#{i + 1}" for i in range(n)]
    if len(labels) != n:
        raise ExecutorError(f"{len(labels)} labels for {n} tasks")
    return list(labels)


class _Base:
    workers: int = 1

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release."""


class SerialExecutor(_Base):
    """Runs the tasks in this process, in order."""

    def map(self, fn: Callable[[T], R], items: Sequence[T], *,
            labels: Sequence[str] | None = None, progress: Progress | None = None) -> list[R]:
        """``[fn(x) for x in items]``; a failing task raises :class:`TaskError`."""
        names = _labels(labels, len(items))
        out: list[R] = []
        for i, x in enumerate(items):
            try:
                out.append(fn(x))
            except Exception as e:
                raise TaskError(i, names[i], e) from e
            _report(progress, i + 1, len(items), "batch")
        return out


def _init_worker(parent_tmp: str) -> None:
    """Give the worker process a private temporary folder (under the executor's)."""
    d = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent_tmp)
    os.environ["TMPDIR"] = d
    tempfile.tempdir = d


class ProcessExecutor(_Base):
    """Local worker processes (``spawn``), each with its own temporary folder."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ExecutorError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._tmp = tempfile.mkdtemp(prefix=WORKER_DIR_PREFIX)
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                         initializer=_init_worker, initargs=(self._tmp,))

    def map(self, fn: Callable[[T], R], items: Sequence[T], *,
            labels: Sequence[str] | None = None, progress: Progress | None = None) -> list[R]:
        """Submit every task, collect results in input order; the first failure
        cancels the tasks not yet started and raises :class:`TaskError`.
        """
        names = _labels(labels, len(items))
        futures: dict[Future[R], int] = {self._pool.submit(fn, x): i
                                         for i, x in enumerate(items)}
        results: list[Any] = [None] * len(items)
        pending = set(futures)
        done_count = 0
        try:
            while pending:
                # in steps: a signal taken by another thread (a process-directed
                # SIGTERM may be) does not wake a wait without a timeout
                done, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
                for fut in done:
                    i = futures[fut]
                    err = fut.exception()
                    if err is not None:
                        for p in pending:
                            p.cancel()
                        if isinstance(err, KeyboardInterrupt):
                            # Ctrl-C in a terminal reaches the workers too (one process
                            # group): a worker's interrupt is the batch's, not a failure
                            raise KeyboardInterrupt from err
                        raise TaskError(i, names[i], err) from err
                    results[i] = fut.result()
                    done_count += 1
                    _report(progress, done_count, len(items), "batch")
        except KeyboardInterrupt:
            self._kill_workers()
            raise
        return results

    def _kill_workers(self) -> None:
        """Ctrl-C or SIGTERM: the tasks not started are cancelled and the running ones
        killed with their workers. Shutting the pool down waits for the running tasks,
        and a worker's MIP sees its own SIGINT only when HiGHS returns: `--method
        decompose` on 10^3 cells of `all` ended 10-13 s after Ctrl-C.
        """
        for proc in list(getattr(self._pool, "_processes", {}).values()):
            proc.kill()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers and remove their temporary folders."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._tmp, ignore_errors=True)


class DaskExecutor(_Base):
    """The tasks of a batch on a ``dask.distributed`` cluster (scheduler address)."""

    def __init__(self, scheduler: str, *, timeout: float = 30.0) -> None:
        try:
            from dask.distributed import Client
        except ImportError as e:  # the optional extra is missing
            raise ExecutorError(
                "a Dask scheduler was given but dask.distributed is not installed: "
                'pip install -e ".[dask]"') from e
        try:
            self._client = Client(scheduler, timeout=timeout)
        except OSError as e:
            raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from e
        info = self._client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info["workers"].values()))

    def map(self, fn: Callable[[T], R], items: Sequence[T], *,
            labels: Sequence[str] | None = None, progress: Progress | None = None) -> list[R]:
        """Submit every task to the cluster (``pure=False``: each runs), collect in
        input order; a failure cancels the rest and raises :class:`TaskError`.
        """
        from dask.distributed import as_completed

        names = _labels(labels, len(items))
        futures = self._client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        try:
            for done_count, fut in enumerate(as_completed(futures), start=1):
                i = index[fut.key]
                if fut.status == "error":
                    err = fut.exception()
                    self._client.cancel(futures)
                    raise TaskError(i, names[i], err) from err
                results[i] = fut.result()
                _report(progress, done_count, len(items), "batch")
        except KeyboardInterrupt:  # the cluster stays up; this batch's tasks do not
            self._client.cancel(futures)
            raise
        return results

    def close(self) -> None:
        """Disconnect from the cluster (the cluster itself stays up)."""
        self._client.close()


def get_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor a command asks for: a Dask cluster when ``scheduler`` is given,
    else ``workers`` local processes (``None``: one per core; 1: in this process).
    """
    if scheduler:
        if workers is not None:
            raise ExecutorError("give either workers or a Dask scheduler, not both")
        return DaskExecutor(scheduler)
    n = (os.cpu_count() or 1) if workers is None else workers
    if n < 1:
        raise ExecutorError(f"workers must be at least 1, got {n}")
    return SerialExecutor() if n == 1 else ProcessExecutor(n)


def run_batch(fn: Callable[[T], R], items: Iterable[T], *, workers: int | None = None,
              scheduler: str | None = None, labels: Sequence[str] | None = None,
              progress: Progress | None = None) -> list[R]:
    """Run one batch on a fresh executor and release it: ``get_executor`` + ``map``."""
    batch = list(items)
    ex = get_executor(workers, scheduler)
    try:
        return ex.map(fn, batch, labels=labels, progress=progress)
    finally:
        ex.close()
