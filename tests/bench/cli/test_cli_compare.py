"""`mias-bench compare` as a user runs it: tables, JSON, notes and one-line errors."""

from __future__ import annotations

import json
import sys

import pytest
import typer
from planted import planted_dataset

from bench.cli import app as app_module
from bench.cli.compare import compare_command
from bench.errors import BenchError
from bench.runner import RunRequest, execute
from bench.store import Store


def compare_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Through `mias-bench compare` once it is wired into the app, else through the command alone."""
    if "compare" in {c.name for c in app_module.app.registered_commands}:
        code = app_module.run_cli(["compare", *argv])
    else:
        single = typer.Typer()
        single.command()(compare_command)
        try:
            single(args=argv, standalone_mode=False)
            code = 0
        except BenchError as exc:  # what run_cli turns into one red line
            print(f"error: {exc}", file=sys.stderr)
            code = 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "runs.db")
    store = Store(path)
    data = planted_dataset(n_test=32)
    execute(RunRequest("intensity-zscore", data, "valid-f1,oracle"), store)
    execute(RunRequest("intensity-zscore", data, "valid-f1", overrides=["grid=8"]), store)
    execute(RunRequest("intensity-zscore", data, "valid-f1", seed=1), store)
    return path


def test_compare_prints_ranks_pairs_and_verdicts(db, capsys):
    code, out, _ = compare_cli(
        ["intensity-zscore@valid-f1#1", "intensity-zscore#2", "-d", "planted", "--db", db], capsys
    )
    assert code == 0
    assert "M1 better" in out and "16/0/0" in out
    assert "intensity-zscore[grid=128,seed=0]@valid-f1" in out and "intensity-zscore[grid=8,seed=0]@valid-f1" in out
    assert "two-sided Wilcoxon" in out and "rank: by mean" in out and "sharing a letter" in out


def test_compare_explains_an_undefined_p_value(db, capsys):
    code, out, _ = compare_cli(
        ["intensity-zscore@valid-f1#1", "intensity-zscore#3", "-d", "planted", "--db", db], capsys
    )
    assert code == 0
    assert "identical" in out and "1.000*" in out
    assert "identical per-case values: no difference to test" in out


def test_compare_json(db, capsys):
    args = [
        "intensity-zscore@oracle",
        "intensity-zscore#2",
        "-d",
        "planted",
        "--db",
        db,
        "--json",
        "--bootstrap",
        "200",
    ]
    code, out, _ = compare_cli(args, capsys)
    data = json.loads(out)
    assert code == 0 and data["n_boot"] == 200
    (pair,) = data["pairs"]
    assert pair["significant"] and pair["better"] == "intensity-zscore[grid=128,seed=0]@oracle" and pair["ci_low"] > 0
    assert data["methods"][0]["marks"] == ["oracle"]


def test_an_ambiguous_method_is_one_error_line_saying_how_to_pick(db, capsys):
    code, out, err = compare_cli(
        ["intensity-zscore@valid-f1", "intensity-zscore@oracle", "-d", "planted", "--db", db], capsys
    )
    assert code == 1 and out == ""
    assert "error:" in err and "matches 3 runs" in err and "#RUN_ID" in err
