"""Schema migrations: the newest revision is exactly ``schema.py``, and old databases upgrade in place."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fcplan.storage import current_revision, head_revision, make_engine, migrate
from fcplan.storage.schema import metadata

pytestmark = pytest.mark.integration


def test_when_migrated_then_the_database_is_exactly_the_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], (
        f"fcplan/storage/schema.py and the newest migration differ: {diff}; add a revision "
        "(.venv/bin/alembic revision --autogenerate -m '...')"
    )
    assert current_revision(engine) == head_revision()


def test_when_a_database_predates_migrations_then_it_is_upgraded_in_place_with_its_rows(db_url: str) -> None:
    legacy = sa.create_engine(db_url)
    metadata.create_all(legacy)  # how fcplan made its tables before it had migrations
    with legacy.begin() as conn:
        conn.execute(sa.text("INSERT INTO demand_truth VALUES ('FC-1', '2024-01-01 00:00:00', 3.5)"))
    legacy.dispose()
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT expected_orders FROM demand_truth")).scalar() == 3.5


def test_when_the_database_is_at_the_newest_revision_then_migrating_again_changes_nothing(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
