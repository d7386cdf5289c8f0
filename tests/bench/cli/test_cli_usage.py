"""Usage errors through the installed ``mias-bench`` console script: one line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from bench.cli.app import run_cli

SCRIPT = Path(sys.executable).parent / "mias-bench"


def _script(*args: str) -> subprocess.CompletedProcess:
    assert SCRIPT.is_file(), f"the console script is not installed beside {sys.executable}"
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "missing command"),
        (("lederboard",), "No such command 'lederboard'. Did you mean 'leaderboard'?"),
        (("run", "--batch-size", "0", "x"), "Invalid value for '--batch-size'"),
        (("detectors", "list", "--jsn"), "No such option: --jsn"),
        (("runs", "show", "abc"), "Invalid value for 'run_id'"),
        (("run",), "Missing argument 'detectors'"),
        (("detectors",), "missing command"),
    ],
)
def test_usage_errors_are_one_line_with_the_usage_hint_and_exit_2(args, says):
    proc = _script(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and says in lines[0]
    assert "(usage: mias-bench" in lines[0] and "--help'" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_version_prints_the_installed_version():
    proc = _script("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"mias-bench {version('mias-bench')}"
    assert proc.stderr == ""


def test_help_still_exits_0():
    proc = _script("--help")
    assert proc.returncode == 0 and "leaderboard" in proc.stdout


def test_run_cli_returns_2_for_a_usage_error(capsys):
    assert run_cli(["lederboard"]) == 2
    assert capsys.readouterr().err.startswith("error: No such command 'lederboard'")
