"""`ostiary config check` prints the effective settings with passwords
redacted, and every problem at once, exiting non-zero when there is any
(docs/configuration.md, "Checking the settings")."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet

from ostiary.secretbox import SecretBox
from ostiary.services.rules import keys as keys_service
from ostiary.store import open_store


def _check(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    return subprocess.run([sys.executable, "-m", "ostiary", "config", "check"], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def _key(tmp_path, name="key"):
    path = tmp_path / name
    path.write_text(Fernet.generate_key().decode() + "\n")
    path.chmod(0o600)
    return path


def _installation(tmp_path, key) -> dict:
    data = tmp_path / "data"
    store = open_store(f"sqlite:///{data / 'ostiary.db'}", SecretBox.from_file(key))
    store.migrate()
    keys_service.ensure_signing_key(store)
    store.dispose()
    return {"OSTIARY_DATA_DIR": str(data), "OSTIARY_SECRET_KEY_FILE": str(key)}


def test_every_invalid_setting_is_listed_at_once_and_the_password_is_hidden(tmp_path):
    ran = _check({"OSTIARY_PUBLIC_PORT": "99999", "OSTIARY_LOG_LEVEL": "loud",
                  "OSTIARY_DATABASE_URL": "postgresql://ostiary:hunter2@127.0.0.1:1/ostiary"})
    assert ran.returncode == 1
    assert "OSTIARY_PUBLIC_PORT must be between 1 and 65535" in ran.stderr
    assert "OSTIARY_LOG_LEVEL must be one of" in ran.stderr
    assert "hunter2" not in ran.stdout + ran.stderr
    assert "postgresql://ostiary:***@127.0.0.1:1/ostiary" in ran.stdout


def test_a_sound_installation_has_no_problems(tmp_path):
    ran = _check(_installation(tmp_path, _key(tmp_path)))
    assert ran.returncode == 0, ran.stderr
    assert "no problems found" in ran.stdout
    assert "OSTIARY_SECRET_KEY_FILE" in ran.stdout and "(environment)" in ran.stdout


def test_installation_problems_are_listed_together(tmp_path):
    env = _installation(tmp_path, _key(tmp_path))
    (tmp_path / "data").chmod(0o755)
    env["OSTIARY_SECRET_KEY_FILE"] = str(_key(tmp_path, "other"))  # not the key of this database
    (tmp_path / "other").chmod(0o644)
    ran = _check(env)
    assert ran.returncode == 1
    problems = [line for line in ran.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == 3, ran.stderr
    assert "open to others (mode 0644)" in ran.stderr
    assert "OSTIARY_DATA_DIR" in ran.stderr and "mode 0755" in ran.stderr
    assert "does not decrypt the secrets" in ran.stderr


def test_production_without_a_key_and_without_a_database_says_both(tmp_path):
    ran = _check({"OSTIARY_DATA_DIR": str(tmp_path / "nowhere")})
    assert ran.returncode == 1
    assert "OSTIARY_SECRET_KEY_FILE is not set" in ran.stderr and "ostiary init" in ran.stderr
    assert not (tmp_path / "nowhere").exists()
