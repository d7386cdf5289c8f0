"""Opening a store's database and bringing its schema to the newest revision.

Any SQLAlchemy URL works; a plain path is an SQLite file. What opening
guarantees:

- **Nothing is written to a file that is not a mias-bench store.** An
  existing SQLite file is first read through a read-only connection: a file
  that is not SQLite, that fails SQLite's quick integrity check, or that
  holds tables without mias-bench's ``alembic_version`` (another program's
  database, even one with a table called ``runs``) is refused before the
  writable connection switches it to WAL mode.
- **First creation is atomic.** The schema is created (or upgraded) inside
  one ``BEGIN IMMEDIATE`` transaction on SQLite, or under an advisory lock
  on PostgreSQL: a process killed halfway leaves the database as it was, and
  processes opening one fresh file at once wait for each other.
- **Read-only stores** (``readonly=True``) never write: SQLite is opened
  with ``mode=ro`` (``immutable=1`` when even the WAL index cannot be made,
  as on a read-only filesystem), PostgreSQL with read-only transactions.
- **A server that never answers fails in bounded time**: PostgreSQL gets a
  connect timeout (``MIAS_BENCH_DB_CONNECT_TIMEOUT`` seconds, default 10)
  and a statement timeout (``MIAS_BENCH_DB_STATEMENT_TIMEOUT``, default
  600; 0 = none) unless the URL sets its own.
- **Failures are one line** (:func:`store_error`), a full disk included.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bench.errors import StoreError

_MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_MAGIC = b"SQLite format 3\x00"
OUR_TABLES = {"runs", "case_predictions", "evaluations", "case_metrics", "summaries"}
VERSION_TABLE = "alembic_version"
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_ENV = "MIAS_BENCH_DB_CONNECT_TIMEOUT"
STATEMENT_TIMEOUT_ENV = "MIAS_BENCH_DB_STATEMENT_TIMEOUT"
_DEFAULT_CONNECT_TIMEOUT_S = 10
_DEFAULT_STATEMENT_TIMEOUT_S = 600
#: Any constant: the key of the PostgreSQL advisory lock that serialises schema changes.
_SCHEMA_LOCK_KEY = 0x6D696173


def safe_url(url: str) -> str:
    """``url`` with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def store_error(exc: DBAPIError, url: str, doing: str = "use") -> StoreError:
    """One line for a database failure, naming the store and, for the usual causes, what happened."""
    reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
    lowered = reason.lower()
    where = safe_url(url).removeprefix("sqlite:///")
    if "full" in lowered or "no space" in lowered:
        return StoreError(
            f"cannot write to the store {where}: the disk is full ({reason}); "
            "the transaction was rolled back and what was stored before is intact"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"the store {where} is read-only here ({reason}); nothing was written")
    return StoreError(f"cannot {doing} the store {where}: {reason}")


# -- SQLite: checks before any write --------------------------------------------------------------


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _read_only_connect(path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    flags = "immutable=1" if immutable else "mode=ro"
    conn = sqlite3.connect(f"file:{quote(str(path))}?{flags}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; ``immutable`` when SQLite cannot even create the WAL index (read-only folder)."""
    try:
        conn = _read_only_connect(path)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise
    return _read_only_connect(path, immutable=True)


def _inspect_sqlite_file(path: Path) -> None:
    """Refuse, before anything writes to it, a file that is not a healthy mias-bench store."""
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise StoreError(
            f"{path} is not an SQLite database (expected a file starting with 'SQLite format 3'); "
            "it was left untouched. Pass --db with another path or URL."
        )
    try:
        with closing(_connect_read_only(path)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise StoreError(
                    f"{path} fails SQLite's integrity check (PRAGMA quick_check: {'; '.join(problems)}); "
                    "it was left untouched: restore it from a backup, or recover it with the sqlite3 shell's .recover"
                )
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} cannot be read as an SQLite database ({exc}); it was left untouched") from None
    _refuse_foreign(tables, str(path))


def _refuse_foreign(tables: set[str], where: str) -> None:
    """A database with tables but without our version table, or with tables we never create, is not ours."""
    tables = {t for t in tables if not t.startswith("sqlite_")}
    foreign = sorted(tables - OUR_TABLES - {VERSION_TABLE})
    if foreign or (tables and VERSION_TABLE not in tables):
        shown = ", ".join((foreign or sorted(tables))[:5])
        raise StoreError(
            f"{where} holds tables that are not a mias-bench store ({shown}; no mias-bench schema version "
            f"{'table' if VERSION_TABLE not in tables else 'for them'}); refusing to change it. "
            "Pass --db with another path or URL."
        )


def _check_sqlite_file(path: Path, readonly: bool) -> None:
    if path.is_dir():
        raise StoreError(f"database path {path} is a folder; expected an SQLite file")
    if path.exists() and path.stat().st_size > 0:
        _inspect_sqlite_file(path)
        return
    if readonly:
        raise StoreError(f"no store at {path}: nothing has been stored there yet (run `mias-bench run` first)")
    if not path.parent.is_dir():
        raise StoreError(f"cannot create database {path}: folder {path.parent} does not exist")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# -- PostgreSQL: bounded waits --------------------------------------------------------------------


def _seconds(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 10**7:
        raise StoreError(f"{variable}={raw!r}: expected a number of seconds >= 0")
    return int(round(value))


def _postgres_connect_args(url: str) -> dict[str, Any]:
    """libpq's connect timeout and a statement timeout, unless the URL already sets them."""
    query = make_url(url).query
    args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        # libpq treats 0 as "wait forever" and values under 2 as 2.
        args["connect_timeout"] = max(2, _seconds(CONNECT_TIMEOUT_ENV, _DEFAULT_CONNECT_TIMEOUT_S))
    statement = _seconds(STATEMENT_TIMEOUT_ENV, _DEFAULT_STATEMENT_TIMEOUT_S)
    if "options" not in query and statement:
        args["options"] = f"-c statement_timeout={statement * 1000}"
    return args


# -- engines ----------------------------------------------------------------------------------------


def open_engine(url: str, *, readonly: bool = False) -> tuple[Engine, bool]:
    """An engine for ``url`` and whether it is SQLite; foreign or damaged files are refused untouched.

    Raises:
        StoreError: the URL does not parse, the file is not a healthy
            mias-bench store, a read-only store does not exist, or the driver is missing.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    path = _sqlite_path(url)
    if path is not None:
        _check_sqlite_file(path, readonly)
    kwargs: dict[str, Any] = {}
    if path is not None and readonly:
        kwargs["creator"] = _sqlite_creator(path)
    elif backend == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
        kwargs["connect_args"] = _postgres_connect_args(url)
        if readonly:
            kwargs["connect_args"]["options"] = (
                kwargs["connect_args"].get("options", "") + " -c default_transaction_read_only=on"
            ).strip()
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # missing driver, bad options
        raise StoreError(f"cannot open database {safe_url(url)}: {exc}") from None
    if path is not None and not readonly:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine, backend == "sqlite"


def _sqlite_creator(path: Path) -> Callable[[], sqlite3.Connection]:
    def connect() -> sqlite3.Connection:
        conn = _connect_read_only(path)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    return connect


# -- schema -------------------------------------------------------------------------------------


def _alembic_config(connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config(None))
    return script.get_current_head()  # type: ignore[return-value]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_head(engine: Engine, url: str) -> None:
    """For a read-only store: the schema must already be the one this mias-bench reads."""
    try:
        current = current_revision(engine)
    except DBAPIError as exc:
        raise store_error(exc, url, "open") from None
    head = head_revision()
    if current != head:
        raise StoreError(
            f"the store {safe_url(url)} is at schema revision {current}, this mias-bench reads {head}; "
            "open it once from a command that writes (e.g. `mias-bench run`) to upgrade it"
        )


def _upgrade_locked(conn: Connection, url: str, head: str) -> None:
    """Inside the caller's exclusive transaction: check the database is ours, then migrate to head."""
    current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return  # another process got there first
    _refuse_foreign(set(inspect(conn).get_table_names()), safe_url(url))
    script = ScriptDirectory.from_config(_alembic_config(None))
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise StoreError(
            f"{safe_url(url)} is at schema revision {current}, newer than this mias-bench "
            f"knows (head {head}); upgrade mias-bench"
        )
    command.upgrade(_alembic_config(conn), "head")


def upgrade_schema(engine: Engine, url: str) -> None:
    """Upgrade the schema to head in one transaction; refuse databases that are not ours.

    SQLite's Python driver runs DDL outside any transaction unless one is
    opened explicitly, so the migration runs between an explicit
    ``BEGIN IMMEDIATE`` (which also makes concurrent openers wait their
    turn) and ``COMMIT``.
    """
    head = head_revision()
    try:
        if current_revision(engine) == head:
            return
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # we issue BEGIN and COMMIT
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    _upgrade_locked(conn, url, head)
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
                conn.exec_driver_sql("COMMIT")
        else:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
                _upgrade_locked(conn, url, head)
    except DBAPIError as exc:
        raise store_error(exc, url, "open") from None
