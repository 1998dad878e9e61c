"""An invitation accepted with a passkey, end to end: a real `ostiary
serve` (HTTPS) sends the invitation through a real SMTP server; the message
is parsed and its link followed in Chromium with a virtual WebAuthn
authenticator (tests/signin/conftest.py). The link works once, whichever
way it is used (a password or a passkey), and never after it expired
(docs/email.md, docs/sign-in.md)."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import update

from ostiary.services.rules import passkeys as passkeys_service
from ostiary.services.rules import sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store.tables import email_links as links_table
from tests.email.conftest import PASSWORD
from tests.email.test_email_browser import NEW_PASSWORD, World, link_in, new_page, sign_in
from tests.signin.conftest import Visitor
from tests.support.browser import chromium

pytestmark = pytest.mark.slow

GONE = "cannot be used"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("invitation-passkey-world"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def visitor(browser, world):
    v = Visitor(browser, world)
    yield v
    v.close()


def invite(world, email: str) -> str:
    with world.api() as api:
        answer = api.post("/invitations", json={"email": email, "display_name": email.split("@")[0].title()})
    assert answer.status_code == 201, answer.text
    [msg] = world.smtp.wait_for(email)
    return link_in(msg)


def register_from_link(visitor, name: str = "Work laptop", expect_error: bool = False) -> str | None:
    """On the invitation page the visitor is on: register a passkey instead of a password."""
    visitor.page.fill("#passkey-name", name)
    return visitor.click_and_follow("#passkey-add button[type=submit]", "#passkey-add-error", expect_error)


def register_refused_as_gone(visitor, name: str = "Too late") -> None:
    """The browser makes the passkey, the portal refuses the link: 410, nothing signed in."""
    visitor.page.fill("#passkey-name", name)
    with visitor.page.expect_response(lambda r: r.request.method == "POST") as posted:
        visitor.page.click("#passkey-add button[type=submit]")
    assert posted.value.status == 410
    visitor.page.wait_for_load_state()
    assert GONE in visitor.page.inner_text("main")
    assert visitor.cookie("__Host-ostiary_session") is None


def person(world, email: str):
    return users.get_user(world.store, world.tenant_id, email)


def stored_passkeys(world, email: str) -> list[str]:
    return [r.name for r in passkeys_service.list_passkeys(world.store, world.tenant_id, person(world, email).id)]


def live_session(world, visitor):
    token = visitor.cookie("__Host-ostiary_session")
    assert token, "this browser has no session"
    return sessions.session_for_token(world.store, token, world.tenant_id)


def test_an_invited_person_registers_a_passkey_from_the_link_and_signs_in_with_it(world, visitor):
    before = world.audited("user.invitation_accepted")
    link = invite(world, "pax@acme.test")
    visitor.page.goto(link)
    assert visitor.page.inner_text("h1") == "Welcome"
    assert "passkey" in visitor.page.inner_text("#invitation-passkey-title").lower()
    register_from_link(visitor, "Pax's laptop")

    # Signed in at once, with the passkey recorded as both factors (it verified the person).
    assert visitor.page.url.endswith("/account"), visitor.page.url
    assert "Your passkey is registered and you are signed in" in visitor.page.inner_text(".notice")
    assert "pax@acme.test" in visitor.page.inner_text("main")
    live = live_session(world, visitor)
    assert list(live.methods) == ["hwk", "mfa"] and live.second_factor
    assert stored_passkeys(world, "pax@acme.test") == ["Pax's laptop"]
    assert person(world, "pax@acme.test").password_hash is None
    assert world.audited("user.invitation_accepted") - before == 1
    # Nobody who has no password is offered a password change they cannot make; they are told how to set one.
    assert visitor.page.locator("#current_password").count() == 0
    assert "Forgot your password?" in visitor.page.inner_text("#password-none")

    # Signed out, the passkey signs them in again (no name typed).
    visitor.page.click("form[action='/account/sessions/end'] button")
    visitor.page.goto(visitor.url("/sign-in?next=/account"))
    visitor.page.wait_for_selector("#passkey-sign-in:not([hidden])")
    visitor.click_and_follow("#passkey-sign-in button", "#passkey-sign-in-error")
    assert visitor.page.url.endswith("/account") and "pax@acme.test" in visitor.page.inner_text("main")

    # The link was used up: both ways are refused now.
    answer = visitor.page.goto(link)
    assert answer.status == 410 and GONE in visitor.page.inner_text("main")


def test_the_link_works_once_a_password_first_then_a_passkey_refused(world, browser, visitor):
    link = invite(world, "quill@acme.test")
    visitor.page.goto(link)  # the passkey form is loaded, with options made for this link
    other = new_page(browser, "198.51.100.31")
    other.goto(link)
    other.fill("#new_password", NEW_PASSWORD)
    other.fill("#new_password_again", NEW_PASSWORD)
    other.click("#new_password_again ~ button[type=submit]")
    assert other.inner_text("h1") == "Password set"

    register_refused_as_gone(visitor)
    assert stored_passkeys(world, "quill@acme.test") == []
    assert users.authenticate(world.store, world.tenant_id, "quill@acme.test", NEW_PASSWORD) is not None
    other.context.close()


def test_the_link_works_once_a_passkey_first_then_a_password_refused(world, browser, visitor):
    link = invite(world, "rhea@acme.test")
    other = new_page(browser, "198.51.100.32")
    other.goto(link)  # the password form is loaded
    visitor.page.goto(link)
    register_from_link(visitor)
    assert "/account" in visitor.page.url

    other.fill("#new_password", NEW_PASSWORD)
    other.fill("#new_password_again", NEW_PASSWORD)
    with other.expect_response(lambda r: r.request.method == "POST") as posted:
        other.click("#new_password_again ~ button[type=submit]")
    assert posted.value.status == 410 and GONE in other.inner_text("main")
    assert person(world, "rhea@acme.test").password_hash is None
    # Nor can the same link register a second passkey.
    second = Visitor(browser, world)
    try:
        answer = second.page.goto(link)
        assert answer.status == 410
    finally:
        second.close()
    assert stored_passkeys(world, "rhea@acme.test") == ["Work laptop"]
    other.context.close()


def test_an_expired_link_is_refused_both_ways(world, browser, visitor):
    link = invite(world, "sol@acme.test")
    visitor.page.goto(link)
    other = new_page(browser, "198.51.100.33")
    other.goto(link)
    with world.store.write() as conn:  # the 72 hours have passed
        conn.execute(update(links_table).where(links_table.c.user_id == person(world, "sol@acme.test").id)
                     .values(expires_at=time.time() - 1))

    register_refused_as_gone(visitor, "Expired")
    other.fill("#new_password", NEW_PASSWORD)
    other.fill("#new_password_again", NEW_PASSWORD)
    with other.expect_response(lambda r: r.request.method == "POST") as posted:
        other.click("#new_password_again ~ button[type=submit]")
    assert posted.value.status == 410
    assert other.goto(link).status == 410
    assert stored_passkeys(world, "sol@acme.test") == []
    assert person(world, "sol@acme.test").password_hash is None
    other.context.close()


def test_a_policy_requiring_a_second_factor_takes_only_a_passkey_that_verified_the_person(world, browser):
    tenants.set_second_factor_policy(world.store, world.tenant_id, CLI_ACTOR, "everyone")
    try:
        link = invite(world, "tam@acme.test")
        # A security key without a PIN: one factor, and this person would have no second one.
        plain_key = Visitor(browser, world, user_verified=False, can_verify=False)
        try:
            plain_key.page.goto(link)
            refusal = register_from_link(plain_key, "Plain key", expect_error=True)
            assert "requires two-factor sign-in" in refusal
            assert plain_key.cookie("__Host-ostiary_session") is None
        finally:
            plain_key.close()
        assert stored_passkeys(world, "tam@acme.test") == []

        # The link still works; a passkey that verified the person passes the policy at once.
        verifying = Visitor(browser, world)
        try:
            verifying.page.goto(link)
            register_from_link(verifying, "Phone")
            assert "/account" in verifying.page.url and "/second-factor" not in verifying.page.url
            live = live_session(world, verifying)
            assert live.second_factor and not live.second_factor_due
        finally:
            verifying.close()
    finally:
        tenants.set_second_factor_policy(world.store, world.tenant_id, CLI_ACTOR, "off")


def test_a_passkey_only_person_sets_a_password_with_forgot_your_password(world, browser, visitor):
    """Their way to a password (docs/sign-in.md): the reset link works for an account without one."""
    link = invite(world, "uma@acme.test")
    visitor.page.goto(link)
    register_from_link(visitor)
    visitor.page.click("#password-none a[href='/forgot-password']")
    visitor.page.fill("#email", "uma@acme.test")
    visitor.page.click("button[type=submit]")
    assert "If an account uses that address" in visitor.page.inner_text("main")
    [msg] = world.smtp.wait_for("uma@acme.test", 2)[1:]
    visitor.page.goto(link_in(msg))
    visitor.page.fill("#new_password", NEW_PASSWORD)
    visitor.page.fill("#new_password_again", NEW_PASSWORD)
    visitor.page.click("#new_password_again ~ button[type=submit]")
    assert visitor.page.inner_text("h1") == "Password set"
    # The password is one factor; their passkey is the second.
    page = new_page(browser, "198.51.100.34")
    sign_in(page, world, "uma@acme.test", NEW_PASSWORD)
    assert "/second-factor" in page.url
    page.context.close()


def test_an_admin_changing_an_address_through_the_api_tells_the_old_one(world):
    users.add_user(world.store, world.tenant_id, CLI_ACTOR, email="vic@acme.test", password=PASSWORD)
    with world.api() as api:
        answer = api.patch("/users/vic@acme.test", json={"email": "vic.new@acme.test"})
    assert answer.status_code == 200, answer.text
    [notice] = world.smtp.wait_for("vic@acme.test")
    assert notice["Subject"] == "Your acme email address was changed"
    text = notice.get_body(("plain",)).get_content()
    assert "An administrator changed" in text and "vic.new@acme.test" in text
    assert world.smtp.messages("vic.new@acme.test") == []


def test_a_person_who_accepted_with_a_passkey_is_not_invited_again(world, visitor):
    link = invite(world, "wren@acme.test")
    visitor.page.goto(link)
    register_from_link(visitor)
    with world.api() as api:
        answer = api.post("/invitations", json={"email": "wren@acme.test"})
    assert answer.status_code == 409 and "accepted an invitation with a passkey" in answer.json()["message"]
    # Nor can they remove their only way in from the account page.
    visitor.page.goto(visitor.url("/account"))
    with visitor.page.expect_response(lambda r: r.request.method == "POST") as posted:
        visitor.page.click("#passkeys button:text-is('Remove')")
    assert posted.value.status == 409
    assert "only way to sign in" in visitor.page.inner_text("[role=alert]")
    assert stored_passkeys(world, "wren@acme.test") == ["Work laptop"]
