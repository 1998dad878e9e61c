"""Screenshots of every page at 1280 px and 375 px, in the light and the dark
look, as docs/admin.md shows them (docs/screenshots/): what a person meets
(signing in, the links sent by email, the second factor, the refusals of an
app and the errors) and every admin page.

The test renders every page in real Chromium against a real `ostiary serve`
(email on, a sign-in provider, a directory and an OIDC client set up, so each
page shows everything it can) and fails when a page does not answer 200 (or
its expected status), when Chromium logs an error while showing it, when
axe-core finds a violation in either look at either width, or when
docs/admin.md does not show every screenshot. The refusal of an app is the
gate's own page: the test stands in for the proxy, asking /forward-auth/check
as one would for each request to an app host. It writes the images to a
temporary folder; with OSTIARY_UPDATE_SCREENSHOTS=1 it writes them over
docs/screenshots/ (how they were made), so a change to a page is one test run
away from its picture."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest

from ostiary.issuer import clients
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules import api_tokens, apps, domains, email_links, groups, providers, users
from ostiary.services.rules.providers import ProviderSettings
from ostiary.store import TenantScope
from ostiary.wire import AUTHORIZE_PATH, CHECK_PATH
from tests.admin.conftest import start_world, stop_world
from tests.pages.conftest import AXE, DESKTOP, LOOKS, PASSWORD, PHONE, axe_and_width, new_page
from tests.support.server import free_port, loopback_client
from tests.support.smtpserver import SmtpServer

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "docs" / "screenshots"
ADMIN_DOC = REPO / "docs" / "admin.md"
PORTAL = "auth.acme-corp.test"  # the verified domain's portal host
GRAFANA_CALLBACK = "https://grafana.acme-corp.test/login/generic_oauth"
GRAFANA_HOME = "https://grafana.acme-corp.test/"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The pages' world with email on (a real SMTP server on loopback), an OpenID Connect provider, a directory
    and an OIDC client: the sign-in page shows its buttons and links, and every page that needs them exists."""
    tmp = tmp_path_factory.mktemp("screenshots-world")
    smtp = SmtpServer(tmp / "inbox", free_port()).start()
    try:
        w = start_world(tmp, f"sqlite:///{tmp / 'ostiary.db'}", {
            "OSTIARY_SMTP_HOST": "127.0.0.1", "OSTIARY_SMTP_PORT": str(smtp.port), "OSTIARY_SMTP_SECURITY": "none",
            "OSTIARY_SMTP_FROM": "sso@acme.test", "OSTIARY_SMTP_TIMEOUT": "5"})
    except Exception:
        smtp.stop()
        raise
    try:
        _furnish(w, tmp)
        yield w
    finally:
        stop_world(w)
        smtp.stop()


def _furnish(world, tmp: Path) -> None:
    tid = world.tenant_id
    secret = tmp / "keycloak-secret"
    secret.write_text("not-shown\n")
    providers.add_provider(world.store, tid, CLI_ACTOR, "keycloak", ProviderSettings(
        preset="oidc", display_name="Keycloak", issuer="https://keycloak.example.test/realms/acme",
        client_id="ostiary", client_secret_ref=f"file:{secret}"))
    providers.add_provider(world.store, tid, CLI_ACTOR, "corp", ProviderSettings(
        preset="ldap", display_name="Corp directory", issuer="ldaps://dc1.acme.test:636",
        user_base="ou=people,dc=acme,dc=test", user_filter="(uid={login})"))
    clients.add_client(world.store, tid, CLI_ACTOR, "grafana", clients.ClientSettings(
        redirect_uris=[GRAFANA_CALLBACK], post_logout_redirect_uris=[GRAFANA_HOME], all_users=True))
    # dana is invited (no password yet); erin sets up a second factor.
    users.add_user(world.store, tid, CLI_ACTOR, email="dana@acme.test", display_name="Dana")
    users.add_user(world.store, tid, CLI_ACTOR, email="erin@acme.test", display_name="Erin", password=PASSWORD)


def _link(world, email: str, purpose: str, new_email: str | None = None) -> str:
    """The path of a link as the email would carry it (issued here: the mail itself is tests/email's)."""
    user = users.get_user(world.store, world.tenant_id, email)
    with world.store.write() as conn:
        token = email_links.issue_in(TenantScope(conn, world.tenant_id), user.id, purpose, CLI_ACTOR, new_email)
    return f"{email_links.PATHS[purpose]}?{urlencode({'token': token})}"


def _authorize_query(world, client) -> str:
    return "/oidc/authorize?" + urlencode({
        "response_type": "code", "client_id": client.client_id, "redirect_uri": GRAFANA_CALLBACK,
        "scope": "openid profile email", "state": "s", "nonce": "n",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGCSfOwkAY", "code_challenge_method": "S256"})


def _pages(world) -> list[tuple[str, str, int]]:
    """(name, path, expected status) of every page an admin can open by its address, in the order docs/admin.md
    shows them."""
    tid = world.tenant_id
    app = apps.get_app(world.store, tid, "grafana")
    user = users.get_user(world.store, tid, "alice@acme.test")
    group = groups.get_group(world.store, tid, "ops")
    domain = domains.list_domains(world.store, tid)[0]
    provider = providers.get_provider(world.store, tid, "keycloak")
    client = clients.get_client(world.store, tid, "grafana")
    token = api_tokens.tokens_page(world.store, tid, "reader").items[0]
    return [
        ("home", "/", 200),
        ("account", "/account", 200),
        ("second-factor-enrol", "/second-factor/enrol", 200),
        ("oidc-consent", _authorize_query(world, client), 200),
        ("oidc-end-session", "/oidc/end-session?" + urlencode({"client_id": client.client_id,
                                                                "post_logout_redirect_uri": GRAFANA_HOME}), 200),
        ("not-found", "/no/such/page", 404),
        ("admin-overview", "/admin", 200),
        ("admin-domains", "/admin/domains", 200),
        ("admin-domain", f"/admin/domains/{domain.name}", 200),
        ("admin-domain-delete", f"/admin/domains/{domain.name}/delete", 200),
        ("admin-apps", "/admin/apps", 200),
        ("admin-app", f"/admin/apps/{app.id}", 200),
        ("admin-app-delete", f"/admin/apps/{app.id}/delete", 200),
        ("admin-users", "/admin/users", 200),
        ("admin-user", f"/admin/users/{user.id}", 200),
        ("admin-user-disable", f"/admin/users/{user.id}/disable", 200),
        ("admin-user-sessions-end", f"/admin/users/{user.id}/sessions/end", 200),
        ("admin-user-delete", f"/admin/users/{user.id}/delete", 200),
        ("admin-groups", "/admin/groups", 200),
        ("admin-group", f"/admin/groups/{group.id}", 200),
        ("admin-group-delete", f"/admin/groups/{group.id}/delete", 200),
        ("admin-providers", "/admin/providers", 200),
        ("admin-provider", f"/admin/providers/{provider.id}", 200),
        ("admin-provider-delete", f"/admin/providers/{provider.id}/delete", 200),
        ("admin-oidc-clients", "/admin/oidc-clients", 200),
        ("admin-oidc-client", f"/admin/oidc-clients/{client.id}", 200),
        ("admin-sessions", "/admin/sessions", 200),
        ("admin-audit", "/admin/audit?limit=20", 200),  # twenty entries and the way on: the picture stays short
        ("admin-keys", "/admin/keys", 200),
        ("admin-keys-rotate", "/admin/keys/rotate", 200),
        ("admin-tokens", "/admin/tokens", 200),
        ("admin-token-revoke", f"/admin/tokens/{token.id}/revoke", 200),
        ("admin-settings", "/admin/settings", 200),
        ("admin-branding", "/admin/branding", 200),
    ]


def _target() -> Path | None:
    return SHOTS if os.environ.get("OSTIARY_UPDATE_SCREENSHOTS") == "1" else None


class Camera:
    """Takes each page's four pictures, and checks each of the four with axe-core as it is shown. axe comes in
    through DevTools (an init script), so every page keeps its own CSP, and a page that a CSP breaks is seen."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.made: list[str] = []
        self.errors: list[str] = []
        self.violations: dict[str, list[str]] = {}

    def page(self, browser, world, login: str | None = None):
        page = new_page(browser, world, login)
        page.context.add_init_script(path=str(AXE))
        page.on("console", lambda m: _console(self.errors, page, m))
        return page

    def shoot(self, page, name: str) -> None:
        for look in LOOKS:
            page.emulate_media(color_scheme=look)
            for viewport in (DESKTOP, PHONE):
                page.set_viewport_size(viewport)
                file = f"{name}-{viewport['width']}-{look}.jpg"
                # JPEG at 80: the whole set stays a few megabytes in the repository, the text stays sharp enough
                # to read.
                page.screenshot(path=str(self.folder / file), full_page=True, type="jpeg", quality=80)
                self.made.append(file)
                bad = _axe(page)
                if bad:
                    self.violations[f"{name} ({page.url}) {look} @ {viewport['width']}px"] = bad
        page.emulate_media(color_scheme="light")
        page.set_viewport_size(DESKTOP)


def _axe(page) -> list[str]:
    """axe-core's violations (any impact) on the page as it is shown now, and whether it scrolls sideways."""
    if not page.evaluate("typeof axe === 'object'"):  # a page opened before the init script was added
        return ["axe-core is not loaded in this page"]
    return axe_and_width(page)


def _console(errors: list[str], page, message) -> None:
    """Chromium's console errors, except its note that the document itself came with the status this test expects
    (a 401 after a wrong password, the 404 page); a failing style sheet, script or image is still an error."""
    if message.type != "error":
        return
    if message.text.startswith("Failed to load resource") and message.location.get("url") == page.url:
        return
    errors.append(f"{page.url}: {message.text}")


def _stand_in_proxy(world, page):
    """Every request to an app host answered as a forward-auth proxy would: /check asked with the request's
    X-Forwarded-* and its cookies, its refusal or redirect passed on as it came, an allowed request answered by a
    one-line app."""
    client = loopback_client(world.ca)

    def handle(route):
        request = route.request
        parts = urlsplit(request.url)
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies(request.url))
        answer = client.get(world.url(CHECK_PATH, host=PORTAL), headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": parts.netloc,
            "X-Forwarded-Uri": parts.path + (f"?{parts.query}" if parts.query else ""),
            "X-Forwarded-Method": request.method, "Accept-Language": "en",
            **({"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}
               if request.is_navigation_request() else {"Accept": request.headers.get("accept", "*/*")}),
            **({"Cookie": cookies} if cookies else {})})
        if answer.status_code == 200:
            route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>app</title><p>The app")
            return
        kept = {k: v for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection")}
        route.fulfill(status=answer.status_code, headers=kept, body=answer.content)

    page.route(re.compile(r"https://(grafana|wiki|tools)\.acme-corp\.test(:\d+)?/.*"), handle)
    return client


@pytest.mark.slow
def test_every_page_is_pictured_in_both_looks_and_both_widths(browser, world, tmp_path):
    folder = _target() or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    camera = Camera(folder)

    # Signed out: the sign-in page, the same after a wrong password, the pages reached by email, the directory's
    # form, a provider's failed answer, an unknown host.
    visitor = camera.page(browser, world)
    try:
        assert visitor.goto(world.url("/sign-in")).status == 200
        camera.shoot(visitor, "sign-in")
        visitor.fill("#login", "alice@acme.test")
        visitor.fill("#password", "not her password")
        with visitor.expect_navigation():
            visitor.click("button[type=submit]")
        assert visitor.locator("p.error[role=alert]:not([hidden])").count() == 1
        camera.shoot(visitor, "sign-in-wrong-password")

        assert visitor.goto(world.url("/forgot-password")).status == 200
        camera.shoot(visitor, "forgot-password")
        visitor.fill("#email", "carol@acme.test")
        with visitor.expect_navigation():
            visitor.click("button[type=submit]")
        assert "Check your email" in visitor.inner_text("h1")
        camera.shoot(visitor, "forgot-password-sent")

        reset = _link(world, "carol@acme.test", email_links.RESET)
        assert visitor.goto(world.url(reset)).status == 200
        camera.shoot(visitor, "reset-password")
        visitor.fill("#new_password", "a brand new passphrase")
        visitor.fill("#new_password_again", "a brand new passphrase")
        with visitor.expect_navigation():
            visitor.click("form[action='/reset-password'] button[type=submit]")
        assert "Password set" in visitor.inner_text("h1")
        camera.shoot(visitor, "reset-password-done")
        assert visitor.goto(world.url(reset)).status == 410  # used: the link says so
        camera.shoot(visitor, "link-not-usable")

        assert visitor.goto(world.url(_link(world, "dana@acme.test", email_links.INVITATION))).status == 200
        camera.shoot(visitor, "invitation")
        confirm = _link(world, "alice@acme.test", email_links.EMAIL_CHANGE, "alice.orsted@acme.test")
        assert visitor.goto(world.url(confirm)).status == 200
        camera.shoot(visitor, "confirm-email")

        assert visitor.goto(world.url("/sign-in/directory/corp")).status == 200
        camera.shoot(visitor, "directory-sign-in")
        assert visitor.goto(world.url("/sign-in/with/keycloak/callback?state=forged&code=x")).status == 400
        camera.shoot(visitor, "provider-problem")
        assert visitor.goto(world.url("/", host="nobody.id.example.test")).status == 404
        camera.shoot(visitor, "unknown-host")
    finally:
        visitor.context.close()

    # A second factor: set up (the recovery codes it shows once), then asked at the next sign-in.
    erin = camera.page(browser, world, "erin@acme.test")
    try:
        assert erin.goto(world.url("/second-factor/enrol")).status == 200
        secret = erin.inner_text("#secret").replace(" ", "")
        erin.fill("#password", PASSWORD)
        erin.fill("#code", pyotp.TOTP(secret).now())
        with erin.expect_navigation():
            erin.click("form:has(#code) button[type=submit]")
        assert erin.locator("ul.recovery-codes li").count() > 0
        camera.shoot(erin, "second-factor-recovery-codes")
        erin.goto(world.url("/"))
        with erin.expect_navigation():
            erin.click("form[action='/sign-out'] button")
        erin.goto(world.url("/sign-in"))
        erin.fill("#login", "erin@acme.test")
        erin.fill("#password", PASSWORD)
        erin.click("button[type=submit]")
        erin.wait_for_url(re.compile(r".*/second-factor\?.*"))
        camera.shoot(erin, "second-factor")
    finally:
        erin.context.close()

    # An app that refuses: bob may enter the wiki, not grafana. The gate's page on the app's host, the portal's
    # sign-out page it links to, and the portal's own refusal when the sign-in round trip names grafana.
    bob = camera.page(browser, world, "bob@acme.test")
    proxy = _stand_in_proxy(world, bob)
    try:
        wiki = f"https://wiki.acme-corp.test:{world.port}/"
        bob.goto(wiki)  # /check sends bob through the portal, which gives his browser the domain's cookie
        bob.wait_for_url(wiki)
        # Playwright hands a route only the first request of a redirect chain: the wiki again, with the cookie.
        assert bob.goto(wiki).status == 200 and "The app" in bob.inner_text("body")
        assert bob.goto(f"https://grafana.acme-corp.test:{world.port}/d/x").status == 403
        assert "You may not enter grafana" in bob.inner_text("h1")
        camera.shoot(bob, "app-refused")
        with bob.expect_navigation():
            bob.click("#switch-account")
        assert bob.url.startswith(world.url("/forward-auth/sign-out?rd=", host=PORTAL))
        camera.shoot(bob, "sign-out-of-apps")
        refused = AUTHORIZE_PATH + "?" + urlencode({
            "portal": PORTAL, "rd": f"https://grafana.acme-corp.test:{world.port}/d/x", "nh": "ab" * 32})
        assert bob.goto(world.url(refused)).status == 403
        camera.shoot(bob, "app-refused-at-sign-in")
    finally:
        bob.context.close()
        proxy.close()

    page = camera.page(browser, world, "admin@acme.test")
    try:
        for name, path, status in _pages(world):
            answer = page.goto(world.url(path))
            assert answer.status == status, f"{path}: {answer.status}"
            camera.shoot(page, name)
        page.goto(world.url("/"))
        with page.expect_navigation():
            page.click("form[action='/sign-out'] button")
        assert "signed out" in page.inner_text("h1").lower()
        camera.shoot(page, "signed-out")
    finally:
        page.context.close()

    made = camera.made
    assert not camera.errors, camera.errors
    assert not camera.violations, "\n".join(f"{where}: {bad}" for where, bad in camera.violations.items())
    for file in made:
        image = (folder / file).read_bytes()
        assert image.startswith(b"\xff\xd8\xff") and len(image) > 2_000, file
    shown = set(re.findall(r"screenshots/([\w.-]+\.jpg)", ADMIN_DOC.read_text()))
    assert sorted(set(made) - shown) == [], "docs/admin.md does not show these screenshots"
    assert sorted(shown - set(made)) == [], "docs/admin.md shows screenshots no page makes"
    if folder == SHOTS:
        stale = sorted(p.name for p in SHOTS.glob("*.jpg") if p.name not in made)
        for name in stale:
            (SHOTS / name).unlink()
    else:
        committed = {p.name for p in SHOTS.glob("*.jpg")}
        assert committed == set(made), ("docs/screenshots/ is out of step with the pages; "
                                        "run with OSTIARY_UPDATE_SCREENSHOTS=1 to regenerate")


@pytest.mark.slow
def test_the_check_run_on_each_picture_reports_a_page_with_problems_even_under_a_strict_csp(browser):
    context = browser.new_context(ignore_https_errors=True)
    try:
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        page.route("https://bad.example.test/", lambda route: route.fulfill(
            status=200, headers={"content-security-policy": "default-src 'none'"}, content_type="text/html",
            body="<!doctype html><html><body><img src='x.png'><input><p style='width:2000px'>wide</p></body></html>"))
        page.route("https://wide.example.test/", lambda route: route.fulfill(
            status=200, content_type="text/html", body="<p style='width:2000px'>wide</p>"))
        page.goto("https://bad.example.test/")
        found = _axe(page)
        page.goto("https://wide.example.test/")
        wide = _axe(page)
    finally:
        context.close()
    assert any(v.startswith("image-alt") for v in found) and any(v.startswith("label") for v in found), found
    # The page's own CSP stayed on: it refused the inline style, so the paragraph is not 2000 px wide.
    assert not any(v.startswith("scrolls sideways") for v in found), found
    assert any(v.startswith("scrolls sideways") for v in wide), wide
