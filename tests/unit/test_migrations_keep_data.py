"""Every migration goes up, down and up again on a populated database without
losing a row of the tables both revisions share, on SQLite and PostgreSQL.

The rows are made from the schema each revision reflects (every table, every
column filled, foreign keys pointing at real rows), so a new migration is
covered without touching this file."""

from __future__ import annotations

import itertools

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, func, insert, select

from ostiary import secretbox
from ostiary.store import open_store
from ostiary.store.engine import alembic_config, current_revision
from tests.support.database import create_pg_database, drop_pg_database, pg_url

ROWS_PER_TABLE = 3


def _steps() -> list[tuple[str | None, str]]:
    """(down revision, revision) for every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(None))
    return [(rev.down_revision, rev.revision) for rev in reversed(list(script.walk_revisions()))]


STEPS = _steps()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'populated.db'}"
        return
    name = create_pg_database()
    yield pg_url(name)
    drop_pg_database(name)


def _schema(engine: Engine) -> MetaData:
    schema = MetaData()
    schema.reflect(engine)
    schema.remove(schema.tables["alembic_version"]) if "alembic_version" in schema.tables else None
    return schema


def _value(column, serial: int, parents: dict, table_rows: list[dict]):
    """A value for `column` that is unique (serial), of its type, and for a
    foreign key one of the referenced rows."""
    if column.foreign_keys:
        fk = next(iter(column.foreign_keys))
        target = fk.column
        if target.table.name == column.table.name:  # a tree: point at the row inserted just before
            return table_rows[-1][target.name] if table_rows else None
        rows = parents[target.table.name]
        return rows[serial % len(rows)][target.name]
    kind = column.type.python_type
    if kind is bool:
        return serial % 2 == 0
    if kind is int:
        return serial
    if kind is float:
        return serial + 0.5
    if kind is bytes:
        return f"v{serial}".encode()
    text = f"v{serial}"
    length = getattr(column.type, "length", None)
    assert length is None or len(text) <= length, f"{column} is too short for generated values"
    return text


def _populate(engine: Engine, serials: itertools.count) -> None:
    """ROWS_PER_TABLE more rows in every table of the current revision."""
    schema = _schema(engine)
    inserted: dict[str, list[dict]] = {}
    with engine.begin() as conn:
        for table in schema.sorted_tables:
            rows: list[dict] = []
            for i in range(ROWS_PER_TABLE):
                serial = next(serials)
                # Each batch's references go to rows of the same batch, so composite keys stay unique.
                row = {c.name: _value(c, i, inserted, rows) if c.foreign_keys else _value(c, serial, inserted, rows)
                       for c in table.columns}
                conn.execute(insert(table).values(row))
                rows.append(row)
            inserted[table.name] = rows


def _clear(value) -> str:
    """A value as text, opened when the secret box sealed it (0007 seals secrets when a key is configured,
    as it is for the tests), so a sealed value compares equal to the clear one it holds."""
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return secretbox.from_environment().open(value) if secretbox.is_sealed(value) else str(value)


def _contents(engine: Engine) -> dict[str, tuple[int, set[str], set[tuple]]]:
    """Each table's row count, its columns and its rows (every column, as
    text, so both databases compare alike)."""
    schema = _schema(engine)
    found = {}
    with engine.connect() as conn:
        for table in schema.sorted_tables:
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            rows = {tuple(sorted((k, _clear(v)) for k, v in row._mapping.items())) for row in conn.execute(select(table))}
            found[table.name] = (count, {c.name for c in table.columns}, rows)
    return found


def _assert_kept(before: dict, after: dict, tables: set[str], columns: dict, where: str) -> None:
    """Each of `tables` has as many rows after as before, and the same rows on `columns[table]`."""
    for name in sorted(tables):
        assert name in after, f"{where}: table {name} is gone"
        assert after[name][0] == before[name][0], f"{where}: {name} had {before[name][0]} rows, now {after[name][0]}"
        keep = columns[name]
        assert {tuple(kv for kv in row if kv[0] in keep) for row in after[name][2]} == \
            {tuple(kv for kv in row if kv[0] in keep) for row in before[name][2]}, f"{where}: the rows of {name} changed"


def test_the_steps_cover_every_migration_from_empty():
    assert STEPS and STEPS[0][0] is None
    assert [down for down, _ in STEPS[1:]] == [rev for _, rev in STEPS[:-1]]


@pytest.mark.parametrize("down, revision", STEPS, ids=[rev for _, rev in STEPS])
def test_each_migration_goes_up_down_and_up_again_keeping_every_row(empty_url, down, revision):
    store = open_store(empty_url)
    serials = itertools.count(1)
    cfg = alembic_config(store.engine)
    try:
        from alembic import command

        if down is not None:
            command.upgrade(cfg, down)
            _populate(store.engine, serials)
        below = _contents(store.engine)
        lower = {name: columns for name, (_, columns, _) in below.items()}

        command.upgrade(cfg, revision)
        assert current_revision(store.engine) == revision
        _assert_kept(below, _contents(store.engine), set(lower), lower, f"upgrading {down} to {revision}")
        _populate(store.engine, serials)
        full = _contents(store.engine)
        assert all(count >= ROWS_PER_TABLE for count, _, _ in full.values())

        command.downgrade(cfg, down or "base")
        assert current_revision(store.engine) == down
        after_down = _contents(store.engine)
        assert set(after_down) == set(lower), f"downgrading {revision} to {down}: tables differ from {down}'s"
        # What the lower revision has, every row of it survives (what only the upper one had cannot).
        shared = set(lower) & set(full)
        _assert_kept(full, after_down, shared, lower, f"downgrading {revision} to {down or 'empty'}")

        command.upgrade(cfg, revision)
        _assert_kept(full, _contents(store.engine), shared, lower, f"upgrading {down} to {revision} again")
    finally:
        store.dispose()


def test_ostiary_migrate_down_and_up_keeps_memberships_and_sessions(store, db_url, tmp_path):
    """The reported case, through the command an operator runs: 0002 -> 0001 -> 0002 with people in groups
    and signed in."""
    import os

    from click.testing import CliRunner

    from ostiary.cli import main
    from ostiary.services.rules import groups, sessions, tenants, users
    from ostiary.services.base.actor import CLI_ACTOR

    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery", CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    groups.add_group(store, tid, CLI_ACTOR, "staff")
    for i in range(3):
        row = users.add_user(store, tid, CLI_ACTOR, email=f"u{i}@acme.test")
        groups.add_member(store, tid, CLI_ACTOR, "staff", f"u{i}@acme.test")
        sessions.create_session(store, tid, row.id)
    before = _contents(store.engine)
    first, head = STEPS[0][1], STEPS[-1][1]
    env = {**{k: None for k in os.environ if k.startswith("OSTIARY_")},
           "OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    down = CliRunner().invoke(main, ["migrate", "--to", first], env=env)
    assert down.exit_code == 0, down.output
    assert f"went down from schema {head} to {first}" in down.output
    assert current_revision(store.engine) == first
    assert before["memberships"][0] == before["sessions"][0] == 3
    for name in ("users", "groups", "memberships", "sessions"):
        assert _contents(store.engine)[name][0] == before[name][0], name
    up = CliRunner().invoke(main, ["migrate"], env=env)
    assert up.exit_code == 0, up.output
    after = _contents(store.engine)
    lower = {name: columns for name, (_, columns, _) in _contents(store.engine).items()}
    _assert_kept(before, after, {"users", "groups", "memberships", "sessions", "audit_log"}, lower, "down and up")


def test_migrate_to_an_unknown_revision_is_refused_naming_the_known_ones(store, db_url, tmp_path):
    import os

    from click.testing import CliRunner

    from ostiary.cli import main

    env = {**{k: None for k in os.environ if k.startswith("OSTIARY_")}, "OSTIARY_DATABASE_URL": db_url}
    result = CliRunner().invoke(main, ["migrate", "--to", "0999"], env=env)
    assert result.exit_code == 2
    assert "0999" in result.output and STEPS[0][1] in result.output
    assert current_revision(store.engine) == STEPS[-1][1]
