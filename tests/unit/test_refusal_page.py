"""The 403 page /check answers a browser (gate/refusal_page.py), through the
gate's own handler over a snapshot built by hand: only for a signed-in
person refused an app and a request that accepts text/html; everything from
the snapshot escaped; its style allowed by its own CSP."""

from __future__ import annotations

import base64
import hashlib
import re

from ostiary.gate.asgi import CheckHandler
from ostiary.snapshot.model import TenantView
from tests.unit.test_decide_table import ALICE, BOB, NOW, TENANT, _cookie, _portal_url, _snapshot


class _Holder:
    def __init__(self, snap):
        self.snapshot = snap


def _handler(name="Acme <i>Corp</i>", contact="<script>alert(1)</script>", accent=None):
    snap = _snapshot()
    snap.tenants = {TENANT: TenantView(TENANT, "acme", "acme.id.test", 3600, 86400, name, contact, accent, None)}
    return CheckHandler(_Holder(snap), _portal_url, allow_http=False, clock=lambda: NOW)


def _check(handler, user, accept="text/html,application/xhtml+xml", url_path="/d/x?y=<b>", language=None):
    headers = [(b"host", b"auth.acme.test"), (b"x-forwarded-proto", b"https"),
               (b"x-forwarded-host", b"grafana.acme.test"), (b"x-forwarded-uri", url_path.encode()),
               (b"x-forwarded-method", b"GET"), (b"accept", accept.encode()),
               (b"cookie", f"_ostiary_fa={_cookie(user)}".encode())]
    if language is not None:
        headers.append((b"accept-language", language.encode()))
    scope = {"type": "http", "path": "/forward-auth/check", "query_string": b"", "headers": headers}
    outcome, start, body, _ = handler.answer(scope)
    return outcome, start["status"], dict(start["headers"]), body["body"].decode()


def test_a_refused_browser_gets_a_page_naming_who_what_and_whom_to_ask():
    outcome, status, headers, page = _check(_handler(), BOB)
    assert (outcome, status) == ("forbidden", 403)
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"cache-control"] == b"no-store"
    assert int(headers[b"content-length"]) == len(page.encode())
    assert "You may not enter app1" in page
    assert "<strong>bob</strong> (bob@acme.test)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page
    assert "Acme &lt;i&gt;Corp&lt;/i&gt;" in page and "<i>" not in page
    # Switching account: the portal's sign-out page, coming back to the refused URL.
    link = re.search(r'href="([^"]+)" id="switch-account"', page).group(1)
    assert link == ("https://auth.acme.test/forward-auth/sign-out?rd="
                    "https%3A%2F%2Fgrafana.acme.test%2Fd%2Fx%3Fy%3D%3Cb%3E")


def test_the_page_style_is_the_one_its_csp_allows_and_nothing_else_loads():
    _, _, headers, page = _check(_handler(accent="#aa3300"), BOB)
    csp = headers[b"content-security-policy"].decode()
    style = re.search(r"<style>(.*)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert "#aa3300" in style
    assert not re.search(r"<(script|img|link|iframe)\b", page)


def test_an_email_contact_is_a_mailto_link():
    _, _, _, page = _check(_handler(contact="it-desk@acme.test"), BOB)
    assert '<a href="mailto:it-desk@acme.test">it-desk@acme.test</a>' in page


def test_no_contact_names_the_organisation():
    _, _, _, page = _check(_handler(name="Acme", contact=None), BOB)
    assert "contact an administrator of Acme" in page


def test_anything_that_is_not_a_page_gets_the_short_text():
    for accept in ("application/json", "*/*", ""):
        outcome, status, headers, body = _check(_handler(), BOB, accept=accept)
        assert (outcome, status, body) == ("forbidden", 403, "forbidden\n"), accept
        assert headers[b"content-type"] == b"text/plain; charset=utf-8"


def test_no_app_and_allowed_answers_are_unchanged():
    handler = _handler()
    assert _check(handler, ALICE)[1] == 200
    scope_headers = [(b"host", b"auth.acme.test"), (b"x-forwarded-proto", b"https"),
                     (b"x-forwarded-host", b"nothing.acme.test"), (b"x-forwarded-uri", b"/"),
                     (b"accept", b"text/html")]
    outcome, start, body, _ = handler.answer({"type": "http", "path": "/forward-auth/check", "query_string": b"",
                                              "headers": scope_headers})
    assert (outcome, start["status"], body["body"]) == ("no_app", 403, b"forbidden\n")


def test_a_refusal_page_is_remembered_per_browser_language():
    """Accept-Language is part of a remembered answer's key: each language's page is remembered on its own,
    and a browser never gets a page in another browser's language."""
    handler = _handler()
    first = _check(handler, BOB)
    assert len(handler.answers) == 1
    assert _check(handler, BOB) == first and len(handler.answers) == 1
    german = _check(handler, BOB, language="de-DE,de;q=0.9")
    assert german[3] != first[3] and '<html lang="de">' in german[3] and '<html lang="en">' in first[3]
    assert len(handler.answers) == 2
    assert _check(handler, BOB, language="de-DE,de;q=0.9") == german
    assert _check(handler, BOB) == first
    assert '<html lang="en">' in _check(handler, BOB, language="fr")[3]


def test_a_german_browser_gets_the_refusal_page_in_german():
    outcome, status, headers, page = _check(_handler(contact="it@acme.test"), BOB, language="de-AT, en;q=0.5")
    assert (outcome, status) == ("forbidden", 403)
    assert headers[b"content-language"] == b"de" and headers[b"vary"] == b"Accept-Language"
    assert '<html lang="de">' in page
    assert "<title>Kein Zugang zu app1</title>" in page
    assert "Sie dürfen app1 nicht betreten" in page
    assert "Sie sind angemeldet als <strong>bob</strong> (bob@acme.test)." in page
    assert "app1 ist für dieses Konto nicht freigegeben." in page
    assert 'Um Zugang zu bitten, schreiben Sie an <a href="mailto:it@acme.test">it@acme.test</a>.' in page
    assert "Abmelden und ein anderes Konto verwenden" in page
    assert "You may not enter" not in page and "signed in as" not in page
    # Names stay escaped inside the translated sentences.
    _, _, _, escaped = _check(_handler(), BOB, language="de")
    assert "Acme &lt;i&gt;Corp&lt;/i&gt;" in escaped and "&lt;script&gt;alert(1)&lt;/script&gt;" in escaped
    assert "<script" not in escaped and "<i>" not in escaped


def test_a_browser_asking_for_no_shipped_language_gets_english():
    _, _, headers, page = _check(_handler(), BOB, language="fr-CH, fr;q=0.9")
    assert headers[b"content-language"] == b"en" and '<html lang="en">' in page and "You may not enter app1" in page
