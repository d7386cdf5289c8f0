"""``mias-bench grid`` as a user runs it: a plan file or options, lines and a bar on stderr, a table on stdout."""

from __future__ import annotations

import json
import sys

from bench.cli.app import run_cli


def _plan(tmp_path, grid_data) -> str:
    path = tmp_path / "grid.toml"
    path.write_text(
        'protocols = "valid-f1"\nseeds = [0, 1]\nset = ["grid=16"]\n'
        f'[[datasets]]\nname = "bmad-liver"\nroot = "{grid_data / "liver"}"\n'
        '[[detectors]]\nname = "intensity-zscore"\n'
        '[[detectors]]\nname = "exploding"\nset = ["after=2"]\n'
    )
    return str(path)


def test_a_plan_file_runs_reports_each_run_and_a_failure_sets_the_exit_code(tmp_path, grid_data, capsys):
    plan = _plan(tmp_path, grid_data)
    assert run_cli(["grid", plan, "--batch-size", "2"]) == 1  # one detector fails on purpose
    captured = capsys.readouterr()
    assert captured.err.count("started  ") == 4 and captured.err.count("finished ") == 2
    assert captured.err.count("failed   exploding[after=2] bmad-liver seed") == 2
    assert "grid: 2 complete, 2 failed, 0 skipped" in captured.err
    table = captured.out
    assert "intensity-zscore[grid=16] bmad-liver seed 0" in table and "predict() raised RuntimeError" in table
    assert table.count("│ complete │") == 2 and table.count("│ failed   │") == 2

    assert run_cli(["grid", plan, "--json"]) == 1  # the failed runs are tried again, the complete ones skipped
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["skipped", "skipped", "failed", "failed"]
    assert all(r["run_id"] for r in rows) and rows[0]["note"] == "already stored"


def test_options_describe_the_same_grid_and_dry_run_runs_nothing(tmp_path, grid_data, capsys):
    args = ["grid", "-D", "intensity-zscore", "-d", f"bmad-brain={grid_data / 'brain'}", "-t", "valid-f1"]
    assert run_cli([*args, "--seeds", "0-2", "--set", "grid=16,32", "--dry-run", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6 and {r["status"] for r in rows} == {"to run"}
    assert not (tmp_path / "cache" / "runs").exists()
    assert run_cli([*args, "--seeds", "1"]) == 0
    captured = capsys.readouterr()
    assert "grid: 1 runs, 0 skipped, 1 to run (local)" in captured.err and "complete" in captured.out
    assert run_cli([*args, "--seeds", "0-1", "--dry-run", "--json"]) == 0
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["to run", "skipped"]


def test_a_plan_file_with_grid_options_is_refused(tmp_path, grid_data, capsys):
    assert run_cli(["grid", _plan(tmp_path, grid_data), "-D", "intensity-zscore"]) == 2
    assert "give a plan file or --detector" in capsys.readouterr().err


def test_executor_ray_without_ray_installed_says_how_to_install_it(tmp_path, grid_data, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: importing it fails
    assert run_cli(["grid", _plan(tmp_path, grid_data), "--executor", "ray"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'mias-bench[ray]'" in err and "Traceback" not in err
    assert not (tmp_path / "mias-bench.db").exists()  # refused before the store was opened


def test_an_unknown_executor_is_refused(tmp_path, grid_data, capsys):
    assert run_cli(["grid", _plan(tmp_path, grid_data), "--executor", "slurm"]) == 2
    assert "expected one of local, process, ray" in capsys.readouterr().err


def test_a_ray_address_nobody_listens_on_is_refused_at_once(tmp_path, grid_data, capsys):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run_cli(["grid", _plan(tmp_path, grid_data), "--executor", "ray", "--address", f"127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in err and "ray start --head" in err
