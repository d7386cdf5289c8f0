"""Opening a store's database and bringing its schema to the newest revision.

Any SQLAlchemy URL works; a plain path is an SQLite file. SQLite files get
WAL mode and a busy timeout so two runs can write to one file. A file that is
not SQLite, or a database that is not a mias-bench store, is refused before
anything is written to it. Schema changes go through the Alembic migrations in
``bench/store/migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from bench.errors import StoreError

_MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_MAGIC = b"SQLite format 3\x00"
OUR_TABLES = {"runs", "case_predictions", "evaluations", "case_metrics", "summaries"}


def safe_url(url: str) -> str:
    """``url`` with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


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


def open_engine(url: str) -> tuple[Engine, bool]:
    """An engine for ``url`` and whether it is SQLite; foreign files are refused untouched."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse database URL {url!r}: {exc}") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database not in (None, "", ":memory:"):
        _check_sqlite_file(Path(parsed.database))
    try:
        engine = create_engine(url, future=True)
    except Exception as exc:  # missing driver, bad options
        raise StoreError(f"cannot open database {safe_url(url)}: {exc}") from None
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine, is_sqlite


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


def upgrade_schema(engine: Engine, url: str) -> None:
    """Upgrade the schema to head; refuse databases that are not ours."""
    head = head_revision()
    try:
        with engine.begin() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
            tables = set(inspect(conn).get_table_names())
            if current is None and tables and not tables <= OUR_TABLES | {"alembic_version"}:
                raise StoreError(
                    f"{safe_url(url)} holds tables that are not a mias-bench store "
                    f"({', '.join(sorted(tables)[:5])}); refusing to change it"
                )
            script = ScriptDirectory.from_config(_alembic_config(None))
            if current is not None and current not in {r.revision for r in script.walk_revisions()}:
                raise StoreError(
                    f"{safe_url(url)} is at schema revision {current}, newer than this mias-bench "
                    f"knows (head {head}); upgrade mias-bench"
                )
            command.upgrade(_alembic_config(conn), "head")
    except StoreError:
        raise
    except OperationalError as exc:
        if _at_head_after_race(engine, head):
            return
        raise StoreError(f"cannot open database {safe_url(url)}: {exc.orig}") from None
    except DatabaseError as exc:
        raise StoreError(f"cannot open database {safe_url(url)}: {exc.orig}") from None


def _at_head_after_race(engine: Engine, head: str) -> bool:
    """Another process may have created the schema at the same moment."""
    try:
        return current_revision(engine) == head
    except Exception:
        return False
