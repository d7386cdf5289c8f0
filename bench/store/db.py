"""Opening, upgrading and writing the result store.

Any SQLAlchemy URL works; a plain path is an SQLite file. SQLite files get
WAL mode and a busy timeout so two runs can write to one file. Opening a
store upgrades its schema to the newest Alembic revision; a file that is
not SQLite, or a database that is not a mias-bench store, is refused
before anything is written to it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, delete, event, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bench.errors import StoreError
from bench.paths import database_url
from bench.store.models import CaseMetric, CasePrediction, Evaluation, Run, Summary

_MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_OUR_TABLES = {"runs", "case_predictions", "evaluations", "case_metrics", "summaries"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _check_sqlite_file(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        if not path.parent.exists():
            raise StoreError(f"cannot create database {path}: folder {path.parent} does not exist")
        return
    if path.is_dir():
        raise StoreError(f"database path {path} is a folder; expected an SQLite file")
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise StoreError(
            f"{path} is not an SQLite database (expected a file starting with 'SQLite format 3'); "
            "it was left untouched. Pass --db with another path or URL."
        )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _alembic_config(connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config(None))
    return script.get_current_head()  # type: ignore[return-value]


class Store:
    """The result store behind one SQLAlchemy URL.

    Args:
        url: SQLAlchemy URL or SQLite path; ``None`` uses ``MIAS_BENCH_DB``
            or ``./mias-bench.db``.
        upgrade: bring the schema to the newest revision (the CLI always does).
    """

    def __init__(self, url: str | None = None, *, upgrade: bool = True):
        self.url = database_url(url)
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise StoreError(f"cannot parse database URL {self.url!r}: {exc}") from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            _check_sqlite_file(Path(parsed.database))
        try:
            self.engine: Engine = create_engine(self.url, future=True)
        except Exception as exc:  # missing driver, bad options
            raise StoreError(f"cannot open database {self._safe_url()}: {exc}") from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if upgrade:
            self.upgrade()

    def _safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    # -- schema ---------------------------------------------------------------------------

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self) -> None:
        """Upgrade the schema to head; refuse databases that are not ours."""
        head = head_revision()
        try:
            with self.engine.begin() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                if current == head:
                    return
                tables = set(inspect(conn).get_table_names())
                if current is None and tables and not tables <= _OUR_TABLES | {"alembic_version"}:
                    raise StoreError(
                        f"{self._safe_url()} holds tables that are not a mias-bench store "
                        f"({', '.join(sorted(tables)[:5])}); refusing to change it"
                    )
                script = ScriptDirectory.from_config(_alembic_config(None))
                if current is not None and current not in {r.revision for r in script.walk_revisions()}:
                    raise StoreError(
                        f"{self._safe_url()} is at schema revision {current}, newer than this mias-bench "
                        f"knows (head {head}); upgrade mias-bench"
                    )
                command.upgrade(_alembic_config(conn), "head")
        except StoreError:
            raise
        except OperationalError as exc:
            if self._at_head_after_race(head):
                return
            raise StoreError(f"cannot open database {self._safe_url()}: {exc.orig}") from None
        except DatabaseError as exc:
            raise StoreError(f"cannot open database {self._safe_url()}: {exc.orig}") from None

    def _at_head_after_race(self, head: str) -> bool:
        """Another process may have created the schema at the same moment."""
        try:
            return self.revision() == head
        except Exception:
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    # -- runs -----------------------------------------------------------------------------

    def find_run(self, run_key: str) -> Run | None:
        with self.session() as s:
            return s.scalars(select(Run).where(Run.run_key == run_key)).one_or_none()

    def get_run(self, run_id: int) -> Run | None:
        with self.session() as s:
            return s.get(Run, run_id)

    def list_runs(self, dataset: str | None = None) -> list[Run]:
        with self.session() as s:
            query = select(Run).order_by(Run.id)
            if dataset:
                query = query.where(Run.dataset == dataset)
            return list(s.scalars(query))

    def start_run(self, fields: dict[str, Any]) -> Run:
        """Create the run with ``fields["run_key"]``, or reopen the stored one to resume it."""
        with self.session() as s:
            run = s.scalars(select(Run).where(Run.run_key == fields["run_key"])).one_or_none()
            if run is None:
                run = Run(**fields, status="running", started_at=utcnow())
                s.add(run)
            elif run.status != "complete":
                run.status, run.error, run.finished_at = "running", None, None
            s.flush()
            return run

    def finish_run(self, run_id: int, status: str, error: str | None = None, **fields: Any) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"run {run_id} vanished from {self._safe_url()}")
            run.status, run.error, run.finished_at = status, error, utcnow()
            for key, value in fields.items():
                setattr(run, key, value)

    def update_run(self, run_id: int, **fields: Any) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            for key, value in fields.items():
                setattr(run, key, value)

    # -- predictions ----------------------------------------------------------------------

    def predicted_cases(self, run_id: int) -> dict[str, CasePrediction]:
        with self.session() as s:
            rows = s.scalars(select(CasePrediction).where(CasePrediction.run_id == run_id))
            return {r.case_id: r for r in rows}

    def add_predictions(self, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
        """Record predicted cases (``case_id, label, score, seconds``); one transaction."""
        rows = [{"run_id": run_id, **r} for r in rows]
        if rows:
            with self.session() as s:
                s.execute(insert(CasePrediction), rows)

    def forget_predictions(self, run_id: int, case_ids: Iterable[str] | None = None) -> None:
        with self.session() as s:
            query = delete(CasePrediction).where(CasePrediction.run_id == run_id)
            if case_ids is not None:
                query = query.where(CasePrediction.case_id.in_(list(case_ids)))
            s.execute(query)

    # -- evaluations ----------------------------------------------------------------------

    def save_evaluation(
        self,
        run_id: int,
        *,
        protocol: str,
        threshold: float | None,
        fitted_on: str | None,
        upper_bound: bool,
        cases: list[dict[str, Any]],
        summary: dict[str, float],
    ) -> int:
        """Store one protocol's scoring, replacing an earlier one for the same run and protocol."""
        with self.session() as s:
            old = s.scalars(
                select(Evaluation).where(Evaluation.run_id == run_id, Evaluation.protocol == protocol)
            ).one_or_none()
            if old is not None:
                s.delete(old)
                s.flush()
            ev = Evaluation(
                run_id=run_id,
                protocol=protocol,
                threshold=threshold,
                fitted_on=fitted_on,
                upper_bound=upper_bound,
                created_at=utcnow(),
            )
            s.add(ev)
            s.flush()
            s.execute(
                insert(CaseMetric),
                [
                    {
                        "evaluation_id": ev.id,
                        "case_id": c["case_id"],
                        "label": c["label"],
                        "dice": c["dice"],
                        "pred_fraction": c["pred_fraction"],
                        "extras_json": json.dumps(c.get("extras", {}), sort_keys=True),
                    }
                    for c in cases
                ],
            )
            s.execute(
                insert(Summary),
                [
                    {"evaluation_id": ev.id, "metric": k, "value": None if _is_nan(v) else float(v)}
                    for k, v in summary.items()
                ],
            )
            return ev.id

    def evaluations(self, run_id: int) -> list[Evaluation]:
        with self.session() as s:
            return list(s.scalars(select(Evaluation).where(Evaluation.run_id == run_id).order_by(Evaluation.id)))

    def summary(self, evaluation_id: int) -> dict[str, float]:
        with self.session() as s:
            rows = s.scalars(select(Summary).where(Summary.evaluation_id == evaluation_id))
            return {r.metric: (math.nan if r.value is None else r.value) for r in rows}

    def case_metrics(self, evaluation_id: int) -> list[CaseMetric]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(CaseMetric).where(CaseMetric.evaluation_id == evaluation_id).order_by(CaseMetric.case_id)
                )
            )


def _is_nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
