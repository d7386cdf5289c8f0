"""`mias-bench run`, `runs` and `leaderboard` as a user runs them, including a killed run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fakedist import GOOD, SUPPORT, write_dist
from PIL import Image
from planted import planted_cases

from bench.cli.app import run_cli


def write_bmad_brain(root: Path, **kwargs) -> Path:
    """The planted-lesion cases as a BraTS2021_slice tree of 8-bit PNGs."""
    for case in planted_cases(**kwargs):
        pixels = np.rint(case.image * 255).astype(np.uint8)
        name = Path(case.id).name
        if case.split == "train":
            path = root / "train" / "good" / name
        else:
            folder = "Ungood" if case.label else "good"
            path = root / case.split / folder / "img" / name
            if case.label:
                (root / case.split / folder / "label").mkdir(parents=True, exist_ok=True)
                Image.fromarray(case.mask.astype(np.uint8) * 255).save(root / case.split / folder / "label" / name)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
    return root


@pytest.fixture
def brain_root(tmp_path):
    return write_bmad_brain(tmp_path / "BraTS2021_slice", n_test=16)


@pytest.fixture
def fake_env(tmp_path):
    site = tmp_path / "site"
    write_dist(site, "fake-plugins", GOOD)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(SUPPORT)])}


def test_run_then_leaderboard_shows_the_result(brain_root, capsys):
    args = ["run", "intensity-zscore", "--dataset", "bmad-brain", "--data-root", str(brain_root)]
    assert run_cli([*args, "--threshold", "valid-f1,oracle"]) == 0
    printed = capsys.readouterr().out
    assert "intensity-zscore@valid-f1: DICE" in printed
    assert run_cli(["leaderboard", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["detector"], r["protocol"]) for r in rows} == {
        ("intensity-zscore", "valid-f1"),
        ("intensity-zscore", "oracle"),
    }
    oracle = next(r for r in rows if r["protocol"] == "oracle")
    assert oracle["marks"] == ["oracle"] and oracle["fitted_on"] == "test"
    assert rows[-1] == oracle and not oracle["ranked"]  # honest rows first; the oracle after, outside the ranking
    assert oracle["metrics"]["dice"] >= rows[0]["metrics"]["dice"]
    assert run_cli(["leaderboard"]) == 0
    table = capsys.readouterr().out
    assert "intensity-zscore" in table and "oracle" in table and "upper bound" in table
    assert run_cli(["runs", "list", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["status"] == "complete" and run["dataset"] == "bmad-brain"
    assert run_cli(["runs", "show", str(run["id"]), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["predicted"] == 16 and {e["protocol"] for e in shown["evaluations"]} == {"valid-f1", "oracle"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "intensity-zscor", "--dataset", "bmad-brain"], "did you mean 'intensity-zscore'"),
        (["run", "intensity-zscore", "--dataset", "bmad-brain", "--set", "grid"], "malformed --set 'grid'"),
        (["run", "intensity-zscore", "--dataset", "bmad-brain", "-t", "best"], "best"),
    ],
)
def test_bad_run_requests_are_one_line_errors_and_store_nothing(brain_root, capsys, args, message):
    assert run_cli([*args, "--data-root", str(brain_root)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not Path("mias-bench.db").exists()


def test_a_database_that_is_not_sqlite_is_refused_by_run(brain_root, tmp_path, capsys):
    notdb = tmp_path / "keep.db"
    notdb.write_bytes(b"\x00\x01 binary notes")
    code = run_cli(["run", "intensity-zscore", "-d", "bmad-brain", "--data-root", str(brain_root), "--db", str(notdb)])
    assert code == 1 and "is not an SQLite database" in capsys.readouterr().err
    assert notdb.read_bytes() == b"\x00\x01 binary notes"


def test_a_failing_plugin_is_stored_as_failed_and_the_next_detector_still_runs(brain_root, fake_env, tmp_path):
    db = tmp_path / "r.db"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "exploding",
            "intensity-zscore",
            "-d",
            "bmad-brain",
            "--data-root",
            str(brain_root),
            "-t",
            "fixed:0.5",
            "--db",
            str(db),
            "--batch-size",
            "2",
        ],
        capture_output=True,
        text=True,
        env=fake_env,
        timeout=300,
    )
    assert proc.returncode == 1 and "GPU fell off the bus" in proc.stderr and "Traceback" not in proc.stderr
    with sqlite3.connect(db) as conn:
        status = dict(conn.execute("SELECT detector, status FROM runs"))
    assert status == {"exploding": "failed", "intensity-zscore": "complete"}


def _rows(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return list(conn.execute("SELECT case_id FROM case_predictions"))
    except sqlite3.OperationalError:  # schema not created yet
        return []


def _kill_at_marker(cmd, env, marker: Path) -> None:
    """Start ``cmd``, wait until the detector says it has blocked, SIGKILL it."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the detector never reached its blocking point (exit code {proc.poll()})"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize(
    ("detector", "kept", "marks"),
    [("blocks-after", 6, []), ("blocks-after-transductive", 0, ["random-init", "transductive"])],
)
def test_sigkill_at_a_known_point_then_rerun_finishes_with_one_row_per_case_and_its_marks(
    brain_root, fake_env, tmp_path, detector, kept, marks
):
    db = tmp_path / "kill.db"
    args = ["run", detector, "-d", "bmad-brain", "--data-root", str(brain_root), "-t", "valid-f1", "--db", str(db)]
    cmd = [sys.executable, "-m", "bench", *args, "--batch-size", "2"]
    marker = tmp_path / "blocked"
    _kill_at_marker(cmd, {**fake_env, "BLOCK_MARKER": str(marker), "BLOCK_AFTER": "6"}, marker)
    # A plain detector stored every batch before the block; a transductive one stores nothing before finalize.
    assert len(_rows(db)) == kept
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone() == ("running",)
    done = subprocess.run(cmd, env=fake_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ids = [r[0] for r in _rows(db)]
    assert len(ids) == 16 and len(set(ids)) == 16
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), max(status) FROM runs").fetchone() == (1, "complete")
        assert conn.execute("SELECT count(*) FROM case_metrics").fetchone() == (16,)
        assert conn.execute("SELECT owner FROM runs").fetchone() == (None,)
    board = subprocess.run(
        [sys.executable, "-m", "bench", "leaderboard", "--json", "--db", str(db)],
        env=fake_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (row,) = json.loads(board.stdout)
    assert row["marks"] == marks


def test_a_sweep_over_seeds_runs_every_combination_and_reports_the_spread(brain_root, tmp_path, capsys):
    db = str(tmp_path / "sweep.db")
    args = ["run", "intensity-zscore", "-d", "bmad-brain", "--data-root", str(brain_root), "--db", db]
    assert run_cli([*args, "-t", "valid-f1", "--set", "grid=16,32", "--seeds", "0-2"]) == 0
    out = capsys.readouterr().out
    assert out.count("intensity-zscore@valid-f1 [grid=") == 6, out
    assert run_cli(["runs", "list", "--json", "--db", db]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert sorted(r["seed"] for r in runs) == [0, 0, 1, 1, 2, 2] and len({r["config_hash"] for r in runs}) == 2
    assert run_cli(["leaderboard", "--db", db]) == 0
    board = capsys.readouterr().out
    assert "DICE across seeds" in board and "intensity-zscore[grid=16]@valid-f1" in board
    # The same request again: every run is recognised, nothing is redone.
    assert run_cli([*args, "-t", "valid-f1", "--set", "grid=16,32", "--seeds", "0-2"]) == 0
    capsys.readouterr()
    assert run_cli(["runs", "list", "--json", "--db", db]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 6
    from bench.publish import publish, verify_publication
    from bench.store import Store

    result = publish(Store(db), "bmad-brain", tmp_path / "boards")
    (group,) = json.loads((result.folder / "leaderboard.json").read_text())["groups"]
    methods = {s["method"]: s["seeds"] for s in group["seeds"]}
    assert methods == {"intensity-zscore[grid=16]@valid-f1": [0, 1, 2], "intensity-zscore[grid=32]@valid-f1": [0, 1, 2]}
    assert verify_publication(result.folder).ok
