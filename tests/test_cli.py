"""The command line: exit statuses, outputs and the atomic result folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from scenario_factory import duo_tables

from channel_opt import output
from channel_opt.cli import main


def write_scenario(d: Path, settings: dict | None = None, **overrides: object) -> Path:
    doc = {"name": "duo", "settings": settings or {}, "tables": duo_tables(**overrides)}
    p = d / "duo.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return p


def test_solve_writes_a_complete_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scen = write_scenario(tmp_path)
    before = scen.read_bytes()
    out = tmp_path / "res"
    assert main(["-q", "solve", str(scen), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plan_status"] == "optimal"
    assert summary["objective"] == pytest.approx(100 / 3 * 80, rel=1e-6)
    assert set(summary["timings_seconds"]) >= {"load", "build", "handoff", "solve", "extract"}
    assert summary["package_versions"]["highspy"]
    assert len(summary["scenario_hash"]) == 64
    for name in ("cell_channel", "product_channel", "region_channel", "brand_channel",
                 "capacity", "partners", "overlaps", "prices", "kpis"):
        assert (out / f"{name}.csv").exists(), name
        if output._has_parquet():  # every table has its Parquet copy, KPIs included
            assert (out / f"{name}.parquet").exists(), name
    import pandas as pd

    kpi = pd.read_csv(out / "kpis.csv", keep_default_na=False).set_index("kpi")
    assert float(kpi.loc["profit", "value"]) == pytest.approx(100 / 3 * 80, rel=1e-6)
    assert kpi.loc["brands_launched", "text"] == ""  # no new brand in duo
    report = (out / "report.md").read_text()
    assert "plan: **optimal**" in report
    assert scen.read_bytes() == before  # input untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".res")]
    assert "plan optimal" in capsys.readouterr().out


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    t = duo_tables()
    t["cells"] = [{"product": "P", "region": "R", "segment": "S", "market_size": -5.0}]
    scen = write_scenario(tmp_path, cells=t["cells"])
    out = tmp_path / "res"
    assert main(["-q", "solve", str(scen), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "duo.yaml:tables.cells" in err and "row 1" in err and "market_size" in err
    assert "negative number" in err


def test_infeasible_exits_3_with_diagnosis(tmp_path: Path) -> None:
    scen = write_scenario(tmp_path, {"rules": {"partner_floor": True}},
                          regions=[{"id": "R", "partner_profit_floor": 2000.0}])
    out = tmp_path / "res"
    assert main(["-q", "solve", str(scen), "--out", str(out)]) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["termination"] == "infeasible"
    assert summary["diagnosis"]["families"] == ["partner_floor"]
    diag = (out / "diagnosis.csv").read_text()
    assert "partner_floor" in diag and "region R" in diag
    assert summary["diagnosis"]["iis"][0]["family"] == "partner_floor"
    assert "partner profit floor at region R: at least 2,000.00" in (out / "iis.csv").read_text()
    assert "Irreducible conflicting set" in (out / "report.md").read_text()


def test_solver_failure_exits_4(tmp_path: Path) -> None:
    from channel_opt.solving import BACKENDS

    missing = [n for n, b in BACKENDS.items() if not b.is_available()]
    if not missing:
        pytest.skip("every backend is installed here")
    scen = write_scenario(tmp_path)
    assert main(["-q", "solve", str(scen), "--solver", missing[0], "--out",
                 str(tmp_path / "r")]) == 4
    # an unknown solver name is a bad option (exit 2), not a failure
    assert main(["-q", "solve", str(scen), "--solver", "nope", "--out",
                 str(tmp_path / "r")]) == 2


def test_killed_write_leaves_previous_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             ) -> None:
    scen = write_scenario(tmp_path)
    out = tmp_path / "res"
    assert main(["-q", "solve", str(scen), "--out", str(out), "--no-plots"]) == 0
    first = (out / "summary.json").read_bytes()

    real = output._write_into

    def crash(d: Path, *a: object, **k: object) -> None:
        real(d, *a, **k)  # type: ignore[arg-type]
        (d / "half.csv").write_text("x")
        raise KeyboardInterrupt  # killed after writing everything but before the swap

    monkeypatch.setattr(output, "_write_into", crash)
    # Ctrl-C: exit 130, the previous result kept
    assert main(["-q", "solve", str(scen), "--out", str(out), "--no-plots"]) == 130
    assert (out / "summary.json").read_bytes() == first
    assert not (out / "half.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["duo.yaml", "res"]


def test_killed_first_write_leaves_no_folder(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    scen = write_scenario(tmp_path)

    def crash(d: Path, *a: object, **k: object) -> None:
        (d / "summary.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(output, "_write_into", crash)
    with pytest.raises(OSError, match="disk full"):
        main(["-q", "solve", str(scen), "--out", str(tmp_path / "res")])
    assert sorted(os.listdir(tmp_path)) == ["duo.yaml"]


def test_validate_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scen = write_scenario(tmp_path, {"rules": {"overlap": {"cost": 5}}})
    assert main(["validate", str(scen)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "cells: 1" in out and "overlap" in out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "cells" in schema["$defs"]["Tables"]["properties"]


def test_convert_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scen = write_scenario(tmp_path, {"rules": {"overlap": {"cost": 5}, "partner_floor": True}})
    assert main(["convert", str(scen), str(tmp_path / "duo.xlsx")]) == 0
    assert main(["convert", str(tmp_path / "duo.xlsx"), str(tmp_path / "back" / "duo.yaml")]) == 0
    hashes = [line.split("hash ")[1] for line in capsys.readouterr().out.splitlines()]
    assert hashes[0] == hashes[1]


def test_readme_reference_is_current() -> None:
    from channel_opt.scenario.docs import readme_section

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme_section() in readme, "run: python -m channel_opt.scenario.docs"
