"""The admin pages and the account page driven in Debian's Chromium, as an
admin and as a user would: real HTTPS server, real DNS server. Screenshots
of every page (desktop and 360 px) go to the artifacts directory; axe-core
checks each page for serious accessibility problems."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import insert

from ostiary.store.tables import users as users_table
from tests.admin.conftest import ADMIN, PASSWORD, TENANT_HOST
from tests.support.browser import chromium

pytestmark = pytest.mark.slow

AXE = Path(__file__).parent.parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
# Names the elements that stick out past the viewport, for a useful failure message.
WIDEST = """[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(artifacts_dir):
    folder = artifacts_dir / "admin"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(folder / f"{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(folder / f"{name}-360.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        widest = page.evaluate(WIDEST) if overflow > 0 else ""
        page.set_viewport_size(DESKTOP)
        assert overflow <= 0, f"{name} scrolls sideways at 360 px by {overflow} px: {widest}"

    return take


def new_page(browser, world, login: str | None = None):
    context = browser.new_context(ignore_https_errors=True, viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=world.url("").rstrip("/"))
    page = context.new_page()
    page.set_default_timeout(10_000)
    if login:
        page.goto(world.url("/sign-in"))
        page.fill("#login", login)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))
    return page


def post_form(page, path: str, **fields) -> int:
    """POST a form from inside the page (so through Chromium, with its cookies); the status."""
    with page.expect_navigation() as navigation:
        page.evaluate("""([path, fields]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = path;
            for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();
        }""", [path, fields])
    return navigation.value.status


@pytest.fixture(scope="module")
def admin(browser, sqlite_world):
    page = new_page(browser, sqlite_world, ADMIN)
    yield page
    page.context.close()


def test_admin_registers_a_domain_copies_the_txt_record_and_verifies_it_against_real_dns(admin, sqlite_world, shots):
    w = sqlite_world
    admin.goto(w.url("/admin/domains"))
    admin.fill("#name", "homelab.test")
    admin.fill("#portal_host", "login.other.test")
    admin.click("button:text-is('Register')")
    assert "portal_host" in admin.inner_text("#form-errors")
    assert admin.input_value("#name") == "homelab.test"
    admin.fill("#portal_host", "login.homelab.test")
    admin.click("button:text-is('Register')")
    admin.wait_for_url(re.compile(r".*/admin/domains/homelab\.test.*"))
    assert admin.inner_text("#txt-name") == "_ostiary-challenge.homelab.test"
    value = admin.inner_text("#txt-value")
    assert value.startswith("ostiary-domain-verification=")
    admin.click("button[data-copy=txt-value]")
    admin.wait_for_selector("button[data-copy=txt-value][data-copied=yes]")
    assert admin.evaluate("navigator.clipboard.readText()") == value
    admin.click("button:text-is('Verify now')")
    assert admin.inner_text("#domain-status") == "failed"
    assert admin.inner_text("#domain-reason") not in ("", "—")
    w.dns.restart(txt={**w.challenge("acme-corp.test"), **w.challenge("homelab.test")})
    admin.click("button:text-is('Verify now')")
    assert admin.inner_text("#domain-status") == "verified"
    assert "Verified" in admin.inner_text(".notice")
    shots(admin, "domain")
    admin.goto(w.url("/admin/domains?q=homelab"))
    assert admin.locator("tbody tr").count() == 1
    shots(admin, "domains")


def test_admin_creates_an_app_grants_a_group_and_sees_every_snippet(admin, sqlite_world, shots):
    w = sqlite_world
    admin.goto(w.url("/admin/apps"))
    admin.fill("#name", "status")
    admin.fill("#url", "http://status.acme-corp.test")
    admin.click("button:text-is('Create app')")
    assert "url" in admin.inner_text("#form-errors")
    admin.fill("#url", f"https://status.acme-corp.test:{w.port}")
    admin.fill("#public_paths", "/health\n/static/*")
    admin.uncheck("input[name=headers][value=display_name]")
    admin.click("button:text-is('Create app')")
    admin.wait_for_url(re.compile(r".*/admin/apps/\d+.*"))
    assert "nobody yet" in admin.inner_text("#app-access")
    admin.fill("#grant-group", "ops")
    admin.click("button:text-is('Grant')")
    assert "ops" in admin.inner_text("#app-access")
    app_page = admin.url.split("?")[0]
    with w.api(w.read_token) as api:
        for proxy in ("caddy", "nginx", "traefik", "traefik-labels"):
            admin.goto(f"{app_page}?proxy={proxy}")  # one proxy's snippet at a time
            assert admin.locator("pre[id^=snippet-]").count() == 1
            expected = api.get(f"/apps/status/snippets/{proxy}").json()["text"]
            assert admin.inner_text(f"#snippet-{proxy}").strip() == expected.strip(), proxy
        assert api.get("/apps/status").json()["headers"] == ["user", "email", "groups"]
    admin.goto(app_page)
    admin.click("button[data-copy=snippet-caddy]")
    admin.wait_for_selector("button[data-copy=snippet-caddy][data-copied=yes]")
    assert "auth.acme-corp.test" in admin.evaluate("navigator.clipboard.readText()")
    admin.click("button:text-is('Disable app')")
    assert admin.inner_text("#app-state").startswith("disabled")
    admin.click("button:text-is('Enable app')")
    assert admin.inner_text("#app-state") == "enabled"
    shots(admin, "app")
    admin.goto(w.url("/admin/apps"))
    shots(admin, "apps")


def test_admin_creates_a_user_puts_them_in_a_group_and_resets_their_password(admin, sqlite_world, shots):
    w = sqlite_world
    admin.goto(w.url("/admin/users"))
    admin.fill("#email", "erin@acme.test")
    admin.fill("#display_name", "Erin Ünal")
    admin.fill("#password", "short")
    admin.click("button:text-is('Create user')")
    assert "password" in admin.inner_text("#form-errors")
    admin.fill("#password", PASSWORD)
    admin.click("button:text-is('Create user')")
    admin.wait_for_url(re.compile(r".*/admin/users/\d+.*"))
    admin.fill("#group", "sales")
    admin.click("button:text-is('Add')")
    assert "Added to sales" in admin.inner_text(".notice")
    admin.fill("#password", "another good password")
    admin.click("button:text-is('Set password')")
    assert "Password set" in admin.inner_text(".notice")
    shots(admin, "user")
    admin.goto(w.url("/admin/users?q=erin"))
    assert admin.locator("tbody tr").count() == 1
    shots(admin, "users")


def test_admin_builds_the_group_tree_and_sees_what_each_group_grants(admin, sqlite_world, shots):
    w = sqlite_world
    admin.goto(w.url("/admin/groups"))
    admin.fill("#name", "night,shift")
    admin.click("button:text-is('Create group')")
    assert "comma" in admin.inner_text("#form-errors")
    admin.fill("#name", "nightshift")
    admin.fill("#parent", "ops")
    admin.click("button:text-is('Create group')")
    admin.wait_for_url(re.compile(r".*/admin/groups/\d+.*"))
    assert "staff / ops / nightshift" in admin.inner_text("dl.facts")
    assert "grafana (via staff)" in admin.inner_text("dl.facts")
    admin.fill("#member-email", "carol@acme.test")
    admin.click("button:text-is('Add member')")
    admin.locator(".notice", has_text="Added carol@acme.test").wait_for()  # count() does not wait for the page
    assert admin.locator("tbody tr").count() == 1
    admin.fill("#parent", "nightshift")
    admin.click("button:text-is('Move')")
    assert "parent" in admin.inner_text("#form-errors")
    admin.fill("#parent", "sales")
    admin.click("button:text-is('Move')")
    assert "sales / nightshift" in admin.inner_text("dl.facts")
    shots(admin, "group")
    admin.goto(w.url("/admin/groups"))
    names = [i.strip() for i in admin.locator("table.tree td[data-label=Group]").all_inner_texts()]
    assert "nightshift" in names, names
    assert names.index("sales") + 1 == names.index("nightshift")
    shots(admin, "groups")


def test_admin_revokes_a_session_and_that_browser_is_signed_out(browser, admin, sqlite_world, shots):
    w = sqlite_world
    alice = new_page(browser, w, "alice@acme.test")
    try:
        alice.goto(w.url("/account"))
        assert alice.url.endswith("/account")
        admin.goto(w.url("/admin/sessions?q=alice"))
        assert admin.locator("tbody tr").count() == 1
        shots(admin, "sessions")
        admin.click("tbody tr button:text-is('Revoke')")
        assert "revoked" in admin.inner_text(".notice")
        alice.goto(w.url("/account"))
        assert "/sign-in" in alice.url
    finally:
        alice.context.close()


def test_audit_log_shows_ui_changes_with_the_admin_and_address_and_filters(admin, sqlite_world, shots):
    w = sqlite_world
    admin.goto(w.url("/admin/audit?actor=admin%40acme.test&entity=app"))
    rows = admin.locator("tbody tr").all_inner_texts()
    assert rows and all(ADMIN in r and "127.0.0.1" in r for r in rows)
    assert any("Group may enter app" in r and "group: ops" in r for r in rows)
    admin.select_option("#entity", "domain")
    admin.click("button:text-is('Filter')")
    admin.wait_for_url(re.compile(r".*entity=domain.*"))  # the filtered page, not the one before it
    assert all("domain" in r.lower() for r in admin.locator("tbody tr").all_inner_texts())
    admin.fill("#until", "2001-01-01")
    admin.click("button:text-is('Filter')")
    admin.wait_for_url(re.compile(r".*until=2001-01-01.*"))
    assert admin.locator("tbody tr").count() == 0
    admin.goto(w.url("/admin/audit"))
    shots(admin, "audit")


def test_admin_rotates_keys_and_manages_api_tokens_shown_once(admin, sqlite_world, shots):
    w = sqlite_world
    admin.goto(w.url("/admin/keys"))
    before = admin.locator("tbody tr").count()
    admin.click("button:text-is('Rotate keys…')")
    admin.click("#confirm-button")
    admin.locator("tbody tr").nth(before).wait_for()  # count() does not wait for the page
    assert admin.locator("tbody tr").count() == before + 1
    assert admin.locator("tbody tr").first.inner_text().endswith("signing")
    shots(admin, "keys")
    admin.goto(w.url("/admin/tokens"))
    admin.fill("#name", "ci")
    admin.check("input[name=scope][value=write]")
    admin.click("button:text-is('Create token')")
    token = admin.inner_text("#new-token")
    assert token.startswith("ost_")
    with w.api(token) as api:
        assert api.get("/me").json()["scopes"] == ["read", "write"]
    shots(admin, "tokens")
    admin.goto(w.url("/admin/tokens"))
    assert token not in admin.content()
    admin.click("a[aria-label='Revoke token ci']")
    admin.click("#confirm-button")
    with w.api(token) as api:
        assert api.get("/me").status_code == 401


def test_a_user_sees_only_their_apps_and_signs_out_everywhere(browser, sqlite_world, shots):
    w = sqlite_world
    first, second = new_page(browser, w, "bob@acme.test"), new_page(browser, w, "bob@acme.test")
    try:
        first.goto(w.url("/account"))
        assert first.locator("#my-apps a").all_inner_texts() == ["tools", "wiki"]
        assert first.locator("tbody tr").count() == 2
        shots(first, "account")
        first.goto(w.url("/admin/apps"))
        assert first.locator("h1").inner_text() == "Administrators only"
        first.goto(w.url("/account"))
        first.click("button:text-is('Sign out everywhere')")
        assert "signed out" in first.inner_text("h1")
        second.goto(w.url("/account"))
        assert "/sign-in" in second.url
    finally:
        first.context.close()
        second.context.close()


def test_a_user_changes_their_password_and_stays_signed_in(browser, sqlite_world):
    w = sqlite_world
    page = new_page(browser, w, "carol@acme.test")
    try:
        page.goto(w.url("/account"))
        page.fill("#current_password", "wrong password here")
        page.fill("#new_password", "a brand new passphrase")
        page.fill("#new_password_again", "a brand new passphrase")
        page.click("button:text-is('Change password')")
        assert "current_password" in page.inner_text("[role=alert]")
        page.fill("#current_password", PASSWORD)
        page.fill("#new_password", "a brand new passphrase")
        page.fill("#new_password_again", "a brand new passphrase")
        page.click("button:text-is('Change password')")
        assert "Password changed" in page.inner_text(".notice")
        assert page.locator("tbody tr").count() == 1
    finally:
        page.context.close()


def test_admin_pages_refuse_non_admins_and_send_strangers_to_sign_in(browser, sqlite_world):
    w = sqlite_world
    stranger = new_page(browser, w)
    bob = new_page(browser, w, "alice@acme.test")
    try:
        for path in ("/admin", "/admin/domains", "/admin/apps", "/admin/users", "/admin/groups", "/admin/sessions",
                     "/admin/audit", "/admin/keys", "/admin/tokens"):
            stranger.goto(w.url(path))
            assert "/sign-in?next=" in stranger.url, path
            assert bob.goto(w.url(path)).status == 403, path
        assert post_form(bob, "/admin/keys/rotate", csrf="x") == 403
    finally:
        stranger.context.close()
        bob.context.close()


def test_admin_forms_refuse_a_missing_or_wrong_csrf_token(admin, sqlite_world):
    admin.goto(sqlite_world.url("/admin/groups"))
    assert post_form(admin, "/admin/groups", name="csrf-less") == 403
    assert post_form(admin, "/admin/groups", name="csrf-less", csrf="A" * 43) == 403
    with sqlite_world.api(sqlite_world.read_token) as api:
        assert api.get("/groups/csrf-less").status_code == 404


def test_pages_work_from_the_keyboard(admin, sqlite_world):
    admin.goto(sqlite_world.url("/admin/domains/acme-corp.test"))
    admin.keyboard.press("Tab")
    assert admin.evaluate("document.activeElement.textContent") == "Overview"
    for _ in range(40):
        admin.keyboard.press("Tab")
        if admin.evaluate("document.activeElement.getAttribute('data-copy')") == "txt-name":
            break
    else:
        pytest.fail("Tab never reached the copy button")
    admin.keyboard.press("Enter")
    admin.wait_for_selector("button[data-copy=txt-name][data-copied=yes]")
    outline = admin.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


PAGES = ["/admin", "/admin/domains", "/admin/domains/acme-corp.test", "/admin/apps", "/admin/apps/1", "/admin/users",
         "/admin/users/2", "/admin/groups", "/admin/groups/1", "/admin/sessions", "/admin/audit", "/admin/keys",
         "/admin/tokens", "/account"]


def test_axe_core_finds_no_serious_or_critical_violations_on_any_page(browser, admin, sqlite_world, shots):
    w = sqlite_world
    # axe is injected as a script, which the portal's CSP forbids: this context alone bypasses it.
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True, viewport=DESKTOP)
    context.add_cookies(admin.context.cookies())
    page = context.new_page()
    found = {}
    try:
        for path in PAGES:
            for viewport in (DESKTOP, PHONE):
                page.set_viewport_size(viewport)
                page.goto(w.url(path))
                page.add_script_tag(path=str(AXE))
                result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
                bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
                       for v in result["violations"] if v["impact"] in ("serious", "critical")]
                if bad:
                    found[f"{path} @ {viewport['width']}px"] = bad
        page.set_viewport_size(DESKTOP)
        page.goto(w.url("/admin"))
        shots(page, "index")
    finally:
        context.close()
    assert not found, found


def test_lists_stay_fast_at_ten_thousand_users(admin, sqlite_world):
    w = sqlite_world
    now = time.time()
    with w.store.write() as conn:
        conn.execute(insert(users_table), [
            {"tenant_id": w.tenant_id, "email": f"bulk{i:05d}@acme.test", "username": f"bulk{i:05d}",
             "display_name": f"Bulk {i}", "is_admin": False, "active": True, "created_at": now, "updated_at": now}
            for i in range(10_000)])
    for path, expected in (("/admin/users?q=bulk0999", "of 10 users"), ("/admin/users?offset=9000", "of 10"),
                           ("/admin/users?q=bulk&offset=5000", "of 10000 users")):
        started = time.monotonic()
        response = admin.goto(w.url(path))
        elapsed = time.monotonic() - started
        assert response.status == 200
        assert expected in admin.inner_text(".pager"), path
        assert elapsed < 1.0, f"{path} took {elapsed:.2f} s"
    with w.api(w.read_token) as api:
        started = time.monotonic()
        r = api.get("/users", params={"q": "bulk", "limit": 500, "offset": 9500})
        assert r.json()["total"] == 10_000 and len(r.json()["items"]) == 500
        assert time.monotonic() - started < 1.0


def test_admin_rotates_keys_in_an_emergency_and_every_older_key_ends(admin, sqlite_world):
    """Last in this module: an overlap of 0 ends every older key, and the page shows each one's window."""
    w = sqlite_world
    admin.goto(w.url("/admin/groups"))  # the keys page's rotate form is a GET to its confirmation page
    csrf = admin.locator("input[name=csrf]").first.input_value()
    assert post_form(admin, "/admin/keys/rotate", csrf=csrf, overlap_seconds="-3") == 422  # past the browser's own check
    assert "overlap_seconds" in admin.inner_text("#form-errors")
    assert admin.input_value("#overlap_seconds") == "-3"
    rows = admin.locator("tbody tr").count()
    admin.fill("#overlap_seconds", "0")
    admin.click("button:text-is('Rotate keys…')")
    start = time.time()  # the rotation happens at the confirmation page's button
    admin.click("#confirm-button")
    assert "every older key verifies for at most 2 s more" in admin.inner_text("main")
    assert admin.locator("tbody tr").count() == rows + 1
    from ostiary.services.rules import keys

    older = [k for k in keys.list_keys(w.store) if k.retire_at is not None]
    assert len(older) == rows and all(k.retire_at <= start + 3 for k in older)
