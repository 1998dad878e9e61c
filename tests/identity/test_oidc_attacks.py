"""Attacks on sign-in through an upstream provider, against a real
`oidc-provider`. Where the attack needs an ID token a real provider would
never issue, the provider process's TEST-ONLY /__test/mangle control re-mints
the next token response's ID token with `jose` (tests/node/oidc-provider-server.mjs):
the forged token then reaches Ostiary exactly as a malicious or compromised
token endpoint would send it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from ostiary.services.queries import audit
from ostiary.services.rules import sessions, users
from tests.identity.conftest import TENANT_HOST, start_provider_flow, sign_in_with

FORGED = {
    "tampered": "signature does not verify",
    "wrong-audience": "aud",
    "wrong-issuer": "iss",
    "expired": "exp",
    "other-nonce": "nonce",
    "alg-none": "signature does not verify",
    "unknown-kid": "a key the provider does not publish",
    "hs256-public-key": "signature does not verify",
}


def _alice_sessions(w) -> int:
    alice = users.get_user(w.store, w.tenant_id, "alice@acme.test")
    return len(sessions.list_sessions(w.store, w.tenant_id, alice.id))


def _refusals(w) -> int:
    return audit.audit_page(w.store, w.tenant_id, action="identity.answer_refused", limit=500).total


@pytest.mark.parametrize("mode", sorted(FORGED))
def test_a_forged_id_token_is_refused_and_signs_nobody_in(identity_world, mode):
    w = identity_world
    before, refused = _alice_sessions(w), _refusals(w)
    with w.browser() as b:
        callback = start_provider_flow(w, b, "idp", "alice", "/account")
        w.idp.mangle_next_token(mode)
        r = b.get(callback)
        assert r.status_code == 400 and "Sign-in refused" in r.text, r.text
        assert FORGED[mode] in r.text, r.text
        assert b.get(w.url("/account")).status_code == 303
    assert _alice_sessions(w) == before
    assert _refusals(w) == refused + 1


def test_a_replayed_state_is_refused_even_with_the_browsers_own_cookie(identity_world):
    w = identity_world
    with w.browser() as b:
        callback = start_provider_flow(w, b, "idp", "alice", "/")
        pending = {c.name: c.value for c in b.cookies.jar if c.domain == TENANT_HOST}
        assert b.get(callback).status_code == 303
        before = _alice_sessions(w)
        for name, value in pending.items():  # the cookie as it was before the callback
            b.cookies.set(name, value, domain=TENANT_HOST)
        r = b.get(callback)
        assert r.status_code == 400 and "already used" in r.text
    assert _alice_sessions(w) == before


def test_a_callback_this_browser_did_not_start_is_refused(identity_world):
    """Login CSRF: an attacker's own code and state, delivered to someone else's browser."""
    w = identity_world
    with w.browser() as attacker:
        callback = start_provider_flow(w, attacker, "idp", "mallory", "/")
    with w.browser() as victim:
        r = victim.get(callback)
        assert r.status_code == 400 and "does not belong to a sign-in this browser started" in r.text
        # And with a sign-in of its own under way, the attacker's state still does not match.
        start_provider_flow(w, victim, "idp", "alice", "/")
        assert victim.get(callback).status_code == 400


def test_a_replayed_code_is_refused_by_the_provider_and_signs_nobody_in(identity_world):
    w = identity_world
    with w.browser() as b:
        first = start_provider_flow(w, b, "idp", "alice", "/")
        assert b.get(first).status_code == 303
        code = parse_qs(urlsplit(first).query)["code"][0]
        second = start_provider_flow(w, b, "idp", "alice", "/")
        state = parse_qs(urlsplit(second).query)["state"][0]
        before = _alice_sessions(w)
        replay = w.url("/sign-in/with/idp/callback?" + urlencode({"code": code, "state": state}))
        r = b.get(replay)
        assert r.status_code == 400 and "refused the code" in r.text, r.text
    assert _alice_sessions(w) == before


def test_a_provider_that_rotates_its_signing_key_is_followed_by_fetching_its_keys_again(identity_world):
    """The other side of the unknown-kid refusal: a cached JWKS is fetched again when a token names a
    new key, so a real rotation keeps working. ("other" is trusted for no domain, so carol's verified
    token ends at the account policy: a 403 that names the provider, reached only after the ID token
    verified.)"""
    import time

    w = identity_world
    for _ in range(4):  # the requests reach both workers, which cache the current keys
        with w.browser() as b:
            assert "Another IdP cannot vouch" in sign_in_with(w, b, "other", "carol", "/").text
    w.other.rotate_key()
    time.sleep(2.1)  # past JWKS_REFETCH_INTERVAL since any worker last fetched the keys
    for _ in range(4):
        with w.browser() as b:
            r = sign_in_with(w, b, "other", "carol", "/")
        assert r.status_code == 403 and "Another IdP cannot vouch" in r.text, r.text
