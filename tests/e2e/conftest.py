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
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ostiary.config import Settings, load_settings
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.services.rules import apps
from tests.support.dnsserver import Dnsmasq
from tests.support.echo_app import EchoApp
from tests.support.proxies import NGINX, NginxServer, nginx_conf, require_binary
from tests.support.server import LoopbackTransport, free_port
from tests.support.tls import TestTLS, issue_certificates
from tests.support.world import ALICE, END_TO_END, TENANT_HOST, World, database, serve
from tests.support.world import PASSWORD as PASSWORD  # the tests' import

ACME_PORTAL = "auth.acme-corp.test"
HOMELAB_PORTAL = "login.homelab.test"
PENDING_PORTAL = "auth.pending.test"  # registered, never verified
ALICE_NAME = ALICE.display_name
# metrics: its snippet was pasted before its identity headers were narrowed.
# status: its snippet reaches Ostiary at an address where nothing listens (Ostiary down).
APP_HOSTS = tuple(a.host for a in END_TO_END.apps)
APPS = tuple(a.name for a in END_TO_END.apps)
OSTIARY_HOSTS = (TENANT_HOST, ACME_PORTAL, HOMELAB_PORTAL)
PROXIES = ("nginx", "caddy", "traefik", "traefik-labels", "haproxy")


@dataclass
class E2E(World):
    """`port`: the proxy's HTTPS port, every browser-facing host's; Ostiary
    itself listens on plain http at `ostiary_port`, reached only by the proxies."""

    settings: Settings | None = None
    ostiary_port: int = 0
    tls: TestTLS | None = None
    echo: EchoApp | None = None
    snippets: dict[tuple[str, str], str] = field(default_factory=dict)  # (app, proxy) -> text

    @property
    def ostiary_hostport(self) -> str:
        return f"127.0.0.1:{self.ostiary_port}"


def proxied_env(database_url: str, public_port: int, ostiary_port: int, data_dir: Path, **extra: str) -> dict:
    """Ostiary behind the proxies under test, which reach it at 127.0.0.1:`ostiary_port`."""
    return {"OSTIARY_DATABASE_URL": database_url, "OSTIARY_DATA_DIR": str(data_dir),
            "OSTIARY_PUBLIC_PORT": str(public_port), "OSTIARY_PROXY_UPSTREAM": f"http://127.0.0.1:{ostiary_port}",
            "OSTIARY_TRUSTED_PROXIES": "127.0.0.1/32", **extra}


@pytest.fixture(scope="session")
def echo_app():
    """The echo app every generated snippet sends the app's traffic to (a free port)."""
    with EchoApp() as app:
        yield app


@pytest.fixture(scope="session")
def e2e(tmp_path_factory, echo_app) -> E2E:
    tmp = tmp_path_factory.mktemp("e2e")
    with database("sqlite", tmp) as (url, store):
        port, ostiary_port = free_port(), free_port()
        with Dnsmasq() as dns:
            tenant_ids = END_TO_END.populate(store, dns, port)
        env = proxied_env(url, port, ostiary_port, tmp)
        settings = load_settings(database_url=url, data_dir=tmp, public_port=port,
                                 proxy_upstream=env["OSTIARY_PROXY_UPSTREAM"], trusted_proxies="127.0.0.1/32")
        world = E2E(store, port, None, tenant_ids, END_TO_END.portals(), settings=settings,
                    ostiary_port=ostiary_port, echo=echo_app)
        serve(world, env, ostiary_port, tmp / "server.log")
        world.tls = issue_certificates(tmp / "tls", [*APP_HOSTS, *OSTIARY_HOSTS])
        world.ca = world.tls.ca_cert
        # Ostiary down, as the proxy sees it: a check address where nothing listens.
        down = settings.model_copy(update={"proxy_upstream": f"http://127.0.0.1:{free_port()}"})
        for app in APPS:
            for proxy in PROXIES:
                world.snippets[(app, proxy)] = snippet_for_app(store, down if app == "status" else settings,
                                                               world.tenant_id, app, proxy, upstream=echo_app.url)
        # Narrowed after its snippets were pasted: they still copy all four headers.
        apps.update_app(store, world.tenant_id, CLI_ACTOR, "metrics", headers=["user"])
        yield world
        world.close()


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


def wait_until_served(world: E2E, config: str) -> None:
    """Until Ostiary's tenant host answers ready through the proxy, and every other
    host the configuration names completes a TLS handshake: Caddy obtains its local
    certificates one host at a time after it starts listening, and a busy machine
    may still be at it when the first test opens an app."""
    hosts = [h for h in (*OSTIARY_HOSTS, *APP_HOSTS) if h != TENANT_HOST and h in config]
    with proxy_client() as client:
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.get(world.url(TENANT_HOST, "/readyz")).status_code == 200:
                    break
            except Exception:  # TLS or connection not ready yet
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the proxy did not serve Ostiary's tenant host within 30 s")
            time.sleep(0.1)
        for host in hosts:
            while True:
                try:
                    client.get(world.url(host, "/"))  # any answer: the handshake succeeded
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"the proxy completed no TLS handshake for {host} within 30 s") from None
                    time.sleep(0.1)
