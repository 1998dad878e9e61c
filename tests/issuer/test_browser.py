"""The whole flow in Chromium: an app using the certified `openid-client`
sends the browser to Ostiary, the person signs in with their password,
consents, and the app receives a code it exchanges for tokens, reads
userinfo, refreshes and revokes. The app's own host is played by
a small HTTPS server of the test's own (tests/issuer/app_server.py)."""

from __future__ import annotations

import pytest

from tests.issuer.conftest import GRAFANA_CALLBACK, GRAFANA_HOME, PASSWORD, TENANT_HOST
from tests.support.browser import chromium

pytestmark = pytest.mark.slow


def test_code_flow_with_pkce_in_chromium_then_userinfo_refresh_and_revocation(issuer_world, artifacts_dir):
    world = issuer_world
    started = world.relying_party("start", "grafana", scope="openid profile email groups offline_access")
    assert started["ok"], started
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        page.goto(started["url"])
        assert page.url.startswith(f"https://{TENANT_HOST}:{world.port}/sign-in"), page.url
        page.fill("input[name=login]", "dave@acme.test")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("text=Sign in to grafana?")
        page.screenshot(path=str(artifacts_dir / "issuer-consent.png"), full_page=True)
        page.click("button[value=allow]")
        page.wait_for_selector("text=The app answered")
        assert page.url.startswith(GRAFANA_CALLBACK + "?")
        received = [page.url]

        # Signed in already: the next sign-in of this app needs no password and no second consent.
        again = world.relying_party("start", "grafana", scope="openid email")
        page.goto(again["url"])
        page.wait_for_selector("text=The app answered")
        assert page.url.startswith(GRAFANA_CALLBACK + "?code=")
        context.close()

    done = world.relying_party("callback", "grafana", callback_url=received[0], verifier=started["verifier"],
                               state=started["state"], nonce=started["nonce"])
    assert done["ok"], done
    assert done["claims"]["email"] == "dave@acme.test" and done["claims"]["groups"] == ["staff"]
    info = world.relying_party("userinfo", "grafana", token=done["tokens"]["access_token"], sub=done["claims"]["sub"])
    assert info["userinfo"]["preferred_username"] == "dave"
    refreshed = world.relying_party("refresh", "grafana", token=done["tokens"]["refresh_token"])
    assert refreshed["ok"] and refreshed["tokens"]["access_token"] != done["tokens"]["access_token"]
    assert world.relying_party("revoke", "grafana", token=refreshed["tokens"]["refresh_token"])["ok"]
    assert not world.relying_party("refresh", "grafana", token=refreshed["tokens"]["refresh_token"])["ok"]


def test_rp_initiated_logout_in_chromium_returns_to_the_app_and_tells_its_back_channel(issuer_world):
    world = issuer_world
    started = world.relying_party("start", "grafana", scope="openid email")
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        page.goto(started["url"])
        page.fill("input[name=login]", "frank@acme.test")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        if page.locator("button[value=allow]").count():
            page.click("button[value=allow]")
        page.wait_for_selector("text=The app answered")
        done = world.relying_party("callback", "grafana", callback_url=page.url, verifier=started["verifier"],
                                   state=started["state"], nonce=started["nonce"])
        assert done["ok"], done
        end = world.relying_party("end_session_url", "grafana", id_token_hint=done["tokens"]["id_token"],
                                  post_logout_redirect_uri=GRAFANA_HOME, state="bye")
        page.goto(end["url"])
        page.click("button[type=submit]")
        page.wait_for_selector("text=The app answered")
        assert page.url == GRAFANA_HOME + "?state=bye"
        context.close()
    sid = done["claims"]["sid"]
    assert world.app.wait_for(lambda r: r.path == "/backchannel-logout" and sid in _logout_sid(world, r.body))
    gone = world.relying_party("userinfo", "grafana", token=done["tokens"]["access_token"], sub=done["claims"]["sub"])
    assert not gone["ok"] and gone["status"] == 401


def _logout_sid(world, body: str) -> str:
    from urllib.parse import parse_qs

    from joserfc import jwt
    from joserfc.jwk import KeySet

    with world.browser() as http:
        jwks = KeySet.import_key_set(http.get(world.url("/oidc/jwks")).json())
    return jwt.decode(parse_qs(body)["logout_token"][0], jwks, algorithms=["RS256"]).claims["sid"]
