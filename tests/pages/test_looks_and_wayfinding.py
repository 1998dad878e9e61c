"""Items every person meets: a light and a dark look that follow the system
setting, Ostiary's own favicon, refusals and unknown addresses as pages in
the portal's layout with a way back, a home page that leads to the account
and (for admins) to administration, and a signed-out page that offers to
sign in again."""

from __future__ import annotations

import pytest

from tests.pages.conftest import ADMIN, TENANT_HOST, axe_violations, new_page, signed_in_client
from tests.support.server import loopback_client


def test_favicon_is_served_by_ostiary_and_every_page_names_it(world):
    with loopback_client(world.ca) as client:
        icon = client.get(world.url("/favicon.ico"))
        page = client.get(world.url("/sign-in"))
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.lstrip().startswith(b"<svg") and b"prefers-color-scheme: dark" in icon.content
    assert '<link rel="icon" href="/favicon.ico"' in page.text


def test_unknown_pages_and_hosts_are_pages_in_the_layout_with_a_way_back(world):
    with signed_in_client(world) as client:
        missing = client.get(world.url("/no/such/page"))
        unknown = client.get(world.url("/", host="nobody.id.example.test"))
        unknown_path = client.get(world.url("/admin/users", host="nobody.id.example.test"))
        wrong_method = client.delete(world.url("/account"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in missing.text and 'href="/"' in missing.text
    assert 'href="/static/ostiary.css"' in missing.text
    for answer in (unknown, unknown_path):
        assert answer.status_code == 404
        assert "<h1>Unknown host</h1>" in answer.text
        assert "nobody.id.example.test is not an Ostiary tenant host" in answer.text
        assert "address bar" in answer.text  # no tenant to link to: it says how to find the way
    assert wrong_method.status_code == 405 and "<h1>" in wrong_method.text


def test_a_crafted_path_is_shown_as_text_not_markup(world):
    with loopback_client(world.ca) as client:
        answer = client.get(world.url("/%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    assert answer.status_code == 404
    assert "<script>alert(1)" not in answer.text and "&lt;script&gt;" in answer.text


@pytest.mark.slow
def test_home_leads_admins_to_administration_and_everyone_to_their_account(browser, world, admin):
    admin.goto(world.url("/"))
    assert admin.locator("#home-links a").all_inner_texts() == ["Your account", "Administration"]
    admin.click("text=Administration")
    assert admin.url.endswith("/admin")
    bob = new_page(browser, world, "bob@acme.test")
    try:
        bob.goto(world.url("/"))
        assert bob.locator("#home-links a").all_inner_texts() == ["Your account"]
        bob.click("button:text-is('Sign out everywhere')")
        assert "signed out" in bob.inner_text("h1")
        bob.click("#sign-in-again")
        assert "/sign-in" in bob.url and bob.locator("#login").count() == 1
    finally:
        bob.context.close()


@pytest.mark.slow
def test_the_look_follows_the_system_setting(browser, world):
    colours = {}
    for look in ("light", "dark"):
        page = new_page(browser, world, color_scheme=look)
        try:
            page.goto(world.url("/sign-in"))
            colours[look] = page.evaluate("[getComputedStyle(document.body).backgroundColor, "
                                          "getComputedStyle(document.body).color]")
        finally:
            page.context.close()
    assert colours["light"][0] == "rgb(255, 255, 255)"
    assert colours["dark"][0] != colours["light"][0] and colours["dark"][1] != colours["light"][1]


@pytest.mark.slow
def test_pages_everyone_meets_have_no_accessibility_violations_in_either_look(browser, world, axe_page):
    found = {}
    for path in ("/", "/no/such/page", "/admin"):
        found.update(axe_violations(axe_page, world.url(path)))
    stranger = browser.new_context(ignore_https_errors=True, bypass_csp=True).new_page()
    try:
        found.update(axe_violations(stranger, world.url("/", host="nobody.id.example.test")))
        found.update(axe_violations(stranger, world.url("/sign-in")))
    finally:
        stranger.context.close()
    assert not found, found


@pytest.mark.slow
def test_the_accessibility_check_itself_reports_a_page_with_problems(browser):
    page = browser.new_context(bypass_csp=True).new_page()
    try:
        found = axe_violations(page, "data:text/html,<html><body><img src='x.png'><input></body></html>")
    finally:
        page.context.close()
    assert any("image-alt" in v for problems in found.values() for v in problems), found
    assert len(found) == 4, "both looks, both widths"
