"""A chat's JWT cookie as the identity source of an app (docs/contract.md §9), with
tokens minted by Node's real jsonwebtoken as LibreChat mints them."""

from __future__ import annotations

import os
import time
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from ostiary.services.rules import apps, shared_cookie
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.sharedcookie.verifier.source_config import SharedCookieSettings
from tests.integration.conftest import CHAT_SECRET, wait_until
from tests.support.librechat import librechat_ids, mint


@pytest.fixture(scope="module")
def console(world):
    apps.add_app(world.store, world.acme, CLI_ACTOR, name="console", url=f"https://console.acme-corp.test:{world.port}",
                 all_users=True, public_paths=["/unauthorized"])
    shared_cookie.set_for_app(world.store, world.acme, CLI_ACTOR, "console",
                              SharedCookieSettings(sign_in_url="https://chat.acme-corp.test/login"))
    url = world.url("console.acme-corp.test", "/dash?x=1")
    v = world.visitor()
    wait_until(lambda: v.check(url).status_code == 302, timeout=2)
    time.sleep(1.0)  # every worker, not just the first one asked, knows the app now
    return url


def test_a_valid_chat_cookie_lets_its_user_in_with_the_user_id_as_identity(world, console):
    ids = librechat_ids()
    token = mint(ids, CHAT_SECRET)
    r = world.visitor().check(console, cookie=f"token_provider=librechat; refreshToken={token}")
    assert r.status_code == 200
    assert r.headers["x-forwarded-user"] == ids["id"]
    assert r.headers["x-forwarded-email"] == "" and r.headers["x-forwarded-groups"] == ""


def test_not_signed_in_goes_to_the_chats_sign_in_with_a_link_back(world, console):
    r = world.visitor().check(console)
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "chat.acme-corp.test", "/login")
    assert parse_qs(location.query)["redirect_to"] == [console]
    xhr = world.visitor().check(console, headers={"X-Requested-With": "XMLHttpRequest"})
    assert xhr.status_code == 401 and xhr.headers["x-ostiary-location"].startswith("https://chat.acme-corp.test/login")


@pytest.mark.parametrize("case", ["expired", "wrong secret", "HS512", "none", "no sessionId", "openid provider"])
def test_chat_cookies_that_must_not_sign_anyone_in_are_refused(world, console, case):
    ids = librechat_ids()
    cookie_prefix = ""
    if case == "expired":
        token = mint(ids, CHAT_SECRET, expires_in=-10)
    elif case == "wrong secret":
        token = mint(ids, "another-secret-of-enough-length-0123456789abcdef")
    elif case == "HS512":
        token = mint(ids, CHAT_SECRET, algorithm="HS512")
    elif case == "none":
        token = mint(ids, CHAT_SECRET, algorithm="none")
    elif case == "no sessionId":
        token = mint({"id": ids["id"]}, CHAT_SECRET)
    else:
        token = mint(ids, CHAT_SECRET)
        cookie_prefix = "token_provider=openid; "
    r = world.visitor().check(console, cookie=f"{cookie_prefix}refreshToken={token}")
    assert r.status_code == 302, case
    assert "x-forwarded-user" not in r.headers


def test_a_public_path_stays_open_under_a_shared_cookie_source(world, console):
    r = world.visitor().check(world.url("console.acme-corp.test", "/unauthorized"))
    assert r.status_code == 200 and r.headers["x-forwarded-user"] == ""


def test_serve_refuses_to_start_with_a_published_default_secret(world, console, tmp_path):
    env = {**os.environ, "OSTIARY_DATABASE_URL": world.store.url,
           "JWT_REFRESH_SECRET": "eaa5191f2914e30b9387fd84e254e4ba6fc51b4654968a9b0803b456a54b8418"}
    done = subprocess.run([sys.executable, "-m", "ostiary", "serve", "--port", "1"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "app console" in done.stderr and "published" in done.stderr


def test_an_app_with_group_grants_cannot_take_a_chat_cookie_as_identity(world, console):
    from ostiary.services.base.errors import InvalidInput

    with pytest.raises(InvalidInput, match="available to all"):
        shared_cookie.set_for_app(world.store, world.acme, CLI_ACTOR, "grafana",
                                  SharedCookieSettings(sign_in_url="https://chat.acme-corp.test/login"))


def test_a_domain_wide_chat_cookie_never_opens_an_app_that_admits_by_group(world, console):
    """homelab.test takes identity from the chat; its "nas" app admits only staff."""
    shared_cookie.set_for_domain(world.store, world.acme, CLI_ACTOR, "homelab.test",
                                 SharedCookieSettings(sign_in_url="https://chat.homelab.test/login"))
    try:
        token = mint(librechat_ids(), CHAT_SECRET)
        v = world.visitor()
        url = world.url("nas.homelab.test", "/")
        wait_until(lambda: v.check(url).headers.get("location", "").startswith("https://chat.homelab.test/"), timeout=2)
        time.sleep(1.0)
        assert v.check(url, cookie=f"refreshToken={token}").status_code == 403
    finally:
        shared_cookie.set_for_domain(world.store, world.acme, CLI_ACTOR, "homelab.test", None)
