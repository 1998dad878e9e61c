"""Every list and show command prints one JSON document with `--json`, with
the field names docs/cli.md promises and no secret; human output has a
header and names things by name."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import click
import pytest

from ostiary.cli import main
from ostiary.services.rules import second_factor as second_factor_service
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import users as users_service
from ostiary.services.base.actor import CLI_ACTOR
from tests.cli.conftest import PASSWORD

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"

USER = {"id", "email", "username", "display_name", "is_admin", "active", "totp_enabled", "passkeys", "groups"}
TENANT = {"id", "slug", "name", "host", "session_idle_seconds", "session_absolute_seconds", "password_sign_in",
          "created_at"}
GROUP = {"id", "name", "parent", "path"}
DOMAIN = {"id", "name", "portal_host", "status", "status_reason", "txt_name", "txt_value", "verified_at",
          "last_checked_at", "flagged_at", "expires_at"}
APP = {"id", "name", "url", "domain", "public_paths", "headers", "all_users", "enabled", "require_2fa", "groups"}
SESSION = {"id", "user_id", "email", "username", "created_at", "last_seen_at", "expires_at", "client_addr",
           "user_agent", "second_factor", "methods", "signed_in_with"}
KEY = {"id", "created_at", "retire_at", "signing"}
TOKEN = {"id", "name", "scopes", "state", "created_by", "created_at", "last_used_at", "expires_at", "revoked_at"}
AUDIT = {"id", "at", "actor", "actor_addr", "action", "entity", "entity_id", "detail"}
PROVIDER = {"id", "name", "display_name", "preset", "issuer", "client_id", "client_secret_source", "scopes", "claims",
            "allowed_directories", "account_policy", "create_domains", "trusted_domains", "enabled", "redirect_uri",
            "directory_options", "mappings"}

# (arguments, list or object, its fields)
SHAPES = [
    (("tenant", "list"), list, TENANT),
    (("tenant", "show"), dict, TENANT),
    (("tenant", "branding", "show"), dict, {"display_name", "accent_colour", "contact", "contact_is_email", "logo",
                                            "logo_type", "logo_width", "logo_height", "logo_version"}),
    (("user", "list"), list, USER),
    (("user", "show", "bob@acme.test"), dict, USER),
    (("user", "totp", "status", "bob@acme.test"), dict, {"email", "totp_enabled", "recovery_codes_left"}),
    (("group", "list"), list, GROUP),
    (("group", "show", "ops"), dict, GROUP | {"children", "apps", "inherited_apps"}),
    (("group", "members", "ops"), list, USER),
    (("domain", "list"), list, DOMAIN),
    (("domain", "show", "acme-corp.test"), dict, DOMAIN | {"apps"}),
    (("app", "list"), list, APP),
    (("app", "show", "wiki"), dict, APP),
    (("session", "list"), list, SESSION),
    (("keys", "list"), list, KEY),
    (("token", "list"), list, TOKEN),
    (("audit",), list, AUDIT),
    (("provider", "list"), list, PROVIDER),
    (("provider", "show", "corp"), dict, PROVIDER),
]


@pytest.fixture
def secrets(run, store, acme, tmp_path) -> list[str]:
    """Bob with a second factor and a live session, an API token and a provider: every secret they hold."""
    bob = users_service.get_user(store, acme, "bob@acme.test")
    totp = second_factor_service.new_secret()
    codes = second_factor_service.enrol(store, acme, bob.id, CLI_ACTOR, totp, None).recovery_codes
    session = sessions_service.create_session(store, acme, bob.id, client_addr="192.0.2.7", second_factor=True)
    token = run("token", "add", "deploy", "--scope", "write").stdout.strip().splitlines()[-1]
    client_secret = tmp_path / "client-secret"
    client_secret.write_text("provider-secret-value-0123456789\n")
    added = run("provider", "add", "corp", "--issuer", "https://login.corp.test", "--client-id", "ostiary",
                "--client-secret-file", str(client_secret))
    assert added.status == 0, added.stderr
    assert token.startswith("ost_")
    return [PASSWORD, totp, *codes, session.token, token, "provider-secret-value-0123456789"]


@pytest.mark.parametrize("args,kind,fields", SHAPES, ids=[" ".join(a) for a, _, _ in SHAPES])
def test_json_has_the_documented_fields_and_no_secret(run, secrets, args, kind, fields):
    done = run(*args, "--json")
    assert done.status == 0, done.stderr
    value = done.json()
    assert isinstance(value, kind)
    items = value if kind is list else [value]
    assert items, f"{args}: nothing listed"
    for item in items:
        assert set(item) == fields, f"{args}: {sorted(set(item) ^ fields)}"
    for secret in secrets:
        assert secret not in done.stdout
    # Every field is named on the reference page.
    documented = DOCS.read_text()
    for field in fields:
        assert f"`{field}`" in documented, f"docs/cli.md does not name {field}"


def test_json_values_are_what_was_set(run, secrets, acme):
    users = {u["email"]: u for u in run("user", "list", "--json").json()}
    assert users["bob@acme.test"]["display_name"] == "Bob Builder" and users["admin@acme.test"]["is_admin"] is True
    assert users["bob@acme.test"]["totp_enabled"] is True
    assert run("user", "show", "bob", "--json").json()["groups"] == ["ops"]
    ops = run("group", "show", "ops", "--json").json()
    assert (ops["parent"], ops["path"], ops["apps"], ops["inherited_apps"]) == ("staff", "staff / ops", [], ["wiki"])
    app = run("app", "show", "wiki", "--json").json()
    assert (app["groups"], app["require_2fa"], app["domain"]) == (["staff"], False, "acme-corp.test")
    sessions = run("session", "list", "--json").json()
    assert [(s["email"], s["client_addr"], s["second_factor"]) for s in sessions] == [("bob@acme.test", "192.0.2.7", True)]
    tokens = run("token", "list", "--json").json()
    assert [(t["name"], t["scopes"], t["state"]) for t in tokens] == [("deploy", ["read", "write"], "live")]
    domain = run("domain", "show", "acme-corp.test", "--json").json()
    assert domain["status"] == "pending" and domain["expires_at"] > time.time()
    assert domain["apps"] == ["wiki"]
    tenant = run("tenant", "show", "--json").json()
    assert (tenant["slug"], tenant["host"], tenant["session_idle_seconds"]) == ("acme", "acme.id.example.test", 8 * 3600)


def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_list_and_show_command_takes_json():
    """A list or show command added later without --json fails here."""
    listing = [(path, c) for path, c in _commands(main) if path[-1] in ("list", "show", "members", "status")
               or path == ("audit",)]
    assert len(listing) >= 17
    for path, command in listing:
        assert any(p.name == "as_json" for p in command.params), f"ostiary {' '.join(path)} has no --json"
        assert f"`{' '.join(path)}" in DOCS.read_text(), f"ostiary {' '.join(path)} is not in docs/cli.md"


def test_human_lists_have_headers_and_name_people_and_groups(run, secrets):
    sessions = run("session", "list").stdout.splitlines()
    assert sessions[0].split()[:2] == ["SESSION", "USER"]
    assert "bob@acme.test" in sessions[1] and not re.search(r"\buser \d", "\n".join(sessions))
    groups = run("group", "list").stdout.splitlines()
    assert groups[0].split() == ["GROUP", "PARENT", "PATH"]
    assert groups[2].split()[:2] == ["ops", "staff"]
    audit = run("audit", "--limit", "100").stdout
    assert audit.splitlines()[0].split() == ["WHEN", "ACTOR", "FROM", "ACTION", "WHAT"]
    assert "group.member_add" in audit and "group ops" in audit and "user bob@acme.test" in audit
    assert not re.search(r"\b(user|group|app|domain) \d+\b", audit)
    for args, header in ((("user", "list"), "EMAIL"), (("app", "list"), "APP"), (("domain", "list"), "DOMAIN"),
                         (("keys", "list"), "KEY"), (("token", "list"), "ID"), (("tenant", "list"), "SLUG"),
                         (("group", "members", "ops"), "EMAIL"), (("provider", "list"), "PROVIDER")):
        assert run(*args).stdout.split()[0] == header, args


def test_a_deleted_user_keeps_their_name_in_the_audit_log(run, acme):
    assert run("user", "delete", "bob@acme.test").status == 0
    audit = run("audit", "--entity", "user").stdout
    assert "user.delete" in audit and "user bob@acme.test" in audit
    entry = run("audit", "--action", "user.delete", "--json").json()[0]
    assert entry["detail"]["email"] == "bob@acme.test" and entry["actor"] == "cli"


def test_config_check_json_redacts_and_reports_problems(run, tmp_path):
    done = run("config", "check", "--json", OSTIARY_PUBLIC_PORT="70000",
               OSTIARY_DATABASE_URL="postgresql://ostiary:hunter2-secret@db.invalid/ostiary")
    assert done.status == 1
    report = json.loads(done.stdout)
    assert set(report) == {"settings", "notes", "problems"}
    assert any("OSTIARY_PUBLIC_PORT" in p for p in report["problems"])
    assert "hunter2-secret" not in done.stdout
    shown = {s["name"]: s["value"] for s in report["settings"]}
    assert shown["OSTIARY_DATABASE_URL"] == "postgresql://ostiary:***@db.invalid/ostiary"
