"""`mias-bench detectors` as a user runs it: subprocesses, real entry points."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakedist import BROKEN, SUPPORT, write_dist

from bench.cli.app import run_cli

REPO = Path(__file__).resolve().parents[3]


def _cli(args, env_extra=None, cwd=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """The example outside plugin, installed by pip into a folder of its own.

    pip builds from a private copy: setuptools writes ``build/`` inside the
    project, and two test workers building the same folder at once race there.
    """
    source = tmp_path_factory.mktemp("example-source") / "mias-bench-example-plugin"
    shutil.copytree(REPO / "examples" / "mias-bench-example-plugin", source, ignore=shutil.ignore_patterns("build"))
    target = tmp_path_factory.mktemp("example-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return target


def test_detectors_list_json_shows_outside_and_broken_plugins_and_exits_0(example_site, tmp_path):
    broken = tmp_path / "broken-site"
    write_dist(broken, "broken-plugins", BROKEN)
    path = os.pathsep.join([str(example_site), str(broken), str(SUPPORT)])
    proc = _cli(["detectors", "list", "--json"], {"PYTHONPATH": path})
    assert proc.returncode == 0, proc.stderr
    rows = {(r["name"], r["distribution"]): r for r in json.loads(proc.stdout)}
    example = rows[("local-contrast", "mias-bench-example-plugin")]
    assert example["status"] == "ok" and example["version"] == "0.3.0", example["error"]
    assert rows[("intensity-zscore", "mias-bench")]["status"] == "ok"
    assert "a_dependency_that_is_not_installed" in rows[("broken-import", "broken-plugins")]["error"]
    assert "duplicate name" in rows[("intensity-zscore", "broken-plugins")]["error"]
    table = _cli(["detectors", "list"], {"PYTHONPATH": path})
    assert table.returncode == 0 and "local-contrast" in table.stdout and "broken-import" in table.stdout


GAIN_RUN = """
import sys, numpy as np, torch
from bench.contract import Case
from bench.weights import WeightsLedger, add_checkpoint, open_ledger
from mias_bench_example import LocalContrast
torch.save({"gain": torch.tensor(2.5)}, sys.argv[1])
add_checkpoint(sys.argv[1], "local-contrast-gain")
case = Case(id="a", image=np.random.default_rng(0).random((32, 32), dtype=np.float32), modality="brain", split="test")
plain = LocalContrast().predict([case])[0].anomaly_map
ledger = WeightsLedger()
with open_ledger(ledger):
    scaled = LocalContrast(LocalContrast.Config(gain=True)).predict([case])[0].anomaly_map
assert np.allclose(scaled, 2.5 * plain, rtol=1e-6), "the gain was not applied"
assert [f.name for f in ledger.files] == ["local-contrast-gain"], ledger.files
print("ok")
"""


def test_the_outside_plugins_own_checkpoint_is_listed_and_used(example_site, tmp_path):
    env = {"PYTHONPATH": os.pathsep.join([str(example_site), str(SUPPORT)])}
    listing = _cli(["weights", "list", "--json"], env)
    assert listing.returncode == 0, listing.stderr
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    gain = rows["local-contrast-gain"]
    assert gain["declared_by"] == ["local-contrast"] and gain["licence"] == "CC0-1.0"
    assert gain["digest_source"] == "unknown" and gain["installed"] is False
    assert rows["sam_vit_b"]["declared_by"] == ["mias-sam"]  # first-party declarations beside it
    run = subprocess.run(
        [sys.executable, "-c", GAIN_RUN, str(tmp_path / "gain.pth")],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_detectors_list_imports_no_heavy_library():
    # What keeps the listing fast; its time is measured in benchmarks/bench_startup.py.
    code = (
        "import sys; from bench.cli.app import run_cli; run_cli(['detectors','list']);"
        "heavy=[m for m in ('torch','anomalib','faiss','segment_anything','sklearn') if m in sys.modules];"
        "print(heavy, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("[]"), proc.stderr


def test_detectors_info_shows_schema_and_unknown_names_get_suggestions(capsys):
    assert run_cli(["detectors", "info", "intensity-zscore", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["defaults"]["grid"] == 128 and "grid" in info["schema"]["properties"]
    assert run_cli(["detectors", "info", "intensity-zscor"]) == 1
    err = capsys.readouterr().err
    assert "unknown detector 'intensity-zscor'; did you mean 'intensity-zscore'" in err
    assert "Traceback" not in err


def test_errors_are_one_red_line_and_debug_shows_the_traceback(tmp_path):
    notdb = tmp_path / "notes.db"
    notdb.write_text("my notes")
    proc = _cli(["leaderboard", "--db", str(notdb)])
    assert proc.returncode == 1 and "is not an SQLite database" in proc.stderr and "Traceback" not in proc.stderr
    assert notdb.read_text() == "my notes"
    debug = _cli(["--debug", "leaderboard", "--db", str(notdb)])
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_python_dash_m_bench_and_console_script_agree():
    proc = _cli(["--help"])
    assert proc.returncode == 0 and "detectors" in proc.stdout
