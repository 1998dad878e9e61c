"""Property-based tests over the whole /check input space: the pure
`decide()` with a snapshot loaded from the real store (many examples), and
the real server over HTTPS (fewer). Properties: no 2xx without a valid
cookie unless the fully decoded, normalised path is public for the app the
host names; no input raises (a 5xx); redirects stay on the portal."""

from __future__ import annotations

import posixpath
import re
import time
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostiary.access import may_enter
from ostiary.access import FA_KIND
from ostiary.gate.decide import decide
from ostiary.gate.forwarded import parse_forwarded_request
from ostiary.gate.signing import CLOCK_LEEWAY, sign, verify

APP_HOSTS = ["grafana.acme-corp.test", "tools.acme-corp.test", "wiki.acme-corp.test", "vault.acme-corp.test",
             "nas.homelab.test", "app.globex.test", "evil.test", "auth.acme-corp.test"]
PORTALS = ["auth.acme-corp.test", "login.homelab.test", "auth.globex.test", "evil.test", "acme.id.example.test"]
FRAGMENTS = ["/", "static", "health", "admin", "..", ".", "%2e", "%2E", "%2f", "%2F", "%25", "%252e", ";", "?", "#",
             "%00", "\\", "%5c", "x", "js", "%3b", "%3f", "//", "%c0%ae", "Health", "STATIC", "%61dmin",
             # issue 13.1: a fragment or a raw character no request-target holds, then a way out
             "#/../", "#/%2e%2e/", "#", " ", "|", "[", "]", "{", "^", "`", '"', "\t", "\x7f", "é"]
CHECK_HEADERS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fully_decoded(uri: str) -> str:
    path = uri.split("?", 1)[0].split("#", 1)[0]
    for _ in range(5):
        path = unquote(path, errors="replace")
    return path


def _holds_what_no_request_target_holds(uri: str) -> bool:
    """A fragment, whitespace, controls, non-ASCII, or a raw character RFC 3986 keeps out of paths."""
    path = uri.split("?", 1)[0]
    return "#" in uri or any(not 33 <= ord(c) <= 126 for c in uri) or any(c in '"<>[]\\^`{|}' for c in path)


def _public_by_oracle(uri: str, app) -> bool:
    """An independent reading of "public": nothing a request line cannot carry,
    decode until nothing changes, refuse any `..`, `;` or backslash, collapse
    `//` and `/./`, then match."""
    if _holds_what_no_request_target_holds(uri):
        return False
    path = _fully_decoded(uri)
    if ";" in path or "\\" in path or any(ord(c) < 32 for c in path):
        return False
    segments = path.split("/")
    if ".." in segments:
        return False
    kept = [s for s in segments[1:] if s not in ("", ".")]
    norm = "/" + "/".join(kept) + ("/" if path.endswith("/") and kept else "")
    return norm in app.public_exact or any(norm.startswith(p) for p in app.public_prefixes)


@st.composite
def subrequests(draw, port: int, cookies: list[str]):
    host_choice = draw(st.sampled_from(APP_HOSTS))
    host = draw(st.one_of(
        st.just(f"{host_choice}:{port}"), st.just(host_choice), st.just(f"{host_choice.upper()}:{port}"),
        st.just(f"{host_choice}.:{port}"), st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    ))
    uri = draw(st.one_of(
        st.lists(st.sampled_from(FRAGMENTS), max_size=8).map(lambda xs: "/" + "".join(xs)),
        st.text(max_size=30),
    ))
    headers = [(b"host", draw(st.sampled_from(PORTALS)).encode() + f":{port}".encode())]
    for name, value in (
        (b"x-forwarded-host", host),
        (b"x-forwarded-uri", uri),
        (b"x-forwarded-proto", draw(st.sampled_from(["https", "http", "HTTPS", "", "ftp"]))),
        (b"x-forwarded-method", draw(st.sampled_from(["GET", "HEAD", "POST", "get", ""]))),
    ):
        if draw(st.integers(0, 9)):  # mostly present
            headers.append((name, value.encode("utf-8", "surrogatepass")))
    if draw(st.booleans()):
        headers.append((b"x-original-url", draw(st.sampled_from(
            [f"https://grafana.acme-corp.test:{port}/health", "https://evil.test/", f"//{host_choice}/static/x"]
        )).encode()))
    if draw(st.integers(0, 4)) == 0:
        headers.append((b"x-forwarded-host", b"evil.test"))  # duplicated singleton
    if draw(st.booleans()):
        headers.append((b"x-forwarded-user", b"admin"))
    headers += [(b"accept", b"text/html"), (b"sec-fetch-mode", draw(st.sampled_from([b"navigate", b"cors"])))]
    cookie_values = draw(st.lists(st.one_of(st.sampled_from(cookies), st.text(max_size=60)), max_size=3))
    if cookie_values:
        headers.append((b"cookie", "; ".join(f"_ostiary_fa={c}" for c in cookie_values).encode("utf-8", "replace")))
    query = draw(st.sampled_from([b"", b"proxy=nginx", b"proxy=nginx&x=1"]))
    return headers, query


@pytest.fixture(scope="module")
def cookies(sec, snapshot, alice_cookie):
    """Genuine, cross-domain, cross-tenant, expired and tampered cookies."""
    key = snapshot.signing_key
    body = verify(FA_KIND, alice_cookie, snapshot.keys, time.time())
    return [
        alice_cookie,
        sign(FA_KIND, {**body, "d": 2}, key),
        sign(FA_KIND, {**body, "tn": 2}, key),
        sign(FA_KIND, {**body, "mf": True}, key),
        sign(FA_KIND, {**body, "exp": time.time() - CLOCK_LEEWAY - 5}, key),
        alice_cookie[:-3],
        alice_cookie.replace(".", "..", 1),
    ]


def _path_an_upstream_serves(uri: str) -> str:
    """What an upstream that re-encodes or normalises the raw line serves (uvicorn with
    h11 and StaticFiles, say): "#" is an ordinary character, `..` is resolved."""
    return posixpath.normpath(re.sub("/+", "/", "/" + _fully_decoded_keeping_fragment(uri)))


def _fully_decoded_keeping_fragment(uri: str) -> str:
    path = uri.split("?", 1)[0]
    for _ in range(5):
        path = unquote(path, errors="replace")
    return path


def _assert_the_upstream_serves_the_app_decided(snapshot, req, decision):
    """On a host with several apps, a 200 names the app whose prefix holds the path the upstream serves."""
    candidates = [a for a in snapshot.apps_by_host.get(req.host, ()) if a.url.startswith(req.proto + "://")]
    if len(candidates) < 2:
        return
    served = _path_an_upstream_serves(req.uri)
    owner = max((a for a in candidates if a.path_prefix == "/" or served == a.path_prefix
                 or served.startswith(a.path_prefix + "/")), key=lambda a: len(a.path_prefix), default=None)
    assert owner is decision.app, (req.uri, served, decision.app.name)


def _assert_sound(snapshot, headers, query, port):
    req = parse_forwarded_request(headers, query)
    now = time.time()
    decision = decide(snapshot, req, now, lambda host, path: f"https://{host}:{port}{path}", False)
    assert decision.status in (200, 302, 401, 403)
    if decision.status == 302 or decision.location:
        assert decision.location.startswith(f"https://{req.portal_host}:{port}/forward-auth/start?rd=")
        assert "\r" not in decision.location and "\n" not in decision.location
    if decision.status != 200:
        return
    assert decision.app is not None and req.uri is not None
    _assert_the_upstream_serves_the_app_decided(snapshot, req, decision)
    if decision.outcome == "public":
        assert _public_by_oracle(req.uri, decision.app), req.uri
        return
    domain = snapshot.portal_hosts[req.portal_host]
    valid = [p for p in (verify(FA_KIND, c, snapshot.keys, now) for c in req.cookies)
             if p and p.get("d") == domain.id and p.get("tn") == domain.tenant_id]
    assert valid, "2xx without a valid cookie"
    user = decision.user
    assert user is not None and user.active and user.tenant_id == domain.tenant_id == decision.app.tenant_id
    assert user.id == valid[0]["u"] and valid[0]["s"] not in snapshot.ended_sessions
    assert may_enter(user.groups, decision.app.all_users, decision.app.granted)
    assert not decision.app.require_2fa or valid[0].get("mf")


def test_decide_never_answers_2xx_without_a_cookie_or_a_public_path(sec, snapshot, cookies):
    @CHECK_HEADERS
    @given(subrequests(sec.port, cookies))
    def run(example):
        _assert_sound(snapshot, *example, sec.port)

    run()


def test_decide_survives_arbitrary_header_bytes(sec, snapshot):
    names = st.sampled_from([b"host", b"x-forwarded-host", b"x-forwarded-uri", b"x-forwarded-proto",
                             b"x-forwarded-method", b"x-original-url", b"cookie", b"accept", b"sec-fetch-mode"])

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.tuples(names, st.binary(max_size=80)), max_size=10), st.binary(max_size=20))
    def run(headers, query):
        _assert_sound(snapshot, headers, query, sec.port)

    run()


def test_the_real_server_never_answers_5xx_or_an_unearned_2xx(sec, snapshot, alice_cookie):
    client = sec.client()
    printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)

    sendable = [f for f in FRAGMENTS if f.isascii() and f.isprintable()]  # what an HTTP header can carry

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(APP_HOSTS), st.lists(st.sampled_from(sendable), max_size=6), printable,
           st.sampled_from(["", f"_ostiary_fa={alice_cookie}", "_ostiary_fa=x.y.z"]),
           st.sampled_from(["auth.acme-corp.test", "login.homelab.test", "auth.globex.test"]))
    def run(host, fragments, junk, cookie, portal):
        uri = "/" + "".join(fragments)
        uri += "x" if uri.endswith(" ") else ""  # a header value cannot end in a space
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": f"{host}:{sec.port}", "X-Forwarded-Uri": uri,
                   "X-Forwarded-Method": "GET", "Accept": "text/html", "X-Forwarded-User": junk}
        if cookie:
            headers["Cookie"] = cookie
        r = client.get(sec.url(portal, "/forward-auth/check"), headers=headers)
        assert r.status_code in (200, 302, 401, 403), r.status_code
        if r.status_code == 200 and cookie != f"_ostiary_fa={alice_cookie}":
            apps = snapshot.apps_by_host.get(host, ())
            assert any(_public_by_oracle(uri, a) for a in apps), uri
            assert r.headers.get("x-forwarded-user", "") == ""

    run()
