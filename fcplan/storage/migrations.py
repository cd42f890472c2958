"""Schema migrations for databases created by an older fcplan.

``metadata.create_all`` makes new tables and, on a fresh database, every column
and index. A database made before a change lacks the new columns and indexes of
its existing tables: each migration adds what is missing (idempotent: it looks
before it alters, so two processes starting together are harmless) and is
recorded in ``schema_migrations``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, Table, inspect, select, text
from sqlalchemy.engine import Connection

from fcplan.storage.schema import forecast_alerts, forecast_runs, forecasts, plan_runs, schema_migrations


def add_missing(conn: Connection, table: Table) -> list[str]:
    """``ALTER TABLE ADD COLUMN`` (nullable) for each column of ``table`` the database
    lacks, then create its missing indexes; returns what it added."""
    inspector = inspect(conn)
    have = {c["name"] for c in inspector.get_columns(table.name)}
    quote = conn.dialect.identifier_preparer.quote
    added = []
    for column in table.columns:
        if column.name in have:
            continue
        if not column.nullable:
            raise RuntimeError(f"migration cannot add NOT NULL column {table.name}.{column.name} without a default")
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"))
        added.append(f"{table.name}.{column.name}")
    indexes = {i["name"] for i in inspect(conn).get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexes:
            index.create(conn)
            added.append(str(index.name))
    return added


def _loop_in_time(conn: Connection) -> None:
    for table in (forecast_alerts, forecast_runs, forecasts, plan_runs):
        add_missing(conn, table)


#: (version, name, function), in order; append, never edit an applied one.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "alert lifecycle and evidence, registry columns, indexes on forecasts.ds and created_at", _loop_in_time),
]


def migrate(engine: Engine) -> list[int]:
    """Apply the pending migrations (after ``create_all``); returns their versions."""
    from fcplan.storage import utcnow

    applied = []
    with engine.begin() as conn:
        done = set(conn.execute(select(schema_migrations.c.version)).scalars())
        for version, name, apply in MIGRATIONS:
            if version in done:
                continue
            apply(conn)
            conn.execute(schema_migrations.insert(), {"version": version, "name": name, "applied_at": utcnow()})
            applied.append(version)
    return applied
