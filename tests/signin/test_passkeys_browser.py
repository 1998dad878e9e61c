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

from ostiary.services import passkeys as passkeys_service
from ostiary.store.tables import audit_log, webauthn_credentials
from tests.signin.conftest import PASSWORD, Visitor, new_person, on_page

pytestmark = pytest.mark.slow


def _rows(world, email: str):
    from ostiary.services import users

    user = users.get_user(world.store, world.tenant_id, email)
    return passkeys_service.list_passkeys(world.store, world.tenant_id, user.id)


def _session_methods(world, visitor) -> list[str]:
    from ostiary.services import sessions

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
