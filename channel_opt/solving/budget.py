"""The time budget of one run: one deadline, passed through every phase.

A ``--time-limit`` covers the whole run (load, build, constructive plan, hand-off,
solve, diagnosis, sensitivity, extraction), not only the solver. :class:`Budget` is
the one place that knows how much is left and how much a phase may take; the
pipeline asks it before each phase and gives each phase what it answers:

* the constructive plan: ``phase_limit(0.5, reserve=post_solve_reserve(nnz))``;
* the solver: ``phase_limit(reserve=post_solve_reserve(nnz))``, killed by the watchdog
  at ``hard_stop()`` (the limit plus half the grace);
* the diagnosis of an infeasible model and the sensitivity LP: ``phase_limit()``
  (what is left), skipped when it is under ``MIN_PHASE_SECONDS``.

Another solve path shares it the same way (e.g. a decomposition), asking
``remaining()`` / ``phase_limit(share, reserve)`` before each step, or handing a part
to a sub-step as a budget of its own::

    master = Budget(600.0)
    regions = master.sub(0.8, reserve=master.post_solve_reserve())  # 80 % of what is left
    while regions.allows():                   # a step needs MIN_PHASE_SECONDS
        solve_region(..., time_limit=regions.phase_limit())
    repair(..., time_limit=master.phase_limit())  # the rest of the whole run

A sub-budget ends no later than its parent, so nothing given out overruns the run.
The run returns within ``limit + grace_seconds(limit)``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

# A phase the budget no longer leaves this many seconds for is skipped (heuristic,
# sensitivity) or not started (the solver), rather than started to be cut at once.
MIN_PHASE_SECONDS = 1.0
# what the phases after the solve take per nonzero of the model, with a margin of about
# two: extraction, sensitivity LP and writing took 0.84 s at 10^4 cells of `all` (2.1 M
# nonzeros), 8 s at 10^5 (18.8 M), 82 s at 10^6 cells of `capacity` (130 M), where a
# tenth of the limit (12 s of 120, 60 s of 600) left the search 10 % less time
POST_SOLVE_SECONDS_PER_NONZERO = 1e-6


def grace_seconds(limit: float) -> float:
    """How far past its limit a run may return: 20 % of it, at least 5 s.

    It absorbs what cannot be interrupted at a fine grain: stopping a solver that
    overruns its own limit, extracting the plan it returns, and writing the files.
    """
    return max(5.0, 0.2 * limit)


def process_age() -> float:
    """Seconds since this process started (Linux: from ``/proc``; 0 elsewhere), so a
    command-line limit also counts the interpreter start-up and imports.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


@dataclass
class Budget:
    """Seconds left for a run that started at ``start`` (``time.monotonic``).

    ``limit=None`` is no limit: every question answers "unlimited" (``None``).
    """

    limit: float | None = None
    start: float = field(default_factory=time.monotonic)

    @property
    def grace(self) -> float:
        """The documented overrun past the limit (0 without a limit)."""
        return 0.0 if self.limit is None else grace_seconds(self.limit)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.start

    def remaining(self) -> float | None:
        """Seconds until the limit (negative once past it), or ``None``."""
        if self.limit is None:
            return None
        return self.limit - self.elapsed()

    def expired(self) -> bool:
        """Whether the limit has passed."""
        left = self.remaining()
        return left is not None and left <= 0

    def allows(self, seconds: float = MIN_PHASE_SECONDS) -> bool:
        """Whether at least ``seconds`` are left (always, without a limit)."""
        left = self.remaining()
        return left is None or left >= seconds

    def phase_limit(self, share: float = 1.0, reserve: float = 0.0) -> float | None:
        """Seconds a phase may take: ``share`` of what is left after ``reserve``.

        Never negative; ``None`` without a limit.
        """
        left = self.remaining()
        if left is None:
            return None
        return max(0.0, share * (left - reserve))

    def sub(self, share: float = 1.0, reserve: float = 0.0) -> Budget:
        """A budget of its own for a part of the run, starting now: ``share`` of what
        is left after ``reserve`` (see :meth:`phase_limit`); unlimited without a limit.
        """
        return Budget(self.phase_limit(share, reserve))

    def deadline(self) -> float | None:
        """The ``time.monotonic()`` at which the limit passes, or ``None``."""
        return None if self.limit is None else self.start + self.limit

    def post_solve_reserve(self, nnz: int | None = None) -> float:
        """Seconds kept back from the solver for the phases after it (extraction,
        the sensitivity LP or the diagnosis, writing): 10 % of the limit, at most 60 s;
        for a model of ``nnz`` nonzeros at most what they take on it
        (``POST_SOLVE_SECONDS_PER_NONZERO``, at least ``MIN_PHASE_SECONDS``).
        """
        if self.limit is None:
            return 0.0
        reserve = min(60.0, 0.1 * self.limit)
        if nnz is not None:
            reserve = min(reserve, max(MIN_PHASE_SECONDS, POST_SOLVE_SECONDS_PER_NONZERO * nnz))
        return reserve

    def hard_stop(self) -> float | None:
        """Seconds from now until a solver process is killed: the limit plus half
        the grace (the other half is for extraction and writing).
        """
        left = self.remaining()
        if left is None or self.limit is None:
            return None
        return max(0.0, left + 0.5 * self.grace)

    def describe(self) -> str:
        """``"12.3 of 30 s used"`` for log lines."""
        if self.limit is None:
            return f"{self.elapsed():.1f} s (no limit)"
        return f"{self.elapsed():.1f} of {self.limit:g} s used"



class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT is Ctrl-C, SIGTERM a polite kill).

    A :class:`KeyboardInterrupt`, so code that lets Ctrl-C through lets it through;
    the command line exits ``128 + signum`` (130 for Ctrl-C, 143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
