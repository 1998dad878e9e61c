"""Signing in through a real OpenID provider (scripted browser): the
account policy, linking, group mapping and the provider's errors."""

from __future__ import annotations

import re

from ostiary.identity.method import amr_values
from ostiary.services.queries import pages
from ostiary.services.rules import sessions, users
from tests.identity.conftest import TENANT_HOST, sign_in_with


def _user(world, email):
    return users.get_user(world.store, world.tenant_id, email)


def test_an_existing_user_with_a_verified_email_in_a_trusted_domain_is_linked_and_signed_in(identity_world):
    w = identity_world
    with w.browser() as b:
        r = sign_in_with(w, b, "idp", "alice", "/account")
        assert r.status_code == 303 and r.headers["location"] == "/account", r.text
        page = b.get(w.url("/account"))
        assert page.status_code == 200 and "alice@acme.test" in page.text and "Test IdP" in page.text
        assert re.search(r"<td[^>]*>idp</td>", page.text)  # "Signed in with" in the account's session list
    alice = _user(w, "alice@acme.test")
    newest = sessions.list_sessions(w.store, w.tenant_id, alice.id)[0]
    assert amr_values(newest.methods) == ["fed"]
    [listed] = [s for s in pages.sessions_page(w.store, w.tenant_id, user_id=alice.id).items if s.id == newest.id]
    assert listed.methods == ("fed",) and listed.signed_in_with == "idp"
    assert "staff" in [g.name for g in pages.user_groups(w.store, w.tenant_id, alice.id)]


def _audit_actions(world, action_prefix: str) -> list:
    from ostiary.services.queries import audit

    return audit.audit_page(world.store, world.tenant_id, action=action_prefix, limit=500).items


def test_an_unverified_email_matching_an_existing_user_never_links_to_them(identity_world):
    """nOAuth: mallory's account at the provider claims bob's address, unverified."""
    w = identity_world
    bob = _user(w, "bob@acme.test")
    refusals = len(_audit_actions(w, "identity.link_refused"))
    with w.browser() as b:
        r = sign_in_with(w, b, "idp", "mallory", "/account")
        assert r.status_code == 403 and "cannot vouch" in r.text, r.text
        assert b.get(w.url("/account")).status_code == 303  # not signed in
    assert sessions.list_sessions(w.store, w.tenant_id, bob.id) == []
    from ostiary.identity.linking import linked_for_user

    assert linked_for_user(w.store, w.tenant_id, bob.id) == []
    assert len(_audit_actions(w, "identity.link_refused")) == refusals + 1


def test_a_provider_not_trusted_for_the_domain_cannot_link_by_a_verified_email(identity_world):
    w = identity_world
    with w.browser() as b:
        r = sign_in_with(w, b, "other", "alice", "/")
        assert r.status_code == 403 and "Another IdP cannot vouch" in r.text


def test_first_sign_in_creates_the_account_and_group_changes_upstream_apply_at_the_next(identity_world):
    w = identity_world
    with w.browser() as b:
        r = sign_in_with(w, b, "idp", "newbie", "/")
        assert r.status_code == 303, r.text
    newbie = _user(w, "newbie@acme.test")
    assert newbie.username == "newbie" and newbie.display_name == "New Person" and newbie.password_hash is None
    assert [g.name for g in pages.user_groups(w.store, w.tenant_id, newbie.id)] == ["staff"]
    w.idp.set_account("newbie", groups=["unmapped"])  # removed from engineering upstream
    with w.browser() as b:
        assert sign_in_with(w, b, "idp", "newbie", "/").status_code == 303
    assert pages.user_groups(w.store, w.tenant_id, newbie.id) == []


def test_accounts_are_created_only_for_the_listed_domains(identity_world):
    w = identity_world
    with w.browser() as b:
        r = sign_in_with(w, b, "idp", "outsider", "/")
        assert r.status_code == 403 and "only for acme.test addresses" in r.text
    assert users.find_user(w.store, w.tenant_id, "someone@elsewhere.test") is None


def test_a_provider_renaming_the_email_of_a_linked_identity_does_not_move_it_to_another_user(identity_world):
    w = identity_world
    with w.browser() as b:
        assert sign_in_with(w, b, "idp", "renamer", "/").status_code == 303
    renamer, bob = _user(w, "renamer@acme.test"), _user(w, "bob@acme.test")
    w.idp.set_account("renamer", email="bob@acme.test")
    with w.browser() as b:
        assert sign_in_with(w, b, "idp", "renamer", "/").status_code == 303
    assert sessions.list_sessions(w.store, w.tenant_id, bob.id) == []
    assert len(sessions.list_sessions(w.store, w.tenant_id, renamer.id)) == 2
    assert _user(w, "renamer@acme.test").email == "renamer@acme.test"  # the account keeps its own email
    changed = _audit_actions(w, "identity.email_changed")
    assert any(e.detail.get("after") == "bob@acme.test" for e in changed)


def test_the_sign_in_page_shows_one_button_per_provider(identity_world):
    w = identity_world
    with w.browser() as b:
        page = b.get(w.url("/sign-in?next=/account"))
    assert page.text.count('class="provider-button"') == 2
    assert 'href="/sign-in/with/idp?next=/account"' in page.text and "Sign in with Another IdP" in page.text
    assert 'id="password"' in page.text


def test_a_provider_that_is_down_gets_a_clear_page_never_a_500(identity_world):
    from ostiary.services.rules import providers
    from ostiary.services.base.actor import CLI_ACTOR
    from ostiary.services.rules.providers import ProviderSettings
    from tests.support.server import free_port

    w = identity_world
    providers.add_provider(w.store, w.tenant_id, CLI_ACTOR, "down", ProviderSettings(
        preset="oidc", display_name="Down IdP", issuer=f"https://127.0.0.1:{free_port()}", client_id="x",
        client_secret_ref="env:OTHER_IDP_SECRET"))
    try:
        with w.browser() as b:
            r = b.get(w.url("/sign-in/with/down?next=/account"))
        assert r.status_code == 502 and "Down IdP is not answering" in r.text
        assert 'href="/sign-in/with/down?next=%2Faccount"' in r.text and 'href="/sign-in?next=%2Faccount"' in r.text
    finally:
        providers.remove_provider(w.store, w.tenant_id, CLI_ACTOR, "down")


def test_a_token_endpoint_that_fails_gets_a_clear_page_and_nothing_changes(identity_world):
    w = identity_world
    alice = _user(w, "alice@acme.test")
    before = len(sessions.list_sessions(w.store, w.tenant_id, alice.id))
    with w.browser() as b:
        from tests.identity.conftest import start_provider_flow

        callback = start_provider_flow(w, b, "idp", "alice", "/")
        w.idp.mangle_next_token("token-error")
        r = b.get(callback)
    assert r.status_code == 502 and "Test IdP is not answering" in r.text and "Nothing has changed" in r.text
    assert len(sessions.list_sessions(w.store, w.tenant_id, alice.id)) == before


def test_a_provider_answering_an_error_gets_a_page_naming_it(identity_world):
    from urllib.parse import parse_qs, urlencode, urlsplit

    w = identity_world
    with w.browser() as b:
        r = b.get(w.url("/sign-in/with/idp"), params={"next": "/"})
        state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
        r = b.get(w.url("/sign-in/with/idp/callback?" + urlencode(
            {"error": "access_denied", "error_description": "End-User aborted interaction", "state": state})))
    assert r.status_code == 400 and "Test IdP did not sign you in" in r.text and "access_denied" in r.text


def test_a_person_links_and_unlinks_a_provider_from_their_account_page(identity_world):
    import re

    from tests.identity.conftest import password_sign_in, same_origin, sign_in_at_provider

    w = identity_world
    carol = _user(w, "carol@acme.test")
    with w.browser() as b:
        assert password_sign_in(w, b, "carol@acme.test", "/account").status_code == 303
        page = b.get(w.url("/account"))
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = b.post(w.url("/account/identities/link"), headers=same_origin(w), data={"csrf": csrf, "provider": "other"})
        assert r.status_code == 303, r.text
        r = b.get(sign_in_at_provider(b, r.headers["location"], "carol"))
        assert r.status_code == 303 and r.headers["location"] == "/account"
        page = b.get(w.url("/account"))
        assert "Another IdP" in page.text and "carol@acme.test" in page.text
    with w.browser() as b:  # the provider signs carol in, though it is trusted for no domain: she linked it
        assert sign_in_with(w, b, "other", "carol", "/").status_code == 303
        page = b.get(w.url("/account"))
        link_id = re.search(r'action="/account/identities/(\d+)/remove"', page.text).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = b.post(w.url(f"/account/identities/{link_id}/remove"), headers=same_origin(w), data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/account"
        assert "The identity is no longer linked." in b.get(w.url("/account")).text
    with w.browser() as b:
        assert sign_in_with(w, b, "other", "carol", "/").status_code == 403
    newest = sessions.list_sessions(w.store, w.tenant_id, carol.id)[0]
    assert amr_values(newest.methods) == ["fed"]


def test_with_password_sign_in_off_only_administrators_use_a_password_and_only_by_the_break_glass_form(identity_world):
    from ostiary.services.rules import providers
    from ostiary.services.base.actor import CLI_ACTOR
    from tests.identity.conftest import password_sign_in

    w = identity_world
    providers.set_password_sign_in(w.store, w.tenant_id, CLI_ACTOR, False)
    try:
        with w.browser() as b:
            page = b.get(w.url("/sign-in"))
            assert 'id="password"' not in page.text and "Sign in with Test IdP" in page.text
            assert 'id="password"' in b.get(w.url("/sign-in?with=password")).text
            refused = password_sign_in(w, b, "bob@acme.test", "/", "?with=password")
            assert refused.status_code == 401 and "not right" in refused.text
            assert 'action="/sign-in?with=password"' in refused.text  # the break-glass form stays after a typo
        with w.browser() as b:
            assert password_sign_in(w, b, "admin@acme.test", "/admin", "?with=password").status_code == 303
            assert b.get(w.url("/admin")).status_code == 200
        with w.browser() as b:  # providers still sign people in
            assert sign_in_with(w, b, "idp", "alice", "/").status_code == 303
    finally:
        providers.set_password_sign_in(w.store, w.tenant_id, CLI_ACTOR, True)


def test_a_wrong_client_secret_gets_a_page_that_points_at_the_settings_not_the_person(identity_world):
    from tests.identity.conftest import start_provider_flow
    from tests.identity.oidc_provider import CLIENT_SECRET

    w = identity_world
    secret = w.tmp / "idp-secret"  # read by the server at every sign-in
    secret.write_text("not-the-secret-the-provider-registered")
    try:
        with w.browser() as b:
            r = b.get(start_provider_flow(w, b, "idp", "alice", "/"))
        assert r.status_code == 502 and "refused Ostiary&#39;s client id or secret" in r.text, r.text
    finally:
        secret.write_text(CLIENT_SECRET + "\n")
