"""The ``channel-opt`` command line.

Exit status: 0 optimal, 1 feasible but not proven optimal, 2 bad input or a
result folder that may not be written (nothing solved, nothing written),
3 infeasible (diagnosis written), 4 solver failure or no plan, 130 interrupted
by Ctrl-C (143 by SIGTERM; nothing written, a previous result kept).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from .scenario import ScenarioError, load_scenario, save_scenario
from .solving.budget import Budget, Interrupted, process_age
from .solving.options import OptionsError
from .solving.pipeline import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED

log = logging.getLogger("channel_opt")

_APPAREL = Path("instances") / "apparel" / "apparel.yaml"


def default_scenario() -> Path:
    """The shipped apparel scenario: under the current folder, else next to the package."""
    here = Path.cwd() / _APPAREL
    return here if here.exists() else Path(__file__).resolve().parent.parent / _APPAREL


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("pyomo").setLevel(logging.ERROR)


def _bad_input(e: ScenarioError) -> int:
    print(str(e), file=sys.stderr)
    return EXIT_BAD_INPUT


def solver_option(text: str) -> tuple[str, bool | int | float | str]:
    """``KEY=VALUE`` of ``--solver-option``: the value as a bool (true/false), an int,
    a float or else the string given.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: use KEY=VALUE")
    raw = raw.strip()
    value: bool | int | float | str
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    return key.strip(), value


def cmd_solve(a: argparse.Namespace) -> int:
    """Solve a scenario and write the result folder.

    The result folder is checked before anything is solved (see
    :func:`~channel_opt.output.check_target`); a run that ends in a solver error
    never replaces an existing result, and an interrupted run writes nothing.
    """
    from .analysis.overrides import apply_overrides, as_overrides, describe
    from .output import (
        OutputRefused,
        check_target,
        default_result_folder,
        unsafe_name_reason,
        write_solution,
    )
    from .solving import solve
    from .solving.engines import ERROR, INTERRUPTED, SolverUnavailableError

    # the limit covers the whole run: from the start of the process when this is the
    # program (main() without arguments), else from this call
    startup = process_age() if getattr(a, "whole_process", False) else 0.0
    budget = Budget(a.time_limit, time.monotonic() - startup)
    path = Path(a.scenario) if a.scenario else default_scenario()
    if not a.scenario and not path.exists():
        print(f"no scenario given and the default {path} is not here; pass a scenario file",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    t = time.perf_counter()
    log.info("loading %s", path)
    try:
        scen = load_scenario(path, allow_outside=a.allow_outside_tables)
        overrides = as_overrides(a.set or [])
        scen = apply_overrides(scen, overrides)
    except ScenarioError as e:
        return _bad_input(e)
    load = time.perf_counter() - t
    out = Path(a.out) if a.out else default_result_folder(scen)
    if not a.out and (why := unsafe_name_reason(scen.name)):
        log.warning("%s", why)
    try:
        target = check_target(out, scen, path, overwrite=a.overwrite)
    except OutputRefused as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        sol = solve(scen, solver=a.solver, time_limit=a.time_limit, mip_gap=a.mip_gap,
                    threads=a.threads, seed=a.seed, log_file=a.log_file, budget=budget,
                    solver_options=dict(a.solver_option or []), method=a.method,
                    workers=a.workers, deterministic=a.deterministic, ranks=a.ranks)
    except OptionsError as e:  # a bad option or unknown solver: bad input, nothing written
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SolverUnavailableError as e:  # a known solver not installed here
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as e:  # e.g. a rule forcing the impossible
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sol.timings = {"startup": startup, "load": load, **sol.timings}
    if sol.termination == INTERRUPTED:  # the solver itself caught the signal
        raise KeyboardInterrupt
    if a.marginals and sol.has_plan:  # re-solve values of the binding limits (a batch)
        from .analysis.marginals import marginals
        from .executor import ExecutorError

        try:
            sol.tables["marginals"] = marginals(scen, sol, workers=a.workers,
                                                scheduler=a.scheduler, mip_gap=a.mip_gap)
        except ExecutorError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
    kept = sol.termination == ERROR and target.exists() and any(target.iterdir())
    if kept:
        log.error("solver failure: the previous result in %s is kept", out)
    else:
        t = time.perf_counter()
        try:
            write_solution(sol, scen, out, plots=not a.no_plots, input_path=path,
                           overwrite=a.overwrite, overrides=describe(overrides),
                           xlsx=a.format == "xlsx")
        except OutputRefused as e:  # the folder changed while solving
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        log.info("wrote %s in %.2f s (%s)", out, time.perf_counter() - t, budget.describe())
    obj = "n/a" if sol.objective is None else f"{sol.objective:,.2f}"
    gap = "n/a" if sol.gap is None else f"{sol.gap:.4%}"
    where = f"not written, previous result kept in {out}" if kept else str(out)
    print(f"{scen.name}: plan {sol.plan_status} (solver: {sol.termination}), profit {obj} "
          f"{scen.settings.currency}, gap {gap} -> {where}")
    if sol.diagnosis is not None:  # details are in the result files; stderr unless -q
        log.info("%s", sol.diagnosis.message)
        for m in sol.diagnosis.iis:
            log.info("  in conflict: %s", m.text)
    for v in sol.violations[:5]:
        log.warning("plan check: %s", v)
    return sol.exit_code


def cmd_validate(a: argparse.Namespace) -> int:
    """Validate a scenario and print a summary."""
    try:
        scen = load_scenario(a.scenario, allow_outside=a.allow_outside_tables)
    except ScenarioError as e:
        return _bad_input(e)
    from .output import unsafe_name_reason

    s = scen.summary()
    rules = ", ".join(s.pop("rules")) or "none"
    if why := unsafe_name_reason(scen.name):
        print(f"warning: {why}", file=sys.stderr)
    print(f"{a.scenario}: valid")
    for k, v in s.items():
        print(f"  {k}: {v}")
    print(f"  active rule families: {rules}")
    return 0


def cmd_convert(a: argparse.Namespace) -> int:
    """Convert between YAML/JSON+CSV and one workbook."""
    try:
        scen = load_scenario(a.input, allow_outside=a.allow_outside_tables)
    except ScenarioError as e:
        return _bad_input(e)
    try:
        out = save_scenario(scen, a.output)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {out} (hash {scen.hash[:16]})")
    return 0


def cmd_schema(a: argparse.Namespace) -> int:
    """Print the JSON Schema of the scenario file."""
    from .scenario.schema import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))
    return 0


def cmd_solvers(a: argparse.Namespace) -> int:
    """List the solver backends and whether they are installed here."""
    from .solving.engines import BACKENDS, FEATURES

    for name, b in BACKENDS.items():
        ok = b.is_available()
        caps = [c for c in FEATURES if b.supports(c)]
        print(f"{name:12s} {'available ' + b.version() if ok else 'not installed':28s} "
              f"{', '.join(caps)}")
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    """Run the benchmark driver (needs the repository's benchmarks/ folder)."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    try:
        from benchmarks.__main__ import main as bench_main
    except ImportError:
        print("benchmarks/ not found: run from a checkout of the repository",
              file=sys.stderr)
        return EXIT_FAILURE
    return int(bench_main(a.bench_args))


def parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(prog="channel-opt", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="count", default=1)
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    # the same flags after the subcommand (defaults suppressed so they don't overwrite)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="warnings and errors only")
    common.add_argument("--allow-outside-tables", action="store_true",
                        help="read table files outside the scenario file's folder")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", parents=[common],
                       help="solve a scenario (default: the shipped apparel)")
    s.add_argument("scenario", nargs="?", help="scenario file (.yaml/.json/.xlsx)")
    s.add_argument("--solver", default="highs", help="highs (default), cbc, glpk, scip, "
                   "highs_pyomo, gurobi, cplex, xpress")
    s.add_argument("--time-limit", type=float, help="seconds")
    s.add_argument("--mip-gap", type=float,
                   help="relative gap at which to stop (default 1e-4, every solver)")
    s.add_argument("--threads", type=int)
    s.add_argument("--method", default="auto",
                   choices=("auto", "monolithic", "decompose", "ph"),
                   help="decompose: by region with a Lagrangian bound (models/"
                   "decomposition.md); ph: the two-stage model by progressive hedging "
                   "(mpi-sppy on MPI) instead of the extensive form; auto (default): "
                   "one MIP (measured faster than decompose at every size tried)")
    s.add_argument("--seed", type=int)
    s.add_argument("--out", help="result folder (default results/<scenario name>); only "
                   "a new or empty folder or one channel_opt wrote is replaced")
    s.add_argument("--overwrite", "--force", action="store_true",
                   help="replace a result folder that holds another scenario's result")
    s.add_argument("--log-file", help="write the solver's log here")
    s.add_argument("--solver-option", action="append", type=solver_option, metavar="KEY=VALUE",
                   help="an option of the solver by its own name, passed through "
                   "(repeatable; e.g. mip_heuristic_effort=0.3 for HiGHS)")
    s.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    s.add_argument("--deterministic", action="store_true",
                   help="with demand scenarios: solve the expected-value problem (every "
                   "market and share at its mean) instead of the two-stage model")
    s.add_argument("--ranks", type=int, default=3,
                   help="MPI ranks for --method ph (a multiple of 3: PH hub, Lagrangian "
                   "bound and xhat spokes)")
    s.add_argument("--marginals", action="store_true", help="also re-solve each binding "
                   "capacity and floor at -/+10%% (marginals.csv; next to the fixed-design "
                   "duals of sensitivity.csv), on --workers / --scheduler")
    _analysis_options(s)
    s.set_defaults(fn=cmd_solve)
    v = sub.add_parser("validate", parents=[common],
                       help="check a scenario and summarize it")
    v.add_argument("scenario")
    v.set_defaults(fn=cmd_validate)
    c = sub.add_parser("convert", parents=[common], help="convert YAML/JSON+CSV <-> .xlsx")
    c.add_argument("input")
    c.add_argument("output")
    c.set_defaults(fn=cmd_convert)
    sc = sub.add_parser("schema", parents=[common], help="print the scenario JSON Schema")
    sc.set_defaults(fn=cmd_schema)
    so = sub.add_parser("solvers", parents=[common], help="list solver backends")
    so.set_defaults(fn=cmd_solvers)
    add_analysis_commands(sub, common)
    b = sub.add_parser("bench", parents=[common],
                       help="run benchmarks (see benchmarks/README.md)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    b.set_defaults(fn=cmd_bench)
    return p


def _analysis_options(p: argparse.ArgumentParser, *, workers: bool = True) -> None:
    """``--set``, ``--format`` (and ``--workers``/``--scheduler`` for batches)."""
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="what-if override, "
                   "repeatable: rules.overlap.cost=600, regions.partner_profit_floor*=0.8, "
                   "regions[id=north].partner_profit_floor=30000 (a sweep takes "
                   "KEY=V1,V2,...)")
    p.add_argument("--format", choices=["csv", "xlsx"], default="csv",
                   help="xlsx: also every table in one workbook (summary first)")
    if workers:
        p.add_argument("--workers", type=int, help="local worker processes for a batch, "
                       "the --marginals re-solves and the regions of --method decompose "
                       "(default: one per core; 1: in this process)")
        p.add_argument("--scheduler", help="Dask scheduler address tcp://host:port")


def add_analysis_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The sweep, frontier and compare subcommands (see :mod:`channel_opt.analysis.cli`)."""
    from .analysis.cli import add_commands

    add_commands(sub, common, _analysis_options)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``channel-opt``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["bench"]:  # everything after 'bench' (--help too) is the driver's
        return cmd_bench(argparse.Namespace(bench_args=args[1:]))
    a = parser().parse_args(args)
    a.whole_process = argv is None  # run as the program: its start-up counts
    _setup_logging(a.verbose, a.quiet)
    previous = _stop_on_sigterm()
    try:
        return int(a.fn(a))
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, Interrupted) else 2
        print(f"interrupted ({'Ctrl-C' if signum == 2 else f'signal {signum}'}): nothing "
              "written; a previous result is kept", file=sys.stderr)
        code = EXIT_INTERRUPTED if signum == 2 else 128 + signum
        from .solving.engines import unsettled_solver

        if unsettled_solver():  # HiGHS has not seen the cancel yet: leave now
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    except BrokenPipeError:  # output piped into e.g. `head`, which has closed it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    finally:
        _restore_sigterm(previous)


def _stop_on_sigterm() -> object:
    """SIGTERM stops a run like Ctrl-C (cleanly: solver processes killed, temporary
    files removed, nothing written). Returns the previous handler.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    return signal.signal(signal.SIGTERM, stop)


def _restore_sigterm(previous: object) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
