"""Signing in with a directory account against a real OpenLDAP `slapd`
(Debian), started from an LDIF with StartTLS on the test CA: search then
bind, disabled entries, group mapping from memberOf, the same throttle as
passwords, and a directory that is down or whose certificate is not trusted."""

from __future__ import annotations

import re
import time

import pytest

from ostiary.identity.method import decode_methods
from ostiary.services.queries import pages
from ostiary.services.rules import groups, providers, sessions, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput, NotFound
from ostiary.services.rules.providers import ProviderSettings
from tests.identity.conftest import same_origin
from tests.identity.ldap_server import PASSWORD, READER_DN, READER_PASSWORD, USER_FILTER, Slapd
from tests.support.tls import issue_certificates

FAILED = "The username or password is not right."


@pytest.fixture(scope="module")
def directory(identity_world):
    w = identity_world
    slapd = Slapd(w.tls, w.tmp / "slapd").start()
    secret = w.tmp / "ldap-bind-password"
    secret.write_text(READER_PASSWORD)
    groups.add_group(w.store, w.tenant_id, CLI_ACTOR, "sales")
    providers.add_provider(w.store, w.tenant_id, CLI_ACTOR, "corp", ProviderSettings(
        preset="ldap", display_name="Corp directory", issuer=slapd.url, client_id=READER_DN,
        client_secret_ref=f"file:{secret}", start_tls=True, ca_file=str(w.tls.ca_cert),
        user_base="ou=people,dc=acme,dc=test", user_filter=USER_FILTER, account_policy="create",
        create_domains=["acme.test"], trusted_domains=["acme.test"]))
    providers.map_group(w.store, w.tenant_id, CLI_ACTOR, "corp", "engineering", "staff")
    providers.map_group(w.store, w.tenant_id, CLI_ACTOR, "corp", "sales", "sales")
    yield slapd
    slapd.stop()
    providers.remove_provider(w.store, w.tenant_id, CLI_ACTOR, "corp")


def _sign_in(w, client, login, password=PASSWORD, name="corp"):
    page = client.get(w.url(f"/sign-in/directory/{name}?next=/account"))
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(w.url(f"/sign-in/directory/{name}"), headers=same_origin(w),
                       data={"csrf": csrf, "login": login, "password": password, "next": "/account"})


def test_a_directory_account_signs_in_by_search_then_bind_and_its_groups_are_mapped(identity_world, directory):
    w = identity_world
    with w.browser() as b:
        assert "Sign in with Corp directory" in b.get(w.url("/sign-in")).text
        r = _sign_in(w, b, "dora")
        assert r.status_code == 303 and r.headers["location"] == "/account", r.text
    dora = users.get_user(w.store, w.tenant_id, "dora@acme.test")  # created: acme.test accounts are
    assert dora.display_name == "Dora Directory" and dora.password_hash is None
    assert sorted(g.name for g in pages.user_groups(w.store, w.tenant_id, dora.id)) == ["sales", "staff"]
    [entry] = decode_methods(sessions.list_sessions(w.store, w.tenant_id, dora.id)[0].methods)
    assert entry["amr"] == "pwd" and entry["via"] == "corp"
    from tests.identity.test_provider_admin import _admin

    admin, _ = _admin(w)
    try:
        listed = admin.get(w.url("/admin/sessions"), params={"q": "dora"})
        assert listed.status_code == 200 and re.search(r"<td[^>]*>directory corp</td>", listed.text), listed.text
    finally:
        admin.close()


def test_directory_sign_ins_are_logged_with_method_ldap(identity_world, directory):
    """The server's log names each directory sign-in, failed and succeeded (docs/operations.md, "Events")."""
    w = identity_world
    log = w.tmp / "server.log"
    with w.browser() as b:
        assert _sign_in(w, b, "dora", "not her password").status_code == 401
        assert _sign_in(w, b, "dora").status_code == 303
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines()
        failed = [x for x in lines if " signin.failed " in x and "method=ldap" in x and "login=dora " in x]
        succeeded = [x for x in lines if " signin.succeeded " in x and "method=ldap" in x and "login=dora " in x]
        if failed and succeeded:
            break
        time.sleep(0.1)
    assert failed and "via=corp" in failed[-1] and "tenant=acme" in failed[-1], lines[-20:]
    assert succeeded and "via=corp" in succeeded[-1]


def test_an_existing_user_is_linked_by_the_directorys_email_in_a_trusted_domain(identity_world, directory):
    w = identity_world
    alice = users.get_user(w.store, w.tenant_id, "alice@acme.test")
    with w.browser() as b:
        assert _sign_in(w, b, "alice@acme.test").status_code == 303
    newest = sessions.list_sessions(w.store, w.tenant_id, alice.id)[0]
    assert decode_methods(newest.methods)[0]["via"] == "corp"


@pytest.mark.parametrize("login, password", [("alice", "wrong password"), ("dave", PASSWORD), ("nobody", PASSWORD),
                                             ("*", PASSWORD), ("alice)(uid=*", PASSWORD)],
                         ids=["wrong-password", "disabled-entry", "unknown", "wildcard", "filter-injection"])
def test_wrong_passwords_disabled_entries_and_filter_tricks_are_refused_alike(identity_world, directory, login,
                                                                             password):
    w = identity_world
    with w.browser() as b:
        r = _sign_in(w, b, login, password)
        assert r.status_code == 401 and FAILED in r.text
        assert b.get(w.url("/account")).status_code == 303


def test_an_empty_password_never_becomes_an_unauthenticated_bind(identity_world, directory):
    from ostiary.identity import ldap

    config = providers.config_for(identity_world.store, identity_world.tenant_id, "corp")
    with pytest.raises(ldap.WrongCredentials):
        ldap.authenticate(config, "alice", "")


def test_a_directory_that_is_down_gets_a_clear_message_never_a_500(identity_world, directory):
    w = identity_world
    directory.stop()
    try:
        with w.browser() as b:
            r = _sign_in(w, b, "alice")
        assert r.status_code == 503 and "Corp directory is not answering" in r.text
    finally:
        directory.restart()


def test_a_directory_whose_certificate_the_ca_file_does_not_vouch_for_is_not_used(identity_world, directory):
    w = identity_world
    stranger = issue_certificates(w.tmp / "stranger-ca", ["localhost"])
    providers.update_provider(w.store, w.tenant_id, CLI_ACTOR, "corp", ProviderSettings(ca_file=str(stranger.ca_cert)))
    try:
        with w.browser() as b:
            r = _sign_in(w, b, "alice")
        assert r.status_code == 503 and "not answering" in r.text
    finally:
        providers.update_provider(w.store, w.tenant_id, CLI_ACTOR, "corp", ProviderSettings(ca_file=str(w.tls.ca_cert)))


def test_directory_sign_in_shares_the_password_throttle(identity_world, directory):
    w = identity_world
    with w.browser() as b:
        for _ in range(5):
            assert _sign_in(w, b, "dora@acme.test", "wrong").status_code == 401
        r = _sign_in(w, b, "dora@acme.test", PASSWORD)
        assert r.status_code == 429 and "Too many failed sign-ins" in r.text and "retry-after" in r.headers


def test_a_directory_is_refused_without_tls_or_without_a_login_in_its_filter(store):
    from ostiary.services.rules import tenants

    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    with pytest.raises(InvalidInput) as refused:
        providers.add_provider(store, tid, CLI_ACTOR, "corp", ProviderSettings(
            preset="ldap", issuer="ldap://dc1.acme.test", user_base="dc=acme,dc=test", user_filter="(uid=alice)"))
    assert {p.field for p in refused.value.problems} == {"start_tls", "user_filter"}
    row = providers.add_provider(store, tid, CLI_ACTOR, "corp", ProviderSettings(
        preset="ldap", issuer="ldaps://dc1.acme.test:636", user_base="dc=acme,dc=test",
        user_filter="(sAMAccountName={login})"))
    assert row.client_id == "" and row.client_secret_ref == ""  # an anonymous search


def test_the_admin_page_adds_a_directory_refusing_bad_settings_and_people_sign_in_through_it(identity_world,
                                                                                             directory):
    from tests.identity.test_provider_admin import _admin

    w = identity_world
    admin, csrf = _admin(w)
    secret = w.tmp / "ldap-bind-password"
    form = {"csrf": csrf, "preset": "ldap", "name": "corp-ui", "display_name": "Corp from the UI",
            "issuer": directory.url, "start_tls_present": "1", "start_tls": "1", "ca_file": str(w.tls.ca_cert),
            "client_id": READER_DN, "secret_source": "file", "secret_where": str(secret),
            "user_base": "ou=people,dc=acme,dc=test", "user_filter": USER_FILTER, "account_policy": "existing",
            "trusted_domains": "acme.test"}
    try:
        page = admin.get(w.url("/admin/providers"))
        assert 'id="directory-title"' in page.text
        bad = admin.post(w.url("/admin/providers"), headers=same_origin(w),
                         data={**form, "start_tls": "", "user_filter": "(uid=alice)", "user_base": ""})
        assert bad.status_code == 422 and "Nothing was changed" in bad.text
        for field in ("start_tls", "user_filter", "user_base"):
            assert field in bad.text, field
        with pytest.raises(NotFound):
            providers.get_provider(w.store, w.tenant_id, "corp-ui")
        r = admin.post(w.url("/admin/providers"), headers=same_origin(w), data=form)
        assert r.status_code == 303, r.text
        detail = admin.get(w.url(r.headers["location"].split("?")[0]))
        assert "Directory URL" in detail.text and f"file:{secret}" in detail.text and "ou=people" in detail.text
    finally:
        admin.close()
    try:
        with w.browser() as b:
            assert "Sign in with Corp from the UI" in b.get(w.url("/sign-in")).text
            r = _sign_in(w, b, "alice", name="corp-ui")
            assert r.status_code == 303 and r.headers["location"] == "/account", r.text
    finally:
        providers.remove_provider(w.store, w.tenant_id, CLI_ACTOR, "corp-ui")
