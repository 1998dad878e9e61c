"""Every way the handshake must refuse: replayed, expired, misdirected or
orphaned tokens, foreign and tampered cookies, and unsafe `rd` targets.
Each refusal is a clear page, never a redirect."""

from __future__ import annotations

import time
from urllib.parse import quote, urlsplit

import httpx
import pytest

from ostiary.snapshot.build import load_full
from ostiary.tokens import CLOCK_LEEWAY, sign


def _walk_to_callback(world, v, app_url: str) -> str:
    """Follow the handshake up to, not into, /forward-auth/callback."""
    url = v.check(app_url).headers["location"]
    for _ in range(8):
        r = v.browser.get(url, headers={"Accept": "text/html"})
        if r.status_code == 200 and "/sign-in" in url:
            r = v.submit_sign_in(url, r.text)
        assert r.is_redirect, (url, r.status_code)
        nxt = r.headers["location"]
        url = nxt if nxt.startswith("https://") else f"https://{urlsplit(url).netloc}{nxt}"
        if urlsplit(url).path == "/forward-auth/callback":
            return url
    raise AssertionError("no callback reached")


def _state_cookies(v) -> list:
    return [c for c in v.browser.cookies.jar if "ostiary_state" in c.name]


def _assert_refused_page(r, status: int = 400) -> None:
    assert r.status_code == status
    assert "location" not in r.headers
    assert "<h1>" in r.text


def test_a_token_is_redeemed_only_once(world):
    v = world.visitor("alice@acme.test")
    callback = _walk_to_callback(world, v, world.url("grafana.acme-corp.test", "/"))
    saved = _state_cookies(v)
    assert v.browser.get(callback).status_code == 302
    for c in saved:  # even with the state cookie put back, the token is spent
        v.browser.cookies.jar.set_cookie(c)
    _assert_refused_page(v.browser.get(callback))


def test_a_token_redeemed_in_another_browser_is_refused(world):
    v = world.visitor("alice@acme.test")
    callback = _walk_to_callback(world, v, world.url("grafana.acme-corp.test", "/"))
    attacker_victim = world.visitor()
    r = attacker_victim.browser.get(callback)
    _assert_refused_page(r)
    assert "another browser" in r.text
    assert "_ostiary_fa" not in r.headers.get("set-cookie", "")


def test_a_token_for_one_portal_host_is_refused_by_another(world):
    v = world.visitor("alice@acme.test")
    callback = _walk_to_callback(world, v, world.url("grafana.acme-corp.test", "/"))
    other = callback.replace("auth.acme-corp.test", "login.homelab.test")
    _assert_refused_page(v.browser.get(other))


def test_an_expired_or_tampered_token_is_refused(world):
    v = world.visitor("alice@acme.test")
    callback = _walk_to_callback(world, v, world.url("grafana.acme-corp.test", "/"))
    token = callback.split("token=", 1)[1]
    body, kid, mac = token.split(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{kid}.{mac}"
    _assert_refused_page(v.browser.get(callback.split("token=")[0] + "token=" + tampered))
    with world.store.read() as conn:
        snap = load_full(conn)
    import base64, json
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["exp"] = time.time() - CLOCK_LEEWAY - 1
    expired = sign("hs", payload, snap.signing_key)
    _assert_refused_page(v.browser.get(callback.split("token=")[0] + "token=" + quote(expired)))


def test_a_forward_auth_cookie_is_worthless_for_another_tenant_or_domain(world):
    alice = world.signed_in("alice@acme.test")
    acme_cookie = alice.cookies_for(world.url("grafana.acme-corp.test", "/"))
    assert "_ostiary_fa=" in acme_cookie
    assert alice.check(world.url("app.globex.test", "/"), cookie=acme_cookie).status_code == 302
    assert alice.check(world.url("nas.homelab.test", "/"), cookie=acme_cookie).status_code == 302
    zed = world.signed_in("zed@globex.test", "app.globex.test")
    globex_cookie = zed.cookies_for(world.url("app.globex.test", "/"))
    assert zed.check(world.url("grafana.acme-corp.test", "/"), cookie=globex_cookie).status_code == 302
    assert zed.check(world.url("app.globex.test", "/"), cookie=globex_cookie).status_code == 200


def test_a_tampered_or_truncated_cookie_is_not_signed_in(world):
    alice = world.signed_in("alice@acme.test")
    url = world.url("grafana.acme-corp.test", "/")
    good = alice.cookies_for(url).split("_ostiary_fa=", 1)[1].split(";")[0]
    body, kid, mac = good.split(".")
    for bad in (f"{body}x.{kid}.{mac}", f"{body}.{kid}.{mac[:-3]}", good[: len(good) // 2], f"{body}.other.{mac}",
                "", "...", "a" * 5000, f"{body}.{kid}"):
        assert alice.check(url, cookie=f"_ostiary_fa={bad}").status_code == 302, bad
    assert alice.check(url, cookie=f"_ostiary_fa={good}").status_code == 200


RD_ATTACKS = [
    "https://evil.test/",
    "https://grafana.acme-corp.test.evil.test/",
    "//evil.test/",
    "https:evil.test",
    "https:/evil.test/",
    "https:\\\\evil.test",
    "https://grafana.acme-corp.test\\@evil.test/",
    "https://user@grafana.acme-corp.test/",
    "https://grafana.acme-corp.test@evil.test/",
    " https://grafana.acme-corp.test/",
    "https://grafana.acme-corp.test/\n",
    "https://grafаna.acme-corp.test/",  # Cyrillic a
    "https://GRAFANA.acme-corp.test/",
    "https://grafana.acme-corp.test./",
    "http://grafana.acme-corp.test/",
    "javascript:alert(1)",
    "https://nas.homelab.test/",  # another domain's app: not what this portal signs in to
    "https://app.globex.test/",  # another tenant's app
    "",
]


@pytest.mark.parametrize("rd", RD_ATTACKS)
def test_unsafe_rd_targets_get_an_explaining_page_not_a_redirect(world, rd):
    v = world.visitor()
    target = rd.replace("acme-corp.test/", f"acme-corp.test:{world.port}/") if "grafana" in rd else rd
    r = v.browser.get(f"https://auth.acme-corp.test:{world.port}/forward-auth/start?rd={quote(target, safe='')}")
    _assert_refused_page(r)


def test_an_rd_on_another_port_of_the_app_host_is_refused(world):
    v = world.visitor()
    rd = f"https://grafana.acme-corp.test:{world.port + 1}/"
    _assert_refused_page(v.browser.get(f"https://auth.acme-corp.test:{world.port}/forward-auth/start?rd={quote(rd)}"))


def test_refused_handshakes_are_logged_with_why_and_counted(world):
    """docs/operations.md, "Events": handshake.refused names the reason; the metrics count it."""
    v = world.visitor("alice@acme.test")
    callback = _walk_to_callback(world, v, world.url("grafana.acme-corp.test", "/"))
    _assert_refused_page(world.visitor().browser.get(callback))  # another browser
    log = world.server.log_path
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        refused = [line for line in log.read_text(errors="replace").splitlines()
                   if " handshake.refused " in line and "reason=other_browser" in line]
        if refused:
            break
        time.sleep(0.1)
    assert refused and "host=auth.acme-corp.test" in refused[-1]
    metrics = world.server.env["OSTIARY_METRICS_LISTEN"]
    text = httpx.get(f"http://{metrics}/metrics", timeout=10).text
    assert 'ostiary_handshakes_total{reason="other_browser",result="refused"}' in text, text
