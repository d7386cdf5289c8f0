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
from bench.provenance import Provenance
from bench.store import Owner, OwnershipLost, Store, head_revision
from bench.store.models import Base


def _fields(key="k1", **kw):
    """The columns of a new run, as bench.runner.plan builds them."""
    provenance = Provenance(
        detector="d",
        detector_version="1",
        plugin_dist="p",
        plugin_version="1.0",
        config_hash="c" * 64,
        dataset="ds",
        collection="synthetic",
        modality="brain",
        manifest_hash="m" * 64,
        frame="paper-256",
        n_cases=3,
    )
    fields = {**provenance.columns(), "run_key": key, "lineage_key": "l" * 64, "data_location": "/x"}
    fields.update(kw)
    return fields


def _claim(store, owner=None, key="k1"):
    owner = owner or Owner()
    claim = store.claim_run(_fields(key), owner)
    return claim, owner


def test_new_store_is_at_head_and_matches_the_models(store_url):
    store = Store(store_url)
    assert store.revision() == head_revision()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_run_lifecycle_is_idempotent_and_evaluations_replace(store_url):
    store = Store(store_url)
    (claim, owner) = _claim(store)
    run = claim.run
    assert claim.created and run.status == "running" and run.owner == owner.token
    again, _ = _claim(store, owner)
    assert again.run.id == run.id and not again.created and len(store.list_runs()) == 1
    store.add_predictions(run.id, owner.token, [{"case_id": "a", "label": 1, "score": 0.5, "seconds": 0.1}])
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint, whatever the driver calls it
        store.add_predictions(run.id, owner.token, [{"case_id": "a", "label": 1, "score": 0.5, "seconds": 0.1}])
    assert list(store.predicted_cases(run.id)) == ["a"]
    cases = [{"case_id": "a", "label": 1, "dice": 0.5, "pred_fraction": 0.1, "extras": {"dice_mask0": 0.2}}]
    for dice in (0.5, 0.7):
        cases[0]["dice"] = dice
        store.save_evaluation(
            run.id,
            owner.token,
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
    store.save_evaluation(run.id, owner.token, protocol="valid-f1", error="no anomalous validation pixels")
    assert [e.status for e in store.evaluations(run.id)] == ["complete", "failed"]
    assert [e.protocol for e in store.evaluations(run.id, status="complete")] == ["oracle"]
    assert store.release_run(run.id, owner.token, status="complete")
    stored = store.get_run(run.id)
    assert stored.status == "complete" and stored.owner is None and stored.finished_at is not None
    reopened, _ = _claim(store)
    assert reopened.run.status == "complete"  # claiming a complete run (to add a protocol) keeps it complete


def test_a_second_owner_is_told_who_holds_the_run_and_cannot_write(store_url):
    store = Store(store_url)
    first, owner = _claim(store)
    other = Owner(host="elsewhere", pid=1)
    claim = store.claim_run(_fields(), other)
    assert claim.run is None and claim.holder.pid == owner.pid and claim.holder.host == owner.host
    assert f"process {owner.pid} on {owner.host}" in claim.holder.describe()
    with pytest.raises(OwnershipLost, match="no longer owned by this process"):
        store.add_predictions(first.run.id, other.token, [{"case_id": "x", "label": 0, "score": 0, "seconds": 0}])
    with pytest.raises(OwnershipLost):
        store.update_run(first.run.id, other.token, status="failed")
    assert store.get_run(first.run.id).status == "running" and store.predicted_cases(first.run.id) == {}
    assert not store.heartbeat(first.run.id, other.token) and store.heartbeat(first.run.id, owner.token)


def test_a_stale_claim_is_taken_over_and_the_old_owner_stops_writing(store_url):
    store = Store(store_url)
    first, owner = _claim(store)
    # A holder on this host whose process is gone is stale at once ...
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.session() as s:
        s.execute(text("UPDATE runs SET owner_pid = :pid"), {"pid": dead.pid})
    taker = Owner()
    claim = store.claim_run(_fields(), taker)
    assert claim.run is not None and claim.run.owner == taker.token
    with pytest.raises(OwnershipLost):
        store.add_predictions(first.run.id, owner.token, [{"case_id": "x", "label": 0, "score": 0, "seconds": 0}])
    # ... one elsewhere only once its heartbeat is older than stale_after_s.
    remote = Owner(host="elsewhere", pid=1)
    assert store.claim_run(_fields(), remote, stale_after_s=3600).run is None
    assert store.claim_run(_fields(), remote, stale_after_s=-1).run is not None


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
from bench.store import Owner, Store
store = Store(sys.argv[1])
owner = Owner()
for i in range(40):
    run = store.claim_run({fields!r} | {{"run_key": f"{{sys.argv[2]}}-{{i}}"}}, owner).run
    rows = [{{"case_id": str(j), "label": 0, "score": 0.0, "seconds": 0.0}} for j in range(20)]
    store.add_predictions(run.id, owner.token, rows)
"""


def test_two_processes_can_write_one_sqlite_file(tmp_path):
    path = tmp_path / "shared.db"
    Store(str(path))
    code = WRITER.format(fields=_fields())
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = Store(str(path))
    assert len(store.list_runs()) == 80


def test_a_store_of_schema_0001_is_upgraded_without_losing_a_row(tmp_path):
    from tests_store_legacy import legacy_store_with_one_run

    store = legacy_store_with_one_run(tmp_path / "old.db")
    assert store.revision() == head_revision()
    (run,) = store.list_runs()
    (evaluation,) = store.evaluations(run.id)
    assert evaluation.status == "complete" and len(store.case_metrics(evaluation.id)) == 1
    assert store.summary(evaluation.id) == {"dice": 0.5}
    # The key now covers the code versions; the run is found under it, marked as self-reported.
    provenance = Provenance.from_columns(run)
    assert run.run_key == provenance.key() and run.lineage_key == provenance.lineage_key()
    assert run.provenance == "self-reported" and run.random_init is None
