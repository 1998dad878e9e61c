"""Passkeys end to end in Chromium with its virtual authenticator (DevTools
protocol WebAuthn domain) against a real `ostiary serve` over HTTPS:
registering several, signing in with and without typing a name, as the
second factor after a password, removing one, and the attacks — an answer
made for another origin, a sign counter that went backwards (a cloned
authenticator) — refused (docs/sign-in.md)."""

from __future__ import annotations

import base64
import json

import pytest

from ostiary.services.rules import passkeys as passkeys_service
from ostiary.store.tables import audit_log
from tests.signin.conftest import Visitor, new_person, on_page

pytestmark = pytest.mark.slow


def _rows(world, email: str):
    from ostiary.services.rules import users

    user = users.get_user(world.store, world.tenant_id, email)
    return passkeys_service.list_passkeys(world.store, world.tenant_id, user.id)


def _session_methods(world, visitor) -> list[str]:
    from ostiary.services.rules import sessions

    token = visitor.cookie("__Host-ostiary_session")
    live = sessions.session_for_token(world.store, token, world.tenant_id)
    assert live is not None, "no live session in this browser"
    return list(live.methods), live


def test_a_person_registers_two_named_passkeys_and_signs_in_without_a_name(world, visitor):
    email = new_person(world, "pia")
    visitor.sign_in_with_password(email)
    assert visitor.page.url.endswith("/account"), visitor.page.url
    visitor.add_passkey("Work laptop")
    assert "Passkey" in visitor.page.inner_text(".notice")
    assert visitor.page.inner_text("#passkeys").count("Work laptop") == 1
    # The same authenticator twice is refused by the browser: the page lists it as excluded.
    assert "already registered" in visitor.add_passkey("Again", expect_error=True)
    # A second device gets its own passkey.
    key = visitor.new_authenticator("usb")
    visitor.switch_to(key)
    visitor.page.goto(visitor.url("/account"))
    visitor.add_passkey("Spare key")
    assert [r.name for r in _rows(world, email)] == ["Work laptop", "Spare key"]
    assert [c["isResidentCredential"] for c in visitor.credentials()] == [True]

    # Sign out, then sign in with nothing typed: the browser offers the discoverable passkey.
    visitor.page.goto(visitor.url("/account"))
    visitor.page.click("form[action='/account/sessions/end'] button")
    visitor.page.goto(visitor.url("/sign-in?next=/account"))
    visitor.page.wait_for_selector("#passkey-sign-in:not([hidden])")
    visitor.click_and_follow("#passkey-sign-in button", "#passkey-sign-in-error")
    assert visitor.page.url.endswith("/account"), visitor.page.url
    assert email in visitor.page.inner_text("main")
    methods, live = _session_methods(world, visitor)
    # A user-verifying passkey is both factors: recorded as hwk + mfa, and the session passed the second factor.
    assert methods == ["hwk", "mfa"] and live.second_factor
    assert [r.last_used_at is not None for r in _rows(world, email)] == [False, True]


def _register_one(world, visitor, name: str = "Laptop", **person) -> str:
    email = new_person(world, name.lower().replace(" ", ""), **person)
    visitor.sign_in_with_password(email)
    visitor.add_passkey(name)
    return email


def _sign_out(visitor) -> None:
    visitor.page.goto(visitor.url("/account"))
    visitor.page.click("form[action='/account/sessions/end'] button")


def _passkey_sign_in(visitor, login: str = "", expect_error: bool = False, next_url: str = "/account"):
    visitor.page.goto(visitor.url("/sign-in?next=" + next_url))
    visitor.page.wait_for_selector("#passkey-sign-in:not([hidden])")
    if login:
        visitor.page.fill("#login", login)
    return visitor.click_and_follow("#passkey-sign-in button", "#passkey-sign-in-error", expect_error)


def test_signing_in_with_a_typed_name_takes_only_that_persons_passkey(world, visitor):
    email = _register_one(world, visitor, "Named")
    other = new_person(world, "other")
    _sign_out(visitor)
    refusal = _passkey_sign_in(visitor, login=other, expect_error=True)
    assert "not the one of the account you typed" in refusal
    assert visitor.cookie("__Host-ostiary_session") is None
    _passkey_sign_in(visitor, login=email)
    assert visitor.page.url.endswith("/account") and email in visitor.page.inner_text("main")


def test_the_browsers_autofill_offers_the_passkey_on_the_sign_in_page(world, browser):
    """Conditional mediation: the page asks for a passkey as it loads, and the
    browser shows it in the login field's autofill; choosing it signs in. The
    virtual authenticator chooses at once, as a person picking it would."""
    visitor = Visitor(browser, world, autofill=True)
    try:
        email = new_person(world, "autofill")
        visitor.sign_in_with_password(email)
        visitor.add_passkey("Phone")
        _sign_out(visitor)
        visitor.page.goto(visitor.url("/sign-in?next=/account"))
        visitor.page.wait_for_url(on_page("/account"))
        assert email in visitor.page.inner_text("main")
        methods, _ = _session_methods(world, visitor)
        assert methods == ["hwk", "mfa"]
        # The sign-in form's login field is what the browser attaches the autofill to.
        _sign_out(visitor)
        visitor.context.clear_cookies()
        visitor.remove_credentials()
        visitor.page.goto(visitor.url("/sign-in"))
        assert visitor.page.get_attribute("#login", "autocomplete") == "username webauthn"
        visitor.page.wait_for_selector("#passkey-sign-in[data-conditional=started]", state="attached")
    finally:
        visitor.close()


def _fa_payload(visitor) -> dict:
    value = visitor.cookie("_ostiary_fa")
    assert value, "no forward-auth cookie"
    body = value.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_a_passkey_is_the_second_factor_after_a_password_and_the_forward_auth_cookie_says_how(world, visitor):
    email = _register_one(world, visitor, "Second")
    _sign_out(visitor)
    visitor.sign_in_with_password(email, next_url="/account")
    assert "/second-factor" in visitor.page.url, visitor.page.url
    # No TOTP: only the passkey is offered; the code form is not there.
    assert visitor.page.locator("#code").count() == 0
    visitor.page.wait_for_selector("#passkey-second-factor:not([hidden])")
    visitor.click_and_follow("#passkey-second-factor button", "#passkey-second-factor-error")
    assert visitor.page.url.endswith("/account"), visitor.page.url
    methods, live = _session_methods(world, visitor)
    assert methods == ["pwd", "hwk"] and live.second_factor

    # Through the handshake to an app: the forward-auth cookie carries the methods and "mf".
    app = f"https://tools.acme-corp.test:{world.port}/x"
    visitor.page.goto(f"https://auth.acme-corp.test:{world.port}/forward-auth/start?rd=" + app.replace(":", "%3A")
                      .replace("/", "%2F"))
    assert visitor.page.url == app
    payload = _fa_payload(visitor)
    assert payload["mf"] is True and payload["am"] == ["pwd", "hwk"]


def test_a_removed_passkey_no_longer_signs_in(world, visitor):
    email = _register_one(world, visitor, "Removed")
    visitor.page.goto(visitor.url("/account"))
    with visitor.page.expect_navigation():
        visitor.page.click("#passkeys button")
    assert "Passkey removed" in visitor.page.inner_text(".notice")
    assert _rows(world, email) == []
    _sign_out(visitor)
    refusal = _passkey_sign_in(visitor, expect_error=True)
    assert "not registered here" in refusal
    assert visitor.cookie("__Host-ostiary_session") is None


def test_a_regressed_sign_counter_is_refused_as_a_cloned_authenticator(world, visitor):
    email = _register_one(world, visitor, "Cloned")
    _sign_out(visitor)
    _passkey_sign_in(visitor)
    stored = _rows(world, email)[0].sign_count
    assert stored >= 1
    _sign_out(visitor)
    # The copy: the same key, its counter behind the one Ostiary has seen.
    credential = visitor.credentials()[0]
    assert credential["signCount"] == stored
    visitor.replace_credential({**credential, "signCount": 0})
    refusal = _passkey_sign_in(visitor, expect_error=True)
    assert "counter went backwards" in refusal
    assert visitor.cookie("__Host-ostiary_session") is None
    assert _rows(world, email)[0].sign_count == stored
    with world.store.read() as conn:
        reasons = [r.detail for r in conn.execute(audit_log.select().where(
            audit_log.c.action == "user.passkey_refused"))]
    assert any("sign count" in str(r) for r in reasons)


def test_an_answer_made_for_another_origin_is_refused(world, visitor, tmp_path):
    """A look-alike page on another origin (here: the same host name on
    another port, which the browser lets use the same RP ID) gets the
    browser to sign Ostiary's challenge; Ostiary refuses it for its origin."""
    from tests.signin.conftest import evil_origin

    _register_one(world, visitor, "Phished")
    _sign_out(visitor)
    visitor.page.goto(visitor.url("/sign-in"))
    options = json.loads(visitor.page.inner_text("#passkey-sign-in-options"))
    with evil_origin(tmp_path) as evil:
        visitor.page.goto(evil)
        answer = visitor.page.evaluate(GET_ASSERTION, options["publicKey"])
    assert json.loads(answer)["rawId"]
    visitor.page.goto(visitor.url("/sign-in"))
    visitor.page.evaluate("""([state, credential]) => {
        const form = document.getElementById('passkey-sign-in');
        form.elements.state.value = state; form.elements.credential.value = credential; form.submit(); }""",
                          [options["state"], answer])
    visitor.page.wait_for_load_state()
    assert "origin" in visitor.page.inner_text("p.error").lower()
    assert visitor.cookie("__Host-ostiary_session") is None


# Runs on the other origin: the same conversion static/passkeys.js does.
GET_ASSERTION = """async (o) => {
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)),
                                       c => c.charCodeAt(0)).buffer;
  const text = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const cred = await navigator.credentials.get({publicKey: {...o, challenge: bytes(o.challenge), allowCredentials: []}});
  const r = cred.response;
  return JSON.stringify({id: cred.id, rawId: text(cred.rawId), type: cred.type, clientExtensionResults: {},
    response: {clientDataJSON: text(r.clientDataJSON), authenticatorData: text(r.authenticatorData),
               signature: text(r.signature), userHandle: r.userHandle ? text(r.userHandle) : null}});
}"""


def test_a_passkey_that_cannot_verify_the_person_is_a_second_factor_but_never_its_own(world, browser):
    """A security key without a PIN or fingerprint: the browser does not
    offer it for signing in without a name (Chromium protects such
    discoverable credentials), it works as the second factor after a
    password, and a session begun with a passkey alone that did not verify
    the person cannot offer the same passkey as its second factor."""
    from ostiary.services.rules import sessions, users

    visitor = Visitor(browser, world, can_verify=False)
    try:
        email = _register_one(world, visitor, "Plain key")
        _sign_out(visitor)
        assert "cancelled or timed out" in _passkey_sign_in(visitor, expect_error=True)
        assert visitor.cookie("__Host-ostiary_session") is None
        visitor.sign_in_with_password(email)
        visitor.click_and_follow("#passkey-second-factor button", "#passkey-second-factor-error")
        methods, live = _session_methods(world, visitor)
        assert methods == ["pwd", "hwk"] and live.second_factor

        # A session that a passkey alone began, without verifying the person (as another browser could make one).
        user = users.get_user(world.store, world.tenant_id, email)
        begun = sessions.create_session(world.store, world.tenant_id, user.id, method="hwk")
        visitor.context.add_cookies([{"name": "__Host-ostiary_session", "value": begun.token,
                                      "url": visitor.url("/"), "secure": True, "httpOnly": True}])
        visitor.page.goto(visitor.url("/second-factor?next=/account"))
        refusal = visitor.click_and_follow("#passkey-second-factor button", "#passkey-second-factor-error",
                                           expect_error=True)
        assert "did not check it is you" in refusal
        assert not sessions.session_for_token(world.store, begun.token, world.tenant_id).second_factor
    finally:
        visitor.close()
