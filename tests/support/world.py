"""The world the harnesses share: a database (SQLite or PostgreSQL), the
population in it — tenants, protected domains verified against a real
dnsmasq, groups, people and apps — `ostiary serve` started against it, and
the ways in: URLs, a simulated visitor (signed in or not) and API clients.

Each harness (tests/integration, tests/admin, tests/security, tests/e2e,
tests/scaleout) keeps its own fixtures and names, and asks this module for
its population by name below: where the harnesses' people or apps differ,
the difference is a parameter here, not a copy there. Everything is created
in the order given, so ids (a domain's, a person's) are the same run after
run."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx

from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules import apps, domains, groups, tenants, users
from ostiary.store import Store, open_store
from tests.support.database import create_pg_database, drop_pg_database, pg_url
from tests.support.dnsserver import Dnsmasq
from tests.support.server import OstiaryServer, loopback_client
from tests.support.visitor import Visitor

PASSWORD = "correct horse battery"
BASE_DOMAIN = "id.example.test"
ADMIN = "admin@acme.test"
TENANT_HOST = ACME = "acme.id.example.test"
GLOBEX = "globex.id.example.test"
# Every host name a harness serves over HTTPS with the test CA.
CERTIFICATE_HOSTS = ["localhost", "*.id.example.test", "*.acme-corp.test", "acme-corp.test", "*.homelab.test",
                     "homelab.test", "*.globex.test"]


# -- the population ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    tenant: str
    name: str
    portal: str
    verified: bool = True  # False: registered, its challenge never published


@dataclass(frozen=True)
class Person:
    email: str
    display_name: str | None = None
    group: str | None = None  # the one group they are put in, if any
    tenant: str = "acme"


@dataclass(frozen=True)
class App:
    name: str
    host: str
    path: str = ""  # a path-prefixed app: "/admin"
    tenant: str = "acme"
    groups: tuple[str, ...] = ()
    all_users: bool = False
    public_paths: tuple[str, ...] = ()
    require_2fa: bool = False

    def url(self, port: int) -> str:
        return f"https://{self.host}:{port}{self.path}"


@dataclass(frozen=True)
class Population:
    """Tenant "acme" is the installation's (its admin is ADMIN); the other
    tenants are added after it. Groups are acme's: (name, parent)."""

    domains: tuple[Domain, ...]
    groups: tuple[tuple[str, str | None], ...]
    people: tuple[Person, ...]
    apps: tuple[App, ...]
    tenants: tuple[str, ...] = ("acme",)

    def with_apps(self, *more: App) -> Population:
        return Population(self.domains, self.groups, self.people, self.apps + more, self.tenants)

    def portals(self, *extra_hosts: str) -> dict[str, str]:
        """App host -> the portal host of its protected domain (for a Visitor),
        the apps' hosts and `extra_hosts` (hosts a test adds apps on)."""
        found = {}
        for host in [a.host for a in self.apps] + list(extra_hosts):
            found[host] = next(d.portal for d in self.domains if host == d.name or host.endswith("." + d.name))
        return found

    def populate(self, store: Store, dns: Dnsmasq, public_port: int) -> dict[str, int]:
        """Creates it all through the service layer, the domains verified against
        `dns` (restarted with their challenges). Returns tenant slug -> id."""
        tenants.init_installation(store, BASE_DOMAIN, "acme", ADMIN, PASSWORD, CLI_ACTOR)
        ids = {"acme": tenants.tenant_by_slug(store, "acme").id}
        for slug in self.tenants[1:]:
            ids[slug] = tenants.add_tenant(store, slug, CLI_ACTOR).id
        challenges = {}
        for d in self.domains:
            row = domains.add_domain(store, ids[d.tenant], CLI_ACTOR, d.name, d.portal)
            if d.verified:
                challenges[f"_ostiary-challenge.{d.name}"] = [f"ostiary-domain-verification={row.verification_token}"]
        dns.restart(txt=challenges)
        for d in self.domains:
            if d.verified:
                status = domains.verify_domain(store, ids[d.tenant], CLI_ACTOR, d.name, dns.resolvers, 3).status
                assert status == "verified", (d.name, status)
        for name, parent in self.groups:
            groups.add_group(store, ids["acme"], CLI_ACTOR, name, parent=parent)
        for p in self.people:
            users.add_user(store, ids[p.tenant], CLI_ACTOR, email=p.email, display_name=p.display_name,
                           password=PASSWORD)
        for p in self.people:
            if p.group:
                groups.add_member(store, ids[p.tenant], CLI_ACTOR, p.group, p.email)
        for a in self.apps:
            apps.add_app(store, ids[a.tenant], CLI_ACTOR, name=a.name, url=a.url(public_port),
                         groups_granted=a.groups, all_users=a.all_users, public_paths=a.public_paths,
                         require_2fa=a.require_2fa)
        return ids


ACME_CORP = Domain("acme", "acme-corp.test", "auth.acme-corp.test")
HOMELAB = Domain("acme", "homelab.test", "login.homelab.test")
STAFF_OPS_SALES = (("staff", None), ("ops", "staff"), ("sales", None))
ALICE = Person("alice@acme.test", "Alice Ørsted-Ünal", "ops")
BOB = Person("bob@acme.test", "Bob", "sales")
ZED = Person("zed@globex.test", tenant="globex")
GRAFANA = App("grafana", "grafana.acme-corp.test", groups=("staff",), public_paths=("/static/*", "/health"))
WIKI = App("wiki", "wiki.acme-corp.test", groups=("sales",))
TOOLS = App("tools", "tools.acme-corp.test", all_users=True)
NAS = App("nas", "nas.homelab.test", groups=("staff",))

# Two tenants, three verified domains; the integration tests' and (with a second-factor app) the attack suite's.
INTEGRATION = Population(
    tenants=("acme", "globex"),
    domains=(ACME_CORP, HOMELAB, Domain("globex", "globex.test", "auth.globex.test")),
    groups=STAFF_OPS_SALES + (("admins", None),),
    people=(ALICE, BOB, Person("dave@acme.test", "Dave", "staff"), Person("erin@acme.test", "Erin", "staff"), ZED),
    apps=(GRAFANA, WIKI, TOOLS, App("tools-admin", "tools.acme-corp.test", "/admin", groups=("admins",)), NAS,
          App("globex-app", "app.globex.test", tenant="globex", all_users=True)),
)
SECURITY = INTEGRATION.with_apps(App("vault", "vault.acme-corp.test", all_users=True, require_2fa=True))
# What the admin pages and the API list: one domain, and carol in no group.
ADMINISTRATION = Population(
    tenants=("acme", "globex"),
    domains=(ACME_CORP,),
    groups=STAFF_OPS_SALES,
    people=(ALICE, BOB, Person("carol@acme.test", "Carol"), ZED),
    apps=(App("grafana", "grafana.acme-corp.test", groups=("staff",)), WIKI, TOOLS),
)
# One tenant with two unrelated domains and one never verified; metrics and status serve all users.
END_TO_END = Population(
    domains=(ACME_CORP, HOMELAB, Domain("acme", "pending.test", "auth.pending.test", verified=False)),
    groups=STAFF_OPS_SALES,
    people=(ALICE, BOB, Person("erin@acme.test", "Erin", "staff")),
    apps=(GRAFANA, WIKI, NAS, App("metrics", "metrics.acme-corp.test", all_users=True),
          App("status", "status.acme-corp.test", all_users=True)),
)
# grafana for "staff", and the people the scale-out tests sign in (grace only in "viewers").
SCALEOUT = Population(
    domains=(ACME_CORP,),
    groups=(("staff", None), ("viewers", None)),
    people=tuple(Person(f"{name}@acme.test", group="viewers" if name == "grace" else "staff")
                 for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")),
    apps=(App("grafana", "grafana.acme-corp.test", groups=("staff",)),),
)


# -- the database and the servers ----------------------------------------------------------------


@contextmanager
def database_url(kind: str, tmp: Path) -> Iterator[str]:
    """An empty database, "sqlite" (a file in `tmp`) or "postgresql" (a fresh
    database on the local server, dropped afterwards): its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'ostiary.db'}"
    elif kind == "postgresql":
        name = create_pg_database()
        try:
            yield pg_url(name)
        finally:
            drop_pg_database(name)
    else:
        raise ValueError(f"database kind: {kind!r} is neither sqlite nor postgresql")


def database_kind(url: str) -> str:
    """The kind database_url made `url` of: "sqlite" or "postgresql"."""
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def migrated_store(url: str) -> Store:
    store = open_store(url)
    store.migrate()
    return store


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[tuple[str, Store]]:
    """A migrated database of `kind` (see database_url): its URL and a Store."""
    with database_url(kind, tmp) as url:
        store = migrated_store(url)
        try:
            yield url, store
        finally:
            store.dispose()


def server_env(database_url: str, public_port: int, data_dir: Path, **extra: str) -> dict[str, str]:
    """An instance's environment: its database, the port browsers use, its data
    directory, the signing-key overlap the tests count on, and `extra`."""
    return {"OSTIARY_DATABASE_URL": database_url, "OSTIARY_PUBLIC_PORT": str(public_port),
            "OSTIARY_DATA_DIR": str(data_dir), "OSTIARY_KEY_OVERLAP_SECONDS": "3600", **extra}


# -- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    """A populated database and the servers answering for it on `port` (the
    port every browser-facing URL names). Closing it closes what it handed out,
    stops the servers and the DNS server; the database is the caller's."""

    store: Store
    port: int
    ca: Path | None
    tenants: dict[str, int]
    portals: dict[str, str]  # app host -> portal host, for visitors
    servers: list[OstiaryServer] = field(default_factory=list)
    dns: Dnsmasq | None = None  # one kept running for the tests, closed with the world
    visitors: list = field(default_factory=list)  # visitors and clients handed out, closed with the world

    @property
    def server(self) -> OstiaryServer:
        return self.servers[0]

    @property
    def acme(self) -> int:
        return self.tenants["acme"]

    tenant_id = acme  # the installation's tenant, as most tests call it

    @property
    def globex(self) -> int:
        return self.tenants["globex"]

    def address(self, host: str, path: str = "/", port: int | None = None) -> str:
        return f"https://{host}:{port or self.port}{path}"

    url = address

    def visitor(self, login: str | None = None, password: str = PASSWORD) -> Visitor:
        v = Visitor(self.port, self.ca, dict(self.portals), login=login, password=password)
        self.visitors.append(v)
        return v

    def signed_in(self, login: str, app_host: str = "grafana.acme-corp.test") -> Visitor:
        """A visitor who signed in with a password on the way to `app_host` and reached it."""
        v = self.visitor(login)
        visit = v.open(self.address(app_host, "/"))
        assert visit.reached_app, [(s.url, s.status) for s in visit.steps]
        return v

    def client(self) -> httpx.Client:
        c = loopback_client(self.ca)
        self.visitors.append(c)
        return c

    def api(self, token: str | None = None, host: str = TENANT_HOST) -> httpx.Client:
        """A client of the JSON API on the tenant host, with `token` as its bearer."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        client = loopback_client(self.ca, headers=headers)
        client.base_url = self.address(host, "/api/v1")
        return client

    def close(self) -> None:
        for v in self.visitors:
            v.close()
        for server in reversed(self.servers):
            server.stop()
        if self.dns is not None:
            self.dns.close()


def serve(world: World, env: dict[str, str], port: int, log_path: Path, *, workers: int = 2,
          tls: tuple[Path, Path] | None = None, ready_host: str = TENANT_HOST,
          server: str = "uvicorn") -> OstiaryServer:
    """Starts one more `ostiary serve --server SERVER` for `world` on `port`; should it not
    come up, the world's servers already running are stopped before the error is raised."""
    server = OstiaryServer(env, port, workers=workers, tls=tls, log_path=log_path, server=server)
    try:
        server.start(ready_host=ready_host, ca_cert=world.ca if tls else None)
    except Exception:
        world.close()
        raise
    world.servers.append(server)
    return server
