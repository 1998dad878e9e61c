"""The tenant's second-factor policy in Chromium: a person who must have a
second factor and has none is taken, right after their password, to set one
up — a passkey, or an authenticator app from a QR code drawn by the server
— before any page or app (docs/sign-in.md). And the same settings through
the JSON API, the admin pages and the CLI: the policy, an app's "requires a
second factor", and an administrator's reset of a person's factors."""

from __future__ import annotations

import re

import pyotp
import pytest

from ostiary.services.rules import tenants
from ostiary.services.base.actor import CLI_ACTOR
from tests.signin.conftest import new_person, on_page

from click.testing import CliRunner

from ostiary.cli import main as cli
from ostiary.services.rules import apps, passkeys, users
from tests.admin.conftest import ADMIN, PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def everyone(world):
    tenants.set_second_factor_policy(world.store, world.tenant_id, CLI_ACTOR, "everyone")
    yield
    tenants.set_second_factor_policy(world.store, world.tenant_id, CLI_ACTOR, "off")


def test_a_person_without_a_second_factor_sets_up_a_passkey_before_anything_else(world, visitor, everyone):
    email = new_person(world, "grace")
    visitor.sign_in_with_password(email, next_url="/account")
    assert "/second-factor/enrol" in visitor.page.url, visitor.page.url
    assert "requires a second factor" in visitor.page.inner_text("main")
    # Nothing else is open yet: the account page sends them back here.
    visitor.page.goto(visitor.url("/account"))
    assert "/second-factor" in visitor.page.url, visitor.page.url
    visitor.page.goto(visitor.url("/second-factor/enrol?next=/account"))
    visitor.add_passkey("Laptop")
    assert visitor.page.url.endswith("/account"), visitor.page.url
    assert "Laptop" in visitor.page.inner_text("#passkeys")


def test_the_authenticator_app_set_up_shows_a_qr_code_drawn_by_the_server(world, visitor, everyone):
    email = new_person(world, "qr")
    visitor.sign_in_with_password(email, next_url="/account")
    assert "/second-factor/enrol" in visitor.page.url, visitor.page.url
    svg = visitor.page.locator("#totp-qr svg")
    assert svg.count() == 1 and svg.locator("path").count() >= 1
    box = svg.bounding_box()
    assert box["width"] >= 100 and box["height"] >= 100  # drawn, not blocked by the CSP
    key = visitor.page.inner_text("#secret").replace(" ", "")
    assert key in visitor.page.get_attribute("#uri", "href")
    visitor.page.fill("#password", "correct horse battery")
    visitor.page.fill("#code", pyotp.TOTP(key).now())
    with visitor.page.expect_navigation():
        visitor.page.click("form[action='/second-factor/enrol'] button[type=submit]")
    assert len(re.findall(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", visitor.page.inner_text("main"))) == 10
    visitor.page.goto(visitor.url("/account"))
    assert on_page("/account").match(visitor.page.url)


def test_the_api_sets_the_policy_an_apps_second_factor_and_resets_a_persons_factors(world):
    with world.api(world.write_token) as api:
        assert api.get("/second-factor-policy").json() == {"policy": "off"}
        r = api.put("/second-factor-policy", json={"policy": "sometimes"})
        assert r.status_code == 422 and "policy" in r.text
        assert api.put("/second-factor-policy", json={"policy": "admins"}).json() == {"policy": "admins"}
        assert tenants.second_factor_policy(world.store, world.tenant_id) == "admins"
        assert api.put("/second-factor-policy", json={"policy": "off"}).status_code == 200

        assert api.get("/apps/tools").json()["require_2fa"] is False
        r = api.patch("/apps/tools", json={"require_2fa": True})
        assert r.status_code == 200 and r.json()["require_2fa"] is True
        assert apps.get_app(world.store, world.tenant_id, "tools").require_2fa
        api.patch("/apps/tools", json={"require_2fa": False})

        email = new_person(world, "apireset")
        user = users.get_user(world.store, world.tenant_id, email)
        _passkey_row(world, user.id)
        assert api.get(f"/users/{email}").json()["passkeys"] == 1
        r = api.delete(f"/users/{email}/second-factors")
        assert r.status_code == 200 and r.json()["passkeys"] == 0 and r.json()["totp_enabled"] is False
        entries = api.get("/audit", params={"action": "user.second_factor_reset"}).json()["items"]
        assert any(e["entity_id"] == str(user.id) for e in entries)
    with world.api(world.read_token) as api:
        assert api.put("/second-factor-policy", json={"policy": "everyone"}).status_code == 403


def _passkey_row(world, user_id: int) -> None:
    import time

    from ostiary.store import TenantScope
    from ostiary.store.tables import webauthn_credentials

    with world.store.write() as conn:
        TenantScope(conn, world.tenant_id).insert(
            webauthn_credentials, user_id=user_id, credential_id=f"row-{user_id}-{time.time_ns()}", public_key="pk",
            sign_count=0, name="Desk key", transports="", aaguid="", backed_up=False, created_at=time.time())


def test_the_cli_app_change_sets_and_clears_requires_a_second_factor(world):
    env = {"OSTIARY_DATABASE_URL": world.store.url}
    r = CliRunner().invoke(cli, ["app", "change", "wiki", "--require-2fa", "--tenant", "acme"], env=env)
    assert r.exit_code == 0, r.output
    assert "second factor required" in r.output
    assert apps.get_app(world.store, world.tenant_id, "wiki").require_2fa
    r = CliRunner().invoke(cli, ["app", "change", "wiki", "--no-require-2fa", "--tenant", "acme"], env=env)
    assert r.exit_code == 0 and not apps.get_app(world.store, world.tenant_id, "wiki").require_2fa


def test_the_admin_pages_set_the_policy_an_apps_second_factor_and_reset_a_persons_factors(world, visitor):
    email = new_person(world, "uireset")
    person = users.get_user(world.store, world.tenant_id, email)
    _passkey_row(world, person.id)
    visitor.sign_in_with_password(ADMIN, PASSWORD, next_url="/admin/providers")
    page = visitor.page
    page.check("input[name=policy][value=admins]")
    with page.expect_navigation():
        page.click("form[action='/admin/providers/second-factor-policy'] button[type=submit]")
    assert tenants.second_factor_policy(world.store, world.tenant_id) == "admins"
    # It applies from the next page on, to the admin who set it too: they have no second factor yet.
    assert "/second-factor/enrol" in page.url and "requires a second factor" in page.inner_text("main")
    tenants.set_second_factor_policy(world.store, world.tenant_id, CLI_ACTOR, "off")

    tools = apps.get_app(world.store, world.tenant_id, "tools")
    page.goto(visitor.url(f"/admin/apps/{tools.id}"))
    page.check("#require_2fa")
    with page.expect_navigation():
        page.click("form[aria-labelledby=edit] button[type=submit]")
    assert "required" in page.inner_text("#app-2fa")
    assert apps.get_app(world.store, world.tenant_id, "tools").require_2fa
    page.uncheck("#require_2fa")
    with page.expect_navigation():
        page.click("form[aria-labelledby=edit] button[type=submit]")
    assert not apps.get_app(world.store, world.tenant_id, "tools").require_2fa

    page.goto(visitor.url(f"/admin/users/{person.id}"))
    assert "1 passkey" in page.inner_text("#user-second-factor")
    with page.expect_navigation():
        page.click("form[action$='/second-factors/reset'] button")
    assert "Second factors reset" in page.inner_text("main")
    assert passkeys.count_passkeys(world.store, world.tenant_id, person.id) == 0
    assert page.inner_text("#user-second-factor") == "none"
