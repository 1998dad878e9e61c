"""The pages sign-in through providers and directories added, in Chromium:
axe-core finds no serious or critical violation at desktop and phone widths,
and nothing sticks out past a 360 px screen."""

from __future__ import annotations

import re

import pytest

from ostiary.services.rules import providers
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules.providers import ProviderSettings
from tests.identity.conftest import PASSWORD, TENANT_HOST
from tests.support.browser import chromium

pytestmark = pytest.mark.slow

AXE = __import__("pathlib").Path(__file__).parent.parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = ({"width": 1280, "height": 900}, {"width": 360, "height": 740})


@pytest.fixture(scope="module")
def directory_row(identity_world):
    w = identity_world
    row = providers.add_provider(w.store, w.tenant_id, CLI_ACTOR, "axe-directory", ProviderSettings(
        preset="ldap", display_name="Axe directory", issuer="ldaps://ldap.acme.test", user_base="dc=acme,dc=test",
        user_filter="(uid={login})"))
    yield row
    providers.remove_provider(w.store, w.tenant_id, CLI_ACTOR, "axe-directory")


def test_sign_in_account_and_provider_pages_have_no_serious_accessibility_violations(identity_world, directory_row,
                                                                                     artifacts_dir):
    w = identity_world
    idp = providers.get_provider(w.store, w.tenant_id, "idp")
    public = ["/sign-in?next=/account", "/sign-in/directory/axe-directory", "/sign-in/with/nonexistent"]
    private = ["/account", "/admin/providers", f"/admin/providers/{idp.id}", f"/admin/providers/{directory_row.id}"]
    found = {}
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True, bypass_csp=True)
        page = context.new_page()
        for path in public + ["SIGN IN"] + private:
            if path == "SIGN IN":
                page.goto(w.url("/sign-in?next=/account"))
                page.fill("#login", "admin@acme.test")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(re.compile(rf"https://{re.escape(TENANT_HOST)}:\d+/account"))
                continue
            for viewport in VIEWPORTS:
                page.set_viewport_size(viewport)
                page.goto(w.url(path))
                page.add_script_tag(path=str(AXE))
                result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
                bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
                       for v in result["violations"] if v["impact"] in ("serious", "critical")]
                wide = page.evaluate("document.documentElement.scrollWidth > innerWidth + 1")
                if bad or wide:
                    found[f"{path} @ {viewport['width']}px"] = bad + (["wider than the screen"] if wide else [])
            page.screenshot(path=str(artifacts_dir / f"identity{path.replace('/', '-').split('?')[0]}.png"),
                            full_page=True)
        context.close()
    assert not found, found
