"""Attack: identity headers in alias spellings (X_Forwarded-User, x.forwarded.user,
X~Forwarded~User...) sent by a client, through every proxy's snippet, read by a
WSGI app from ``environ`` the way CGI-style servers fold names.

Without the fix a WSGI/CGI/PHP app behind Caddy 2.6 (and Traefik without
aliasHeadersStrategy) read ``HTTP_X_FORWARDED_USER = "zoe,,admin"`` for a
signed-in user and ``",admin"`` on a public path: anyone could claim any
identity or group. SECURITY.md lists these tests.
"""

from __future__ import annotations

import pytest

from tests.proxies.check_standin import IDENTITY
from tests.proxies.running import KINDS, start_proxied
from tests.proxies.spellings import ALL_ALIASES
from tests.support.wsgi_upstream import WsgiUpstream, identity_environ

pytestmark = pytest.mark.slow

SPOOF = ",admin"
# HAProxy refuses requests with more than 101 headers: send the spellings in batches.
BATCH = 60


def _batches():
    spellings = [name for names in ALL_ALIASES.values() for name in names]
    return [spellings[i:i + BATCH] for i in range(0, len(spellings), BATCH)]


@pytest.fixture(scope="module")
def wsgi_app():
    with WsgiUpstream() as app:
        yield app


@pytest.fixture(scope="module", params=KINDS)
def proxied(request, check_standin, wsgi_app, test_tls, tmp_path_factory):
    proxied = start_proxied(request.param, check_url=check_standin.url, upstream_url=wsgi_app.url, tls=test_tls,
                            workdir=tmp_path_factory.mktemp(f"alias-{request.param}"))
    try:
        yield proxied
    finally:
        proxied.close()


def test_alias_spelled_identity_headers_cannot_add_an_identity_for_a_signed_in_user(proxied):
    for batch in _batches():
        headers = [("Cookie", "_ostiary_fa=good"), *((name, SPOOF) for name in batch)]
        seen = identity_environ(proxied.json("/d/x", headers=headers))
        assert seen == {
            "HTTP_X_FORWARDED_USER": IDENTITY["X-Forwarded-User"],
            "HTTP_X_FORWARDED_GROUPS": IDENTITY["X-Forwarded-Groups"],
            # WSGI hands header bytes over as ISO-8859-1 text.
            "HTTP_X_FORWARDED_DISPLAY_NAME": IDENTITY["X-Forwarded-Display-Name"].encode().decode("latin-1"),
        }, f"{proxied.kind} let an alias through in {batch}"


def test_alias_spelled_identity_headers_cannot_claim_an_identity_on_a_public_path(proxied):
    for batch in _batches():
        seen = identity_environ(proxied.json("/public/page", headers=[(name, SPOOF) for name in batch]))
        assert set(seen.values()) <= {""}, f"{proxied.kind} let an alias through: {seen} from {batch}"


def test_exact_identity_headers_in_any_case_cannot_claim_an_identity_on_a_public_path(proxied):
    headers = [(name.upper(), SPOOF) for name in IDENTITY] + [(name.lower(), "mallory") for name in IDENTITY]
    seen = identity_environ(proxied.json("/public/page", headers=headers))
    assert set(seen.values()) <= {""}, seen
