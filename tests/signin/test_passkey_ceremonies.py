"""The passkey ceremonies' state and inputs, attacked directly on SQLite and
PostgreSQL: a challenge is bound to its purpose, tenant, browser and person,
used once, and expires; whatever a client posts as the browser's answer is
refused with a message, never an exception (docs/sign-in.md). The relying
party comes from the tenant host and the settings alone."""

from __future__ import annotations

import secrets
import time

import pytest

from ostiary.config import load_settings
from ostiary.services.rules import passkeys, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.snapshot.model import TenantView
from ostiary.tokens import PASSKEY_CEREMONY, SigningKey, sign

KEY = SigningKey("k1", secrets.token_bytes(32), None)
KEYS = {KEY.kid: KEY}
RP = passkeys.RelyingParty("acme.id.example.test", "Ostiary acme", "https://acme.id.example.test")


@pytest.fixture
def acme(store):
    result = tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test",
                                       "correct horse battery", CLI_ACTOR)
    return result.tenant.id


def _state(options: dict) -> str:
    return options["state"]


def test_the_relying_party_is_the_tenant_host_with_the_public_port():
    tenant = TenantView(1, "acme", "acme.id.example.test", 60, 600)
    rp = passkeys.relying_party(load_settings(public_port=8443, database_url="sqlite://"), tenant)
    assert (rp.id, rp.origin, rp.user_verification) == ("acme.id.example.test", "https://acme.id.example.test:8443",
                                                        "preferred")
    rp = passkeys.relying_party(load_settings(database_url="sqlite://"), tenant)
    assert rp.origin == "https://acme.id.example.test"
    rp = passkeys.relying_party(load_settings(dev=True, public_port=8080, database_url="sqlite://",
                                              webauthn_user_verification="Required"), tenant)
    assert rp.origin == "http://acme.id.example.test:8080" and rp.user_verification == "required"


def test_an_unknown_user_verification_setting_is_refused_naming_it():
    from ostiary.config import ConfigError

    with pytest.raises((ConfigError, ValueError)) as caught:
        load_settings(database_url="sqlite://", webauthn_user_verification="sometimes")
    assert "webauthn_user_verification" in str(caught.value).lower()


def test_a_challenge_is_used_once_and_only_for_its_purpose_tenant_and_browser(store, acme):
    binding = passkeys.browser_binding("csrf-cookie-value")

    def fresh() -> str:
        return _state(passkeys.authentication_options(store, KEY, RP, acme, passkeys.SIGN_IN, binding))

    state = fresh()
    assert passkeys.open_ceremony(store, KEYS, state, passkeys.SIGN_IN, acme, binding)["p"] == "sign-in"
    with pytest.raises(passkeys.PasskeyRefused, match="already used"):
        passkeys.open_ceremony(store, KEYS, state, passkeys.SIGN_IN, acme, binding)
    for purpose, tenant, browser in ((passkeys.SECOND_FACTOR, acme, binding), (passkeys.REGISTER, acme, binding),
                                     (passkeys.SIGN_IN, acme + 1, binding),
                                     (passkeys.SIGN_IN, acme, passkeys.browser_binding("another-browser"))):
        with pytest.raises(passkeys.PasskeyRefused, match="expired or came from another page"):
            passkeys.open_ceremony(store, KEYS, fresh(), purpose, tenant, browser)
    forged = SigningKey("k1", secrets.token_bytes(32), None)
    payload = {"p": "sign-in", "c": "AAAA", "tn": acme, "b": binding, "jti": "x" * 32, "exp": time.time() + 60}
    for token in (sign(PASSKEY_CEREMONY, payload, forged), sign("fa", payload, KEY), "", "x" * 5000,
                  sign(PASSKEY_CEREMONY, {**payload, "exp": time.time() - 3600}, KEY)):
        with pytest.raises(passkeys.PasskeyRefused):
            passkeys.open_ceremony(store, KEYS, token, passkeys.SIGN_IN, acme, binding)


GARBAGE = [
    {}, {"id": 5}, {"rawId": "x" * 2000, "response": {}}, {"rawId": "abc", "response": "text"},
    {"rawId": "abc", "response": []}, {"rawId": "abc", "id": "abc", "type": "public-key",
                                       "response": {"clientDataJSON": "!!", "authenticatorData": "", "signature": ""}},
]


@pytest.mark.parametrize("answer", GARBAGE)
def test_any_shape_of_answer_is_refused_with_a_message(store, acme, answer):
    binding = passkeys.browser_binding("c")
    state = _state(passkeys.authentication_options(store, KEY, RP, acme, passkeys.SIGN_IN, binding))
    with pytest.raises(passkeys.PasskeyRefused):
        passkeys.authenticate(store, KEYS, RP, acme, passkeys.SIGN_IN, binding, state, answer)


@pytest.mark.parametrize("answer", GARBAGE + [
    {"id": "abc", "rawId": "abc", "type": "public-key",
     "response": {"clientDataJSON": "e30", "attestationObject": "oA", "transports": [1, None]}}])
def test_any_shape_of_registration_is_refused_with_a_message(store, acme, answer):
    admin = users.get_user(store, acme, "admin@acme.test")
    binding = passkeys.browser_binding("c")
    state = _state(passkeys.registration_options(store, KEY, RP, acme, admin, binding))
    with pytest.raises(passkeys.PasskeyRefused):
        passkeys.register(store, KEYS, RP, acme, admin.id, binding, state, answer, "Key", CLI_ACTOR)
    assert passkeys.count_passkeys(store, acme, admin.id) == 0


def test_a_registration_made_for_one_person_cannot_be_finished_for_another(store, acme):
    admin = users.get_user(store, acme, "admin@acme.test")
    other = users.add_user(store, acme, CLI_ACTOR, email="pat@acme.test", password="correct horse battery")
    binding = passkeys.browser_binding("c")
    state = _state(passkeys.registration_options(store, KEY, RP, acme, admin, binding))
    with pytest.raises(passkeys.PasskeyRefused, match="another person"):
        passkeys.register(store, KEYS, RP, acme, other.id, binding, state, {}, "Key", CLI_ACTOR)


@pytest.mark.parametrize("name, rule", [("", "1-100 characters"), ("x" * 101, "1-100 characters"),
                                        ("Key\nX-Injected: 1", "control")])
def test_a_passkey_name_is_checked_naming_the_field(name, rule):
    from ostiary.services.base.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        passkeys.validate_name(name)
    assert caught.value.problems[0].field == "name" and rule in caught.value.problems[0].message.lower()
