"""`ostiary backup` while a server keeps writing, then `ostiary restore`
after the database was changed (every session ended, every signing key
retired): the restored installation lets in the cookies and central
sessions that existed when the backup was taken — on SQLite (its online
backup API) and PostgreSQL (pg_dump/pg_restore). A backup sealed with
another key or from an unknown schema is refused before anything changes,
and the servers start on the database as it was. docs/operations.md, "Backups"."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from ostiary.services.rules import keys as keys_service
from ostiary.services.rules import sessions, users
from ostiary.store.engine import head_revision
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import open_store
from ostiary.wire import SESSION_COOKIE
from tests.scaleout.deployment import TENANT_HOST, deployment
from tests.support.world import database, database_kind, database_url

OLDER = "0007"  # before the OIDC provider's tables (0008), which refer to `users`
MAX_WRITES = 5000  # bounded write load: central sessions created until the backup is done


@pytest.fixture(params=["sqlite", "postgresql"])
def own_deployment(request, tmp_path):
    """A deployment of this test's own: it stops the instance and replaces the database."""
    with database(request.param, tmp_path) as (url, store):
        with deployment(tmp_path / "deployment", url, store, instances=1, workers=2, with_nginx=False) as d:
            yield d, url


def _ostiary(url: str, tmp_path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OSTIARY_DATABASE_URL": url, "OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_CONFIG": "",
           **settings}
    return subprocess.run([sys.executable, "-m", "ostiary", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _opens_app_with_session(d, token: str) -> bool:
    v = d.visitor()  # no password: only the central session can get it in
    v.browser.cookies.set(SESSION_COOKIE, token, domain=TENANT_HOST, path="/")
    try:
        return v.open(d.app_url("/")).reached_app
    finally:
        v.close()


def _signed_in(d):
    """dave with a central session, erin with a forward-auth cookie, and a probe of every
    worker: both open the app before anything else happens."""
    dave = users.get_user(d.store, d.tenant_id, "dave@acme.test")
    central = sessions.create_session(d.store, d.tenant_id, dave.id)
    visitor = d.handshake("erin@acme.test")
    cookie = visitor.forward_auth_cookie()
    probe = d.probe(per_target=1)
    assert probe.all_allowed(cookie) and _opens_app_with_session(d, central.token)
    return dave, central, visitor, cookie, probe


def test_a_backup_taken_under_write_load_restores_every_cookie_and_session(own_deployment, tmp_path):
    d, url = own_deployment
    dave, central, visitor, cookie, probe = _signed_in(d)

    written: list[int] = []
    backup_done = threading.Event()

    def write_load():
        for i in range(MAX_WRITES):  # from before the backup starts until it is done
            if backup_done.is_set():
                return
            sessions.create_session(d.store, d.tenant_id, dave.id)
            written.append(i)

    writer = threading.Thread(target=write_load)
    writer.start()
    while len(written) < 20:
        time.sleep(0.01)
    before = len(written)
    backup_file = tmp_path / "ostiary.backup"
    taken = _ostiary(url, tmp_path, "backup", str(backup_file))
    backup_done.set()
    during = len(written) - before
    writer.join()
    assert during > 0 and len(written) < MAX_WRITES, "the writes did not span the backup"
    assert taken.returncode == 0, taken.stderr
    assert oct(backup_file.stat().st_mode & 0o777) == oct(0o600)
    print(f"\n{during} writes while `ostiary backup` ran")

    # The installation changes after the backup: every session ends and every key stops verifying.
    sessions.end_user_sessions(d.store, d.tenant_id, dave.id, "test", CLI_ACTOR)
    keys_service.rotate_keys(d.store, CLI_ACTOR, 0)
    for _ in range(100):  # the old key stops verifying a moment after the rotation
        if not probe.all_allowed(cookie):
            break
        time.sleep(0.1)
    assert not probe.all_allowed(cookie) and not _opens_app_with_session(d, central.token)

    d.instances[0].stop()
    d.store.dispose()  # no connection of the test's own holds a table pg_restore replaces
    restored = _ostiary(url, tmp_path, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    d.start(0)

    assert probe.all_allowed(cookie), "a forward-auth cookie from before the backup is refused after restore"
    assert _opens_app_with_session(d, central.token), "a central session from before the backup is gone"
    probe.close()
    visitor.close()


def _older_backup(url: str, tmp_path: Path) -> Path:
    """A backup of the installation as it is, taken at schema OLDER: the backup restored into a scratch
    database, migrated down there, and backed up again (the live database is not touched)."""
    now = tmp_path / "now.backup"
    assert _ostiary(url, tmp_path, "backup", str(now)).returncode == 0
    with database_url(database_kind(url), tmp_path / "scratch") as scratch_url:
        assert _ostiary(scratch_url, tmp_path, "restore", str(now)).returncode == 0
        scratch = open_store(scratch_url)
        try:
            scratch.downgrade(OLDER)
        finally:
            scratch.dispose()
        older = tmp_path / "older.backup"
        assert _ostiary(scratch_url, tmp_path, "backup", str(older)).returncode == 0
        return older


def test_a_backup_from_an_older_schema_restores_and_the_servers_start_after_ostiary_migrate(own_deployment,
                                                                                            tmp_path):
    d, url = own_deployment
    dave, central, visitor, cookie, probe = _signed_in(d)
    older = _older_backup(url, tmp_path)

    sessions.end_user_sessions(d.store, d.tenant_id, dave.id, "test", CLI_ACTOR)
    keys_service.rotate_keys(d.store, CLI_ACTOR, 0)
    for _ in range(100):
        if not probe.all_allowed(cookie):
            break
        time.sleep(0.1)
    assert not probe.all_allowed(cookie) and not _opens_app_with_session(d, central.token)

    d.instances[0].stop()
    d.store.dispose()
    restored = _ostiary(url, tmp_path, "restore", str(older))
    assert restored.returncode == 0, restored.stderr
    with d.store.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == OLDER
    d.store.dispose()
    migrated = _ostiary(url, tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    d.start(0)

    assert probe.all_allowed(cookie), "a forward-auth cookie from before the older backup is refused"
    assert _opens_app_with_session(d, central.token), "a central session from before the older backup is gone"
    signed_in = d.handshake("erin@acme.test")  # her password and the portal's keys, restored and migrated
    assert probe.all_allowed(signed_in.forward_auth_cookie())
    signed_in.close()
    probe.close()
    visitor.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_backup_never_overwrites_a_file(kind, tmp_path):
    """No server takes part: the refusal is the command's own."""
    existing = tmp_path / "precious"
    existing.write_text("keep me")
    with database(kind, tmp_path / "db") as (url, _):
        ran = _ostiary(url, tmp_path, "backup", str(existing))
    assert ran.returncode == 1 and "already exists" in ran.stderr
    assert existing.read_text() == "keep me"


def test_a_refused_restore_leaves_the_installation_as_it_was(own_deployment, tmp_path):
    d, url = own_deployment
    visitor = d.handshake("erin@acme.test")
    cookie = visitor.forward_auth_cookie()
    probe = d.probe(per_target=1)
    assert probe.all_allowed(cookie)

    sealed_here = tmp_path / "sealed-here.backup"
    assert _ostiary(url, tmp_path, "backup", str(sealed_here)).returncode == 0
    with d.store.write() as conn:  # a backup a newer Ostiary took
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    newer = tmp_path / "newer.backup"
    assert _ostiary(url, tmp_path, "backup", str(newer)).returncode == 0
    with d.store.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    newcomer = users.add_user(d.store, d.tenant_id, CLI_ACTOR, email="newcomer@acme.test").id

    d.instances[0].stop()
    d.store.dispose()
    other_key = tmp_path / "other.key"
    other_key.write_text(Fernet.generate_key().decode() + "\n")
    refused = _ostiary(url, tmp_path, "restore", str(sealed_here), OSTIARY_SECRET_KEY_FILE=str(other_key))
    assert refused.returncode == 1 and "does not decrypt the secrets" in refused.stderr, refused.stderr
    refused = _ostiary(url, tmp_path, "restore", str(newer))
    assert refused.returncode == 1 and "holds schema f00dfeed, which this Ostiary does not know" in refused.stderr, \
        refused.stderr

    d.start(0)  # starts on the database as it was: its schema, its keys (sealed with the servers' key)
    assert users.get_user(d.store, d.tenant_id, "newcomer@acme.test").id == newcomer
    assert probe.all_allowed(cookie), "a refused restore changed the installation"
    probe.close()
    visitor.close()
