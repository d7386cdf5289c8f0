"""The store against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bench.errors import StoreError
from bench.store import Store, head_revision
from bench.store.models import Base


def _fields(key="k1", **kw):
    fields = dict(
        run_key=key,
        detector="d",
        detector_version="1",
        plugin_dist="p",
        plugin_version="1.0",
        preset=None,
        config_json="{}",
        config_hash="c" * 64,
        dataset="ds",
        collection="synthetic",
        modality="brain",
        data_location="/x",
        manifest_hash="m" * 64,
        frame="paper-256",
        split="test",
        n_cases=3,
        weights=None,
        weights_sha256=None,
        transductive=False,
        seed=0,
        device="cpu",
        packages_json="{}",
        git_commit=None,
        run_info_json="{}",
    )
    fields.update(kw)
    return fields


def test_new_store_is_at_head_and_matches_the_models(store_url):
    store = Store(store_url)
    assert store.revision() == head_revision()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_run_lifecycle_is_idempotent_and_evaluations_replace(store_url):
    store = Store(store_url)
    run = store.start_run(_fields())
    again = store.start_run(_fields())
    assert again.id == run.id and len(store.list_runs()) == 1
    store.add_predictions(run.id, [{"case_id": "a", "label": 1, "score": 0.5, "seconds": 0.1}])
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint, whatever the driver calls it
        store.add_predictions(run.id, [{"case_id": "a", "label": 1, "score": 0.5, "seconds": 0.1}])
    assert list(store.predicted_cases(run.id)) == ["a"]
    cases = [{"case_id": "a", "label": 1, "dice": 0.5, "pred_fraction": 0.1, "extras": {"dice_mask0": 0.2}}]
    for dice in (0.5, 0.7):
        cases[0]["dice"] = dice
        store.save_evaluation(
            run.id,
            protocol="oracle",
            threshold=0.3,
            fitted_on="test",
            upper_bound=True,
            cases=cases,
            summary={"dice": dice, "pixel_auroc": math.nan},
        )
    (ev,) = store.evaluations(run.id)
    assert store.summary(ev.id)["dice"] == 0.7 and math.isnan(store.summary(ev.id)["pixel_auroc"])
    (row,) = store.case_metrics(ev.id)
    assert row.dice == 0.7 and json.loads(row.extras_json) == {"dice_mask0": 0.2}
    store.finish_run(run.id, "complete", weights="random-init")
    assert store.get_run(run.id).status == "complete"
    assert store.start_run(_fields()).status == "complete"  # reopening a complete run keeps it


def test_sqlite_store_uses_wal_and_a_busy_timeout(tmp_path):
    store = Store(str(tmp_path / "x.db"))
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "results.db"
    path.write_bytes(b"these are my notes, not a database\n")
    with pytest.raises(StoreError, match=r"results.db is not an SQLite database"):
        Store(str(path))
    assert path.read_bytes() == b"these are my notes, not a database\n"


def test_an_sqlite_database_of_another_program_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="not a mias-bench store"):
        Store(str(path))
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["invoices"]


def test_an_older_database_is_upgraded_on_open(tmp_path):
    path = tmp_path / "old.db"
    store = Store(str(path), upgrade=False)
    assert store.revision() is None
    store.upgrade()
    assert Store(str(path)).revision() == head_revision()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    Store(str(path))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="revision 9999, newer than this mias-bench"):
        Store(str(path))


WRITER = """
import sys
from bench.store import Store
store = Store(sys.argv[1])
for i in range(40):
    run = store.start_run({fields!r} | {{"run_key": f"{{sys.argv[2]}}-{{i}}"}})
    store.add_predictions(run.id, [{{"case_id": str(j), "label": 0, "score": 0.0, "seconds": 0.0}} for j in range(20)])
"""


def test_two_processes_can_write_one_sqlite_file(tmp_path):
    path = tmp_path / "shared.db"
    Store(str(path))
    code = WRITER.format(fields=_fields())
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = Store(str(path))
    assert len(store.list_runs()) == 80
