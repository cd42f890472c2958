"""Alembic's entry point: runs the migrations on the connection fcplan passes in
(``config.attributes["connection"]``), or on ``FCPLAN_DATABASE_URL`` from the alembic CLI."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from fcplan.storage.schema import metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    import os

    url = os.environ.get("FCPLAN_DATABASE_URL", "sqlite:///var/fcplan.db")
    with create_engine(url).connect() as conn:
        _run(conn)


main()
