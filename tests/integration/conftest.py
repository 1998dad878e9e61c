"""A running Ostiary (two workers, HTTPS with a test CA, production mode),
served by uvicorn (`ostiary serve`'s default) on SQLite and on PostgreSQL and by granian on SQLite, with
two tenants, three protected domains verified against a real DNS server, and
users, groups and apps: tests/support/world.py's INTEGRATION population."""

from __future__ import annotations

import time

import pytest

from tests.support.dnsserver import Dnsmasq
from tests.support.server import free_port
from tests.support.tls import issue_certificates
from tests.support.world import ACME, CERTIFICATE_HOSTS, INTEGRATION, World, database, serve, server_env
from tests.support.world import GLOBEX as GLOBEX, PASSWORD as PASSWORD  # the tests' imports

# The chat's refresh-token secret, as the chat app and every Ostiary instance share it.
CHAT_SECRET = "integration-chat-secret-0123456789abcdef0123456789"
# console.acme-corp.test: a host tests add an app on.
PORTALS = INTEGRATION.portals("console.acme-corp.test")


def wait_until(predicate, timeout: float = 1.0, interval: float = 0.02) -> float:
    """Seconds until `predicate()` held; fails the test past `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(interval)


# Each world: (database, the server `ostiary serve --server` runs). Every test here holds for both
# servers production may run (docs/configuration.md, "Serving").
WORLDS = {"sqlite": ("sqlite", "uvicorn"), "postgresql": ("postgresql", "uvicorn"), "granian": ("sqlite", "granian")}


@pytest.fixture(scope="module", params=list(WORLDS))
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("world")
    kind, server = WORLDS[request.param]
    with database(kind, tmp) as (url, store):
        tls = issue_certificates(tmp / "tls", CERTIFICATE_HOSTS)
        port = free_port()
        with Dnsmasq() as dns:
            tenant_ids = INTEGRATION.populate(store, dns, port)
        w = World(store, port, tls.ca_cert, tenant_ids, PORTALS)
        serve(w, server_env(url, port, tmp, JWT_REFRESH_SECRET=CHAT_SECRET), port, tmp / "server.log",
              tls=(tls.cert_chain, tls.private_key), ready_host=ACME, server=server)
        yield w
        w.close()
