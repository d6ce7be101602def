"""Whether a solver's copy of the model fits in the memory the machine has left.

A run that starts HiGHS on a model too large for the machine is killed by the kernel
and leaves nothing: no plan, no bound, no message. At 10^6 cells of `core` (94 million
nonzeros) one HiGHS copy of the model would take about 22 GB, on top of the model
itself. So the LP relaxation and the MIP solver are started only where their copies
fit; otherwise the run keeps the constructive plan and its priced bound and says why.

Measured (``benchmarks``: 10^4 cells of `capacity`, 1.24 M nonzeros, peak resident
memory above the process before HiGHS got the model): interior point 221, dual
simplex 250, branch and bound 239 bytes per nonzero.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from pathlib import Path

HIGHS_BYTES_PER_NONZERO = 250
HEADROOM = 0.85  # of the memory available, what a solver's copies may take
_MEMINFO = Path("/proc/meminfo")


def available_bytes() -> int | None:
    """The memory the kernel can give without swapping (``MemAvailable``), or None
    where that is not known (then every copy is taken to fit). ``CHANNEL_OPT_MEMORY``
    (bytes) sets it instead, e.g. for a machine shared with other work.
    """
    env = os.environ.get("CHANNEL_OPT_MEMORY")
    if env:
        return int(float(env))
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def solver_bytes(nonzeros: int, copies: int = 1,
                 per_nonzero: int = HIGHS_BYTES_PER_NONZERO) -> int:
    """What ``copies`` HiGHS copies of a model with ``nonzeros`` matrix entries take."""
    return int(copies * per_nonzero * nonzeros)


def too_large(nonzeros: int, copies: int = 1,
              per_nonzero: int = HIGHS_BYTES_PER_NONZERO) -> str | None:
    """Why ``copies`` solver copies of the model do not fit (a sentence), or None;
    ``per_nonzero``: the bytes a copy takes per matrix entry.
    """
    avail = available_bytes()
    need = solver_bytes(nonzeros, copies, per_nonzero)
    if avail is None or need <= HEADROOM * avail:
        return None
    return (f"the solver's copy of the model ({nonzeros:,} nonzeros) needs about "
            f"{need / 2**30:.1f} GB and {avail / 2**30:.1f} GB are available")


def give_back() -> bool:
    """Hand the memory freed so far back to the kernel (glibc's ``malloc_trim``; a
    no-op elsewhere): whether anything was released.

    Solvers run in worker threads (the product blocks, the region search) allocate
    from glibc's per-thread arenas, which keep what they free for the next
    allocation in that thread: after the product blocks of 10^5 cells of `all` the
    process still held their 5 GB when the next phase loaded the whole model into
    HiGHS (peak 8.7 GB).
    """
    gc.collect()  # what only reference cycles still hold is not freed before
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return False
