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
        assert current_revision(store.engine) == head_revision()
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


def test_making_group_names_unique_regardless_of_case_refuses_existing_pairs_naming_them(empty_url):
    """Migration 0004 meets "STAFF" beside "staff": it names them and the fix, and changes nothing."""
    from alembic import command
    from sqlalchemy import text

    from ostiary.store.engine import MigrationRefused, alembic_config

    store = open_store(empty_url)
    try:
        command.upgrade(alembic_config(store.engine), "0003")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (id, slug, name, session_idle_seconds, session_absolute_seconds, created_at) VALUES (1, 'acme', 'Acme', 60, 60, 0)"))
            for i, name in enumerate(("staff", "STAFF", "sales"), 1):
                conn.execute(text(f"INSERT INTO groups (id, tenant_id, name, created_at) VALUES ({i}, 1, '{name}', 0)"))
        with pytest.raises(MigrationRefused) as refused:
            store.migrate()
        message = str(refused.value)
        assert 'tenant "acme": group "STAFF"' in message and 'group "staff"' in message and "sales" not in message
        assert "ostiary group delete" in message
        assert current_revision(store.engine) == "0003"
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM groups WHERE name = 'STAFF'"))
        store.migrate()
        assert current_revision(store.engine) == head_revision()
    finally:
        store.dispose()


def test_the_schema_check_reads_the_chain_as_alembic_does_without_loading_alembic():
    """A serving worker checks the schema without importing alembic (store/engine.py: its memory); its own
    reading of the migration files must agree with alembic's, and it must not load alembic."""
    import subprocess
    import sys

    from alembic.script import ScriptDirectory

    from ostiary.store.engine import alembic_config, head_revision, revisions

    script = ScriptDirectory.from_config(alembic_config(None))
    assert revisions() == [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert head_revision() == script.get_current_head()
    code = ("import sys, ostiary.app, ostiary.store.engine as e; e.revisions(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", loaded
