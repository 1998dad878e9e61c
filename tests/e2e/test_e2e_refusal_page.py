"""The 403 page of /forward-auth/check through real nginx, Caddy, Traefik and
HAProxy: a browser that may not enter an app sees who it is signed in as,
which app refused, who to ask and a way to switch account; the proxies pass
Ostiary's page on (Caddy and Traefik copy a refused check's answer, nginx's
snippet maps its 403 to the same check, HAProxy's Lua action relays the page
with its headers). Anything that is not a page still gets the short text."""

from __future__ import annotations

import re

import pytest

from ostiary.services.rules import branding
from ostiary.services.base.actor import CLI_ACTOR
from tests.e2e.conftest import E2E, cookie_header, proxy_client
from tests.e2e.proxy_configs import proxy_server
from tests.e2e.conftest import wait_until_served
from tests.e2e.test_e2e_proxies import CONTEXT_OPTIONS, sign_in
from tests.support.browser import chromium

pytestmark = pytest.mark.slow

CONTACT = "<script>alert(1)</script> IT desk, room 4"


@pytest.fixture(scope="module", params=("nginx", "caddy-2.6", "caddy-2.11", "traefik", "haproxy"))
def proxy(request, e2e, tmp_path_factory):
    server, config = proxy_server(request.param, e2e, tmp_path_factory.mktemp(request.param))
    with server:
        wait_until_served(e2e, config)
        yield server


@pytest.fixture(scope="module")
def branded(e2e: E2E):
    branding.set_branding(e2e.store, e2e.tenant_id, CLI_ACTOR, display_name="Acme <b>Corp</b>", contact=CONTACT)
    yield
    branding.set_branding(e2e.store, e2e.tenant_id, CLI_ACTOR, display_name="acme", contact="none")


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def test_a_refused_page_names_the_person_the_app_and_who_to_ask(proxy, e2e, branded, browser):
    context = browser.new_context(**CONTEXT_OPTIONS)
    try:
        page = context.new_page()
        page.goto(e2e.url("wiki.acme-corp.test", "/"))
        assert sign_in(page, "bob@acme.test").status == 200, proxy.logs()  # bob may enter the wiki
        refused = page.goto(e2e.url("grafana.acme-corp.test", "/d/x?y=1"))
        assert refused.status == 403, proxy.logs()
        assert refused.headers["content-type"] == "text/html; charset=utf-8"
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in refused.headers["content-security-policy"]
        assert page.inner_text("h1") == "You may not enter grafana"
        text = page.inner_text("main")
        assert "Bob (bob@acme.test)" in text
        assert CONTACT in text, "the contact is shown as text, never as markup"
        assert page.inner_text("header") == "Acme <b>Corp</b>"
        assert page.locator("script").count() == 0
        # The page's style passed its own CSP: the header has its accent border.
        assert page.evaluate("getComputedStyle(document.querySelector('header')).borderBottomStyle") == "solid"
        # Switching account: the portal's sign-out page, which comes back here to sign in again.
        page.click("#switch-account")
        assert page.url.startswith(e2e.url("auth.acme-corp.test", "/forward-auth/sign-out?rd="))
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/sign-in\?.*"))
        assert "grafana" in page.inner_text("main")
    finally:
        context.close()


def test_a_refused_request_that_is_not_a_page_gets_the_short_text(proxy, e2e, branded, browser):
    context = browser.new_context(**CONTEXT_OPTIONS)
    try:
        page = context.new_page()
        page.goto(e2e.url("wiki.acme-corp.test", "/"))
        assert sign_in(page, "bob@acme.test").status == 200
        cookies = cookie_header(context, e2e.url("grafana.acme-corp.test", "/"))
    finally:
        context.close()
    with proxy_client() as client:
        answer = client.get(e2e.url("grafana.acme-corp.test", "/api/x"),
                            headers={"cookie": cookies, "accept": "application/json"})
    assert answer.status_code == 403
    assert "You may not enter" not in answer.text and "IT desk" not in answer.text


def test_the_refusal_page_passes_axe_in_both_looks(proxy, e2e, branded, browser):
    from tests.pages.conftest import axe_violations

    context = browser.new_context(**CONTEXT_OPTIONS, bypass_csp=True)  # axe is injected as a script
    try:
        page = context.new_page()
        page.goto(e2e.url("wiki.acme-corp.test", "/"))
        assert sign_in(page, "bob@acme.test").status == 200
        assert axe_violations(page, e2e.url("grafana.acme-corp.test", "/d/x")) == {}
    finally:
        context.close()
