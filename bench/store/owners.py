"""Run ownership: one process at a time writes a run.

A process that executes a run first *claims* it: the run row records an
owner token, host, process id and a heartbeat that the owner refreshes while
it works. Another process asking for the same run finds it held and waits or
reports who holds it; it takes over only a stale claim: the heartbeat is older
than ``stale_after_s``, or the holder is a process of this host that no longer
exists (so a run whose process was killed can be resumed at once). Every write
to a run checks, in its own transaction, that the writer still owns it; a
process that lost its claim stops with :class:`OwnershipLost` instead of
writing beside the new owner.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bench.errors import StoreError
from bench.store.models import Run

#: Seconds after which a claim whose heartbeat stopped may be taken over.
STALE_AFTER_S = 120.0
#: Seconds between two heartbeats of a working owner.
HEARTBEAT_S = 10.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class OwnershipLost(StoreError):
    """This process no longer owns the run it was writing (another process took over a stale claim)."""


@dataclass(frozen=True)
class Owner:
    """Who executes a run: a fresh token per execution, the host and the process id."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


@dataclass(frozen=True)
class Holder:
    """The current owner of a run, as another process sees it."""

    run_id: int
    host: str | None
    pid: int | None
    heartbeat_age_s: float | None

    def describe(self) -> str:
        age = "never" if self.heartbeat_age_s is None else f"{self.heartbeat_age_s:.0f} s ago"
        return f"run {self.run_id} is being executed by process {self.pid} on {self.host} (last heartbeat {age})"


@dataclass(frozen=True)
class Claim:
    """The outcome of :meth:`RunOwners.claim_run`: the run if claimed, else who holds it."""

    run: Run | None
    created: bool = False
    holder: Holder | None = None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _process_gone(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by another user
        return False
    return False


class RunOwners:
    """The ownership part of :class:`bench.store.Store` (a mixin over its ``session()``)."""

    def session(self):  # pragma: no cover - provided by Store
        raise NotImplementedError

    def claim_run(self, columns: dict[str, Any], owner: Owner, stale_after_s: float = STALE_AFTER_S) -> Claim:
        """Create the run with ``columns["run_key"]`` owned by ``owner``, or claim the stored one.

        A stored run is claimed when nobody holds it, when ``owner`` already
        does, or when the holder is stale; its ``status`` becomes ``running``
        unless it is ``complete`` (adding a protocol to a complete run keeps it complete).
        """
        now = utcnow()
        for _ in range(3):  # a concurrent insert or claim makes us read again
            try:
                with self.session() as s:
                    run = s.scalars(select(Run).where(Run.run_key == columns["run_key"])).one_or_none()
                    if run is None:
                        run = Run(
                            **columns,
                            status="running",
                            started_at=now,
                            owner=owner.token,
                            owner_host=owner.host,
                            owner_pid=owner.pid,
                            heartbeat_at=now,
                        )
                        s.add(run)
                        s.flush()
                        return Claim(run, created=True)
                    holder = self._holder(run, owner, now, stale_after_s)
                    if holder is not None:
                        return Claim(None, holder=holder)
                    status = run.status if run.status == "complete" else "running"
                    claimed = s.execute(
                        update(Run)
                        .where(Run.id == run.id, _same_owner(run.owner))
                        .values(
                            owner=owner.token,
                            owner_host=owner.host,
                            owner_pid=owner.pid,
                            heartbeat_at=now,
                            status=status,
                            error=None if status == "running" else run.error,
                        )
                    )
                    if claimed.rowcount == 1:
                        s.flush()
                        s.refresh(run)
                        return Claim(run)
            except IntegrityError:
                continue
        raise StoreError(f"could not claim run {columns['run_key'][:12]}: other processes keep claiming it")

    @staticmethod
    def _holder(run: Run, owner: Owner, now: datetime, stale_after_s: float) -> Holder | None:
        """Who holds ``run`` against ``owner``, or ``None`` when ``owner`` may claim it."""
        if run.owner is None or run.owner == owner.token:
            return None
        beat = _aware(run.heartbeat_at)
        age = (now - beat).total_seconds() if beat is not None else None
        if age is None or age > stale_after_s:
            return None
        if run.owner_host == owner.host and _process_gone(run.owner_pid):
            return None
        return Holder(run.id, run.owner_host, run.owner_pid, age)

    def heartbeat(self, run_id: int, token: str) -> bool:
        """Refresh the claim; False when this process no longer owns the run."""
        with self.session() as s:
            done = s.execute(update(Run).where(Run.id == run_id, Run.owner == token).values(heartbeat_at=utcnow()))
            return done.rowcount == 1

    def release_run(self, run_id: int, token: str, **fields: Any) -> bool:
        """Set ``fields`` (e.g. the final status) and give up the claim, in one transaction; False if not owned."""
        values = {**fields, "owner": None, "owner_pid": None, "heartbeat_at": None}
        if fields.get("status") in {"complete", "failed", "interrupted"}:
            values.setdefault("finished_at", utcnow())
        with self.session() as s:
            done = s.execute(update(Run).where(Run.id == run_id, Run.owner == token).values(**values))
            return done.rowcount == 1

    def _owned(self, session: Session, run_id: int, token: str) -> Run:
        """The run, inside a write transaction that first proves ``token`` still owns it."""
        proved = session.execute(update(Run).where(Run.id == run_id, Run.owner == token).values(heartbeat_at=utcnow()))
        if proved.rowcount != 1:
            run = session.get(Run, run_id)
            if run is None:
                raise StoreError(f"run {run_id} vanished from the store")
            raise OwnershipLost(
                f"run {run_id} is no longer owned by this process (now held by process {run.owner_pid} on "
                f"{run.owner_host}); stopped without writing"
            )
        return session.get(Run, run_id)  # type: ignore[return-value]


def _same_owner(token: str | None):
    return Run.owner.is_(None) if token is None else Run.owner == token
