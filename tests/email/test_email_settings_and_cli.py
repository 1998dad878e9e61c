"""The SMTP settings are checked at start-up, every problem listed at once;
the CLI invites through a real SMTP server, and when the server is down it
says so, exits 1 and writes nothing; `ostiary doctor` checks the connection."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from ostiary.cli import main
from ostiary.config import ConfigError, load_settings
from ostiary.store.tables import metadata
from tests.email.conftest import SENDER
from tests.support.server import free_port


@pytest.fixture
def environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("OSTIARY_") and name != "OSTIARY_SECRET_KEY_FILE":
            monkeypatch.delenv(name)
    return monkeypatch


def _problems(**values) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(**values)
    return caught.value.problems


def test_an_smtp_host_without_a_sender_address_is_refused_naming_both(environment):
    problem, = _problems(smtp_host="smtp.example.test")
    assert "OSTIARY_SMTP_FROM is required with OSTIARY_SMTP_HOST" in problem


def test_an_smtp_user_needs_a_password_file(environment):
    problem, = _problems(smtp_host="smtp.example.test", smtp_from=SENDER, smtp_user="relay")
    assert "OSTIARY_SMTP_USER needs OSTIARY_SMTP_PASSWORD_FILE" in problem


def test_every_bad_smtp_value_is_listed_at_once(environment, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    problems = _problems(smtp_host="smtp.example.test", smtp_security="ssl", smtp_port=0,
                         smtp_password_file=str(tmp_path / "missing"), smtp_from="SSO <sso@example.test>",
                         smtp_timeout=0)
    text = "\n".join(problems)
    for name in ("OSTIARY_SMTP_SECURITY must be one of starttls, tls, none", "OSTIARY_SMTP_PORT",
                 "OSTIARY_SMTP_PASSWORD_FILE names", "OSTIARY_SMTP_FROM", "OSTIARY_SMTP_TIMEOUT"):
        assert name in text, text
    assert "which is empty" in _problems(smtp_password_file=str(empty))[0]


def test_the_port_follows_the_security_when_unset(environment):
    assert load_settings(smtp_host="h", smtp_from=SENDER).effective_smtp_port == 587
    assert load_settings(smtp_host="h", smtp_from=SENDER, smtp_security="TLS").effective_smtp_port == 465
    assert load_settings(smtp_host="h", smtp_from=SENDER, smtp_security="none").effective_smtp_port == 25
    assert not load_settings().email_enabled


def _row_counts(store) -> dict[str, int]:
    with store.read() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for name, t in metadata.tables.items()}


@pytest.fixture
def cli(store, db_url, tmp_path):
    runner = CliRunner()
    password = tmp_path / "password"
    password.write_text("correct horse battery\n")

    def run(*args: str, smtp_port: int | None = None):
        env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
        if smtp_port:
            env.update(OSTIARY_SMTP_HOST="127.0.0.1", OSTIARY_SMTP_PORT=str(smtp_port), OSTIARY_SMTP_SECURITY="none",
                       OSTIARY_SMTP_FROM=SENDER, OSTIARY_SMTP_TIMEOUT="5")
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    r = run("init", "--base-domain", "id.example.test", "--tenant", "acme", "--admin-email", "admin@acme.test",
            "--admin-password-file", str(password))
    assert r.exit_code == 0, r.output
    return run


def test_the_cli_invites_and_adds_by_invitation(cli, inbox):
    r = cli("user", "invite", "nia@acme.test", "--name", "Nia", smtp_port=inbox.port)
    assert r.exit_code == 0, r.output
    assert "invitation sent to nia@acme.test" in r.output
    assert inbox.wait_for("nia@acme.test")
    r = cli("user", "invite", "nia@acme.test", smtp_port=inbox.port)
    assert r.exit_code == 0 and "invitation sent again" in r.output
    r = cli("user", "add", "omar@acme.test", smtp_port=inbox.port)
    assert r.exit_code == 0 and "invitation sent to omar@acme.test" in r.output
    assert inbox.wait_for("omar@acme.test")
    r = cli("user", "add", "pia@acme.test")  # no email configured: added, with a note on how to let them in
    assert r.exit_code == 0 and "cannot sign in with a password yet" in r.output


def test_the_cli_says_when_the_smtp_server_is_down_and_writes_nothing(cli, store):
    before = _row_counts(store)
    r = cli("user", "invite", "ghost@acme.test", smtp_port=free_port())
    assert r.exit_code == 1
    assert "refused the connection" in r.output and "nothing was changed" in r.output
    r = cli("user", "add", "ghost@acme.test", smtp_port=free_port())
    assert r.exit_code == 1
    assert _row_counts(store) == before


def test_the_cli_refuses_an_invitation_without_email_configured(cli, store):
    before = _row_counts(store)
    r = cli("user", "invite", "ghost@acme.test")
    assert r.exit_code == 4 and "email is not configured" in r.output and "OSTIARY_SMTP_HOST" in r.output
    assert _row_counts(store) == before


def test_doctor_checks_the_smtp_connection(cli, inbox):
    r = cli("doctor", smtp_port=inbox.port)
    assert f"✓ email: the SMTP server 127.0.0.1:{inbox.port} accepts a connection (no TLS)" in r.output
    down = free_port()
    r = cli("doctor", smtp_port=down)
    assert f"✗ email: the SMTP server 127.0.0.1:{down} refused the connection" in r.output and r.exit_code == 1
    r = cli("doctor")
    assert "· email: email is not configured" in r.output


def test_ostiary_user_edit_tells_the_old_address_of_a_new_email(cli, inbox):
    r = cli("user", "invite", "rosa@acme.test", smtp_port=inbox.port)
    assert r.exit_code == 0, r.output
    inbox.wait_for("rosa@acme.test")
    inbox.clear()
    r = cli("user", "edit", "rosa@acme.test", "--email", "rosa.new@acme.test", smtp_port=inbox.port)
    assert r.exit_code == 0, r.output
    [notice] = inbox.wait_for("rosa@acme.test")
    assert notice["Subject"] == "Your acme email address was changed"
    assert "rosa.new@acme.test" in notice.get_body(("plain",)).get_content()
    # Without email configured the change is made and nobody is told.
    r = cli("user", "edit", "rosa.new@acme.test", "--email", "rosa3@acme.test")
    assert r.exit_code == 0, r.output
    assert inbox.messages("rosa.new@acme.test") == []
