"""Reading and writing the result store.

:class:`Store` opens its database through :mod:`bench.store.engine` (which
refuses files that are not a mias-bench store and upgrades the schema) and
offers the few transactions the runner, leaderboards and publishing need.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bench.errors import StoreError
from bench.paths import database_url
from bench.store.engine import current_revision, open_engine, require_head, safe_url, store_error, upgrade_schema
from bench.store.models import CaseMetric, CasePrediction, Evaluation, Run, Summary


def utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """The result store behind one SQLAlchemy URL.

    Args:
        url: SQLAlchemy URL or SQLite path; ``None`` uses ``MIAS_BENCH_DB``
            or ``./mias-bench.db``.
        upgrade: bring the schema to the newest revision (the CLI always does).
        readonly: never write (for leaderboards, listings, verification): the
            store must exist at the newest revision; works on a read-only file
            or filesystem; any write raises :class:`StoreError`.
    """

    def __init__(self, url: str | None = None, *, upgrade: bool = True, readonly: bool = False):
        self.url = database_url(url)
        self.readonly = readonly
        self.engine, self.is_sqlite = open_engine(self.url, readonly=readonly)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if readonly:
            require_head(self.engine, self.url)
        elif upgrade:
            self.upgrade()

    def _safe_url(self) -> str:
        return safe_url(self.url)

    # -- schema ---------------------------------------------------------------------------

    def revision(self) -> str | None:
        return current_revision(self.engine)

    def upgrade(self) -> None:
        """Upgrade the schema to head; refuse databases that are not ours."""
        upgrade_schema(self.engine, self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error.

        Raises:
            StoreError: one line for a database failure (a full disk, a
                read-only store, a lost server); nothing committed before is lost.
        """
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                # A lost connection cannot roll back; the database itself then drops the transaction.
                with suppress(OperationalError):
                    session.rollback()
                if isinstance(exc, OperationalError):
                    raise store_error(exc, self.url) from None
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
