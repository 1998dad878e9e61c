"""The second factor: enrolling an authenticator in the browser, an app that
requires it (vault.acme-corp.test), codes that work once, recovery codes,
and a throttled code step."""

from __future__ import annotations

import re
import time
from urllib.parse import urljoin, urlsplit

import pyotp
from click.testing import CliRunner

from ostiary.cli import main as cli
from ostiary.services.rules import second_factor, users
from ostiary.services.base.actor import CLI_ACTOR
from tests.security.conftest import ACME, PASSWORD, form_fields

VAULT = "vault.acme-corp.test"


def _new_user(sec, name: str) -> str:
    email = f"{name}-{time.time_ns()}@acme.test"
    users.add_user(sec.store, sec.acme, CLI_ACTOR, email=email, password=PASSWORD)
    return email


def _follow(v, url: str, max_steps: int = 10):
    """Follows redirects in the visitor's browser (app hosts through /check) until a page."""
    for _ in range(max_steps):
        host = urlsplit(url).hostname
        if host in v.portal_for:
            r = v.check(url)
        else:
            r = v.browser.get(url)
        if r.status_code in (301, 302, 303):
            url = urljoin(url, r.headers["location"])
            continue
        return url, r
    raise AssertionError("too many redirects")


def _post(v, url: str, data: dict):
    origin = f"https://{urlsplit(url).netloc}"
    return v.browser.post(url, data=data, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})


def _signed_in_with_password(sec, email: str, app_host: str = VAULT):
    """A browser that typed the right password on its way to `app_host` and
    now faces the second-factor step (asked at every sign-in of an enrolled user)."""
    v = sec.visitor(email)
    visit = v.open(sec.url(app_host, "/"))
    assert urlsplit(visit.final.url).path == "/second-factor" and visit.final.status == 200
    return v, visit.final.url, visit.final


def _code(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset * 30)


def test_a_password_only_cookie_does_not_open_an_app_that_requires_a_second_factor(sec, alice_cookie):
    v = sec.visitor()
    assert v.check(sec.url(VAULT, "/"), cookie=f"_ostiary_fa={alice_cookie}").status_code == 302


def test_enrolling_in_the_browser_then_reaching_an_app_that_requires_it(sec):
    email = _new_user(sec, "enrol")
    v = sec.signed_in(email, "tools.acme-corp.test")
    url, page = _follow(v, sec.url(VAULT, "/"))
    assert urlsplit(url).path == "/second-factor/enrol" and page.status_code == 200
    assert "otpauth://totp/" in page.text
    secret = re.search(r'<code id="secret" class="secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    fields = form_fields(page.text)
    # A wrong password or a wrong code turns nothing on.
    r = _post(v, urljoin(url, "/second-factor/enrol"), {**fields, "password": "wrong password!", "code": _code(secret)})
    assert r.status_code == 401
    r = _post(v, urljoin(url, "/second-factor/enrol"), {**fields, "password": PASSWORD, "code": "000000"})
    assert r.status_code == 400
    user = users.find_user(sec.store, sec.acme, email)
    assert not second_factor.is_enrolled(user)
    r = _post(v, urljoin(url, "/second-factor/enrol"), {**fields, "password": PASSWORD, "code": _code(secret)})
    assert r.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]{19})</code></li>", r.text)
    assert len(codes) == second_factor.RECOVERY_CODES
    assert second_factor.is_enrolled(users.find_user(sec.store, sec.acme, email))
    next_url = re.search(r'<a href="([^"]+)">I have saved them', r.text).group(1).replace("&amp;", "&")
    final_url, final = _follow(v, urljoin(url, next_url))
    assert final.status_code == 200 and urlsplit(final_url).hostname == VAULT
    assert final.headers["x-forwarded-email"] == email


def test_an_enrolled_user_is_asked_for_a_code_and_a_code_works_once(sec):
    email = _new_user(sec, "verify")
    user = users.find_user(sec.store, sec.acme, email)
    enrolment = second_factor.enrol(sec.store, sec.acme, user.id, CLI_ACTOR, second_factor.new_secret(), None)
    v, url, page = _signed_in_with_password(sec, email)
    assert "Confirm it is you" in page.text
    fields = form_fields(page.text)
    assert _post(v, urljoin(url, "/second-factor"), {**fields, "code": "123456"}).status_code == 401
    code = _code(enrolment.secret)
    r = _post(v, urljoin(url, "/second-factor"), {**fields, "code": code})
    assert r.status_code == 303
    final_url, final = _follow(v, urljoin(url, r.headers["location"]))
    assert urlsplit(final_url).hostname == VAULT and final.status_code == 200
    # The same code in another signed-in browser: a replay, refused.
    other, url, page = _signed_in_with_password(sec, email)
    r = _post(other, urljoin(url, "/second-factor"), {**form_fields(page.text), "code": code})
    assert r.status_code == 401


def test_a_code_older_than_one_already_used_is_refused(sec):
    user = users.find_user(sec.store, sec.acme, _new_user(sec, "older"))
    secret = second_factor.new_secret()
    second_factor.enrol(sec.store, sec.acme, user.id, CLI_ACTOR, secret, None)
    assert second_factor.verify_totp(sec.store, user.id, secret, _code(secret, 0))
    assert not second_factor.verify_totp(sec.store, user.id, secret, _code(secret, 0))
    assert not second_factor.verify_totp(sec.store, user.id, secret, _code(secret, -1))


def test_a_recovery_code_works_once(sec):
    user = users.find_user(sec.store, sec.acme, _new_user(sec, "recovery"))
    enrolment = second_factor.enrol(sec.store, sec.acme, user.id, CLI_ACTOR, second_factor.new_secret(), None)
    user = users.find_user(sec.store, sec.acme, user.email)
    code = enrolment.recovery_codes[0]
    assert second_factor.verify_second_factor(sec.store, sec.acme, user, code.upper().replace("-", " "), CLI_ACTOR)
    assert not second_factor.verify_second_factor(sec.store, sec.acme, user, code, CLI_ACTOR)
    assert second_factor.status(sec.store, sec.acme, user.id) == (True, second_factor.RECOVERY_CODES - 1)


def test_the_code_step_is_throttled(sec):
    email = _new_user(sec, "guess2fa")
    user = users.find_user(sec.store, sec.acme, email)
    second_factor.enrol(sec.store, sec.acme, user.id, CLI_ACTOR, second_factor.new_secret(), None)
    v, url, page = _signed_in_with_password(sec, email)
    fields = form_fields(page.text)
    statuses = [_post(v, urljoin(url, "/second-factor"), {**fields, "code": f"{i:06d}"}).status_code
                for i in range(7)]
    assert statuses == [401] * 5 + [429] * 2


def test_a_password_alone_cannot_replace_an_enrolled_authenticator(sec):
    email = _new_user(sec, "replace")
    user = users.find_user(sec.store, sec.acme, email)
    second_factor.enrol(sec.store, sec.acme, user.id, CLI_ACTOR, second_factor.new_secret(), None)
    v, _, _ = _signed_in_with_password(sec, email, "tools.acme-corp.test")
    r = v.browser.get(f"https://{ACME}:{sec.port}/second-factor/enrol")
    assert r.status_code == 303 and r.headers["location"].startswith("/second-factor?")


def test_the_cli_enrols_reports_and_resets_a_second_factor(sec):
    email = _new_user(sec, "cli")
    env = {"OSTIARY_DATABASE_URL": sec.store.url}
    runner = CliRunner()
    r = runner.invoke(cli, ["user", "totp", "enrol", email, "--tenant", "acme"], env=env)
    assert r.exit_code == 0, r.output
    assert "otpauth://totp/" in r.output and len(re.findall(r"^  [a-z0-9-]{19}$", r.output, re.M)) == 10
    r = runner.invoke(cli, ["user", "totp", "status", email, "--tenant", "acme"], env=env)
    assert "TOTP on, 10 recovery codes left" in r.output
    r = runner.invoke(cli, ["user", "totp", "reset", email, "--tenant", "acme"], env=env)
    assert r.exit_code == 0
    r = runner.invoke(cli, ["user", "totp", "status", email, "--tenant", "acme"], env=env)
    assert "TOTP off, 0 recovery codes left" in r.output
