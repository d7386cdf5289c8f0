"""What keeps the CLI's start fast: commands import their heavy libraries when they run, not when the CLI loads.

Times are measured by ``benchmarks/bench_startup.py``; this checks structure.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "anomalib", "faiss", "segment_anything", "sklearn", "scipy", "sqlalchemy", "matplotlib")


def _imported_after(args: list[str]) -> list[str]:
    code = (
        "import sys\nfrom bench.cli.app import run_cli\n"
        f"code = run_cli({args!r})\n"
        f"print(code, [m for m in {HEAVY!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["lederboard"], ["run", "--help"]])
def test_starting_the_cli_imports_no_heavy_library(args):
    code, heavy = _imported_after(args).split(" ", 1)
    assert heavy == "[]", f"mias-bench {' '.join(args)} imported {heavy}"
