"""End-to-end world: a real `ostiary serve` (SQLite, two workers, production
mode, plain http on loopback behind the proxies), one tenant with two
unrelated protected domains verified against a real dnsmasq, and the proxy
snippets exactly as `snippet_for_app` generates them.

Every host a browser uses — app hosts, portal hosts, the tenant host — is
served by the proxy under test on one port (`E2E.port`), which is also
Ostiary's OSTIARY_PUBLIC_PORT; OSTIARY_PROXY_UPSTREAM tells the snippets
where the proxy reaches Ostiary.

The snippets are generated with the echo app's address as upstream (the
CLI's ``--upstream``; the admin page shows the same text with a placeholder
instead), on a free port. One fixed fact of the generated text shapes the
set-up, so that the text runs unchanged:

- the nginx server block names certbot's files
  ``/etc/letsencrypt/live/<app host>/{fullchain,privkey}.pem``, so nginx runs
  in a private mount namespace whose /etc (a copy) holds the test
  certificates at those paths (`NamespacedNginx`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ostiary.config import Settings, load_settings
from ostiary.services.rules import apps, domains, groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import Store, open_store
from tests.support.dnsserver import Dnsmasq
from tests.support.echo_app import EchoApp
from tests.support.proxies import NGINX, NginxServer, nginx_conf, require_binary
from tests.support.server import LoopbackTransport, OstiaryServer, free_port
from tests.support.tls import TestTLS, issue_certificates

PASSWORD = "correct horse battery"
BASE_DOMAIN = "id.example.test"
TENANT_HOST = "acme.id.example.test"
ACME_PORTAL = "auth.acme-corp.test"
HOMELAB_PORTAL = "login.homelab.test"
PENDING_PORTAL = "auth.pending.test"  # registered, never verified
ALICE_NAME = "Alice Ørsted-Ünal"
# metrics: its snippet was pasted before its identity headers were narrowed.
# status: its snippet reaches Ostiary at an address where nothing listens (Ostiary down).
APP_HOSTS = ("grafana.acme-corp.test", "wiki.acme-corp.test", "nas.homelab.test", "metrics.acme-corp.test",
             "status.acme-corp.test")
APPS = ("grafana", "wiki", "nas", "metrics", "status")
OSTIARY_HOSTS = (TENANT_HOST, ACME_PORTAL, HOMELAB_PORTAL)
PROXIES = ("nginx", "caddy", "traefik", "traefik-labels", "haproxy")


@dataclass
class E2E:
    store: Store
    settings: Settings
    server: OstiaryServer
    port: int  # the proxy's HTTPS port: every browser-facing host
    ostiary_port: int  # plain http on 127.0.0.1, reached only by the proxies
    tenant_id: int
    tls: TestTLS
    echo: EchoApp
    snippets: dict[tuple[str, str], str] = field(default_factory=dict)  # (app, proxy) -> text

    def url(self, host: str, path: str = "/") -> str:
        return f"https://{host}:{self.port}{path}"

    @property
    def ostiary_hostport(self) -> str:
        return f"127.0.0.1:{self.ostiary_port}"


def _populate(store: Store, dns: Dnsmasq, port: int) -> int:
    tenants.init_installation(store, BASE_DOMAIN, "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    acme = tenants.tenant_by_slug(store, "acme").id
    records = {}
    for name, portal in (("acme-corp.test", ACME_PORTAL), ("homelab.test", HOMELAB_PORTAL),
                         ("pending.test", PENDING_PORTAL)):
        row = domains.add_domain(store, acme, CLI_ACTOR, name, portal)
        if name != "pending.test":
            records[f"_ostiary-challenge.{name}"] = [f"ostiary-domain-verification={row.verification_token}"]
    dns.restart(txt=records)
    for name in ("acme-corp.test", "homelab.test"):
        assert domains.verify_domain(store, acme, CLI_ACTOR, name, dns.resolvers, 3).status == "verified"
    groups.add_group(store, acme, CLI_ACTOR, "staff")
    groups.add_group(store, acme, CLI_ACTOR, "ops", parent="staff")
    groups.add_group(store, acme, CLI_ACTOR, "sales")
    for email, name in (("alice@acme.test", ALICE_NAME), ("bob@acme.test", "Bob"), ("erin@acme.test", "Erin")):
        users.add_user(store, acme, CLI_ACTOR, email=email, display_name=name, password=PASSWORD)
    groups.add_member(store, acme, CLI_ACTOR, "ops", "alice@acme.test")
    groups.add_member(store, acme, CLI_ACTOR, "sales", "bob@acme.test")
    groups.add_member(store, acme, CLI_ACTOR, "staff", "erin@acme.test")
    apps.add_app(store, acme, CLI_ACTOR, name="grafana", url=f"https://grafana.acme-corp.test:{port}",
                 groups_granted=["staff"], public_paths=["/static/*", "/health"])
    apps.add_app(store, acme, CLI_ACTOR, name="wiki", url=f"https://wiki.acme-corp.test:{port}",
                 groups_granted=["sales"])
    apps.add_app(store, acme, CLI_ACTOR, name="nas", url=f"https://nas.homelab.test:{port}", groups_granted=["staff"])
    apps.add_app(store, acme, CLI_ACTOR, name="metrics", url=f"https://metrics.acme-corp.test:{port}", all_users=True)
    apps.add_app(store, acme, CLI_ACTOR, name="status", url=f"https://status.acme-corp.test:{port}", all_users=True)
    return acme


@pytest.fixture(scope="session")
def echo_app():
    """The echo app every generated snippet sends the app's traffic to (a free port)."""
    with EchoApp() as app:
        yield app


@pytest.fixture(scope="session")
def e2e(tmp_path_factory, echo_app) -> E2E:
    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    port, ostiary_port = free_port(), free_port()
    with Dnsmasq() as dns:
        tenant_id = _populate(store, dns, port)
    env = {
        "OSTIARY_DATABASE_URL": url,
        "OSTIARY_DATA_DIR": str(tmp),
        "OSTIARY_PUBLIC_PORT": str(port),
        "OSTIARY_PROXY_UPSTREAM": f"http://127.0.0.1:{ostiary_port}",
        "OSTIARY_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    settings = load_settings(database_url=url, data_dir=tmp, public_port=port,
                             proxy_upstream=env["OSTIARY_PROXY_UPSTREAM"], trusted_proxies="127.0.0.1/32")
    server = OstiaryServer(env, ostiary_port, workers=2, log_path=tmp / "server.log")
    server.start(ready_host=TENANT_HOST)
    tls = issue_certificates(tmp / "tls", [*APP_HOSTS, *OSTIARY_HOSTS])
    world = E2E(store, settings, server, port, ostiary_port, tenant_id, tls, echo_app)
    # Ostiary down, as the proxy sees it: a check address where nothing listens.
    down = settings.model_copy(update={"proxy_upstream": f"http://127.0.0.1:{free_port()}"})
    for app in APPS:
        for proxy in PROXIES:
            world.snippets[(app, proxy)] = snippet_for_app(store, down if app == "status" else settings, tenant_id,
                                                           app, proxy, upstream=echo_app.url)
    # Narrowed after its snippets were pasted: they still copy all four headers.
    apps.update_app(store, tenant_id, CLI_ACTOR, "metrics", headers=["user"])
    yield world
    server.stop()
    store.dispose()


# -- nginx with certbot's certificate paths ------------------------------------


def _etc_with_certificates(directory: Path, tls: TestTLS, hosts) -> Path:
    """A copy of /etc where /etc/letsencrypt/live/<host>/ holds the test certificate."""
    etc = directory / "etc"
    subprocess.run(["cp", "-a", "/etc", str(etc)], check=True)
    for host in hosts:
        live = etc / "letsencrypt" / "live" / host
        live.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tls.cert_chain, live / "fullchain.pem")
        shutil.copyfile(tls.private_key, live / "privkey.pem")
    return etc


def _in_namespace(etc: Path, command: list[str]) -> list[str]:
    """`command` in a private mount namespace with `etc` bind-mounted on /etc."""
    require_binary("/usr/bin/unshare")
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["/usr/bin/unshare", "--mount", "--propagation", "private", *user,
            "sh", "-c", 'mount --bind "$0" /etc && exec "$@"', str(etc), *command]


class NamespacedNginx(NginxServer):
    """nginx whose /etc has the certificates the generated server blocks name."""

    def __init__(self, http_block: str, *, tls: TestTLS, hosts, ports, workdir) -> None:
        super().__init__(http_block, ports=ports, workdir=workdir)
        self.etc = _etc_with_certificates(self.workdir, tls, hosts)

    def _command(self):
        return _in_namespace(self.etc, list(super()._command()))


def nginx_test_with_certificates(http_block: str, tls: TestTLS, hosts) -> subprocess.CompletedProcess:
    """`nginx -t` on a configuration whose server blocks name certbot's paths."""
    require_binary(NGINX)
    with tempfile.TemporaryDirectory(prefix="ostiary-e2e-nginx-t-") as tmp:
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (Path(tmp) / "temp" / kind).mkdir(parents=True)
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(nginx_conf(http_block, tmp))
        etc = _etc_with_certificates(Path(tmp), tls, hosts)
        command = [NGINX, "-t", "-p", tmp, "-e", f"{tmp}/error.log", "-c", str(conf), "-g", "daemon off;"]
        return subprocess.run(_in_namespace(etc, command), capture_output=True, text=True, timeout=60, cwd=tmp)


def nginx_ostiary_server(world: E2E) -> str:
    """The server block that serves Ostiary's own hosts, as `ostiary snippet --ostiary` prints it."""
    from ostiary.proxies.nginx import render_ostiary_server

    return render_ostiary_server(list(OSTIARY_HOSTS), world.ostiary_hostport, listen=str(world.port),
                                 certificate=str(world.tls.cert_chain), certificate_key=str(world.tls.private_key))


# -- clients ---------------------------------------------------------------------


def proxy_client() -> httpx.Client:
    """An HTTPS client that reaches any host name at 127.0.0.1 (certificates are not checked:
    Caddy's internal CA differs per run; the browser runs with --ignore-certificate-errors too)."""
    return httpx.Client(transport=LoopbackTransport(verify=False), follow_redirects=False, timeout=10)


def cookie_header(context, url: str) -> str:
    """The Cookie header the browser context would send to `url`."""
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies(url))
