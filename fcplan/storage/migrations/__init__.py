"""Schema migrations (Alembic). :func:`fcplan.storage.migrate` brings a database to the newest revision.

Add a revision after changing ``fcplan/storage/schema.py``::

    .venv/bin/alembic revision --autogenerate -m "what changed"

(``alembic.ini`` at the repository root; the database is ``FCPLAN_DATABASE_URL``).
tests/storage/test_migrations.py fails while the newest revision and ``schema.py`` differ.
"""
