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
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bench.formatting import is_missing
from bench.paths import database_url
from bench.store.engine import current_revision, open_engine, require_head, safe_url, store_error, upgrade_schema
from bench.store.models import CaseMetric, CasePrediction, Evaluation, Run, Summary
from bench.store.owners import RunOwners, utcnow


class Store(RunOwners):
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

    def find_lineage(self, lineage_key: str) -> list[Run]:
        """Runs of the same request made by other code versions (see :class:`bench.provenance.Provenance`)."""
        with self.session() as s:
            return list(s.scalars(select(Run).where(Run.lineage_key == lineage_key).order_by(Run.id)))

    def get_run(self, run_id: int) -> Run | None:
        with self.session() as s:
            return s.get(Run, run_id)

    def list_runs(self, dataset: str | None = None) -> list[Run]:
        with self.session() as s:
            query = select(Run).order_by(Run.id)
            if dataset:
                query = query.where(Run.dataset == dataset)
            return list(s.scalars(query))

    def update_run(self, run_id: int, owner: str, **fields: Any) -> None:
        """Set fields of a run this process owns (see :mod:`bench.store.owners`)."""
        with self.session() as s:
            run = self._owned(s, run_id, owner)
            for key, value in fields.items():
                setattr(run, key, value)

    # -- predictions ----------------------------------------------------------------------

    def predicted_cases(self, run_id: int) -> dict[str, CasePrediction]:
        with self.session() as s:
            rows = s.scalars(select(CasePrediction).where(CasePrediction.run_id == run_id))
            return {r.case_id: r for r in rows}

    def add_predictions(self, run_id: int, owner: str, rows: Iterable[dict[str, Any]]) -> None:
        """Record predicted cases (``case_id, label, score, seconds, digest``) in one transaction: the resume point."""
        rows = [{"run_id": run_id, **r} for r in rows]
        if rows:
            with self.session() as s:
                self._owned(s, run_id, owner)
                s.execute(insert(CasePrediction), rows)

    def forget_predictions(self, run_id: int, owner: str, case_ids: Iterable[str] | None = None) -> None:
        with self.session() as s:
            self._owned(s, run_id, owner)
            query = delete(CasePrediction).where(CasePrediction.run_id == run_id)
            if case_ids is not None:
                query = query.where(CasePrediction.case_id.in_(list(case_ids)))
            s.execute(query)

    # -- evaluations ----------------------------------------------------------------------

    def save_evaluation(
        self,
        run_id: int,
        owner: str,
        *,
        protocol: str,
        threshold: float | None = None,
        fitted_on: str | None = None,
        upper_bound: bool = False,
        cases: list[dict[str, Any]] = (),  # type: ignore[assignment]
        summary: dict[str, float] | None = None,
        error: str | None = None,
    ) -> int:
        """Store one protocol's scoring (``error`` set: a failed one, with no rows), replacing an earlier one."""
        with self.session() as s:
            self._owned(s, run_id, owner)
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
                status="failed" if error else "complete",
                error=error,
                created_at=utcnow(),
            )
            s.add(ev)
            s.flush()
            if cases:
                s.execute(insert(CaseMetric), [{"evaluation_id": ev.id, **_case_columns(c)} for c in cases])
            if summary:
                s.execute(
                    insert(Summary),
                    [
                        {"evaluation_id": ev.id, "metric": k, "value": None if is_missing(v) else float(v)}
                        for k, v in summary.items()
                    ],
                )
            return ev.id

    def evaluations(self, run_id: int, status: str | None = None) -> list[Evaluation]:
        with self.session() as s:
            query = select(Evaluation).where(Evaluation.run_id == run_id)
            if status is not None:
                query = query.where(Evaluation.status == status)
            return list(s.scalars(query.order_by(Evaluation.id)))

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


def _case_columns(case: dict[str, Any]) -> dict[str, Any]:
    counts = case.get("counts")
    return {
        "case_id": case["case_id"],
        "label": case["label"],
        "dice": case["dice"],
        "pred_fraction": case["pred_fraction"],
        "intersection": counts.intersection if counts else None,
        "predicted": counts.predicted if counts else None,
        "truth_pixels": counts.true if counts else None,
        "pixels": counts.pixels if counts else None,
        "extras_json": json.dumps(case.get("extras", {}), sort_keys=True),
    }
