"""A person who owes a second factor (they have one, or the tenant's policy
requires it of them) is asked for it on every app, not only on apps that
require one: from the next check on every worker, within the one-second bound
a sign-out has (docs/sign-in.md, docs/contract.md §3 row 9). Driven through a
real `ostiary serve` (two workers); every change is made through the service
call the CLI, the admin pages and the API make."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import urljoin, urlsplit

import pyotp
import pytest

from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules import second_factor, tenants, users
from tests.integration.conftest import ACME, PASSWORD, wait_until

TOOLS = "tools.acme-corp.test"  # open to everyone in acme
ADMIN = "admin@acme.test"
# Checks after the first refusal: each is a new connection, so both workers answer some.
EVERY_WORKER = 8


@pytest.fixture
def policy(world):
    """Sets the tenant's policy for one test, and back to off after it."""
    def set_to(value: str) -> None:
        tenants.set_second_factor_policy(world.store, world.acme, CLI_ACTOR, value)

    yield set_to
    set_to("off")


def _sent_to_the_portal(v, url: str) -> bool:
    r = v.check(url)
    return r.status_code == 302 and r.headers["location"].startswith(
        f"https://auth.acme-corp.test:{v.port}/forward-auth/start?rd=")


def _allowed(v, url: str) -> bool:
    return v.check(url).status_code == 200


def _on_every_worker_within_a_second(answer, v, url: str, since: float) -> None:
    """`answer(v, url)` holds from one second after `since` (the change committed)
    on, whichever worker answers: the first such answer comes sooner, then each
    check after that second holds it too."""
    wait_until(lambda: answer(v, url), timeout=max(0.0, since + 1.0 - time.monotonic()))
    time.sleep(max(0.0, since + 1.0 - time.monotonic()))
    for _ in range(EVERY_WORKER):
        assert answer(v, url), answer.__name__


def _allowed_on_every_worker(v, url: str) -> None:
    for _ in range(EVERY_WORKER):
        r = v.check(url)
        assert r.status_code == 200, (r.status_code, r.headers.get("location"))


def _handshake_asks_for_the_second_factor(v, url: str) -> None:
    """The portal's handshake takes the person to pass, or set up, a second factor."""
    visit = v.open(url)
    assert not visit.reached_app
    assert urlsplit(visit.final.url).path in ("/second-factor", "/second-factor/enrol"), \
        [(s.url, s.status) for s in visit.steps]
    assert visit.final.status == 200


def test_raising_the_policy_to_everyone_reaches_cookies_minted_before(world, policy):
    app = world.url(TOOLS, "/")
    v = world.signed_in("dave@acme.test", TOOLS)
    _allowed_on_every_worker(v, app)
    policy("everyone")
    _on_every_worker_within_a_second(_sent_to_the_portal, v, app, time.monotonic())
    _handshake_asks_for_the_second_factor(v, app)
    # Lowering it again opens the app to the same cookie, as quickly.
    policy("off")
    _on_every_worker_within_a_second(_allowed, v, app, time.monotonic())


def test_the_admins_policy_reaches_administrators_and_only_them(world, policy):
    app = world.url(TOOLS, "/")
    admin = world.signed_in(ADMIN, TOOLS)
    bob = world.signed_in("bob@acme.test", TOOLS)
    policy("admins")
    _on_every_worker_within_a_second(_sent_to_the_portal, admin, app, time.monotonic())
    _allowed_on_every_worker(bob, app)
    _handshake_asks_for_the_second_factor(admin, app)
    # Making bob an administrator reaches his cookie too; taking it back opens the app again.
    try:
        users.set_admin(world.store, world.acme, CLI_ACTOR, "bob@acme.test", True)
        _on_every_worker_within_a_second(_sent_to_the_portal, bob, app, time.monotonic())
    finally:
        users.set_admin(world.store, world.acme, CLI_ACTOR, "bob@acme.test", False)
    _on_every_worker_within_a_second(_allowed, bob, app, time.monotonic())


def _form_fields(html: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', html)}


def _post(v, url: str, data: dict):
    origin = f"https://{urlsplit(url).netloc}"
    return v.browser.post(url, data=data, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})


def test_enrolling_an_authenticator_from_another_session_reaches_the_first_ones_cookies(world):
    app = world.url(TOOLS, "/")
    laptop = world.signed_in("erin@acme.test", TOOLS)
    phone = world.signed_in("erin@acme.test", TOOLS)
    _allowed_on_every_worker(laptop, app)
    erin = users.find_user(world.store, world.acme, "erin@acme.test")
    try:
        # On the phone, erin sets up an authenticator app on her account, as the enrol page takes it.
        enrol = f"https://{ACME}:{world.port}/second-factor/enrol?next=/account"
        page = phone.browser.get(enrol)
        assert page.status_code == 200, page.status_code
        secret = re.search(r'<code id="secret" class="secret">([A-Z2-7 ]+)</code>', page.text).group(1)
        secret = secret.replace(" ", "")
        r = _post(phone, urljoin(enrol, "/second-factor/enrol"),
                  {**_form_fields(page.text), "password": PASSWORD, "code": pyotp.TOTP(secret).now()})
        enrolled_at = time.monotonic()  # the answer comes after the commit
        assert r.status_code == 200 and second_factor.is_enrolled(users.find_user(world.store, world.acme,
                                                                                     "erin@acme.test"))
        # The laptop's session never passed it: its cookie stops opening the app, on every worker.
        _on_every_worker_within_a_second(_sent_to_the_portal, laptop, app, enrolled_at)
        _handshake_asks_for_the_second_factor(laptop, app)
        # The phone passed it by setting it up: after one trip through the portal its new cookie opens the app.
        visit = phone.open(app)
        assert visit.reached_app, [(s.url, s.status) for s in visit.steps]
        _allowed_on_every_worker(phone, app)
    finally:
        second_factor.reset_all(world.store, world.acme, erin.id, CLI_ACTOR)
        reset_at = time.monotonic()
    # With it reset (and the policy off) the laptop's cookie opens the app again.
    _on_every_worker_within_a_second(_allowed, laptop, app, reset_at)
