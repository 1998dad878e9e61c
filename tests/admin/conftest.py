"""One real `ostiary serve` (granian, HTTPS, production mode) per test
module, with a real dnsmasq it verifies domains against, an admin, users,
groups and apps; helpers for the JSON API and for Chromium."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ostiary.services.rules import api_tokens, apps, domains, groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR, Actor
from ostiary.store import Store, open_store
from tests.support.database import create_pg_database, drop_pg_database, pg_url
from tests.support.dnsserver import Dnsmasq
from tests.support.server import OstiaryServer, free_port, loopback_client
from tests.support.tls import issue_certificates

PASSWORD = "correct horse battery"
TENANT_HOST = "acme.id.example.test"
ADMIN = "admin@acme.test"


@dataclass
class AdminWorld:
    store: Store
    server: OstiaryServer
    dns: Dnsmasq
    port: int
    ca: Path
    tenant_id: int
    globex_id: int
    read_token: str
    write_token: str
    globex_token: str

    def url(self, path: str = "/", host: str = TENANT_HOST) -> str:
        return f"https://{host}:{self.port}{path}"

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        client = loopback_client(self.ca, headers=headers)
        client.base_url = self.url("/api/v1")
        return client

    def challenge(self, name: str) -> dict[str, list[str]]:
        row = domains.get_domain(self.store, self.tenant_id, name)
        return {f"_ostiary-challenge.{row.name}": [f"ostiary-domain-verification={row.verification_token}"]}


def _populate(store: Store, dns: Dnsmasq, port: int) -> tuple[int, int]:
    tenants.init_installation(store, "id.example.test", "acme", ADMIN, PASSWORD, CLI_ACTOR)
    acme = tenants.tenant_by_slug(store, "acme").id
    globex = tenants.add_tenant(store, "globex", CLI_ACTOR).id
    row = domains.add_domain(store, acme, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    dns.restart(txt={"_ostiary-challenge.acme-corp.test": [f"ostiary-domain-verification={row.verification_token}"]})
    assert domains.verify_domain(store, acme, CLI_ACTOR, "acme-corp.test", dns.resolvers, 3).status == "verified"
    groups.add_group(store, acme, CLI_ACTOR, "staff")
    groups.add_group(store, acme, CLI_ACTOR, "ops", parent="staff")
    groups.add_group(store, acme, CLI_ACTOR, "sales")
    for email, name in (("alice@acme.test", "Alice Ørsted-Ünal"), ("bob@acme.test", "Bob"), ("carol@acme.test", "Carol")):
        users.add_user(store, acme, CLI_ACTOR, email=email, display_name=name, password=PASSWORD)
    users.add_user(store, globex, CLI_ACTOR, email="zed@globex.test", password=PASSWORD)
    groups.add_member(store, acme, CLI_ACTOR, "ops", "alice@acme.test")
    groups.add_member(store, acme, CLI_ACTOR, "sales", "bob@acme.test")
    apps.add_app(store, acme, CLI_ACTOR, name="grafana", url=f"https://grafana.acme-corp.test:{port}", groups_granted=["staff"])
    apps.add_app(store, acme, CLI_ACTOR, name="wiki", url=f"https://wiki.acme-corp.test:{port}", groups_granted=["sales"])
    apps.add_app(store, acme, CLI_ACTOR, name="tools", url=f"https://tools.acme-corp.test:{port}", all_users=True)
    return acme, globex


def start_world(tmp: Path, url: str, more_env: dict[str, str] | None = None) -> AdminWorld:
    """The world, its server started with `more_env` added to its environment (email settings, say)."""
    store = open_store(url)
    store.migrate()
    tls = issue_certificates(tmp / "tls", ["localhost", "*.id.example.test", "*.acme-corp.test", "acme-corp.test",
                                           "*.homelab.test", "homelab.test"])
    port = free_port()
    dns = Dnsmasq().start()
    acme, globex = _populate(store, dns, port)
    maker = Actor("setup")
    read = api_tokens.create_token(store, acme, maker, "reader", "read").token
    write = api_tokens.create_token(store, acme, maker, "writer", "write").token
    other = api_tokens.create_token(store, globex, maker, "globex-writer", "write").token
    env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_PUBLIC_PORT": str(port), "OSTIARY_DATA_DIR": str(tmp),
           "OSTIARY_DNS_RESOLVERS": dns.resolvers_env, "OSTIARY_DNS_TIMEOUT": "3",
           "OSTIARY_KEY_OVERLAP_SECONDS": "3600", **(more_env or {})}
    server = OstiaryServer(env, port, workers=2, tls=(tls.cert_chain, tls.private_key), log_path=tmp / "server.log")
    try:
        server.start(ready_host=TENANT_HOST, ca_cert=tls.ca_cert)
    except Exception:
        dns.close()
        raise
    return AdminWorld(store, server, dns, port, tls.ca_cert, acme, globex, read, write, other)


def stop_world(w: AdminWorld) -> None:
    w.server.stop()
    w.dns.close()
    w.store.dispose()


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin-world")
    w = start_world(tmp, f"sqlite:///{tmp / 'ostiary.db'}")
    yield w
    stop_world(w)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-world")
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'ostiary.db'}"
    else:
        pg_name = create_pg_database()
        url = pg_url(pg_name)
    w = start_world(tmp, url)
    yield w
    stop_world(w)
    if pg_name:
        drop_pg_database(pg_name)
