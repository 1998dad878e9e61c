"""Branding (docs/admin.md, "Branding") and the sign-in page that names where
the person is going (docs/sign-in.md): real `ostiary serve`, real Chromium,
axe-core in the light and the dark look; the logo's limits and how it is
served; names and contacts holding HTML stay text; another tenant's `rd`
names nothing."""

from __future__ import annotations

import re
import struct
import time
import zlib
from urllib.parse import urlencode

import pytest

from ostiary.services.rules import branding
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput
from tests.pages.conftest import PASSWORD, axe_violations, new_page, signed_in_client
from tests.support.server import loopback_client

NONCE_HASH = "ab" * 32


def png(width: int = 8, height: int = 8, *, chunks: bytes = b"", trailing: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xc0\x30\x10" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunks
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"") + trailing)


SCRIPT = b"<html><script>document.title='pwned'</script></html>"
TEXT_CHUNK = struct.pack(">I", len(b"Comment\0" + SCRIPT)) + b"tEXt" + b"Comment\0" + SCRIPT \
    + struct.pack(">I", zlib.crc32(b"tEXt" + b"Comment\0" + SCRIPT))


def eventually(check, seconds: float = 5.0):
    """The snapshot follows a change within a second: poll until `check` is true."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the change did not reach the pages")
        time.sleep(0.1)


def authorize_next(world, app: str = "grafana", portal: str = "auth.acme-corp.test") -> str:
    rd = f"https://{app}.acme-corp.test:{world.port}/d/x?orgId=1"
    return "/forward-auth/authorize?" + urlencode({"portal": portal, "rd": rd, "nh": NONCE_HASH})


@pytest.fixture(scope="module")
def branded(world):
    branding.set_branding(world.store, world.tenant_id, CLI_ACTOR, display_name="Acme Corp", accent_colour="#aa3300",
                          contact="it-desk@acme.test")
    branding.set_logo(world.store, world.tenant_id, CLI_ACTOR, png(64, 32))
    with loopback_client(world.ca) as client:
        eventually(lambda: "Acme Corp" in client.get(world.url("/sign-in")).text)
    return world


# -- the logo's rules ------------------------------------------------------------------------------


def _refused(data: bytes) -> str:
    with pytest.raises(InvalidInput) as refused:
        branding.check_logo(data)
    [problem] = refused.value.problems
    assert problem.field == "logo"
    return problem.message


def test_a_logo_too_large_in_bytes_or_pixels_is_refused():
    assert "at most 48 KiB" in _refused(png() + b"\0" * (48 * 1024))
    assert "2000×10 pixels" in _refused(png(2000, 10))
    assert "is empty" in _refused(b"")


def test_svg_and_other_types_are_refused():
    assert "SVG" in _refused(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
                             b"</script></svg>")
    assert "SVG" in _refused(b"  <svg onload=alert(1)>")
    assert "not a PNG, JPEG or WebP" in _refused(b"GIF89a" + b"\0" * 20)
    assert "not a PNG, JPEG or WebP" in _refused(b"<html><script>alert(1)</script>")
    assert "checksum" in _refused(png()[:-5] + b"XXXXX")


def test_a_png_carrying_script_is_cleaned_of_it():
    kind, width, height, clean = branding.check_logo(png(4, 4, chunks=TEXT_CHUNK, trailing=SCRIPT))
    assert (kind, width, height) == ("png", 4, 4)
    assert b"script" not in clean and clean.endswith(b"IEND\xaeB`\x82")


def test_the_api_applies_the_same_limits(world):
    with world.api(world.write_token) as api:
        too_big = api.put("/branding/logo", content=png() + b"\0" * (48 * 1024),
                          headers={"content-type": "image/png"})
        svg = api.put("/branding/logo", content=b"<svg onload=alert(1)>", headers={"content-type": "image/svg+xml"})
        colour = api.patch("/branding", json={"accent_colour": "red"})
        read_only = world.api(world.read_token).patch("/branding", json={"contact": "x"})
    assert too_big.status_code == 422 and too_big.json()["problems"][0]["field"] == "logo"
    assert svg.status_code == 422 and "SVG" in svg.json()["problems"][0]["message"]
    assert colour.status_code == 422 and colour.json()["problems"][0]["field"] == "accent_colour"
    assert read_only.status_code == 403


def test_a_logo_with_a_script_payload_is_served_as_an_image_with_nosniff(world, browser):
    with world.api(world.write_token) as api:
        done = api.put("/branding/logo", content=png(16, 16, chunks=TEXT_CHUNK, trailing=SCRIPT),
                       headers={"content-type": "text/html"})
    assert done.status_code == 200, done.text
    version = done.json()["logo_version"]
    with loopback_client(world.ca) as client:
        served = client.get(world.url(f"/branding/logo?v={version}"))
        stale = client.get(world.url("/branding/logo?v=old"))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert stale.headers["cache-control"] == "public, max-age=300"
    assert b"script" not in served.content
    page = new_page(browser, world)
    try:
        page.goto(world.url(f"/branding/logo?v={version}"))
        assert page.title() != "pwned"
        assert page.evaluate("document.images.length") == 1  # Chromium shows it as an image
    finally:
        page.context.close()


# -- the sign-in page --------------------------------------------------------------------------------


def test_the_sign_in_page_names_the_app_and_the_organisation(branded, browser):
    world = branded
    page = new_page(browser, world)
    try:
        page.goto(world.url("/sign-in?" + urlencode({"next": authorize_next(world)})))
        assert page.inner_text("h1") == "Sign in to continue to grafana"
        assert page.inner_text("#sign-in-org") == "Acme Corp"
        assert page.inner_text("header .brand") == "Acme Corp"
        page.wait_for_function("document.querySelector('header img.logo').complete")  # loaded, or failed
        assert page.evaluate("document.querySelector('header img.logo').naturalWidth") == 64
        accent = page.evaluate("getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor")
        assert accent == "rgb(170, 51, 0)"
        assert page.evaluate("document.activeElement.id") == "login"
        # Without an app to continue to, the organisation.
        page.goto(world.url("/sign-in"))
        assert page.inner_text("h1") == "Sign in to Acme Corp"
    finally:
        page.context.close()


def test_the_branded_sign_in_page_passes_axe_in_both_looks(branded, browser):
    world = branded
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True)
    try:
        page = context.new_page()
        assert axe_violations(page, world.url("/sign-in?" + urlencode({"next": authorize_next(world)}))) == {}
    finally:
        context.close()


def test_after_a_wrong_password_focus_is_on_the_password_and_the_login_is_kept(branded, browser):
    world = branded
    page = new_page(browser, world)
    try:
        page.goto(world.url("/sign-in?" + urlencode({"next": authorize_next(world)})))
        page.fill("#login", "bob@acme.test")
        page.fill("#password", "not the password")
        page.click("button[type=submit]")
        page.wait_for_selector("#sign-in-error")
        assert page.evaluate("document.activeElement.id") == "password"
        assert page.input_value("#login") == "bob@acme.test"
        assert page.input_value("#password") == ""
        assert page.inner_text("h1") == "Sign in to continue to grafana"
        assert page.get_attribute("#password", "aria-describedby") == "sign-in-error"
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/sign-in" not in url)
    finally:
        page.context.close()


def test_the_sign_in_page_never_echoes_the_address_it_returns_to(branded):
    world = branded
    with loopback_client(world.ca) as client:
        for rd in (f"https://evil.test:{world.port}/<script>", f"https://grafana.acme-corp.test:{world.port}@evil.test/",
                   "javascript:alert(1)"):
            nxt = "/forward-auth/authorize?" + urlencode({"portal": "auth.acme-corp.test", "rd": rd, "nh": NONCE_HASH})
            page = client.get(world.url("/sign-in"), params={"next": nxt})
            assert "<h1>Sign in to Acme Corp</h1>" in page.text, rd
            assert "<script>" not in page.text.split("</h1>")[0]
            assert "continue to" not in page.text


def test_another_tenants_rd_does_not_name_its_app(branded):
    world = branded
    with loopback_client(world.ca) as client:
        page = client.get(world.url("/sign-in", host="globex.id.example.test"),
                          params={"next": authorize_next(world)})
    assert page.status_code == 200
    assert "<h1>Sign in</h1>" in page.text  # globex has no name of its own, and acme's app is not named
    assert "continue to" not in page.text and "Acme" not in page.text


def test_names_and_contacts_holding_html_stay_text(world, browser):
    branding.set_branding(world.store, world.tenant_id, CLI_ACTOR, display_name='<img src=x onerror="alert(1)">',
                          contact="<script>alert(2)</script>")
    try:
        with loopback_client(world.ca) as client:
            page = eventually(lambda: (p := client.get(world.url("/sign-in"))) and "onerror" in p.text and p)
        assert "<img src=x" not in page.text and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text
        # The page an app shows at /forward-auth/authorize when it refuses someone: the contact as text.
        browser_page = new_page(browser, world, "bob@acme.test")
        try:
            browser_page.goto(world.url(authorize_next(world)))
            assert "You may not enter grafana" in browser_page.inner_text("h1")
            assert "To ask for access: <script>alert(2)</script>." in browser_page.inner_text("main")
            assert browser_page.locator("main script").count() == 0
        finally:
            browser_page.context.close()
    finally:
        branding.set_branding(world.store, world.tenant_id, CLI_ACTOR, display_name="Acme Corp", contact="none")


# -- the admin page --------------------------------------------------------------------------------


def test_an_admin_sets_the_branding_and_uploads_a_logo(world, admin, tmp_path):
    admin.goto(world.url("/admin/branding"))
    admin.fill("#accent_colour", "blue")
    admin.click("#branding-form button[type=submit]")
    assert "accent_colour" in admin.inner_text("#form-errors")
    admin.fill("#display_name", "Acme Corporation")
    admin.fill("#accent_colour", "#1f5fbf")
    admin.fill("#contact", "The IT desk, room 4")
    admin.click("#branding-form button[type=submit]")
    assert "Branding saved" in admin.inner_text(".notice")
    shown = branding.get_branding(world.store, world.tenant_id)
    assert (shown.display_name, shown.accent_colour, shown.contact) == ("Acme Corporation", "#1f5fbf",
                                                                        "The IT desk, room 4")
    svg = tmp_path / "logo.svg"
    svg.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    admin.set_input_files("#logo", str(svg))
    admin.click("#logo-form button[type=submit]:not([name])")
    assert "SVG" in admin.inner_text("#form-errors")
    good = tmp_path / "logo.png"
    good.write_bytes(png(40, 20))
    admin.set_input_files("#logo", str(good))
    admin.click("#logo-form button[type=submit]:not([name])")
    assert "Logo uploaded" in admin.inner_text(".notice")
    admin.wait_for_function("document.querySelector('#current-logo').complete")  # loaded, or failed
    assert admin.evaluate("document.querySelector('#current-logo').naturalWidth") == 40
    actions = [e["action"] for e in world.api(world.read_token).get("/audit", params={"limit": 20}).json()["items"]]
    assert "tenant.branding" in actions and "tenant.logo" in actions


def test_the_admin_branding_page_passes_axe_in_both_looks(world, axe_page):
    assert axe_violations(axe_page, world.url("/admin/branding")) == {}
