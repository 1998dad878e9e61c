"""`ostiary restore` refuses, before changing anything, a file that is not a
backup and (SQLite) a backup whose secrets the configured key does not
decrypt; `ostiary backup` writes an owner-only file (docs/operations.md, "Backups")."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from ostiary.backup import BackupRefused, backup, restore
from ostiary.secretbox import SecretBox, SecretsUnreadable
from ostiary.services.rules import keys as keys_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import open_store


def _box(tmp_path, name: str) -> SecretBox:
    path = tmp_path / name
    path.write_text(Fernet.generate_key().decode() + "\n")
    return SecretBox.from_file(path)


def _keys(url: str) -> list[str]:
    store = open_store(url)
    try:
        with store.read() as conn:
            return conn.execute(text("SELECT id FROM signing_keys ORDER BY id")).scalars().all()
    finally:
        store.dispose()


@pytest.fixture
def installation(tmp_path):
    url = f"sqlite:///{tmp_path / 'live' / 'ostiary.db'}"
    box = _box(tmp_path, "right")
    store = open_store(url, box)
    store.migrate()
    keys_service.ensure_signing_key(store)
    store.dispose()
    return url, box


def test_a_backup_whose_secrets_the_key_does_not_open_is_refused_before_anything_changes(installation, tmp_path):
    url, box = installation
    copy = tmp_path / "copy.backup"
    backup(url, copy)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    store = open_store(url, box)
    keys_service.rotate_keys(store, CLI_ACTOR, 0)  # the live database moves on after the backup
    store.dispose()
    live = _keys(url)
    assert len(live) == 2
    with pytest.raises(SecretsUnreadable, match="does not decrypt"):
        restore(url, copy, _box(tmp_path, "wrong"))
    assert _keys(url) == live


def test_a_file_that_is_not_a_backup_is_refused(installation, tmp_path):
    url, box = installation
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a database at all, just some bytes" * 200)
    with pytest.raises(BackupRefused, match="not an SQLite database"):
        restore(url, junk, box)
