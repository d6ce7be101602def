"""Child process of the HiGHS watchdog: read (arrays, options) from stdin, solve,
write the outcome to stdout (both pickled). Not a public entry point.
"""

from __future__ import annotations

import os
import pickle
import sys


def main() -> None:
    """Solve the model on stdin."""
    from ..model.linear import highs_from_arrays
    from .backends import ERROR, _quiet_stdout, run_highs

    arrays, opts = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our own parent
    out_fd = os.dup(1)  # keep the real stdout for the result; HiGHS prints to fd 1
    try:
        with _quiet_stdout():
            h = highs_from_arrays(arrays)
            result = run_highs(h, opts)
    except Exception as e:  # noqa: BLE001 - reported to the parent as a failure
        result = {"termination": ERROR, "x": None, "objective": None, "bound": None,
                  "message": f"{type(e).__name__}: {e}"}
    with os.fdopen(out_fd, "wb") as out:
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main()
