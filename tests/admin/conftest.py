"""One real `ostiary serve` (granian, HTTPS, production mode) per test
module, with a real dnsmasq it verifies domains against (kept running for the
tests to change), an admin, users, groups and apps (tests/support/world.py's
ADMINISTRATION population) and API tokens; helpers for the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ostiary.services.base.actor import Actor
from ostiary.services.rules import api_tokens, domains
from tests.support.dnsserver import Dnsmasq
from tests.support.server import free_port
from tests.support.tls import issue_certificates
from tests.support.world import ADMINISTRATION, CERTIFICATE_HOSTS, TENANT_HOST, World, database_url, migrated_store, \
    serve, server_env
from tests.support.world import ADMIN as ADMIN, PASSWORD as PASSWORD  # the tests' imports


@dataclass
class AdminWorld(World):
    read_token: str = ""
    write_token: str = ""
    globex_token: str = ""  # globex's, to write

    @property
    def globex_id(self) -> int:
        return self.globex

    def url(self, path: str = "/", host: str = TENANT_HOST) -> str:  # the tenant host's, unless told
        return self.address(host, path)

    def challenge(self, name: str) -> dict[str, list[str]]:
        row = domains.get_domain(self.store, self.tenant_id, name)
        return {f"_ostiary-challenge.{row.name}": [f"ostiary-domain-verification={row.verification_token}"]}


def start_world(tmp: Path, url: str, more_env: dict[str, str] | None = None) -> AdminWorld:
    """The world on the empty database at `url` (tests/pages starts it too), its server started with
    `more_env` added to its environment (email settings, say)."""
    store = migrated_store(url)
    tls = issue_certificates(tmp / "tls", CERTIFICATE_HOSTS)
    port = free_port()
    dns = Dnsmasq().start()
    tenant_ids = ADMINISTRATION.populate(store, dns, port)
    maker = Actor("setup")
    tokens = [api_tokens.create_token(store, tenant_ids[tenant], maker, name, scope).token
              for tenant, name, scope in (("acme", "reader", "read"), ("acme", "writer", "write"),
                                          ("globex", "globex-writer", "write"))]
    w = AdminWorld(store, port, tls.ca_cert, tenant_ids, ADMINISTRATION.portals(), dns=dns, read_token=tokens[0],
                   write_token=tokens[1], globex_token=tokens[2])
    env = server_env(url, port, tmp, OSTIARY_DNS_RESOLVERS=dns.resolvers_env, OSTIARY_DNS_TIMEOUT="3",
                     **(more_env or {}))
    serve(w, env, port, tmp / "server.log", tls=(tls.cert_chain, tls.private_key))  # closes dns should it fail
    return w


def stop_world(w: AdminWorld) -> None:
    w.close()
    w.store.dispose()


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin-world")
    with database_url("sqlite", tmp) as url:
        w = start_world(tmp, url)
        yield w
        stop_world(w)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-world")
    with database_url(request.param, tmp) as url:
        w = start_world(tmp, url)
        yield w
        stop_world(w)
