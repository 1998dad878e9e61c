"""One real `ostiary serve` per test module (the admin tests' world: HTTPS,
real dnsmasq, an admin, users, groups, apps), Chromium, a signed-in httpx
client, and an axe-core check run in the light and the dark look."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.admin.conftest import ADMIN, PASSWORD, TENANT_HOST, AdminWorld, start_world, stop_world
from tests.support.browser import chromium
from tests.support.server import loopback_client

AXE = Path(__file__).parent.parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
LOOKS = ("light", "dark")

__all__ = ["ADMIN", "PASSWORD", "TENANT_HOST", "DESKTOP", "PHONE", "LOOKS"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages-world")
    w = start_world(tmp, f"sqlite:///{tmp / 'ostiary.db'}")
    yield w
    stop_world(w)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def new_page(browser, world: AdminWorld, login: str | None = None, **options):
    context = browser.new_context(ignore_https_errors=True, viewport=DESKTOP, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    if login:
        page.goto(world.url("/sign-in"))
        page.fill("#login", login)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))
    return page


@pytest.fixture(scope="module")
def admin(browser, world):
    page = new_page(browser, world, ADMIN)
    yield page
    page.context.close()


@contextmanager
def signed_in_client(world: AdminWorld, login: str = ADMIN) -> Iterator[httpx.Client]:
    """An httpx client with a signed-in session (and its CSRF cookie), as a browser would have."""
    with loopback_client(world.ca) as client:
        page = client.get(world.url("/sign-in"))
        answer = client.post(world.url("/sign-in"),
                             data={"csrf": form_csrf(page.text), "login": login, "password": PASSWORD, "next": "/"})
        assert answer.status_code == 303, answer.text
        yield client


def form_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def axe_and_width(page) -> list[str]:
    """axe-core's violations (any impact) on the page as it is shown now (axe already loaded in it), and
    whether it scrolls sideways."""
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
           for v in result["violations"]]
    wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if wide > 0:
        bad.append(f"scrolls sideways by {wide} px")
    return bad


def axe_violations(page, url: str) -> dict[str, list[str]]:
    """Every axe-core violation (any impact) at 1280 px and 375 px, light and dark; empty when clean.
    The page's context must bypass the CSP (axe is injected as a script)."""
    found = {}
    for look in LOOKS:
        page.emulate_media(color_scheme=look)
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.goto(url)
            page.add_script_tag(path=str(AXE))
            bad = axe_and_width(page)
            if bad:
                found[f"{url} {look} @ {viewport['width']}px"] = bad
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(DESKTOP)
    return found


@pytest.fixture(scope="module")
def axe_page(browser, admin):
    """A page signed in as the admin whose context bypasses the CSP, for axe-core."""
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True, viewport=DESKTOP)
    context.add_cookies(admin.context.cookies())
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
