"""Migrations apply from empty and are reversible one step, on both databases."""

from __future__ import annotations

from sqlalchemy import inspect

from ostiary.store import open_store
from ostiary.store.engine import current_revision, head_revision
from ostiary.store.tables import metadata
from tests.support.database import create_pg_database, drop_pg_database, pg_url

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = create_pg_database()
    yield pg_url(name)
    drop_pg_database(name)


def test_migrations_apply_from_empty_and_match_the_tables(empty_url):
    store = open_store(empty_url)
    try:
        store.migrate()
        assert current_revision(store.engine) == head_revision(store.engine)
        tables = set(inspect(store.engine).get_table_names()) - {"alembic_version"}
        assert tables == set(metadata.tables)
    finally:
        store.dispose()


def test_each_migration_step_reverses_and_reapplies(empty_url):
    store = open_store(empty_url)
    try:
        store.migrate()
        head = current_revision(store.engine)
        store.downgrade("-1")
        assert current_revision(store.engine) != head
        store.migrate()
        assert current_revision(store.engine) == head
        assert set(metadata.tables) <= set(inspect(store.engine).get_table_names())
    finally:
        store.dispose()


def test_a_store_behind_the_current_schema_is_refused_with_the_fix(empty_url):
    store = open_store(empty_url)
    try:
        store.migrate()
        store.downgrade("-1")
        with pytest.raises(Exception, match="ostiary migrate"):
            store.ensure_current()
    finally:
        store.dispose()
