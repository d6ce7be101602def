"""Child process of the solver watchdog: read (backend name, model, options) from
stdin, solve, write the RawResult to stdout (both pickled). Not a public entry point.

It dies with its parent (the parent-death signal set by the watchdog before exec;
the check below covers a parent gone before that), and the solver programs it
starts die with it (see ``engines.watchdog.children_die_with_us``).
"""

from __future__ import annotations

import os
import pickle
import sys


def main() -> None:
    """Solve the model on stdin with the named backend."""
    import logging

    from .engines import ERROR, RawResult, get
    from .engines.base import quiet_stdout
    from .engines.watchdog import RELAY_PREFIX

    relay = logging.StreamHandler(sys.stderr)  # the parent turns these back into records
    relay.setFormatter(logging.Formatter(RELAY_PREFIX + "%(levelno)d %(message)s"))
    root = logging.getLogger("channel_opt")
    root.addHandler(relay)
    root.setLevel(logging.INFO)
    parent = os.environ.get("CHANNEL_OPT_PARENT_PID")
    if parent and os.getppid() != int(parent):  # died before our parent-death signal was set
        sys.exit(1)
    name, am, opts = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our own parent
    out_fd = os.dup(1)  # keep the real stdout for the result; solvers may print to fd 1
    try:
        with quiet_stdout():
            result = get(name).solve(am, opts)
    except Exception as e:  # noqa: BLE001 - reported to the parent as a failure
        result = RawResult(ERROR, None, None, None, name, "", f"{type(e).__name__}: {e}")
    result.extra = {}
    with os.fdopen(out_fd, "wb") as out:
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main()
