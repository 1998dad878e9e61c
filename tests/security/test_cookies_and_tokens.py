"""Forward-auth cookies and handshake tokens under attack: malformed,
oversized, duplicated, truncated and tampered values, replayed and
cross-portal tokens, login CSRF, and cookies carried across tenants."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from ostiary.tokens import CLOCK_LEEWAY, SigningKey, sign
from tests.security.conftest import check_headers

PORTAL = "auth.acme-corp.test"


def _check_with_cookie(sec, cookie_header: str, app_host: str = "tools.acme-corp.test", portal: str = PORTAL):
    r = sec.client().get(sec.url(portal, "/forward-auth/check"),
                         headers=check_headers(sec, app_host, "/", Cookie=cookie_header))
    assert r.status_code < 500
    return r


def _body(token: str) -> dict:
    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _rebody(token: str, **changes) -> str:
    payload = {**_body(token), **changes}
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return ".".join([body] + token.split(".")[1:])


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


def test_the_genuine_cookie_is_accepted(sec, alice_cookie):
    r = _check_with_cookie(sec, f"_ostiary_fa={alice_cookie}")
    assert r.status_code == 200 and r.headers["x-forwarded-user"] == "alice"


MALFORMED = {
    "empty": "_ostiary_fa=",
    "garbage": "_ostiary_fa=garbage",
    "two_dots": "_ostiary_fa=..",
    "four_parts": "_ostiary_fa=a.b.c.d",
    "not_base64": "_ostiary_fa=!!!.kid.$$$",
    "json_list": "_ostiary_fa=" + base64.urlsafe_b64encode(b"[1,2]").decode().rstrip("=") + ".x.y",
    "quoted": '_ostiary_fa="abc.def.ghi"',
    "only_separators": ";;;=;_ostiary_fa;=",
    "name_without_value": "_ostiary_fa",
    "unicode_escape": "_ostiary_fa=%E2%80%AE.x.y",
    "nul_byte_escaped": "_ostiary_fa=\\x00.x.y",
    "similar_name": "_ostiary_fa_=x; x_ostiary_fa=y; _OSTIARY_FA=z",
}


@pytest.mark.parametrize("cookie", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_cookie_is_not_signed_in(sec, cookie):
    assert _check_with_cookie(sec, cookie).status_code == 302


def test_an_oversized_cookie_is_not_signed_in(sec, alice_cookie):
    padded = _rebody(alice_cookie, pad="x" * 5000)
    assert _check_with_cookie(sec, f"_ostiary_fa={padded}").status_code in (302, 400, 431)
    assert _check_with_cookie(sec, "_ostiary_fa=" + "a" * 8000).status_code in (302, 400, 431)


@pytest.mark.parametrize("cut", [1, 10, 43, -1, -2, -44])
def test_a_truncated_cookie_is_not_signed_in(sec, alice_cookie, cut):
    value = alice_cookie[:cut] if cut < 0 else alice_cookie[cut:]
    assert _check_with_cookie(sec, f"_ostiary_fa={value}").status_code == 302


def test_duplicated_cookies_need_one_that_verifies(sec, alice_cookie):
    assert _check_with_cookie(sec, "_ostiary_fa=garbage; _ostiary_fa=x.y.z").status_code == 302
    r = _check_with_cookie(sec, f"_ostiary_fa=garbage; _ostiary_fa={alice_cookie}")
    assert r.status_code == 200 and r.headers.get_list("x-forwarded-user") == ["alice"]


def test_duplicated_cookie_headers_do_not_confuse_the_check(sec, alice_cookie):
    headers = list(check_headers(sec, "tools.acme-corp.test", "/").items())
    headers += [("Cookie", "_ostiary_fa=garbage"), ("Cookie", f"other=1")]
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/check"), headers=headers)
    assert r.status_code == 302


TAMPERING = {
    "another_user": {"u": 1},
    "another_tenant": {"tn": 2},
    "another_domain": {"d": 2},
    "far_future_expiry": {"exp": 9_999_999_999},
    "second_factor_claimed": {"mf": True},
    "another_session": {"s": "0" * 32},
}


@pytest.mark.parametrize("changes", TAMPERING.values(), ids=TAMPERING.keys())
def test_a_tampered_cookie_payload_is_not_signed_in(sec, alice_cookie, changes):
    assert _check_with_cookie(sec, f"_ostiary_fa={_rebody(alice_cookie, **changes)}").status_code == 302


def test_a_cookie_with_a_flipped_mac_or_unknown_key_is_not_signed_in(sec, alice_cookie):
    body, kid, mac = alice_cookie.split(".")
    for forged in (f"{body}.{kid}.{_flip(mac, 5)}", f"{body}.deadbeef.{mac}", f"{body}..{mac}", f"{body}.{kid}."):
        assert _check_with_cookie(sec, f"_ostiary_fa={forged}").status_code == 302


def test_a_cookie_signed_with_a_guessed_key_is_not_signed_in(sec, alice_cookie):
    kid = alice_cookie.split(".")[1]
    forged = sign("fa", _body(alice_cookie), SigningKey(kid, b"\0" * 32, None))
    assert _check_with_cookie(sec, f"_ostiary_fa={forged}").status_code == 302


def test_an_expired_cookie_with_a_genuine_signature_is_not_signed_in(sec, snapshot, alice_cookie):
    expired = sign("fa", {**_body(alice_cookie), "exp": time.time() - CLOCK_LEEWAY - 1}, snapshot.signing_key)
    assert _check_with_cookie(sec, f"_ostiary_fa={expired}").status_code == 302


def test_a_genuine_cookie_for_another_protected_domain_is_not_signed_in(sec, snapshot, alice_cookie):
    homelab = next(d for d in snapshot.domains.values() if d.name == "homelab.test")
    other = sign("fa", {**_body(alice_cookie), "d": homelab.id}, snapshot.signing_key)
    assert _check_with_cookie(sec, f"_ostiary_fa={other}").status_code == 302
    # ...while on its own domain it is accepted (the signature is real).
    r = _check_with_cookie(sec, f"_ostiary_fa={other}", "nas.homelab.test", "login.homelab.test")
    assert r.status_code == 200


def test_a_cookie_of_one_tenant_is_worthless_at_another(sec, alice_cookie):
    assert _check_with_cookie(sec, f"_ostiary_fa={alice_cookie}", "app.globex.test", "auth.globex.test").status_code == 302
    zed = sec.signed_in("zed@globex.test", "app.globex.test")
    zed_cookie = zed.cookies_for(sec.url("app.globex.test", "/"))
    assert _check_with_cookie(sec, zed_cookie).status_code == 302
    assert _check_with_cookie(sec, zed_cookie, "app.globex.test", "auth.globex.test").status_code == 200


def test_a_handshake_token_is_not_a_cookie(sec):
    attacker = sec.signed_in("bob@acme.test", "wiki.acme-corp.test")
    callback = _callback_url(sec, attacker, "wiki.acme-corp.test")
    token = parse_qs(urlsplit(callback).query)["token"][0]
    assert _check_with_cookie(sec, f"_ostiary_fa={token}", "wiki.acme-corp.test").status_code == 302


# --- handshake tokens --------------------------------------------------------------


def _callback_url(sec, visitor, app_host: str, portal: str = PORTAL) -> str:
    """Walks /start and /authorize in the visitor's browser, stopping before /callback."""
    rd = quote(sec.url(app_host, "/"), safe="")
    r = visitor.browser.get(sec.url(portal, f"/forward-auth/start?rd={rd}"))
    assert r.status_code == 302, r.text
    r = visitor.browser.get(r.headers["location"])
    assert r.status_code == 302 and "/forward-auth/callback?token=" in r.headers["location"], r.status_code
    return r.headers["location"]


def _has_fa_cookie(r) -> bool:
    return any(v.startswith("_ostiary_fa=") for v in r.headers.get_list("set-cookie"))


def test_a_handshake_token_is_single_use(sec):
    v = sec.signed_in("bob@acme.test", "wiki.acme-corp.test")
    callback = _callback_url(sec, v, "wiki.acme-corp.test")
    first = v.browser.get(callback)
    assert first.status_code == 302 and _has_fa_cookie(first)
    # Replayed (even with the state cookie re-planted): refused.
    state = {k: val for k, val in v.browser.cookies.items() if "state" in k}
    replay = sec.client().get(callback, headers={"Cookie": "; ".join(f"{k}={val}" for k, val in state.items())})
    again = v.browser.get(callback)
    for r in (replay, again):
        assert r.status_code == 400 and not _has_fa_cookie(r)


def test_a_token_minted_for_one_portal_is_refused_at_another(sec):
    v = sec.signed_in("alice@acme.test")
    callback = _callback_url(sec, v, "grafana.acme-corp.test")
    query = urlsplit(callback).query
    for portal in ("login.homelab.test", "auth.globex.test"):
        r = v.browser.get(sec.url(portal, f"/forward-auth/callback?{query}"))
        assert r.status_code == 400 and not _has_fa_cookie(r)
    # Unused, it still works at its own portal: the refusals above did not consume it.
    assert v.browser.get(callback).status_code == 302


def test_a_tampered_or_expired_token_is_refused(sec, snapshot):
    v = sec.signed_in("alice@acme.test")
    token = parse_qs(urlsplit(_callback_url(sec, v, "grafana.acme-corp.test")).query)["token"][0]
    body, kid, mac = token.split(".")
    forged = [
        _rebody(token, u=1), _rebody(token, rd="https://evil.test/"), f"{body}.{kid}.{_flip(mac, 3)}",
        sign("hs", {**_body(token), "exp": time.time() - CLOCK_LEEWAY - 1}, snapshot.signing_key),
        sign("fa", _body(token), snapshot.signing_key), "", "x" * 5000,
    ]
    for t in forged:
        r = v.browser.get(sec.url(PORTAL, "/forward-auth/callback?token=" + quote(t, safe="")))
        assert r.status_code == 400 and not _has_fa_cookie(r), t[:40]
        assert "location" not in r.headers


def test_login_csrf_a_token_for_the_attackers_account_is_refused_in_the_victims_browser(sec):
    attacker = sec.signed_in("bob@acme.test", "wiki.acme-corp.test")
    callback = _callback_url(sec, attacker, "wiki.acme-corp.test")
    victim = sec.visitor()  # no state cookie for the attacker's handshake
    r = victim.browser.get(callback)
    assert r.status_code == 400
    assert not _has_fa_cookie(r)
    assert "another browser" in r.text
    # Even a victim mid-way through a handshake of their own has the wrong nonce.
    rd = quote(sec.url("wiki.acme-corp.test", "/"), safe="")
    assert victim.browser.get(sec.url(PORTAL, f"/forward-auth/start?rd={rd}")).status_code == 302
    r = victim.browser.get(callback)
    assert r.status_code == 400 and not _has_fa_cookie(r)
