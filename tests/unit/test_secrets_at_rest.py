"""Secrets at rest (docs/operations.md, "Secrets at rest"): the SQLite data
directory and files are owner-only, signing keys and TOTP secrets are stored
encrypted with OSTIARY_SECRET_KEY_FILE, a wrong key or none in production
refuses to start in one line, and rotating the key keeps every cookie and
session valid — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from ostiary import tokens
from ostiary.secretbox import PREFIX, SecretBox
from ostiary.services.rules import keys as keys_service
from ostiary.services.rules import second_factor, sessions, tenants
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.snapshot.build import load_full
from ostiary.store import open_store
from ostiary.store.tables import signing_keys, users


def _key_file(directory: Path, name: str, *keys: str) -> Path:
    path = directory / name
    path.write_text("\n".join(keys or (Fernet.generate_key().decode(),)) + "\n")
    return path


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ostiary", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_data_dir_and_files_are_created_owner_only(tmp_path):
    old = os.umask(0o022)  # a usual umask would leave them world-readable
    try:
        data = tmp_path / "new-data"
        store = open_store(f"sqlite:///{data / 'ostiary.db'}")
        store.migrate()
        keys_service.ensure_signing_key(store)
        with store.read() as conn:  # WAL and shared-memory files exist while a connection is open
            conn.execute(select(signing_keys)).all()
            assert _mode(data) == 0o700
            for path in data.iterdir():
                assert _mode(path) == 0o600, f"{path.name} is {oct(_mode(path))}"
            assert (data / "ostiary.db-wal").exists()
        store.dispose()
    finally:
        os.umask(old)


def _installation(db_url: str, box: SecretBox):
    store = open_store(db_url, box)
    tenants.init_installation(store, "id.example.test", "acme", "admin@example.test", "correct horse battery",
                              CLI_ACTOR)
    keys_service.ensure_signing_key(store)
    return store


def test_signing_keys_and_totp_secrets_are_ciphertext_in_the_database(db_url, tmp_path):
    box = SecretBox.from_file(_key_file(tmp_path, "k"))
    store = _installation(db_url, box)
    tid = tenants.resolve_tenant(store, "acme").id
    with store.read() as conn:
        uid = conn.execute(select(users.c.id)).scalar_one()
    totp = pyotp.random_base32()
    second_factor.enrol(store, tid, uid, CLI_ACTOR, totp, None)
    with store.read() as conn:
        stored_keys = conn.execute(select(signing_keys.c.secret)).scalars().all()
        stored_totp = conn.execute(select(users.c.totp_secret)).scalar_one()
        snap = load_full(conn, box)
    assert stored_keys and all(v.startswith(PREFIX) for v in stored_keys)
    assert stored_totp.startswith(PREFIX) and totp not in stored_totp
    for key in snap.keys.values():
        assert key.secret.hex() not in " ".join(stored_keys)
    with store.read() as conn:
        user = conn.execute(select(users)).one()
    assert second_factor.verify_second_factor(store, tid, user, pyotp.TOTP(totp).now(), CLI_ACTOR)
    store.dispose()


def _env(db_url: str, tmp_path: Path, key_file: Path | str) -> dict:
    return {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_SECRET_KEY_FILE": str(key_file),
            "OSTIARY_DEV": "0", "OSTIARY_CONFIG": ""}


def test_a_wrong_key_refuses_to_start_in_one_line(db_url, tmp_path):
    _installation(db_url, SecretBox.from_file(_key_file(tmp_path, "right"))).dispose()
    wrong = _key_file(tmp_path, "wrong")
    ran = _cli(_env(db_url, tmp_path, wrong), "serve", "--port", "1")
    assert ran.returncode != 0
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not decrypt the secrets" in lines[0] and str(wrong) in lines[0], ran.stderr


def test_production_without_a_key_refuses_to_start(db_url, tmp_path):
    _installation(db_url, SecretBox()).dispose()
    ran = _cli(_env(db_url, tmp_path, ""), "serve", "--port", "1")
    assert ran.returncode != 0
    assert "OSTIARY_SECRET_KEY_FILE is not set" in ran.stderr and len(ran.stderr.strip().splitlines()) == 1


def test_secrets_written_before_the_key_are_sealed_when_it_is_configured(db_url, tmp_path):
    store = _installation(db_url, SecretBox())
    with store.read() as conn:
        before = load_full(conn, SecretBox()).keys
    assert not any(v.startswith(PREFIX) for v in _stored(store))
    from ostiary.serving import prepare_secrets
    from ostiary.config import load_settings

    key = _key_file(tmp_path, "k")
    store.box = SecretBox.from_file(key)
    prepare_secrets(store, load_settings(secret_key_file=str(key), dev=False))
    assert all(v.startswith(PREFIX) for v in _stored(store))
    with store.read() as conn:
        assert {k: v.secret for k, v in load_full(conn, store.box).keys.items()} == \
            {k: v.secret for k, v in before.items()}
    store.dispose()


def _stored(store) -> list[str]:
    with store.read() as conn:
        return conn.execute(text("SELECT secret FROM signing_keys")).scalars().all()


def test_rotating_the_key_keeps_every_cookie_and_session_valid(db_url, tmp_path):
    old_key, new_key = _key_file(tmp_path, "old"), _key_file(tmp_path, "new")
    store = _installation(db_url, SecretBox.from_file(old_key))
    tid = tenants.resolve_tenant(store, "acme").id
    with store.read() as conn:
        uid = conn.execute(select(users.c.id)).scalar_one()
        snap = load_full(conn, store.box)
    session = sessions.create_session(store, tid, uid)
    key = next(iter(snap.keys.values()))
    cookie = tokens.sign("fa", {"sid": session.id, "exp": time.time() + 600}, key)
    before = _stored(store)
    store.dispose()

    ran = _cli(_env(db_url, tmp_path, old_key), "secret-key", "rotate", "--new-key-file", str(new_key))
    assert ran.returncode == 0, ran.stderr

    after = open_store(db_url, SecretBox.from_file(new_key))
    assert set(_stored(after)).isdisjoint(before)
    with after.read() as conn:
        keys = load_full(conn, after.box).keys
    assert tokens.verify("fa", cookie, keys, time.time()) is not None
    assert sessions.session_for_token(after, session.token, tid) is not None
    with after.read() as conn, pytest.raises(Exception, match="does not decrypt"):
        load_full(conn, SecretBox.from_file(old_key))
    after.dispose()


def test_a_rotation_that_cannot_open_a_secret_changes_nothing(db_url, tmp_path):
    store = _installation(db_url, SecretBox.from_file(_key_file(tmp_path, "right")))
    before = _stored(store)
    store.dispose()
    ran = _cli(_env(db_url, tmp_path, _key_file(tmp_path, "wrong")), "secret-key", "rotate",
               "--new-key-file", str(_key_file(tmp_path, "new")))
    assert ran.returncode == 1 and "does not decrypt" in ran.stderr
    check = open_store(db_url)
    assert _stored(check) == before
    check.dispose()


def test_migration_0007_encrypts_existing_rows_and_its_downgrade_decrypts_them(db_url, tmp_path):
    key = SecretBox.from_file(_key_file(tmp_path, "k"))
    plain = open_store(db_url, SecretBox())
    tenants.init_installation(plain, "id.example.test", "acme", "admin@example.test", "correct horse battery", CLI_ACTOR)
    keys_service.ensure_signing_key(plain)
    with plain.write() as conn:
        conn.execute(text("UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP'"))
    clear_keys = _stored(plain)
    plain.downgrade("0003")  # nothing sealed: the downgrade needs no key
    plain.dispose()

    keyed = open_store(db_url, key)
    keyed.migrate()
    assert all(v.startswith(PREFIX) for v in _stored(keyed))
    assert [key.open(v) for v in _stored(keyed)] == clear_keys
    with keyed.read() as conn:
        assert key.open(conn.execute(text("SELECT totp_secret FROM users")).scalar_one()) == "JBSWY3DPEHPK3PXP"

    keyless = open_store(db_url, SecretBox())
    with pytest.raises(Exception, match="OSTIARY_SECRET_KEY_FILE is not set"):
        keyless.downgrade("0003")
    assert all(v.startswith(PREFIX) for v in _stored(keyless))  # refused whole: nothing decrypted
    keyless.dispose()

    keyed.downgrade("0003")
    assert _stored(keyed) == clear_keys
    keyed.dispose()
