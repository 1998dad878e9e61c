"""The attack suite's world: the integration world's tenants, domains, users
and apps, plus an app that requires a second factor (tests/support/world.py's
SECURITY population), served by two real `ostiary serve` instances over HTTPS
sharing one SQLite database:

- `front` trusts 127.0.0.1 as a reverse proxy (OSTIARY_TRUSTED_PROXIES), so
  tests simulate many client addresses with X-Forwarded-For;
- `direct` trusts no proxy, so X-Forwarded-For from its peer means nothing.

The world is built once per test session: the decision logic under attack
does not depend on the database (the integration tests cover PostgreSQL;
the throttle store is tested on both in test_throttle_store.py)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from html import unescape

import httpx
import pytest

from ostiary.wire import CSRF_COOKIE
from tests.support.dnsserver import Dnsmasq
from tests.support.server import free_port
from tests.support.tls import issue_certificates
from tests.support.world import ACME, CERTIFICATE_HOSTS, GLOBEX, PASSWORD, SECURITY, World, database, serve, \
    server_env

SECURITY_PORTALS = SECURITY.portals("console.acme-corp.test")
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address no other test has used (198.18.0.0/15, benchmarking range)."""
    n = next(_addresses)
    return f"198.18.{n // 250}.{n % 250 + 1}"


@dataclass
class SecurityWorld(World):
    direct_port: int = 0  # the instance that trusts no proxy

    def check(self, client: httpx.Client, portal: str, headers: dict, query: str = "") -> httpx.Response:
        """A raw /check subrequest with exactly these headers (plus Host)."""
        return client.get(self.url(portal, "/forward-auth/check" + query), headers=headers)


CSRF_VALUE = "x" * 43  # any 43-character value: a scripted client is its own double-submit


def sign_in_attempt(client: httpx.Client, world: SecurityWorld, login: str, password: str,
                    address: str | None = None, port: int | None = None, host: str = ACME) -> httpx.Response:
    """One scripted sign-in POST, as a password-guessing tool sends it, from
    `address` (X-Forwarded-For, honoured only by the trusting instance)."""
    origin = f"https://{host}:{port or world.port}"
    headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin", "Cookie": f"{CSRF_COOKIE}={CSRF_VALUE}"}
    if address:
        headers["X-Forwarded-For"] = address
    return client.post(origin + "/sign-in", data={"login": login, "password": password, "csrf": CSRF_VALUE,
                                                  "next": "/"}, headers=headers)


def form_fields(html: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', html)}


@pytest.fixture(scope="session")
def sec(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security")
    with database("sqlite", tmp) as (url, store):
        tls = issue_certificates(tmp / "tls", CERTIFICATE_HOSTS)
        port, direct_port = free_port(), free_port()
        with Dnsmasq() as dns:
            tenant_ids = SECURITY.populate(store, dns, port)
        world = SecurityWorld(store, port, tls.ca_cert, tenant_ids, SECURITY_PORTALS, direct_port=direct_port)
        certificate = (tls.cert_chain, tls.private_key)
        serve(world, server_env(url, port, tmp, OSTIARY_TRUSTED_PROXIES="127.0.0.1/32"), port, tmp / "front.log",
              tls=certificate, ready_host=ACME)
        serve(world, server_env(url, direct_port, tmp), direct_port, tmp / "direct.log", workers=1, tls=certificate,
              ready_host=ACME)
        yield world
        world.close()


__all__ = ["ACME", "GLOBEX", "PASSWORD", "SecurityWorld", "fresh_address", "form_fields", "sign_in_attempt"]


def check_headers(sec: SecurityWorld, app_host: str, uri: str = "/", **extra: str) -> dict[str, str]:
    """The subrequest a proxy sends for a top-level navigation to `app_host` + `uri`."""
    return {"X-Forwarded-Proto": "https", "X-Forwarded-Host": f"{app_host}:{sec.port}", "X-Forwarded-Uri": uri,
            "X-Forwarded-Method": "GET", "Accept": "text/html", "Sec-Fetch-Mode": "navigate", **extra}


@pytest.fixture(scope="module")
def alice_cookie(sec) -> str:
    """alice's forward-auth cookie for acme-corp.test (she may enter grafana and tools)."""
    v = sec.signed_in("alice@acme.test")
    cookie = v.cookies_for(sec.url("grafana.acme-corp.test", "/"))
    assert cookie.startswith("_ostiary_fa=")
    return cookie.split("=", 1)[1]


@pytest.fixture(scope="module")
def snapshot(sec):
    from ostiary.snapshot.build import load_full

    with sec.store.read() as conn:
        return load_full(conn)
