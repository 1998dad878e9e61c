"""Attack: an account that has a second factor, used with its password alone.
The second factor is asked at every sign-in, not only for apps that require
it, and nothing behind the sign-in (apps, the admin pages, API tokens, key
rotation, the account page) answers a session that has not passed it
(issue 13 item 2, SECURITY.md "Second factor")."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp

from ostiary.identity.method import amr_values
from ostiary.services.rules import api_tokens, keys, second_factor, sessions, users
from ostiary.services.base.actor import CLI_ACTOR
from tests.security.conftest import ACME, PASSWORD, form_fields

TOOLS = "tools.acme-corp.test"  # an app open to all users that does not require a second factor


def _enrolled_user(sec, name: str, admin: bool = False) -> tuple[str, str]:
    """(email, TOTP secret) of a new user with an enrolled authenticator."""
    email = f"{name}-{time.time_ns()}@acme.test"
    row = users.add_user(sec.store, sec.acme, CLI_ACTOR, email=email, password=PASSWORD, is_admin=admin)
    secret = second_factor.new_secret()
    second_factor.enrol(sec.store, sec.acme, row.id, CLI_ACTOR, secret, None)
    return email, secret


def _tenant(sec, path: str) -> str:
    return f"https://{ACME}:{sec.port}{path}"


def _post(v, url: str, data: dict):
    origin = f"https://{urlsplit(url).netloc}"
    return v.browser.post(url, data=data, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})


def _password_only(sec, email: str):
    """A browser that signed in with the right password and stopped there."""
    v = sec.visitor(email)
    page = v.browser.get(_tenant(sec, "/sign-in"))
    r = v.submit_sign_in(_tenant(sec, "/sign-in"), page.text)
    assert r.status_code == 303
    return v, r


def _csrf(sec, v) -> str:
    """A CSRF token this browser holds (from the second-factor page it is sent to)."""
    page = v.browser.get(_tenant(sec, "/second-factor"))
    assert page.status_code == 200 and "Confirm it is you" in page.text
    return form_fields(page.text)["csrf"]


def _pass_second_factor(sec, v, secret: str) -> None:
    csrf = _csrf(sec, v)
    r = _post(v, _tenant(sec, "/second-factor"), {"csrf": csrf, "next": "/", "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 303


def test_a_password_alone_does_not_open_an_app_for_a_user_who_has_a_second_factor(sec):
    email, secret = _enrolled_user(sec, "everysignin")
    v = sec.visitor(email)
    visit = v.open(sec.url(TOOLS, "/"))
    assert not visit.reached_app
    assert urlsplit(visit.final.url).path == "/second-factor" and "Confirm it is you" in visit.final.text
    # With the code, the same app opens.
    _pass_second_factor(sec, v, secret)
    assert v.open(sec.url(TOOLS, "/")).reached_app


def test_the_sign_in_form_sends_a_user_who_has_a_second_factor_to_the_code_step(sec):
    email, _ = _enrolled_user(sec, "signinstep")
    _, r = _password_only(sec, email)
    assert r.headers["location"].startswith("/second-factor?")


def test_a_password_alone_does_not_open_the_admin_pages_of_an_admin_who_has_a_second_factor(sec):
    email, secret = _enrolled_user(sec, "admin2fa", admin=True)
    v, _ = _password_only(sec, email)
    for path in ("/admin", "/admin/users", "/admin/tokens", "/admin/keys", "/account"):
        r = v.browser.get(_tenant(sec, path))
        assert r.status_code == 303, path
        assert v.browser.get(_tenant(sec, r.headers["location"])).headers["location"].startswith("/second-factor?")
    _pass_second_factor(sec, v, secret)
    assert v.browser.get(_tenant(sec, "/admin/tokens")).status_code == 200


def test_a_password_alone_cannot_mint_an_api_token_for_an_admin_who_has_a_second_factor(sec):
    email, _ = _enrolled_user(sec, "mint2fa", admin=True)
    v, _ = _password_only(sec, email)
    name = f"stolen-{time.time_ns()}"
    r = _post(v, _tenant(sec, "/admin/tokens"), {"csrf": _csrf(sec, v), "name": name, "scope": "write"})
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    assert api_tokens.tokens_page(sec.store, sec.acme, search=name).total == 0


def test_a_password_alone_cannot_rotate_keys_or_change_users_as_an_admin_who_has_a_second_factor(sec):
    email, _ = _enrolled_user(sec, "rotate2fa", admin=True)
    victim = users.add_user(sec.store, sec.acme, CLI_ACTOR, email=f"victim-{time.time_ns()}@acme.test",
                            password=PASSWORD)
    v, _ = _password_only(sec, email)
    csrf = _csrf(sec, v)
    before = len(keys.list_keys(sec.store))
    r = _post(v, _tenant(sec, "/admin/keys/rotate"), {"csrf": csrf, "overlap_seconds": "3600"})
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    assert len(keys.list_keys(sec.store)) == before
    r = _post(v, _tenant(sec, f"/admin/users/{victim.id}/admin"), {"csrf": csrf, "is_admin": "1"})
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    assert not users.get_user_by_id(sec.store, sec.acme, victim.id).is_admin


def test_the_json_api_does_not_accept_a_portal_session_instead_of_a_token(sec):
    email, secret = _enrolled_user(sec, "apisession", admin=True)
    v, _ = _password_only(sec, email)
    _pass_second_factor(sec, v, secret)
    assert v.browser.get(_tenant(sec, "/api/v1/users")).status_code == 401


def test_a_session_waiting_for_its_second_factor_can_sign_out_and_use_another_account(sec):
    email, _ = _enrolled_user(sec, "switch")
    v, _ = _password_only(sec, email)
    assert v.browser.get(_tenant(sec, "/sign-in")).status_code == 303  # sent on to the code step
    r = _post(v, _tenant(sec, "/sign-out"), {"csrf": _csrf(sec, v)})
    assert r.status_code == 200 and "signed out" in r.text.lower()
    assert v.browser.get(_tenant(sec, "/sign-in")).status_code == 200


def test_a_wrong_code_is_logged_as_a_failed_second_factor(sec):
    """docs/operations.md, "Events": fail2ban's filter matches these lines too."""
    email, secret = _enrolled_user(sec, "wrongcode")
    v, _ = _password_only(sec, email)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    r = _post(v, _tenant(sec, "/second-factor"), {"csrf": _csrf(sec, v), "next": "/", "code": wrong})
    assert r.status_code == 401
    log = Path(sec.store.url.removeprefix("sqlite:///")).parent / "front.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        failed = [line for line in log.read_text(errors="replace").splitlines()
                  if " second_factor.failed " in line and f"login={email}" in line]
        if failed:
            break
        time.sleep(0.1)
    assert failed and "tenant=acme" in failed[-1] and "method=totp" in failed[-1]


def test_changing_the_password_keeps_how_the_session_was_signed_in(sec):
    """The password change starts a fresh session for this browser: it keeps the second factor the old one
    passed, in its flag and in its methods, so OIDC clients asking for `amr` and apps requiring a second factor
    see the same session as before (docs/sign-in.md)."""
    email, secret = _enrolled_user(sec, "changer")
    v, _ = _password_only(sec, email)
    _pass_second_factor(sec, v, secret)
    page = v.browser.get(_tenant(sec, "/account"))
    assert page.status_code == 200
    r = _post(v, _tenant(sec, "/account/password"), {
        "csrf": form_fields(page.text)["csrf"], "current_password": PASSWORD,
        "new_password": "a brand new passphrase", "new_password_again": "a brand new passphrase"})
    assert r.status_code == 303, r.text
    user = users.get_user(sec.store, sec.acme, email)
    live = sessions.list_sessions(sec.store, sec.acme, user.id)
    assert len(live) == 1
    assert live[0].second_factor and amr_values(live[0].methods) == ["pwd", "otp"]
    assert v.browser.get(_tenant(sec, "/account")).status_code == 200  # still signed in, with the new session
