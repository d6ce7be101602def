"""A solve never deletes or changes what channel_opt did not write (issue 10, items 1, 4).

The refusals happen before solving: the subprocess tests below would take seconds
more if a model were built. The property test at the end throws random output paths
and scenario names at ``channel-opt solve`` and compares a snapshot of the tree.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_factory import duo_tables

from channel_opt import output
from channel_opt.cli import main

ROOT = Path(__file__).resolve().parents[1]


def write_scenario(d: Path, name: str = "duo", file: str = "duo.yaml", **overrides: object,
                   ) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "settings": {}, "tables": duo_tables(**overrides)}
    p = d / file
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return p


def cli(*args: str, cwd: Path, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m channel_opt.cli`` as a user runs it, with this checkout's package."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "channel_opt.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False,
                          preexec_fn=set_umask if umask is not None else None)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (files: their bytes; folders and links: None)."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames:
            out[os.path.relpath(os.path.join(dirpath, n), root)] = None
        for n in filenames:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = None if os.path.islink(p) else Path(p).read_bytes()
    return out


# --- item 1: --out that is not ours is refused with exit 2, before solving ----------------

def test_out_naming_the_input_folder_is_refused(tmp_path: Path) -> None:
    scen = write_scenario(tmp_path / "in")
    before = snapshot(tmp_path)
    r = cli("-q", "solve", "in/duo.yaml", "--out", "in", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "holds the input file" in r.stderr and r.stdout == ""
    assert snapshot(tmp_path) == before and scen.exists()


@pytest.mark.slow
def test_out_dot_and_parent_are_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_scenario(work)
    (work / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    for out in (".", "..", str(tmp_path)):
        r = cli("-q", "solve", "duo.yaml", "--out", out, cwd=work)
        assert r.returncode == 2, (out, r.stderr)
        assert "current folder or one of its parents" in r.stderr
    assert snapshot(tmp_path) == before


def test_out_naming_a_file_or_a_foreign_folder_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scen = write_scenario(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "link").symlink_to(tmp_path / "photos")
    before = snapshot(tmp_path)
    for out, why in (("notes.txt", "is an existing file"), ("photos", "did not write"),
                     ("link", "symbolic link"), ("notes.txt/res", "is a file")):
        assert main(["-q", "solve", str(scen), "--out", str(tmp_path / out)]) == 2, out
        assert why in capsys.readouterr().err, out
    assert snapshot(tmp_path) == before  # no .notes.txt.old-PID either


@pytest.mark.parametrize(("name", "folder"), [
    ("..", "scenario"), ("../..", "scenario"), ("/tmp/elsewhere", "_tmp_elsewhere"),
    (".hidden", "hidden"), ("a/b\\c", "a_b_c"), ("tiny-2024_v1", "tiny-2024_v1")])
def test_scenario_name_becomes_one_safe_folder(tmp_path: Path, name: str, folder: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "a" / "work"
    scen = write_scenario(work / "in", name=name)
    (work / "notes.txt").write_text("mine")
    (tmp_path / "a" / "keep.txt").write_text("parent's")
    before = snapshot(tmp_path)
    monkeypatch.chdir(work)
    assert main(["-q", "solve", str(scen), "--no-plots"]) == 0
    after = snapshot(tmp_path)
    assert all(after[k] == v for k, v in before.items())  # nothing removed or changed
    new = {k for k in after if k not in before}
    assert new and all(k.startswith(f"a/work/results/{folder}") or k == "a/work/results"
                       for k in new), new
    assert output.safe_folder_name(name) == folder


def test_validate_warns_about_an_unsafe_name(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    scen = write_scenario(tmp_path, name="../..")
    assert main(["validate", str(scen)]) == 0
    err = capsys.readouterr().err
    assert "not a safe folder name" in err and "results/scenario" in err
    assert main(["validate", str(write_scenario(tmp_path, file="ok.yaml"))]) == 0
    assert "safe folder" not in capsys.readouterr().err


def test_stale_work_folders_of_dead_runs_are_cleaned(tmp_path: Path) -> None:
    scen = write_scenario(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its PID is now free: a run killed mid-write
    ours = tmp_path / f".res.tmp-{dead.pid}-abcd1234"
    ours.mkdir()
    (ours / output.MARKER).write_text(json.dumps({"written_by": "channel_opt"}))
    (ours / "half.csv").write_text("x")
    foreign = tmp_path / f".res.tmp-{dead.pid}-ffff0000"  # same pattern, not ours
    foreign.mkdir()
    (foreign / "data.txt").write_text("someone else's")
    alive = tmp_path / f".res.tmp-{os.getpid()}-abcd1234"  # a run still going
    alive.mkdir()
    (alive / output.MARKER).write_text(json.dumps({"written_by": "channel_opt"}))
    assert main(["-q", "solve", str(scen), "--out", str(tmp_path / "res"), "--no-plots"]) == 0
    assert not ours.exists()
    assert (foreign / "data.txt").read_text() == "someone else's"
    assert alive.exists()


# --- item 4: provenance, same name of another scenario, umask, quiet stdout ---------------

def test_same_name_from_another_scenario_is_not_replaced(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    first = write_scenario(tmp_path / "one")
    second = write_scenario(tmp_path / "two", cells=[{"product": "P", "region": "R",
                                                      "segment": "S", "market_size": 200.0}])
    assert main(["-q", "solve", str(first), "--no-plots"]) == 0
    summary = tmp_path / "results" / "duo" / "summary.json"
    kept = summary.read_bytes()
    s = json.loads(kept)
    assert s["input"] == str(first.resolve()) and s["overrides"] == {}
    capsys.readouterr()
    assert main(["-q", "solve", str(second), "--no-plots"]) == 2  # refused before solving
    err = capsys.readouterr().err
    assert "another scenario" in err and "--out" in err and "--overwrite" in err
    assert summary.read_bytes() == kept
    assert main(["-q", "solve", str(first), "--no-plots"]) == 0  # same scenario: replaced
    assert main(["-q", "solve", str(second), "--no-plots", "--overwrite"]) == 0
    s = json.loads(summary.read_text())
    assert s["input"] == str(second.resolve())
    assert s["objective"] == pytest.approx(200 / 3 * 80, rel=1e-6)  # duo by hand, doubled


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_result_folder_follows_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    scen = write_scenario(tmp_path)
    old = os.umask(umask)
    try:
        assert main(["-q", "solve", str(scen), "--out", str(tmp_path / "res"), "--no-plots"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "res").stat().st_mode) == mode


@pytest.mark.slow
def test_quiet_infeasible_run_prints_one_line(tmp_path: Path) -> None:
    doc = {"name": "duo", "settings": {"rules": {"partner_floor": True}},
           "tables": duo_tables(regions=[{"id": "R", "partner_profit_floor": 2000.0}])}
    (tmp_path / "duo.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = cli("-q", "solve", "duo.yaml", "--out", "res", "--no-plots", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert r.stdout.count("\n") == 1 and "plan none (solver: infeasible)" in r.stdout
    assert "in conflict" not in r.stderr  # -q hides the details...
    assert "partner_floor" in (tmp_path / "res" / "diagnosis.csv").read_text()  # ...kept here
    r = cli("solve", "duo.yaml", "--out", "res", "--no-plots", cwd=tmp_path)
    assert r.stdout.count("\n") == 1 and "in conflict: partner profit floor" in r.stderr


# --- the property: nothing outside a folder channel_opt created is removed or changed -----

OUTS = st.sampled_from([None, ".", "..", "in", "in/..", "notes.txt", "photos", "link",
                        "results", "results/old", "fresh", "deep/er/res", "empty", "ABS_PHOTOS",
                        "ABS_IN", "in/res", "notes.txt/x", "./photos/../in"])
NAMES = st.sampled_from(["duo", "..", "../..", "/ABS", ".", "photos", "in", ".hidden",
                         "a/../../b", "results", "notes.txt"])


def _tree(root: Path, name: str) -> Path:
    work = root / "work"
    scen = write_scenario(work / "in", name=name.replace("/ABS", str(root / "photos")))
    (work / "in" / "notes.md").write_text("next to the input")
    (work / "notes.txt").write_text("mine")
    (work / "photos").mkdir()
    (work / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    (work / "link").symlink_to(work / "photos")
    (work / "empty").mkdir()
    (root / "photos").mkdir()
    (root / "photos" / "dog.jpg").write_bytes(b"\xff\xd9")
    return scen


@pytest.mark.slow
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(out=OUTS, name=NAMES, overwrite=st.booleans())
def test_nothing_outside_our_folders_is_touched(out: str | None, name: str,
                                                overwrite: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        scen = _tree(root, name)
        work = root / "work"
        before = snapshot(root)
        args = ["-q", "solve", str(scen), "--no-plots"] + (["--overwrite"] if overwrite else [])
        if out is not None:
            out = out.replace("ABS_PHOTOS", str(root / "photos")).replace("ABS_IN",
                                                                          str(work / "in"))
            args += ["--out", out]
        cwd = os.getcwd()
        os.chdir(work)
        try:
            code = main(args)
        finally:
            os.chdir(cwd)
        assert code in (0, 2)
        after = snapshot(root)
        ours = {k for k in after if k.endswith(output.MARKER)}
        ours_dirs = {os.path.dirname(k) for k in ours}
        for k, v in before.items():  # every path that was there is there, unchanged
            assert k in after, (out, name, k)
            assert after[k] == v, (out, name, k)
        for k in after.keys() - before.keys():  # new paths: our folder or its parents
            assert any(k == o or k.startswith(o + os.sep) or o.startswith(k + os.sep)
                       for o in ours_dirs), (out, name, k)
        if code == 0:
            assert len(ours) == 1
