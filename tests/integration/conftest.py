"""A running Ostiary (granian, two workers, HTTPS with a test CA, production
mode) on SQLite and on PostgreSQL, with two tenants, three protected
domains verified against a real DNS server, and users, groups and apps."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ostiary.services.rules import apps, domains, groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import Store, open_store
from tests.support.database import create_pg_database, drop_pg_database, pg_url
from tests.support.dnsserver import Dnsmasq
from tests.support.server import OstiaryServer, free_port
from tests.support.tls import issue_certificates
from tests.support.visitor import Visitor

PASSWORD = "correct horse battery"
# The chat's refresh-token secret, as the chat app and every Ostiary instance share it.
CHAT_SECRET = "integration-chat-secret-0123456789abcdef0123456789"
ACME = "acme.id.example.test"
GLOBEX = "globex.id.example.test"
PORTALS = {
    "grafana.acme-corp.test": "auth.acme-corp.test",
    "wiki.acme-corp.test": "auth.acme-corp.test",
    "tools.acme-corp.test": "auth.acme-corp.test",
    "nas.homelab.test": "login.homelab.test",
    "app.globex.test": "auth.globex.test",
    "console.acme-corp.test": "auth.acme-corp.test",
}


@dataclass
class World:
    store: Store
    server: OstiaryServer
    port: int
    ca: Path
    acme: int
    globex: int
    visitors: list = field(default_factory=list)

    def url(self, host: str, path: str = "/") -> str:
        return f"https://{host}:{self.port}{path}"

    def visitor(self, login: str | None = None, password: str = PASSWORD) -> Visitor:
        v = Visitor(self.port, self.ca, PORTALS, login=login, password=password)
        self.visitors.append(v)
        return v

    def signed_in(self, login: str, app_host: str = "grafana.acme-corp.test") -> Visitor:
        v = self.visitor(login)
        visit = v.open(self.url(app_host, "/"))
        assert visit.reached_app, [(s.url, s.status) for s in visit.steps]
        return v


def wait_until(predicate, timeout: float = 1.0, interval: float = 0.02) -> float:
    """Seconds until `predicate()` held; fails the test past `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(interval)


def _populate(store: Store, dns: Dnsmasq, port: int) -> tuple[int, int]:
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    acme = tenants.tenant_by_slug(store, "acme").id
    globex = tenants.add_tenant(store, "globex", CLI_ACTOR).id
    records = {}
    for tid, name, portal in ((acme, "acme-corp.test", "auth.acme-corp.test"),
                              (acme, "homelab.test", "login.homelab.test"),
                              (globex, "globex.test", "auth.globex.test")):
        row = domains.add_domain(store, tid, CLI_ACTOR, name, portal)
        records[f"_ostiary-challenge.{name}"] = [f"ostiary-domain-verification={row.verification_token}"]
    dns.restart(txt=records)
    for tid, name in ((acme, "acme-corp.test"), (acme, "homelab.test"), (globex, "globex.test")):
        assert domains.verify_domain(store, tid, CLI_ACTOR, name, dns.resolvers, 3).status == "verified"
    groups.add_group(store, acme, CLI_ACTOR, "staff")
    groups.add_group(store, acme, CLI_ACTOR, "ops", parent="staff")
    groups.add_group(store, acme, CLI_ACTOR, "sales")
    groups.add_group(store, acme, CLI_ACTOR, "admins")
    for email, name in (("alice@acme.test", "Alice Ørsted-Ünal"), ("bob@acme.test", "Bob"),
                        ("dave@acme.test", "Dave"), ("erin@acme.test", "Erin")):
        users.add_user(store, acme, CLI_ACTOR, email=email, display_name=name, password=PASSWORD)
    users.add_user(store, globex, CLI_ACTOR, email="zed@globex.test", password=PASSWORD)
    groups.add_member(store, acme, CLI_ACTOR, "ops", "alice@acme.test")
    groups.add_member(store, acme, CLI_ACTOR, "sales", "bob@acme.test")
    for email in ("dave@acme.test", "erin@acme.test"):
        groups.add_member(store, acme, CLI_ACTOR, "staff", email)
    apps.add_app(store, acme, CLI_ACTOR, name="grafana", url=f"https://grafana.acme-corp.test:{port}",
                 groups_granted=["staff"], public_paths=["/static/*", "/health"])
    apps.add_app(store, acme, CLI_ACTOR, name="wiki", url=f"https://wiki.acme-corp.test:{port}", groups_granted=["sales"])
    apps.add_app(store, acme, CLI_ACTOR, name="tools", url=f"https://tools.acme-corp.test:{port}", all_users=True)
    apps.add_app(store, acme, CLI_ACTOR, name="tools-admin", url=f"https://tools.acme-corp.test:{port}/admin",
                 groups_granted=["admins"])
    apps.add_app(store, acme, CLI_ACTOR, name="nas", url=f"https://nas.homelab.test:{port}", groups_granted=["staff"])
    apps.add_app(store, globex, CLI_ACTOR, name="globex-app", url=f"https://app.globex.test:{port}", all_users=True)
    return acme, globex


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("world")
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'ostiary.db'}"
    else:
        pg_name = create_pg_database()
        url = pg_url(pg_name)
    store = open_store(url)
    store.migrate()
    tls = issue_certificates(tmp / "tls", ["localhost", "*.id.example.test", "*.acme-corp.test", "acme-corp.test",
                                           "*.homelab.test", "*.globex.test"])
    port = free_port()
    with Dnsmasq() as dns:
        acme, globex = _populate(store, dns, port)
    env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_PUBLIC_PORT": str(port), "OSTIARY_DATA_DIR": str(tmp),
           "OSTIARY_KEY_OVERLAP_SECONDS": "3600", "JWT_REFRESH_SECRET": CHAT_SECRET}
    server = OstiaryServer(env, port, workers=2, tls=(tls.cert_chain, tls.private_key), log_path=tmp / "server.log")
    server.start(ready_host=ACME, ca_cert=tls.ca_cert)
    w = World(store, server, port, tls.ca_cert, acme, globex)
    yield w
    for v in w.visitors:
        v.close()
    server.stop()
    store.dispose()
    if pg_name:
        drop_pg_database(pg_name)
