"""Every portal page carries the response hardening (CSP, frame denial,
no-store, referrer policy, nosniff); every state-changing form refuses
cross-site posts; the session id is renewed at sign-in."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from ostiary.wire import CSRF_COOKIE, SESSION_COOKIE
from tests.security.conftest import ACME, CSRF_VALUE, PASSWORD, form_fields, fresh_address

PORTAL = "auth.acme-corp.test"


def _pages(sec):
    rd = quote(sec.url("grafana.acme-corp.test", "/"), safe="")
    return {
        "sign_in": (ACME, "/sign-in"),
        "home_signed_out": (ACME, "/"),
        "second_factor_signed_out": (ACME, "/second-factor"),
        "enrol_signed_out": (ACME, "/second-factor/enrol"),
        "authorize_invalid": (ACME, "/forward-auth/authorize?portal=x"),
        "unknown_host": ("nothing.acme-corp.test", "/sign-in"),
        "start_refused": (PORTAL, "/forward-auth/start?rd=https://evil.test/"),
        "start_accepted": (PORTAL, f"/forward-auth/start?rd={rd}"),
        "callback_refused": (PORTAL, "/forward-auth/callback?token=x"),
        "portal_sign_out": (PORTAL, "/forward-auth/sign-out"),
        "not_found": (ACME, "/no-such-page"),
        "healthz": (ACME, "/healthz"),
    }


PAGE_IDS = list(_pages(type("S", (), {"url": lambda self, h, p: ""})()).keys())


def _assert_hardened(r, what):
    csp = r.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, what
    assert r.headers.get("x-frame-options") == "DENY", what
    assert r.headers.get("cache-control") == "no-store", what
    assert r.headers.get("referrer-policy") in ("no-referrer", "same-origin", "strict-origin"), what
    assert r.headers.get("x-content-type-options") == "nosniff", what


@pytest.mark.parametrize("page", PAGE_IDS)
def test_every_portal_page_is_hardened(sec, page):
    host, path = _pages(sec)[page]
    r = sec.client().get(sec.url(host, path))
    assert r.status_code < 500
    _assert_hardened(r, page)


def test_signed_in_pages_are_hardened(sec):
    v = sec.signed_in("bob@acme.test", "wiki.acme-corp.test")
    for path in ("/", "/second-factor/enrol", "/sign-in"):
        _assert_hardened(v.browser.get(sec.url(ACME, path)), path)
    # The 403 page naming an app bob may not enter.
    rd = quote(sec.url("grafana.acme-corp.test", "/"), safe="")
    authorize = v.browser.get(sec.url(PORTAL, f"/forward-auth/start?rd={rd}")).headers["location"]
    r = v.browser.get(authorize)
    assert r.status_code == 403
    _assert_hardened(r, "forbidden")


CROSS_SITE = {
    "no_csrf_cookie": {"Origin": "https://{acme}", "Sec-Fetch-Site": "same-origin"},
    "other_origin": {"Origin": "https://evil.test", "Sec-Fetch-Site": "cross-site", "cookie": True},
    "other_origin_without_fetch_metadata": {"Origin": "https://evil.test", "cookie": True},
    "null_origin": {"Origin": "null", "cookie": True},
    "cross_site_fetch_metadata": {"Sec-Fetch-Site": "cross-site", "cookie": True},
    "same_site_sibling": {"Sec-Fetch-Site": "same-site", "Origin": "https://evil.id.example.test", "cookie": True},
    "wrong_token": {"Origin": "https://{acme}", "Sec-Fetch-Site": "same-origin", "cookie": True, "token": "y" * 43},
}


def _cross_site_post(sec, path, case, data):
    spec = dict(CROSS_SITE[case])
    headers = {k: v.format(acme=f"{ACME}:{sec.port}") for k, v in spec.items() if k not in ("cookie", "token")}
    if spec.get("cookie"):
        headers["Cookie"] = f"{CSRF_COOKIE}={CSRF_VALUE}"
    data = {**data, "csrf": spec.get("token", CSRF_VALUE)}
    headers["X-Forwarded-For"] = fresh_address()
    return sec.client().post(sec.url(ACME, path), data=data, headers=headers)


@pytest.mark.parametrize("case", CROSS_SITE.keys())
def test_sign_in_refuses_cross_site_posts(sec, case):
    r = _cross_site_post(sec, "/sign-in", case, {"login": "alice@acme.test", "password": PASSWORD, "next": "/"})
    assert r.status_code == 403
    assert not any(c.startswith(SESSION_COOKIE) for c in r.headers.get_list("set-cookie"))


@pytest.mark.parametrize("case", ["other_origin", "cross_site_fetch_metadata", "no_csrf_cookie"])
def test_sign_out_and_second_factor_forms_refuse_cross_site_posts(sec, case):
    v = sec.signed_in("bob@acme.test", "wiki.acme-corp.test")
    session = v.browser.cookies.get(SESSION_COOKIE)
    for path, data in (("/sign-out", {}), ("/second-factor", {"code": "123456", "next": "/"}),
                       ("/second-factor/enrol", {"code": "123456", "password": PASSWORD, "pending": "x"})):
        spec = CROSS_SITE[case]
        headers = {k: v2.format(acme=f"{ACME}:{sec.port}") for k, v2 in spec.items() if k != "cookie"}
        cookie = f"{SESSION_COOKIE}={session}" + (f"; {CSRF_COOKIE}={CSRF_VALUE}" if spec.get("cookie") else "")
        r = sec.client().post(sec.url(ACME, path), data={**data, "csrf": CSRF_VALUE},
                              headers={**headers, "Cookie": cookie})
        assert r.status_code in (400, 403), (path, r.status_code)
    # Still signed in: the forged sign-out did nothing.
    assert v.browser.get(sec.url(ACME, "/")).status_code == 200


def test_the_session_id_is_renewed_at_sign_in(sec):
    v = sec.signed_in("bob@acme.test", "wiki.acme-corp.test")
    first = v.browser.cookies.get(SESSION_COOKIE)
    page = v.browser.get(sec.url(ACME, "/sign-in?next=/"))
    assert page.status_code == 303  # already signed in
    login = sec.client()
    html = login.get(sec.url(ACME, "/sign-in")).text
    # The same browser signs in again (say, as someone else): a new id, the old one ends.
    r = v.browser.post(sec.url(ACME, "/sign-in"),
                       data={"login": "bob@acme.test", "password": PASSWORD, "next": "/",
                             "csrf": v.browser.cookies.get(CSRF_COOKIE)},
                       headers={"Origin": f"https://{ACME}:{sec.port}", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303
    second = v.browser.cookies.get(SESSION_COOKIE)
    assert second and second != first
    stale = sec.client().get(sec.url(ACME, "/"), headers={"Cookie": f"{SESSION_COOKIE}={first}"})
    assert stale.status_code == 303 and stale.headers["location"] == "/sign-in"
    assert "csrf" in form_fields(html)


def test_a_session_cookie_planted_before_sign_in_is_not_adopted(sec):
    """Session fixation: a value the attacker chose is never the signed-in session."""
    planted = "A" * 43
    client = sec.client()
    headers = {"Cookie": f"{SESSION_COOKIE}={planted}; {CSRF_COOKIE}={CSRF_VALUE}",
               "Origin": f"https://{ACME}:{sec.port}", "Sec-Fetch-Site": "same-origin"}
    r = client.post(sec.url(ACME, "/sign-in"), headers=headers,
                    data={"login": "bob@acme.test", "password": PASSWORD, "next": "/", "csrf": CSRF_VALUE})
    assert r.status_code == 303
    issued = [c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")]
    assert issued and planted not in issued[0]
    assert "secure" in issued[0].lower() and "httponly" in issued[0].lower()
    assert client.get(sec.url(ACME, "/"), headers={"Cookie": f"{SESSION_COOKIE}={planted}"}).status_code == 303
