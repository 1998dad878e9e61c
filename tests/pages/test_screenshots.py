"""Screenshots of every page at 1280 px and 375 px, in the light and the dark
look, as docs/admin.md shows them (docs/screenshots/).

The test renders every page in real Chromium against a real `ostiary serve`
each run and fails when a page does not answer 200 (or its expected status),
when Chromium logs an error while showing it, or when docs/admin.md does not
show every screenshot. It writes the images to a temporary folder; with
OSTIARY_UPDATE_SCREENSHOTS=1 it writes them over docs/screenshots/ (how they
were made), so a change to a page is one test run away from its picture."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ostiary.services.rules import apps, domains, groups, users
from tests.pages.conftest import DESKTOP, LOOKS, PHONE, new_page

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "docs" / "screenshots"
ADMIN_DOC = REPO / "docs" / "admin.md"


def _pages(world) -> list[tuple[str, str, int]]:
    """(name, path, expected status) of every page an admin can open, in the order docs/admin.md shows them."""
    tid = world.tenant_id
    app = apps.get_app(world.store, tid, "grafana")
    user = users.get_user(world.store, tid, "alice@acme.test")
    group = groups.get_group(world.store, tid, "ops")
    domain = domains.list_domains(world.store, tid)[0]
    return [
        ("home", "/", 200),
        ("account", "/account", 200),
        ("second-factor-enrol", "/second-factor/enrol", 200),
        ("not-found", "/no/such/page", 404),
        ("admin-overview", "/admin", 200),
        ("admin-domains", "/admin/domains", 200),
        ("admin-domain", f"/admin/domains/{domain.name}", 200),
        ("admin-apps", "/admin/apps", 200),
        ("admin-app", f"/admin/apps/{app.id}", 200),
        ("admin-app-delete", f"/admin/apps/{app.id}/delete", 200),
        ("admin-users", "/admin/users", 200),
        ("admin-user", f"/admin/users/{user.id}", 200),
        ("admin-groups", "/admin/groups", 200),
        ("admin-group", f"/admin/groups/{group.id}", 200),
        ("admin-providers", "/admin/providers", 200),
        ("admin-oidc-clients", "/admin/oidc-clients", 200),
        ("admin-sessions", "/admin/sessions", 200),
        ("admin-audit", "/admin/audit", 200),
        ("admin-keys", "/admin/keys", 200),
        ("admin-tokens", "/admin/tokens", 200),
        ("admin-settings", "/admin/settings", 200),
        ("admin-branding", "/admin/branding", 200),
        ("admin-user-delete", f"/admin/users/{user.id}/delete", 200),
    ]


def _target() -> Path:
    return SHOTS if os.environ.get("OSTIARY_UPDATE_SCREENSHOTS") == "1" else None


def _shoot(page, folder: Path, name: str) -> list[str]:
    made = []
    for look in LOOKS:
        page.emulate_media(color_scheme=look)
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            file = f"{name}-{viewport['width']}-{look}.jpg"
            # JPEG at 80: the whole set stays a few megabytes in the repository, the text stays sharp enough to read.
            page.screenshot(path=str(folder / file), full_page=True, type="jpeg", quality=80)
            made.append(file)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(DESKTOP)
    return made


def _console(errors: list[str], page, message) -> None:
    """Chromium's console errors, except its note that the document itself came with the status this test expects
    (a 401 after a wrong password, the 404 page); a failing style sheet, script or image is still an error."""
    if message.type != "error":
        return
    if message.text.startswith("Failed to load resource") and message.location.get("url") == page.url:
        return
    errors.append(f"{page.url}: {message.text}")


@pytest.mark.slow
def test_every_page_is_pictured_in_both_looks_and_both_widths(browser, world, tmp_path):
    folder = _target() or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    errors: list[str] = []

    # Signed out: the sign-in page, and the same after a wrong password.
    visitor = new_page(browser, world)
    visitor.on("console", lambda m: _console(errors, visitor, m))
    try:
        assert visitor.goto(world.url("/sign-in")).status == 200
        made += _shoot(visitor, folder, "sign-in")
        visitor.fill("#login", "alice@acme.test")
        visitor.fill("#password", "not her password")
        with visitor.expect_navigation():
            visitor.click("button[type=submit]")
        assert visitor.locator("p.error[role=alert]:not([hidden])").count() == 1
        made += _shoot(visitor, folder, "sign-in-wrong-password")
    finally:
        visitor.context.close()

    page = new_page(browser, world, "admin@acme.test")
    page.on("console", lambda m: _console(errors, page, m))
    try:
        for name, path, status in _pages(world):
            answer = page.goto(world.url(path))
            assert answer.status == status, f"{path}: {answer.status}"
            made += _shoot(page, folder, name)
        page.goto(world.url("/"))
        with page.expect_navigation():
            page.click("form[action='/sign-out'] button")
        assert "signed out" in page.inner_text("h1").lower()
        made += _shoot(page, folder, "signed-out")
    finally:
        page.context.close()

    assert not errors, errors
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
