"""Storage: one SQLAlchemy engine factory and dialect-neutral upserts.

SQLite (a file under ``./var/`` by default) and PostgreSQL are both first-class:
every write is an ``INSERT ... ON CONFLICT`` on a natural key, so replays and
retries never double-count.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, Table, create_engine, event, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError

from fcplan.storage.outage import is_outage
from fcplan.storage.schema import metadata

log = logging.getLogger(__name__)


class StorageError(RuntimeError):
    pass


def utcnow(moment: datetime | None = None) -> datetime:
    """Naive UTC now (the database stores naive UTC everywhere); ``moment`` (tz-aware: the clock's
    now, simulated in ``fcplan demo --simulate-days``) in its place when given, so what the loop
    writes reads against the same clock as the dashboard's today and the alerts."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is None:
        return moment  # already naive UTC, as the database stores it
    return moment.astimezone(UTC).replace(tzinfo=None)


def make_engine(
    url: str, create: bool = True, sqlite_cache_mib: int | None = None, sqlite_busy_ms: int = 30_000
) -> Engine:
    """An engine for ``url`` with the schema created or upgraded to the newest revision
    (``create``; see :func:`migrate`).

    SQLite files get their folder created (with ``create``), WAL journaling and a busy
    timeout (``sqlite_busy_ms``: how long a write waits for another process's lock
    before ``database is locked``) so the worker, the retrainer and the
    dashboard can share one file; ``sqlite_cache_mib`` sets each connection's
    page cache (SQLite's default is 2 MiB). Without ``create`` nothing is made: no
    folder, and a missing file fails to connect ("unable to open database file")
    instead of being created empty (the file is opened in SQLite's ``mode=rw``).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StorageError(
            f"unsupported database {url!r}: use sqlite:///path.db or postgresql+psycopg://user@host/db"
        )
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    on_disk = False
    if backend == "sqlite":
        on_disk = bool(parsed.database) and parsed.database != ":memory:" and not parsed.database.startswith("file:")
        path = Path(parsed.database).resolve() if on_disk else None
        if on_disk and create:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        elif on_disk:
            # Open the existing file only: a plain path would create it (empty) on connect.
            parsed = parsed.set(database=f"file:{quote(str(Path(parsed.database).resolve()))}",
                                query={**parsed.query, "mode": "rw", "uri": "true"})
        kwargs["connect_args"] = {"timeout": sqlite_busy_ms / 1000}
    engine = create_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", partial(_sqlite_pragmas, cache_mib=sqlite_cache_mib, busy_ms=sqlite_busy_ms))
        if on_disk:
            _watch_file(engine, path, url if create else None)  # type: ignore[arg-type]
    if create:
        _create_schema(engine)
    return engine


def _create_schema(engine: Engine, attempts: int = 10) -> None:
    """:func:`migrate`, tolerating another process migrating the same database at the
    same moment (replicas starting on a fresh database): a retry sees its work."""
    for attempt in range(attempts):
        started = time.monotonic()
        try:
            migrate(engine)
            _check_orders_table(engine)
            return
        except DBAPIError as exc:
            # A failure that took seconds is a lock the busy timeout already waited out (or
            # a server that is slow to refuse): another round would only hide it for longer.
            if attempt == attempts - 1 or (is_outage(exc) and time.monotonic() - started > 1.0):
                raise
            time.sleep(0.05 * (attempt + 1))


MIGRATIONS = Path(__file__).with_name("migrations")


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest schema revision (``fcplan/storage/migrations/versions``)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision a database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest revision, in place (a no-op when it is there).

    A database that fcplan created before it had migrations holds the tables of the
    first revision, which creates only the missing ones: it is upgraded like any other."""
    if current_revision(engine) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _MIGRATING, engine.begin() as conn:  # alembic's context is one per process
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


_MIGRATING = threading.Lock()


def _check_orders_table(engine: Engine) -> None:
    """An ``orders`` table from fcplan 0.1's first layout (``ts``/``hour`` text
    columns) cannot take the stream; say so instead of failing on the first batch."""
    from sqlalchemy import inspect

    columns = {c["name"] for c in inspect(engine).get_columns("orders")}
    if "ts_us" not in columns:
        raise StorageError(
            f"the orders table in {engine.url.render_as_string(hide_password=True)} has the old layout "
            f"({sorted(columns)}); this fcplan stores ts_us (epoch microseconds). Start on a fresh database, "
            "or drop the orders table (the hourly counts in center_hourly are kept) and restart the worker"
        )


FILE_ID = "fcplan_sqlite_file"


def _file_id(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the file at ``path`` now; None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _watch_file(engine: Engine, path: Path, url: str | None) -> None:
    """Notice the SQLite file being deleted or replaced under an open engine (``rm``, a backup
    restored with ``mv``): SQLite goes on writing to the file it opened, unlinked or not, so
    everything written after it would be lost without an error.

    Each connection remembers the file it opened (device and inode). Before a transaction
    uses it (pool checkout) and before each commit, one ``stat`` of the path says whether the
    path still names that file. If not, the change is logged as an error and raised as a
    :class:`~sqlalchemy.exc.DisconnectionError` (an outage to every caller: retried, nothing
    committed to the old file): the pool then opens the file now at the path. With ``url`` (an
    engine that creates its database) a deleted file is first created again with the schema
    (:func:`make_engine`), so the writers go on into it.
    """
    logged: set[tuple[tuple[int, int] | None, tuple[int, int] | None]] = set()

    def opened(_dbapi_conn: Any, record: Any) -> None:
        record.info[FILE_ID] = _file_id(path)

    def changed(opened_id: tuple[int, int] | None) -> bool:
        now = _file_id(path)
        if now == opened_id:
            return False
        if (opened_id, now) not in logged:  # once, not once per pooled connection
            logged.add((opened_id, now))
            log.error(
                "the SQLite database file %s was %s while open (inode %s, now %s); nothing more is written "
                "to the old file, %s. What was stored in the old file is not in the new one (to restore a "
                "backup, remove the old file's -wal and -shm files with it)",
                path, "deleted" if now is None else "replaced", opened_id and opened_id[1], now and now[1],
                "which is created again with the schema" if url and now is None
                else "the file now at that path is used" if now else "waiting for a file at that path",
            )
        return True

    def checkout(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if not changed(record.info.get(FILE_ID)):
            return
        # Close the idle connections to the old file now (this one is closed when the error below
        # invalidates it): they hold it, and its disk space, open. (SQLite does not checkpoint a
        # moved file on closing: its -wal stays, hence the advice in the log line above.)
        engine.pool.dispose()
        if url is not None and _file_id(path) is None:
            make_engine(url).dispose()  # the file again, with the schema
        raise DisconnectionError(f"the SQLite database file {path} was deleted or replaced while open")

    def commit(conn: Connection) -> None:
        if changed(conn.info.get(FILE_ID)):
            raise DisconnectionError(f"the SQLite database file {path} was deleted or replaced while open; "
                                     "the transaction was not committed to the old file")

    event.listen(engine, "connect", opened)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "commit", commit)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, cache_mib: int | None = None, busy_ms: int = 30_000) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    if cache_mib:
        cur.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # negative: KiB
    cur.close()


def dialect_insert(conn: Connection, table: Table) -> Any:
    return dialect_insert_for(conn.dialect.name, table)


def dialect_insert_for(dialect: str, table: Table) -> Any:
    """An ``INSERT`` into ``table`` that can take ``ON CONFLICT``, for a dialect by name."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StorageError(f"no upsert for dialect {dialect}: use SQLite or PostgreSQL")


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Iterable[str],
    update: Iterable[str] | None = None,
    where: Callable[[Table, Any], Any] | None = None,
) -> None:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update`` (or ``DO NOTHING``).

    ``where`` (built from the returned statement's ``excluded``) limits updates,
    e.g. to newer versions: a function ``f(table, excluded) -> clause``. The
    statement is built once per table, columns and ``where`` (so pass a
    module-level function, not a new lambda each call, on a hot path).
    """
    if not rows:
        return
    keys = tuple(keys)
    cols = tuple(update) if update is not None else tuple(c for c in rows[0] if c not in keys)
    conn.execute(_upsert_statement(conn.dialect.name, table, keys, cols, where), list(rows))


@lru_cache(maxsize=128)
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], cols: tuple[str, ...], where: Callable | None
) -> Any:
    stmt = dialect_insert_for(dialect, table)
    if not cols:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: stmt.excluded[c] for c in cols},
        where=where(table, stmt.excluded) if where is not None else None,
    )


def insert_select_upsert(conn: Connection, table: Table, select_stmt: Any, keys: list[str]) -> None:
    """``INSERT INTO table SELECT ... ON CONFLICT (keys) DO UPDATE`` every other column."""
    if conn.dialect.name == "sqlite" and select_stmt.whereclause is None:
        # Without a WHERE, SQLite parses `FROM t ON CONFLICT` as a join's ON clause.
        select_stmt = select_stmt.where(true())
    stmt = dialect_insert(conn, table)
    names = [c.name for c in table.columns]
    stmt = stmt.from_select(names, select_stmt)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in names if c not in keys}
    )
    conn.execute(stmt)


def reset(engine: Engine) -> None:
    """Drop and recreate every table (demo start, tests)."""
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate(engine)
