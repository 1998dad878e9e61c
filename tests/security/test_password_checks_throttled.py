"""Attack: guessing a password anywhere but the sign-in form. Every place
that checks a password (sign-in, the current password on /account/password,
second-factor enrolment) shares the sign-in throttle and its slow failures
(issue 13 items 3 and 4, SECURITY.md "Sign-in throttling")."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from ostiary.portal.signin import MIN_FAILED_SECONDS
from ostiary.services.rules import throttle, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.wire import CSRF_COOKIE
from tests.security.conftest import ACME, PASSWORD, fresh_address, sign_in_attempt

NEW_PASSWORD = "a brand new passphrase"


def _new_user(sec, name: str, username: str | None = None) -> str:
    email = f"{name}-{time.time_ns()}@acme.test"
    users.add_user(sec.store, sec.acme, CLI_ACTOR, email=email, username=username, password=PASSWORD)
    return email


def _post(v, url: str, data: dict, address: str):
    origin = f"https://{urlsplit(url).netloc}"
    return v.browser.post(url, data=data, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin",
                                                   "X-Forwarded-For": address})


def _change_password(sec, v, current: str, address: str):
    csrf = v.browser.cookies.get(CSRF_COOKIE)
    return _post(v, f"https://{ACME}:{sec.port}/account/password",
                 {"csrf": csrf, "current_password": current, "new_password": NEW_PASSWORD,
                  "new_password_again": NEW_PASSWORD}, address)


def test_guessing_the_current_password_on_the_account_page_is_throttled(sec):
    email = _new_user(sec, "takeover")
    v = sec.signed_in(email, "tools.acme-corp.test")
    assert v.browser.get(f"https://{ACME}:{sec.port}/account").status_code == 200  # sets the CSRF cookie
    attacker = fresh_address()
    statuses = []
    for i in range(throttle.PAIR_LIMIT + 2):
        started = time.monotonic()
        statuses.append(_change_password(sec, v, f"guess number {i}", attacker).status_code)
        assert time.monotonic() - started >= MIN_FAILED_SECONDS
    assert statuses == [422] * throttle.PAIR_LIMIT + [429] * 2
    # Blocked means blocked: the right password from that address changes nothing now.
    r = _change_password(sec, v, PASSWORD, attacker)
    assert r.status_code == 429 and "retry-after" in r.headers
    assert users.authenticate(sec.store, sec.acme, email, PASSWORD) is not None


def test_guesses_on_the_account_page_and_the_sign_in_form_share_one_budget(sec):
    email = _new_user(sec, "shared")
    v = sec.signed_in(email, "tools.acme-corp.test")
    assert v.browser.get(f"https://{ACME}:{sec.port}/account").status_code == 200
    attacker = fresh_address()
    assert [_change_password(sec, v, "wrong one", attacker).status_code for _ in range(3)] == [422] * 3
    client = sec.client()
    statuses = [sign_in_attempt(client, sec, email, "wrong two", attacker).status_code for _ in range(3)]
    assert statuses == [401] * (throttle.PAIR_LIMIT - 3) + [429]


def test_an_email_and_a_username_of_one_account_share_one_sign_in_budget(sec):
    """`bob` and `bob@acme-corp.test` each got their own five tries."""
    username = f"bob{time.time_ns()}"
    email = _new_user(sec, "bob", username=username)
    attacker, client = fresh_address(), sec.client()
    statuses = [sign_in_attempt(client, sec, login, "wrong guess", attacker).status_code
                for login in [username, email] * throttle.PAIR_LIMIT]
    assert statuses == [401] * throttle.PAIR_LIMIT + [429] * throttle.PAIR_LIMIT
