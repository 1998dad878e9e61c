"""`ostiary restore` refuses, before changing anything, a file that is not a
backup, a backup from a schema this Ostiary does not know and a backup whose
secrets the configured key does not decrypt, on SQLite and on PostgreSQL (where
the checks read the pg_dump archive itself, with a real pg_dump and
pg_restore); `ostiary backup` writes an owner-only file (docs/operations.md,
"Backups")."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from ostiary.backup import BackupRefused, _archive_tables, backup, restore
from ostiary.secretbox import SecretBox, SecretsUnreadable
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules import keys as keys_service
from ostiary.services.rules import tenants, users
from ostiary.store import open_store
from ostiary.store.engine import head_revision
from tests.support.database import create_pg_database, drop_pg_database, pg_url
from tests.support.world import database_kind, database_url


def _box(tmp_path, name: str) -> SecretBox:
    path = tmp_path / name
    path.write_text(Fernet.generate_key().decode() + "\n")
    return SecretBox.from_file(path)


def _sql(url: str, statement: str, **params) -> list:
    store = open_store(url)
    try:
        with store.write() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else []
    finally:
        store.dispose()


def _live(url: str) -> tuple:
    """What a restore would replace: the schema revision, the signing keys and the people."""
    return (_sql(url, "SELECT version_num FROM alembic_version"), _sql(url, "SELECT id FROM signing_keys ORDER BY id"),
            _sql(url, "SELECT email FROM users ORDER BY email"))


@pytest.fixture(params=["sqlite", "postgresql"])
def installation(request, tmp_path):
    """A live installation with a signing key sealed by the right key and one tenant."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live' / 'ostiary.db'}"
    else:
        name = create_pg_database(template=request.getfixturevalue("pg_template"))
        url = pg_url(name)
    box = _box(tmp_path, "right")
    store = open_store(url, box)
    store.migrate()
    keys_service.ensure_signing_key(store)
    tenant = tenants.add_tenant(store, "acme", CLI_ACTOR).id
    store.dispose()
    yield url, box, tenant
    if name:
        drop_pg_database(name)


def _moves_on(url: str, box: SecretBox, tenant: int) -> tuple:
    """The live installation changes after the backup: a key rotation, a new person."""
    store = open_store(url, box)
    try:
        keys_service.rotate_keys(store, CLI_ACTOR, 0)
        users.add_user(store, tenant, CLI_ACTOR, email="newcomer@acme.test")
    finally:
        store.dispose()
    live = _live(url)
    assert len(live[1]) == 2 and live[2] == [("newcomer@acme.test",)]
    return live


def test_a_backup_whose_secrets_the_key_does_not_open_is_refused_before_anything_changes(installation, tmp_path):
    url, box, tenant = installation
    copy = tmp_path / "copy.backup"
    backup(url, copy)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    backed_up = _live(url)
    live = _moves_on(url, box, tenant)
    with pytest.raises(SecretsUnreadable, match="OSTIARY_SECRET_KEY_FILE .* does not decrypt"):
        restore(url, copy, _box(tmp_path, "wrong"))
    assert _live(url) == live, "a refused restore changed the live database"

    restore(url, copy, box)  # the right key restores it: the newcomer and the new key are gone
    assert _live(url) == backed_up


def test_a_backup_from_a_schema_this_ostiary_does_not_know_is_refused_before_anything_changes(installation,
                                                                                              tmp_path):
    url, box, tenant = installation
    _sql(url, "UPDATE alembic_version SET version_num = 'f00dfeed'")  # as a newer release would leave it
    copy = tmp_path / "newer.backup"
    backup(url, copy)
    _sql(url, "UPDATE alembic_version SET version_num = :head", head=head_revision())
    live = _moves_on(url, box, tenant)
    with pytest.raises(BackupRefused, match="holds schema f00dfeed, which this Ostiary does not know"):
        restore(url, copy, box)
    assert _live(url) == live, "a refused restore changed the live database"


def test_a_file_that_is_not_a_backup_is_refused(installation, tmp_path):
    url, box, _ = installation
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a database at all, just some bytes" * 200)
    live = _live(url)
    refusal = "not an SQLite database" if url.startswith("sqlite") else "as a pg_dump archive failed"
    with pytest.raises(BackupRefused, match=refusal):
        restore(url, junk, box)
    assert _live(url) == live


# -- PostgreSQL: what the checks read from the archive ---------------------------------

# Every escape COPY's text format writes: tab, newline, carriage return, backslash, the
# other control characters, a value that reads like NULL's marker, and non-ASCII text.
AWKWARD = ["tab\there", "two\nlines\r\n", "back\\slash \\N \\.", "\\N", "\b\f\v\x01", "Zoë 李", "", " "]


@pytest.mark.parametrize("installation", ["postgresql"], indirect=True)
def test_the_archive_reader_reads_each_value_as_the_database_holds_it(installation, tmp_path):
    url, box, tenant = installation
    for number, value in enumerate(AWKWARD):  # stored in the clear, as before a key was configured
        _sql(url, "INSERT INTO users (tenant_id, email, username, display_name, totp_secret, is_admin, active, "
                  "created_at, updated_at) VALUES (:t, :e, :u, 'x', :v, false, true, 0, 0)",
             t=tenant, e=f"p{number}@acme.test", u=f"p{number}", v=value)
    _sql(url, "INSERT INTO users (tenant_id, email, username, display_name, is_admin, active, created_at, "
              "updated_at) VALUES (:t, 'none@acme.test', 'none', 'x', false, true, 0, 0)", t=tenant)
    copy = tmp_path / "awkward.backup"
    backup(url, copy)

    tables = _archive_tables("pg_restore", copy, ("users", "signing_keys"))
    assert set(tables) == {("public", "users"), ("public", "signing_keys")}
    held = [row[0] for row in _sql(url, "SELECT totp_secret FROM users WHERE totp_secret IS NOT NULL ORDER BY id")]
    assert held == AWKWARD
    assert tables[("public", "users")].values("totp_secret") == held
    assert tables[("public", "signing_keys")].values("secret") == \
        [row[0] for row in _sql(url, "SELECT secret FROM signing_keys ORDER BY id")]
    assert tables[("public", "users")].values("no_such_column") == []
    restore(url, copy, box)  # values in the clear are no reason to refuse


@pytest.mark.parametrize("installation", ["postgresql"], indirect=True)
def test_a_backup_with_another_schema_holding_alembic_version_is_checked_in_ostiarys_own(installation, tmp_path):
    """A database shared with another application: its schema's alembic_version and `users`
    table are not Ostiary's; the checks read the schema the search path finds first."""
    url, box, tenant = installation
    _sql(url, "CREATE SCHEMA other")
    _sql(url, "CREATE TABLE other.alembic_version (version_num text NOT NULL)")
    _sql(url, "INSERT INTO other.alembic_version VALUES ('notours1')")
    _sql(url, "CREATE TABLE other.users (id integer, totp_secret text)")
    _sql(url, "INSERT INTO other.users VALUES (1, :v)", v=_box(tmp_path, "theirs").seal("their secret"))
    copy = tmp_path / "shared.backup"
    backup(url, copy)
    _moves_on(url, box, tenant)
    restore(url, copy, box)
    assert _live(url)[2] == [], "the restore was refused over another application's tables"

    _sql(url, "UPDATE alembic_version SET version_num = 'f00dfeed'")  # now Ostiary's own is unknown
    newer = tmp_path / "newer.backup"
    backup(url, newer)
    _sql(url, "UPDATE alembic_version SET version_num = :head", head=head_revision())
    with pytest.raises(BackupRefused, match="holds schema f00dfeed"):
        restore(url, newer, box)


# -- A backup from an older schema -------------------------------------------------------

OLDER = "0007"  # before the OIDC provider's tables (0008), which refer to `users`


def _older_installation(url: str, box: SecretBox) -> dict[str, str]:
    """An installation at schema OLDER: a person with a password and a TOTP secret, and a signing
    key, written at 0006 and sealed by migration 0007 with `box`; returns the secrets in the clear."""
    from alembic import command

    from ostiary.services.base.passwords import hash_password
    from ostiary.store.engine import alembic_config, create_owner_only, sqlite_file

    clear = {"key": "k" * 43, "totp": "JBSWY3DPEHPK3PXP"}
    store = open_store(url, box)
    try:
        if url.startswith("sqlite"):
            create_owner_only(sqlite_file(url))  # the file and its directory, as `ostiary init` makes them
        command.upgrade(alembic_config(store.engine, box), "0006")
        with store.write() as conn:
            conn.execute(text("INSERT INTO tenants (id, slug, name, session_idle_seconds, session_absolute_seconds, "
                              "created_at) VALUES (1, 'acme', 'Acme', 3600, 86400, 0)"))
            conn.execute(text("INSERT INTO users (id, tenant_id, email, username, display_name, password_hash, "
                              "totp_secret, is_admin, active, created_at, updated_at) VALUES (1, 1, 'old@acme.test', "
                              "'old', 'Old', :hash, :totp, false, true, 0, 0)"),
                         {"hash": hash_password("an old password"), "totp": clear["totp"]})
            conn.execute(text("INSERT INTO signing_keys (id, secret, created_at) VALUES ('oldkey', :key, 0)"),
                         {"key": clear["key"]})
        command.upgrade(alembic_config(store.engine, box), OLDER)  # seals both with `box`
    finally:
        store.dispose()
    return clear


def _migrate(url: str, key_file, tmp_path) -> None:
    """`ostiary migrate`, as the operator runs it after the restore."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OSTIARY_DATABASE_URL": url, "OSTIARY_DATA_DIR": str(tmp_path),
           "OSTIARY_CONFIG": "", "OSTIARY_SECRET_KEY_FILE": str(key_file)}
    ran = subprocess.run([sys.executable, "-m", "ostiary", "migrate"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr


@pytest.fixture
def older_backup(installation, tmp_path):
    """A backup of another installation at schema OLDER, sealed with the live installation's key."""
    url, box, _ = installation
    with database_url(database_kind(url), tmp_path / "older") as older_url:
        clear = _older_installation(older_url, box)
        copy = tmp_path / "older.backup"
        backup(older_url, copy)
        yield copy, clear


def test_a_backup_from_an_older_schema_restores_and_ostiary_migrate_brings_it_up_to_date(installation,
                                                                                          older_backup, tmp_path):
    from ostiary.serving import prepare_secrets
    from ostiary.config import Settings

    url, box, tenant = installation
    copy, clear = older_backup
    _moves_on(url, box, tenant)
    restore(url, copy, box)
    assert _sql(url, "SELECT version_num FROM alembic_version") == [(OLDER,)]
    assert _sql(url, "SELECT email FROM users ORDER BY email") == [("old@acme.test",)]

    _migrate(url, tmp_path / "right", tmp_path)
    store = open_store(url, box)
    try:
        store.ensure_current()
        prepare_secrets(store, Settings(database_url=url, data_dir=tmp_path))  # as `ostiary serve` does
        assert users.authenticate(store, 1, "old@acme.test", "an old password") is not None
        assert users.authenticate(store, 1, "old@acme.test", "another password") is None
        with store.read() as conn:
            secret, totp = conn.execute(text("SELECT s.secret, u.totp_secret FROM signing_keys s, users u")).one()
            assert conn.execute(text("SELECT count(*) FROM oidc_codes")).scalar() == 0  # 0008's tables, empty
        assert (box.open(secret), box.open(totp)) == (clear["key"], clear["totp"])
    finally:
        store.dispose()


def test_an_older_backup_sealed_with_another_key_is_refused_before_anything_changes(installation, tmp_path):
    url, box, tenant = installation
    with database_url(database_kind(url), tmp_path / "older") as older_url:
        _older_installation(older_url, _box(tmp_path, "other"))
        copy = tmp_path / "older-other.backup"
        backup(older_url, copy)
    live = _moves_on(url, box, tenant)
    with pytest.raises(SecretsUnreadable, match="OSTIARY_SECRET_KEY_FILE .* does not decrypt"):
        restore(url, copy, box)
    assert _live(url) == live, "a refused restore changed the live database"


@pytest.mark.parametrize("installation", ["postgresql"], indirect=True)
def test_restoring_an_older_backup_drops_only_ostiarys_own_newer_tables(installation, older_backup, tmp_path):
    """A database shared with another application: its tables (one named like an Ostiary table, in its
    own schema) stay; one of them referring to a table the restore must drop makes it refuse, unchanged."""
    url, box, tenant = installation
    copy, _ = older_backup
    _sql(url, "CREATE TABLE public.widgets (id integer PRIMARY KEY)")
    _sql(url, "INSERT INTO public.widgets VALUES (7)")
    _sql(url, "CREATE SCHEMA other")
    _sql(url, "CREATE TABLE other.oidc_codes (id integer)")
    _sql(url, "INSERT INTO other.oidc_codes VALUES (8)")
    _sql(url, "CREATE TABLE public.widget_clients (client_id text REFERENCES oidc_clients (client_id))")
    live = _moves_on(url, box, tenant)
    with pytest.raises(BackupRefused, match="restoring with psql failed: .*widget_clients"):
        restore(url, copy, box)
    assert _live(url) == live, "a refused restore changed the live database"

    _sql(url, "DROP TABLE public.widget_clients")
    restore(url, copy, box)
    assert _sql(url, "SELECT version_num FROM alembic_version") == [(OLDER,)]
    assert _sql(url, "SELECT id FROM public.widgets") == [(7,)]
    assert _sql(url, "SELECT id FROM other.oidc_codes") == [(8,)]


@pytest.mark.parametrize("installation", ["postgresql"], indirect=True)
def test_a_backup_cut_short_is_refused_part_way_and_nothing_of_it_is_committed(installation, tmp_path):
    """The restore streams pg_restore's script into psql as it is written; when pg_restore fails
    after psql has run part of it (here the archive's last table data is cut off, as in a copy that
    stopped early, after the rows the checks read), psql's one transaction must not commit."""
    url, box, tenant = installation
    whole = tmp_path / "whole.backup"
    backup(url, whole)
    live = _moves_on(url, box, tenant)
    cut = tmp_path / "cut.backup"
    cut.write_bytes(whole.read_bytes()[:-16])
    with pytest.raises(BackupRefused, match="^pg_restore failed: .*"):
        restore(url, cut, box)
    assert _live(url) == live, "a restore that failed part way changed the live database"
    restore(url, whole, box)  # the whole file still restores
    assert _live(url) != live


def test_a_backup_lacking_one_of_its_schemas_tables_is_refused_before_anything_changes(installation, tmp_path):
    """A partial copy (here: signing_keys left out, as `pg_dump --exclude-table` or a table
    dropped by hand leaves it) has a known revision and secrets the key opens, yet restoring it
    would leave Ostiary without a table its schema has."""
    url, box, tenant = installation
    partial = tmp_path / "partial.backup"
    if url.startswith("sqlite"):
        backup(url, partial)
        import sqlite3

        with sqlite3.connect(partial) as conn:
            conn.execute("DROP TABLE signing_keys")
    else:
        import subprocess

        from ostiary.backup import _libpq

        dbname, env = _libpq(url)
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--exclude-table=signing_keys", "--file",
                        str(partial), *dbname], env=env, check=True)
    live = _moves_on(url, box, tenant)
    with pytest.raises(BackupRefused, match=r"lacks tables its schema \w+ has \(signing_keys\): it is not a whole "):
        restore(url, partial, box)
    assert _live(url) == live, "a refused restore changed the live database"


def test_an_installation_in_a_schema_whose_name_has_a_space_backs_up_and_restores(tmp_path):
    """pg_restore --list writes a table's schema and name unquoted, separated by spaces: the
    tables are found by the names Ostiary knows, so a schema called "ostiary data" reads right."""
    name = create_pg_database()
    try:
        with _admin_connection(name) as conn:
            conn.execute('CREATE SCHEMA "ostiary data"')
            conn.execute(f'ALTER DATABASE "{name}" SET search_path = "ostiary data"')
        url, box = pg_url(name), _box(tmp_path, "right")
        store = open_store(url, box)
        store.migrate()
        keys_service.ensure_signing_key(store)
        tenant = tenants.add_tenant(store, "acme", CLI_ACTOR).id
        store.dispose()
        assert _sql(url, "SELECT count(*) FROM \"ostiary data\".signing_keys") == [(1,)]
        copy = tmp_path / "spaced.backup"
        backup(url, copy)
        backed_up = _live(url)
        assert _moves_on(url, box, tenant) != backed_up
        restore(url, copy, box)
        assert _live(url) == backed_up
    finally:
        drop_pg_database(name)


def _admin_connection(name: str):
    import psycopg

    from tests.support.database import PG_ADMIN_DSN

    return psycopg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name, autocommit=True)
