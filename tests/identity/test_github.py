"""GitHub as a plain OAuth 2 provider, through the whole flow in a real
`ostiary serve`. GitHub itself cannot run here: tests/identity/github_standin.py
stands in for a GitHub Enterprise Server, answering in GitHub's documented
shapes and checking the client secret, redirect URI, PKCE and single-use codes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ostiary.identity.linking import linked_for_user
from ostiary.identity.method import decode_methods
from ostiary.services.queries import pages
from ostiary.services.rules import groups, providers, sessions, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules.providers import ProviderSettings
from ostiary.store.tables import linked_identities
from tests.identity.conftest import sign_in_with, start_provider_flow
from tests.identity.github_standin import GitHubStandIn

CLIENT_ID, CLIENT_SECRET = "Iv1gh0standin", "ghsecret0standin0value"
ACCOUNTS = {
    "octocat": {"id": 583231, "name": "The Octocat", "teams": ["acme/ops", "other-org/ops"],
                "emails": [{"email": "octo@users.noreply.test", "primary": False, "verified": True},
                           {"email": "octocat@acme.test", "primary": True, "verified": True}]},
    # Claims bob's address as primary, unverified: must never become bob.
    "mallory": {"id": 666, "name": "Mallory", "emails": [{"email": "bob@acme.test", "primary": True,
                                                         "verified": False}]},
}


@pytest.fixture(scope="module")
def github(identity_world):
    w = identity_world
    standin = GitHubStandIn(w.tls, CLIENT_ID, CLIENT_SECRET, ACCOUNTS).start()
    secret = w.tmp / "github-secret"
    secret.write_text(CLIENT_SECRET)
    groups.add_group(w.store, w.tenant_id, CLI_ACTOR, "ops")
    providers.add_provider(w.store, w.tenant_id, CLI_ACTOR, "gh", ProviderSettings(
        preset="github", issuer=standin.web_url, client_id=CLIENT_ID, client_secret_ref=f"file:{secret}",
        scopes="read:user user:email read:org", account_policy="create", create_domains=["acme.test"],
        trusted_domains=["acme.test"]))
    providers.map_group(w.store, w.tenant_id, CLI_ACTOR, "gh", "acme/ops", "ops")
    yield standin
    standin.stop()
    providers.remove_provider(w.store, w.tenant_id, CLI_ACTOR, "gh")


def test_a_github_account_signs_in_with_its_verified_primary_email_and_its_teams_as_groups(identity_world, github):
    w = identity_world
    with w.browser() as b:
        r = sign_in_with(w, b, "gh", "octocat", "/account")
        assert r.status_code == 303 and r.headers["location"] == "/account", r.text
        assert "octocat@acme.test" in b.get(w.url("/account")).text
    octo = users.get_user(w.store, w.tenant_id, "octocat@acme.test")
    assert octo.username == "octocat" and octo.display_name == "The Octocat" and octo.password_hash is None
    assert [g.name for g in pages.user_groups(w.store, w.tenant_id, octo.id)] == ["ops"]
    [link] = linked_for_user(w.store, w.tenant_id, octo.id)
    with w.store.read() as conn:
        subject = conn.execute(select(linked_identities.c.subject).where(linked_identities.c.id == link.id)).scalar()
    assert link.provider_name == "gh" and subject == "583231"  # the numeric id, which a rename cannot change
    [entry] = decode_methods(sessions.list_sessions(w.store, w.tenant_id, octo.id)[0].methods)
    assert entry["amr"] == "fed" and entry["via"] == "gh"
    assert github.refused == []


def test_an_unverified_github_email_matching_an_existing_user_never_links_to_them(identity_world, github):
    w = identity_world
    bob = users.get_user(w.store, w.tenant_id, "bob@acme.test")
    with w.browser() as b:
        r = sign_in_with(w, b, "gh", "mallory", "/account")
        assert r.status_code == 403 and "cannot vouch" in r.text, r.text
    assert linked_for_user(w.store, w.tenant_id, bob.id) == []
    assert sessions.list_sessions(w.store, w.tenant_id, bob.id) == []


def test_a_replayed_github_callback_signs_nobody_in(identity_world, github):
    w = identity_world
    with w.browser() as b:
        callback = start_provider_flow(w, b, "gh", "octocat", "/account")
        assert b.get(callback).status_code == 303
    with w.browser() as thief:  # the same code and state, from another browser
        r = thief.get(callback)
        assert r.status_code in (400, 403) and "Other ways to sign in" in r.text
        assert thief.get(w.url("/account")).status_code == 303


def test_a_wrong_github_client_secret_gets_a_page_that_points_at_the_settings(identity_world, github):
    w = identity_world
    wrong = w.tmp / "github-secret-wrong"
    wrong.write_text("not-the-secret")
    providers.update_provider(w.store, w.tenant_id, CLI_ACTOR, "gh", ProviderSettings(client_secret_ref=f"file:{wrong}"))
    try:
        with w.browser() as b:
            r = sign_in_with(w, b, "gh", "octocat", "/account")
            assert r.status_code == 502 or r.status_code == 503, r.text
            assert "GitHub" in r.text and b.get(w.url("/account")).status_code == 303
        assert "token: client" in github.refused
    finally:
        github.refused.clear()
        providers.update_provider(w.store, w.tenant_id, CLI_ACTOR, "gh",
                                  ProviderSettings(client_secret_ref=f"file:{w.tmp / 'github-secret'}"))
