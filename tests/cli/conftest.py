"""A tenant set up through the real CLI on a real store (SQLite and
PostgreSQL, like every store test), and a way to run any command with
stdout and stderr apart, as a script sees them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from ostiary.cli import main
from ostiary.store.tables import metadata

PASSWORD = "correct horse battery"


@dataclass
class Ran:
    status: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def cli_env(db_url, tmp_path) -> dict[str, str]:
    return {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_NTP_SERVER": ""}


@pytest.fixture
def run(cli_env, tmp_path):
    """`run("user", "list", "--json")` -> Ran; PASSWORD_FILE in an argument is a file holding PASSWORD."""
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    runner = CliRunner()

    def invoke(*args: str, **env: str) -> Ran:
        args = [str(password_file) if a == "PASSWORD_FILE" else a for a in args]
        result = runner.invoke(main, args, env={**cli_env, **env}, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def acme(run, store) -> int:
    """Tenant acme: admin@acme.test (admin), bob@acme.test in ops under staff, domain acme-corp.test
    (not verified), app wiki granted to staff. Answers the tenant id."""
    from ostiary.services.rules import tenants as tenants_service

    for args in (
        ("init", "--base-domain", "id.example.test", "--tenant", "acme", "--admin-email", "admin@acme.test",
         "--admin-password-file", "PASSWORD_FILE"),
        ("user", "add", "bob@acme.test", "--name", "Bob Builder", "--password-file", "PASSWORD_FILE"),
        ("group", "add", "staff"), ("group", "add", "ops", "--parent", "staff"),
        ("group", "member", "add", "ops", "bob@acme.test"),
        ("domain", "add", "acme-corp.test", "--portal-host", "auth.acme-corp.test"),
        ("app", "add", "wiki", "--url", "https://wiki.acme-corp.test", "--group", "staff"),
    ):
        done = run(*args)
        assert done.status == 0, (args, done.stderr)
    return tenants_service.tenant_by_slug(store, "acme").id


def row_counts(store) -> dict[str, int]:
    with store.read() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for name, t in metadata.tables.items()}
