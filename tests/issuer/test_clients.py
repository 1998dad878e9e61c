"""OIDC clients as the CLI and the service layer manage them, on SQLite and
PostgreSQL: the secret shown once and stored hashed, bad input refused with
the field and the rule and nothing written, grants as apps have them, and
signing keys sealed at rest and rotated with overlap."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from ostiary.cli import main
from ostiary.issuer import clients, keys
from ostiary.secretbox import is_sealed
from ostiary.services.queries import audit
from ostiary.services.rules import groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput
from ostiary.store.tables import oidc_clients, oidc_signing_keys

PASSWORD = "correct horse battery"


@pytest.fixture
def acme(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    return tenants.tenant_by_slug(store, "acme").id


def test_the_cli_adds_shows_lists_rotates_and_deletes_a_client_showing_the_secret_once(store, acme, db_url,
                                                                                      tmp_path):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_PUBLIC_PORT": "8443"}
    run = lambda *args: CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)  # noqa: E731
    assert run("group", "add", "staff").exit_code == 0
    added = run("oidc-client", "add", "grafana", "--redirect-uri", "https://grafana.acme-corp.test/login/generic_oauth",
                "--group", "staff", "--scopes", "openid email groups")
    assert added.exit_code == 0, added.output
    secret = next(line.split()[-1] for line in added.output.splitlines() if "client_secret:" in line)
    client_id = next(line.split()[-1] for line in added.output.splitlines() if "client_id:" in line)
    with store.read() as conn:
        row = conn.execute(select(oidc_clients).where(oidc_clients.c.client_id == client_id)).one()
    assert row.secret_hash == clients.hash_secret(secret) and secret not in json.dumps(row._asdict())
    shown = run("oidc-client", "show", "grafana")
    assert shown.exit_code == 0 and secret not in shown.output
    assert "https://acme.id.example.test:8443/.well-known/openid-configuration" in shown.output
    assert "staff" in shown.output
    header, row = run("oidc-client", "list").output.splitlines()
    assert header.split()[:2] == ["NAME", "CLIENT"] and row.split()[:4] == ["grafana", client_id, "confidential", "enabled"]
    [listed] = json.loads(run("oidc-client", "list", "--json").output)
    assert listed["client_id"] == client_id and not listed["public"] and "secret" not in json.dumps(listed)
    rotated = run("oidc-client", "rotate-secret", "grafana")
    new_secret = rotated.output.split()[1]
    assert rotated.exit_code == 0 and new_secret != secret
    row = clients.get_client(store, acme, "grafana")
    assert clients.secret_matches(row, new_secret) and not clients.secret_matches(row, secret)
    assert run("oidc-client", "delete", "grafana").exit_code == 0
    assert clients.list_clients(store, acme) == []
    actions = sorted(e.action for e in audit.audit_page(store, acme, action="oidc_client.", limit=50).items)
    assert actions == ["oidc_client.add", "oidc_client.delete", "oidc_client.rotate_secret"]
    assert not any(s in json.dumps(e.detail) for e in audit.audit_page(store, acme, limit=500).items
                   for s in (secret, new_secret))


def test_a_public_client_has_no_secret(store, acme, db_url, tmp_path):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    r = CliRunner().invoke(main, ["oidc-client", "add", "spa", "--public", "--all", "--redirect-uri",
                                  "http://127.0.0.1:5173/callback"], env=env)
    assert r.exit_code == 0 and "client_secret" not in r.output and "PKCE" in r.output
    assert clients.get_client(store, acme, "spa").secret_hash is None
    refused = CliRunner().invoke(main, ["oidc-client", "rotate-secret", "spa"], env=env)
    assert refused.exit_code == 4 and "public client" in refused.output


def test_bad_client_input_names_every_field_and_writes_nothing(store, acme, db_url, tmp_path):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    r = CliRunner().invoke(main, ["oidc-client", "add", "x", "--redirect-uri", "http://app.acme-corp.test/cb",
                                  "--redirect-uri", "https://app.acme-corp.test/cb#frag", "--scopes", "email admin",
                                  "--access-token-seconds", "5"], env=env)
    assert r.exit_code == 2
    for words in ("redirect_uris", "must use https://", "fragment", "unknown scope admin", "must include openid",
                  "access_token_seconds"):
        assert words in r.output, (words, r.output)
    assert clients.list_clients(store, acme) == []


def test_a_grant_to_a_parent_group_admits_members_of_groups_below_it(store, acme):
    users.add_user(store, acme, CLI_ACTOR, email="alice@acme.test", password=PASSWORD)
    groups.add_group(store, acme, CLI_ACTOR, "staff")
    groups.add_group(store, acme, CLI_ACTOR, "engineering", parent="staff")
    groups.add_member(store, acme, CLI_ACTOR, "engineering", "alice@acme.test")
    row = clients.add_client(store, acme, CLI_ACTOR, "wiki", clients.ClientSettings(
        redirect_uris=["https://wiki.acme-corp.test/cb"])).row
    alice = users.get_user(store, acme, "alice@acme.test").id
    assert not clients.may_use(store, acme, row.id, alice)
    clients.grant(store, acme, CLI_ACTOR, "wiki", "staff")
    assert clients.may_use(store, acme, row.id, alice)
    users.set_active(store, acme, CLI_ACTOR, "alice@acme.test", False)
    assert not clients.may_use(store, acme, row.id, alice)


def test_a_client_is_refused_without_a_redirect_uri(store, acme):
    with pytest.raises(InvalidInput, match="redirect_uris: at least one"):
        clients.add_client(store, acme, CLI_ACTOR, "x", clients.ClientSettings())


def test_signing_keys_are_sealed_at_rest_and_rotation_keeps_old_ones_published(store):
    keys.ensure_keys(store)
    first = {k["kid"] for k in keys.public_jwks(store)["keys"]}
    assert {k["alg"] for k in keys.public_jwks(store)["keys"]} == {"RS256", "ES256"}
    with store.read() as conn:
        stored = [r.private_jwk for r in conn.execute(select(oidc_signing_keys))]
    assert stored and all(is_sealed(v) for v in stored)
    assert all("\"d\"" not in json.dumps(k) for k in keys.public_jwks(store)["keys"])  # no private part published
    new = set(keys.rotate_keys(store, CLI_ACTOR))
    published = {k["kid"] for k in keys.public_jwks(store)["keys"]}
    assert published == first | new
    assert keys.signing_key(store, "RS256").kid in new
    keys.rotate_keys(store, CLI_ACTOR, overlap_seconds=0)  # after a leak: the old ones leave at once
    assert not ({k["kid"] for k in keys.public_jwks(store)["keys"]} & (first | new))
