"""Opening a store: atomic first creation, foreign and damaged files refused untouched, read-only
stores, a PostgreSQL server that never answers, and a full disk."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.errors import StoreError
from bench.store import Store, head_revision
from bench.store.owners import Owner

from .test_store import _fields

KILL_DURING_CREATION = """
import os, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from bench.store import Store

def die_after_second_table(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("CREATE TABLE CASE_PREDICTIONS"):
        os._exit(9)  # as a SIGKILL would: no cleanup, no rollback by Python

event.listen(Engine, "after_cursor_execute", die_after_second_table)
Store(sys.argv[1])
"""

OPEN_WHEN_RELEASED = """
import os, sys, time
from bench.store import Store
go = sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.005)
store = Store(sys.argv[1])
print(store.revision())
"""


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _journal_mode_byte(path: Path) -> int:
    """Byte 18 of an SQLite header: 1 for a rollback journal, 2 for WAL."""
    return path.read_bytes()[18]


def test_a_kill_during_first_creation_leaves_a_database_that_opens(tmp_path):
    path = tmp_path / "killed.db"
    child = subprocess.run([sys.executable, "-c", KILL_DURING_CREATION, str(path)], capture_output=True, timeout=120)
    assert child.returncode == 9, child.stderr
    store = Store(str(path))
    assert store.revision() == head_revision()
    store.claim_run(_fields(), Owner())
    assert len(store.list_runs()) == 1


def test_four_processes_opening_one_fresh_file_at_once_all_succeed(tmp_path):
    path, go = tmp_path / "fresh.db", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_RELEASED, str(path), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outcomes]
    assert {out.strip() for out, _ in outcomes} == {head_revision()}


def test_another_programs_sqlite_file_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a mias-bench store"):
        Store(str(path))
    assert path.read_bytes() == before and _journal_mode_byte(path) == 1  # not switched to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_a_foreign_database_with_a_table_called_runs_is_refused_and_gains_no_table(tmp_path):
    path = tmp_path / "tracker.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, distance_km REAL)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a mias-bench store"):
        Store(str(path))
    assert _tables(path) == {"runs"} and path.read_bytes() == before


def _corrupt(path: Path) -> None:
    """Overwrite the middle of the file's last page with junk, keeping the header intact."""
    with sqlite3.connect(path) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size - page + 16)
        fh.write(b"\xa5" * (page - 32))


def test_a_database_failing_the_quick_integrity_check_is_refused(tmp_path):
    path = tmp_path / "damaged.db"
    store = Store(str(path))
    for i in range(200):
        store.claim_run(_fields(key=f"k{i}", config_json="x" * 500), Owner())
    store.close()
    _corrupt(path)
    with pytest.raises(StoreError, match=r"damaged\.db fails SQLite's integrity check"):
        Store(str(path))


@pytest.fixture
def frozen(tmp_path):
    """Make a folder and its files unwritable, even for root (chattr +i); undone after the test."""
    frozen_paths: list[Path] = []

    def freeze(*paths: Path) -> None:
        for p in paths:
            if os.geteuid() == 0:
                if shutil.which("chattr") is None:
                    pytest.fail("chattr is needed to make a read-only folder as root")
                subprocess.run(["chattr", "+i", str(p)], check=True)
            else:
                p.chmod(0o555 if p.is_dir() else 0o444)
            frozen_paths.append(p)

    yield freeze
    for p in reversed(frozen_paths):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(p)], check=False)
        else:
            p.chmod(0o755 if p.is_dir() else 0o644)


def test_read_only_commands_work_on_a_read_only_folder(tmp_path, frozen, capsys):
    from bench.cli.app import run_cli

    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "store.db"
    store = Store(str(path))
    store.claim_run(_fields(), Owner())
    store.close()
    frozen(path, folder)
    before = path.read_bytes()

    reader = Store(str(path), readonly=True)
    assert [r.run_key for r in reader.list_runs()] == ["k1"]
    with pytest.raises(StoreError, match="read-only"):
        reader.claim_run(_fields(key="k2"), Owner())
    assert run_cli(["runs", "list", "--json", "--db", str(path)]) == 0
    assert '"k1"' not in capsys.readouterr().err
    assert run_cli(["leaderboard", "--db", str(path)]) == 0
    assert path.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["store.db"]


def test_a_read_only_store_is_never_created(tmp_path):
    with pytest.raises(StoreError, match="no store at .*absent.db"):
        Store(str(tmp_path / "absent.db"), readonly=True)
    assert not (tmp_path / "absent.db").exists()


@pytest.fixture
def silent_server():
    """A loopback port whose kernel accepts connections but no program ever answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def test_a_postgresql_server_that_never_answers_fails_within_the_connect_timeout(silent_server, monkeypatch):
    pytest.importorskip("psycopg")
    monkeypatch.setenv("MIAS_BENCH_DB_CONNECT_TIMEOUT", "2")
    url = f"postgresql+psycopg://bench@127.0.0.1:{silent_server}/bench"
    outcome: list[BaseException | None] = []

    def open_it() -> None:
        try:
            Store(url)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    # A thread only so that a hang fails this test instead of stopping the suite.
    worker = threading.Thread(target=open_it, daemon=True)
    worker.start()
    worker.join(120)
    assert outcome, "Store() was still waiting on the silent server"
    error = outcome[0]
    assert isinstance(error, StoreError) and "timeout" in str(error).lower()
    assert f"127.0.0.1:{silent_server}" in str(error) and "\n" not in str(error)


def test_the_connect_timeout_must_be_a_number(monkeypatch):
    monkeypatch.setenv("MIAS_BENCH_DB_CONNECT_TIMEOUT", "a while")
    with pytest.raises(StoreError, match="MIAS_BENCH_DB_CONNECT_TIMEOUT='a while'"):
        Store("postgresql+psycopg://bench@127.0.0.1:1/bench")


def test_a_full_disk_is_one_line_and_loses_nothing_stored(tmp_path):
    from sqlalchemy import event

    path = tmp_path / "full.db"
    store = Store(str(path))
    for i in range(3):
        store.claim_run(_fields(key=f"k{i}"), Owner())
    store.engine.dispose()

    # SQLITE_FULL for real: the database may not grow beyond its current pages.
    @event.listens_for(store.engine, "connect")
    def cap(dbapi_conn, _record):
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(StoreError) as info:
        for i in range(3, 500):
            store.claim_run(_fields(key=f"k{i}", config_json="x" * 4000), Owner())
    message = str(info.value)
    assert "full" in message and str(path) in message and "\n" not in message
    store.close()
    with sqlite3.connect(path) as conn:
        keys = [r[0] for r in conn.execute("SELECT run_key FROM runs ORDER BY id")]
    assert keys[:3] == ["k0", "k1", "k2"] and conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
