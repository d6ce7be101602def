"""Smoke run of the benchmark drivers (``python -m benchmarks``), small and quick."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.__main__ import check_floor, main  # noqa: E402


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _pos(v: str) -> float:
    x = float(v)
    assert math.isfinite(x) and x > 0, v
    return x


@pytest.mark.slow  # 16 s: fresh processes per phase
def test_build_driver_writes_csv_and_markdown(tmp_path: Path) -> None:
    rc = main(["build", "--family", "core,all", "--sizes", "1e3", "--out", str(tmp_path),
               "--name", "smoke", "--no-plot"])
    assert rc == 0
    rows = _rows(tmp_path / "smoke.csv")
    assert list(rows[0]) == report.BUILD_FIELDS
    assert [r["family"] for r in rows] == ["core", "all"]
    for r in rows:
        assert r["error"] == ""
        assert int(r["size"]) == 1000
        assert 900 <= int(r["cells"]) <= 1100
        assert int(r["n_cols"]) > 0 and int(r["n_rows"]) > 0 and int(r["nnz"]) > 0
        for k in ("t_generate", "t_load", "t_build", "t_handoff", "t_floor_passmodel",
                  "mem_build_handoff_mb", "ratio_time_passmodel"):
            _pos(r[k])
        assert float(r["t_build_handoff"]) == pytest.approx(
            float(r["t_build"]) + float(r["t_handoff"]), rel=1e-4)
    core, all_ = rows
    # the numpy floor covers the core family only, and builds the very same matrix
    _pos(core["t_floor_numpy"])
    _pos(core["ratio_time_numpy"])
    assert core["floor_numpy_same_shape"] == "True"
    assert all_["t_floor_numpy"] == ""
    md = (tmp_path / "smoke.md").read_text()
    assert "| family | cells |" in md and "| core | " in md and "| all | " in md
    # a second run appends to the CSV; the table keeps one row per family and size
    assert main(["build", "--family", "core", "--sizes", "1e3", "--out", str(tmp_path),
                 "--name", "smoke", "--no-plot", "--no-floor"]) == 0
    assert len(_rows(tmp_path / "smoke.csv")) == 3
    md = (tmp_path / "smoke.md").read_text()
    assert md.count("| core | ") == 1


@pytest.mark.slow  # 6 s: a solver subprocess per family
def test_solve_driver_with_highs(tmp_path: Path) -> None:
    rc = main(["solve", "--family", "core", "--sizes", "1e3", "--solvers", "highs",
               "--time-limit", "3", "--grace", "20", "--out", str(tmp_path), "--name", "smoke"])
    assert rc == 0
    rows = _rows(tmp_path / "smoke.csv")
    assert list(rows[0]) == report.SOLVE_FIELDS
    (r,) = rows
    assert r["solver"] == "highs"
    assert r["status"] in report.STATUSES
    assert r["status"] in ("optimal", "time_limit")
    assert r["killed"] == "False"
    _pos(r["t_build"])
    _pos(r["t_solve"])
    _pos(r["objective"])
    if r["status"] == "optimal":
        assert float(r["gap"]) <= 1e-4 + 1e-9
    md = (tmp_path / "smoke.md").read_text()
    assert "| core | 1,0" in md and "highs" in md and "## Winner" in md
    assert (tmp_path / "smoke.png").stat().st_size > 0


def test_missing_and_unknown_solvers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--solvers", "nosuch", "--out", str(tmp_path)]) == 2
    assert main(["build", "--family", "nosuch"]) == 2
    capsys.readouterr()


def test_numpy_floor_is_the_same_model() -> None:
    r = check_floor(1000, 0)
    assert r["ours"] == r["floor"]
    assert r["lp_ours"][0] == r["lp_floor"][0] == "Optimal"
    assert r["lp_floor"][1] == pytest.approx(r["lp_ours"][1], rel=1e-9)


def test_a_stalled_worker_is_killed() -> None:
    from benchmarks.runner import run_worker

    run = run_worker({"task": "stall", "seconds": 600}, solve_timeout=1.0)
    assert run.killed
    assert run.first("handoff_done") is not None
    assert run.first("done") is None
    assert run.wall < 60
    assert "killed" in run.error
