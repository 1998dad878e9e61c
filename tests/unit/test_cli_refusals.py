"""Every CLI command refuses bad input with a message naming the field and
the rule, exits with the status of that kind of refusal (2 invalid, 3 not
found, 4 conflict), and writes nothing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from ostiary.cli import main
from ostiary.cli.base import ExitCode
from ostiary.store.tables import metadata
from tests.support.server import free_port


def _row_counts(store) -> dict[str, int]:
    with store.read() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for name, t in metadata.tables.items()}


@pytest.fixture
def cli(store, db_url, tmp_path):
    runner = CliRunner()
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    good = tmp_path / "good-password"
    good.write_text("correct horse battery\n")
    short = tmp_path / "short-password"
    short.write_text("short\n")

    def run(*args: str):
        args = [a.replace("GOOD", str(good)).replace("SHORT", str(short)) for a in args]
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    r = run("init", "--base-domain", "id.example.test", "--tenant", "acme", "--admin-email", "admin@acme.test",
            "--admin-password-file", "GOOD")
    assert r.exit_code == 0, r.output
    for args in (("group", "add", "staff"), ("user", "add", "bob@acme.test"),
                 ("domain", "add", "acme-corp.test", "--portal-host", "auth.acme-corp.test"),
                 ("app", "add", "wiki", "--url", "https://wiki.acme-corp.test", "--group", "staff")):
        assert run(*args).exit_code == 0
    return run


# The exit status says which kind of refusal it is (docs/cli.md, "Exit status").
INVALID, NOT_FOUND, CONFLICT = ExitCode.INVALID_INPUT, ExitCode.NOT_FOUND, ExitCode.CONFLICT
BAD_INPUT = [
    (("init", "--base-domain", "not a domain", "--tenant", "acme", "--admin-email", "a@acme.test"), "base_domain", INVALID),
    (("init", "--base-domain", "id.example.test", "--tenant", "Bad Slug!", "--admin-email", "a@acme.test"), "slug", INVALID),
    (("init", "--base-domain", "other.example.test", "--tenant", "acme", "--admin-email", "a@acme.test"), "base_domain", CONFLICT),
    (("init", "--base-domain", "id.example.test", "--tenant", "acme", "--admin-email", "not-an-email"), "email", INVALID),
    (("init", "--base-domain", "id.example.test", "--tenant", "newco", "--admin-email", "new@newco.test",
      "--admin-password-file", "SHORT"), "password", INVALID),
    (("tenant", "add", "bad-"), "slug", INVALID),
    (("tenant", "add", "acme"), "already exists", CONFLICT),
    (("user", "add", "not-an-email"), "email", INVALID),
    (("user", "add", "carol@acme.test", "--username", "has space"), "username", INVALID),
    (("user", "add", "carol@acme.test", "--name", "two\nlines"), "display_name", INVALID),
    (("user", "add", "carol@acme.test", "--password-file", "SHORT"), "password", INVALID),
    (("user", "add", "carol@acme.test", "--password-file", "/nonexistent/file"), "password_file", INVALID),
    (("user", "add", "bob@acme.test"), "already exists", CONFLICT),
    (("user", "add", "carol@acme.test", "--tenant", "nosuch"), "tenant", NOT_FOUND),
    (("user", "disable", "nobody@acme.test"), "user", NOT_FOUND),
    (("user", "password", "bob@acme.test", "--password-file", "SHORT"), "password", INVALID),
    (("group", "add", "a,b"), "comma", INVALID),
    (("group", "add", "ops", "--parent", "nosuch"), "parent", NOT_FOUND),
    (("group", "move", "staff", "--parent", "staff"), "ancestor", INVALID),
    (("group", "delete", "nosuch"), "group", NOT_FOUND),
    (("group", "member", "add", "staff", "nobody@acme.test"), "user", NOT_FOUND),
    (("group", "member", "add", "nosuch", "bob@acme.test"), "group", NOT_FOUND),
    (("group", "member", "remove", "staff", "bob@acme.test"), "member", NOT_FOUND),
    (("domain", "add", "acme-corp.test", "--portal-host", "login.other.test"), "portal_host", INVALID),
    (("domain", "add", "nodots", "--portal-host", "nodots"), "domain", INVALID),
    (("domain", "add", "acme-corp.test", "--portal-host", "auth.acme-corp.test"), "already registered", CONFLICT),
    (("domain", "verify", "nosuch.test"), "domain", NOT_FOUND),
    (("app", "add", "plain", "--url", "http://plain.acme-corp.test"), "https", INVALID),
    (("app", "add", "creds", "--url", "https://user:pw@x.acme-corp.test"), "user name", INVALID),
    (("app", "add", "elsewhere", "--url", "https://x.elsewhere.test"), "protected domain", NOT_FOUND),
    (("app", "add", "pp", "--url", "https://pp.acme-corp.test", "--public-path", "static/*"), "public_path", INVALID),
    (("app", "add", "pp", "--url", "https://pp.acme-corp.test", "--public-path", "/a/../b"), "public_path", INVALID),
    (("app", "add", "hd", "--url", "https://hd.acme-corp.test", "--headers", "user,password"), "headers", INVALID),
    (("app", "add", "both", "--url", "https://b.acme-corp.test", "--all", "--group", "staff"), "groups", INVALID),
    (("app", "add", "ng", "--url", "https://ng.acme-corp.test", "--group", "nosuch"), "group", NOT_FOUND),
    (("app", "add", "wiki", "--url", "https://wiki2.acme-corp.test"), "already exists", CONFLICT),
    (("app", "add", "dup", "--url", "https://wiki.acme-corp.test"), "already serves", CONFLICT),
    (("app", "grant", "wiki", "nosuch"), "group", NOT_FOUND),
    (("app", "revoke", "nosuch", "staff"), "app", NOT_FOUND),
    (("app", "disable", "nosuch"), "app", NOT_FOUND),
    (("session", "revoke"), "session", INVALID),
    (("session", "revoke", "nosuchsession"), "session", NOT_FOUND),
    (("session", "list", "--user", "nobody@acme.test"), "user", NOT_FOUND),
    (("snippet", "nosuch", "--proxy", "caddy"), "app", NOT_FOUND),
]


@pytest.mark.parametrize("args,field,status", BAD_INPUT, ids=[" ".join(a[:3]) + f" [{f}]" for a, f, _ in BAD_INPUT])
def test_bad_input_is_refused_clearly_and_writes_nothing(cli, store, args, field, status):
    before = _row_counts(store)
    result = cli(*args)
    assert result.exit_code == status, result.output
    assert result.output.startswith("error: ") or "error:" in result.output
    assert field in result.output
    assert _row_counts(store) == before


def test_invalid_settings_are_all_listed_at_once(tmp_path):
    runner = CliRunner()
    env = {"OSTIARY_PUBLIC_PORT": "70000", "OSTIARY_DATABASE_URL": "mysql://x", "OSTIARY_TRUSTED_PROXIES": "nonsense",
           "OSTIARY_DATA_DIR": str(tmp_path)}
    result = runner.invoke(main, ["tenant", "list"], env=env)
    assert result.exit_code == 2
    for name in ("OSTIARY_PUBLIC_PORT", "OSTIARY_DATABASE_URL", "OSTIARY_TRUSTED_PROXIES"):
        assert name in result.output


def test_settings_come_from_a_toml_file_and_the_environment_wins(tmp_path):
    from ostiary.config import load_settings
    import os

    toml = tmp_path / "ostiary.toml"
    toml.write_text('public_port = 8443\nforward_auth_cookie_ttl = 600\n')
    old = dict(os.environ)
    try:
        os.environ["OSTIARY_CONFIG"] = str(toml)
        os.environ["OSTIARY_FORWARD_AUTH_COOKIE_TTL"] = "900"
        s = load_settings()
        assert s.public_port == 8443 and s.forward_auth_cookie_ttl == 900
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_init_twice_changes_nothing(cli, store):
    before = _row_counts(store)
    result = cli("init", "--base-domain", "id.example.test", "--tenant", "acme", "--admin-email", "admin@acme.test")
    assert result.exit_code == 0 and "already there" in result.output
    after = _row_counts(store)
    assert after == before


def test_serve_without_migrations_refuses_an_old_schema_with_the_fix(tmp_path):
    from alembic import command

    from ostiary.store import open_store
    from ostiary.store.engine import alembic_config

    old = open_store(f"sqlite:///{tmp_path / 'ostiary.db'}")
    command.upgrade(alembic_config(old.engine), "0001")
    old.dispose()
    runner = CliRunner()
    env = {"OSTIARY_DATA_DIR": str(tmp_path)}
    result = runner.invoke(main, ["serve", "--no-migrate", "--port", str(free_port())], env=env)
    assert result.exit_code != 0
    assert "ostiary migrate" in result.output


def test_an_api_token_made_on_the_command_line_works_once_and_stops_when_revoked(cli, store, db_url, tmp_path):
    import asyncio

    import httpx

    from ostiary.app import create_app
    from ostiary.config import Settings

    made = cli("token", "add", "terraform", "--scope", "write")
    assert made.exit_code == 0, made.output
    token_id, secret = made.output.split()[1], made.output.strip().splitlines()[-1]
    listed = cli("token", "list").output
    assert "terraform" in listed and secret not in listed
    app = create_app(Settings(database_url=db_url, data_dir=tmp_path))
    app.holder.load()

    async def me():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://acme.id.example.test") as c:
            return (await c.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})).status_code

    assert asyncio.run(me()) == 200
    assert cli("token", "revoke", token_id).exit_code == 0
    assert asyncio.run(me()) == 401
    assert "token.revoke" in cli("audit", "--entity", "token").output
    app.store.dispose()


def test_group_delete_refuses_a_group_in_use_unless_forced(cli, store):
    before = _row_counts(store)
    refused = cli("group", "delete", "staff")
    assert refused.exit_code == ExitCode.CONFLICT
    assert 'error: group: "staff" is in use: deleting it removes its grant on wiki' in refused.output
    assert "--force" in refused.output and _row_counts(store) == before
    forced = cli("group", "delete", "staff", "--force")
    assert forced.exit_code == 0 and "group staff deleted, with its grant on wiki" in forced.output
