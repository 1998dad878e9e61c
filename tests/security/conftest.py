"""The attack suite's world: the integration world's tenants, domains, users
and apps, plus an app that requires a second factor, served by two real
`ostiary serve` instances over HTTPS sharing one SQLite database:

- `front` trusts 127.0.0.1 as a reverse proxy (OSTIARY_TRUSTED_PROXIES), so
  tests simulate many client addresses with X-Forwarded-For;
- `direct` trusts no proxy, so X-Forwarded-For from its peer means nothing.

The world is built once per test session: the decision logic under attack
does not depend on the database (the integration tests cover PostgreSQL;
the throttle store is tested on both in test_throttle_store.py)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import httpx
import pytest

from ostiary.services.rules import apps
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import Store, open_store
from ostiary.wire import CSRF_COOKIE
from tests.integration.conftest import ACME, GLOBEX, PASSWORD, PORTALS, _populate
from tests.support.dnsserver import Dnsmasq
from tests.support.server import OstiaryServer, free_port, loopback_client
from tests.support.tls import issue_certificates
from tests.support.visitor import Visitor

SECURITY_PORTALS = {**PORTALS, "vault.acme-corp.test": "auth.acme-corp.test"}
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address no other test has used (198.18.0.0/15, benchmarking range)."""
    n = next(_addresses)
    return f"198.18.{n // 250}.{n % 250 + 1}"


@dataclass
class SecurityWorld:
    store: Store
    port: int
    direct_port: int
    ca: Path
    acme: int
    globex: int
    visitors: list = field(default_factory=list)

    def url(self, host: str, path: str = "/", port: int | None = None) -> str:
        return f"https://{host}:{port or self.port}{path}"

    def visitor(self, login: str | None = None, password: str = PASSWORD) -> Visitor:
        v = Visitor(self.port, self.ca, dict(SECURITY_PORTALS), login=login, password=password)
        self.visitors.append(v)
        return v

    def signed_in(self, login: str, app_host: str = "grafana.acme-corp.test") -> Visitor:
        v = self.visitor(login)
        visit = v.open(self.url(app_host, "/"))
        assert visit.reached_app, [(s.url, s.status) for s in visit.steps]
        return v

    def client(self) -> httpx.Client:
        c = loopback_client(self.ca)
        self.visitors.append(c)
        return c

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
    url = f"sqlite:///{tmp / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    tls = issue_certificates(tmp / "tls", ["localhost", "*.id.example.test", "*.acme-corp.test", "acme-corp.test",
                                           "*.homelab.test", "*.globex.test"])
    port, direct_port = free_port(), free_port()
    with Dnsmasq() as dns:
        acme, globex = _populate(store, dns, port)
    apps.add_app(store, acme, CLI_ACTOR, name="vault", url=f"https://vault.acme-corp.test:{port}", all_users=True,
                 require_2fa=True)
    env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_PUBLIC_PORT": str(port), "OSTIARY_DATA_DIR": str(tmp),
           "OSTIARY_KEY_OVERLAP_SECONDS": "3600"}
    front = OstiaryServer({**env, "OSTIARY_TRUSTED_PROXIES": "127.0.0.1/32"}, port, workers=2,
                          tls=(tls.cert_chain, tls.private_key), log_path=tmp / "front.log")
    direct = OstiaryServer({**env, "OSTIARY_PUBLIC_PORT": str(direct_port)}, direct_port, workers=1,
                           tls=(tls.cert_chain, tls.private_key), log_path=tmp / "direct.log")
    front.start(ready_host=ACME, ca_cert=tls.ca_cert)
    try:
        direct.start(ready_host=ACME, ca_cert=tls.ca_cert)
    except Exception:
        front.stop()
        raise
    world = SecurityWorld(store, port, direct_port, tls.ca_cert, acme, globex)
    yield world
    for v in world.visitors:
        v.close()
    direct.stop()
    front.stop()
    store.dispose()


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
