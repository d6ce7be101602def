"""Transition alias of :mod:`channel_opt.solving.engines` (the split of this module):
import from there. Kept so code written against the old module keeps working.
"""

from __future__ import annotations

from .engines import *  # noqa: F403
from .engines import __all__ as _engines_all
from .engines.base import FEATURES as CAPABILITIES
from .engines.base import PROGRESS_SECONDS, quiet_stdout
from .engines.highs import highs_threads, new_highs, run_highs, run_interruptible
from .engines.pyomo import _cbc_log_bound, _glpk_log_bound, to_pyomo
from .engines.watchdog import RELAY_PREFIX, RUN_DIR_PREFIX, clean_stale_run_dirs

_quiet_stdout = quiet_stdout  # the old private name, still imported by work in flight

__all__ = [*_engines_all, "CAPABILITIES", "PROGRESS_SECONDS", "RELAY_PREFIX",
           "RUN_DIR_PREFIX", "_cbc_log_bound", "_glpk_log_bound", "_quiet_stdout",
           "clean_stale_run_dirs", "highs_threads", "new_highs", "quiet_stdout", "run_highs",
           "run_interruptible", "to_pyomo"]
