"""The issuer world: a real `ostiary serve` (HTTPS with the test CA,
production mode, two workers) with two tenants, people, groups and OIDC
clients, and the real relying parties that use it: panva's certified
`openid-client` under Node (tests/node/oidc-relying-party.mjs) and Authlib's
OAuth 2 client in Python."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from ostiary.issuer import clients
from ostiary.services.rules import groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store import Store, open_store
from tests.issuer.app_server import AppServer
from tests.support.server import OstiaryServer, free_port, loopback_client
from tests.support.tls import TestTLS, issue_certificates

PASSWORD = "correct horse battery"
TENANT_HOST = "acme.id.example.test"
OTHER_HOST = "other.id.example.test"
NODE_DIR = Path(__file__).resolve().parent.parent / "node"
RP_SCRIPT = NODE_DIR / "oidc-relying-party.mjs"


def _held_port() -> socket.socket:
    """A listening loopback socket on a free port, held for the whole test process: the URLs below
    name its port from import on, and no other server of the suite may take it before the apps'
    server (each world's gets a duplicate of it) answers there."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(64)
    return held


# The apps' own server (tests/issuer/app_server.py) listens here, one per test process.
_APP_SOCKET = _held_port()
APP_PORT = _APP_SOCKET.getsockname()[1]
GRAFANA_CALLBACK = f"https://grafana.acme-corp.test:{APP_PORT}/login/generic_oauth"
GRAFANA_HOME = f"https://grafana.acme-corp.test:{APP_PORT}/"
GRAFANA_BACKCHANNEL = f"https://localhost:{APP_PORT}/backchannel-logout"  # the server resolves only loopback names
SPA_CALLBACK = f"https://spa.acme-corp.test:{APP_PORT}/callback"
OTHER_CALLBACK = "https://wiki.other-corp.test/callback"


@dataclass
class Registered:
    client_id: str
    secret: str | None
    redirect_uri: str


@dataclass
class IssuerWorld:
    store: Store
    server: OstiaryServer
    port: int
    tls: TestTLS
    tenant_id: int
    other_tenant_id: int
    tmp: Path
    clients: dict[str, Registered] = field(default_factory=dict)
    app: AppServer | None = None

    def url(self, path: str = "/", host: str = TENANT_HOST) -> str:
        return f"https://{host}:{self.port}{path}"

    @property
    def issuer(self) -> str:
        return f"https://{TENANT_HOST}:{self.port}"

    def browser(self) -> httpx.Client:
        return loopback_client(self.tls.ca_cert)

    def relying_party(self, command: str, client: str, **values) -> dict:
        """One command of the Node relying party (openid-client) for a registered client."""
        registered = self.clients[client]
        request = {"command": command, "issuer": self.issuer, "client_id": registered.client_id,
                   "client_secret": registered.secret, "redirect_uri": registered.redirect_uri, **values}
        done = subprocess.run(["node", str(RP_SCRIPT)], cwd=NODE_DIR, input=json.dumps(request), text=True,
                              capture_output=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin:/usr/local/bin", "NODE_EXTRA_CA_CERTS": str(self.tls.ca_cert)})
        assert done.stdout, done.stderr
        return json.loads(done.stdout)


def same_origin(world: IssuerWorld, host: str = TENANT_HOST) -> dict:
    return {"origin": world.url("", host).rstrip("/"), "sec-fetch-site": "same-origin"}


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(world: IssuerWorld, browser: httpx.Client, login: str, host: str = TENANT_HOST) -> None:
    page = browser.get(world.url("/sign-in", host))
    r = browser.post(world.url("/sign-in", host), headers=same_origin(world, host),
                     data={"login": login, "password": PASSWORD, "csrf": csrf_of(page.text), "next": "/"})
    assert r.status_code == 303, r.text


def authorize(world: IssuerWorld, browser: httpx.Client, params: dict | str, *, consent: str = "allow",
              host: str = TENANT_HOST) -> httpx.Response:
    """GET the authorization endpoint as a signed-in browser, answering the consent page
    when it comes; returns the issuer's last answer (a redirect to the client, or a page)."""
    query = params if isinstance(params, str) else httpx.QueryParams(params)
    r = browser.get(world.url("/oidc/authorize", host) + "?" + str(query))
    if r.status_code == 200 and 'name="decision"' in r.text:
        request = re.search(r'name="request" value="([^"]*)"', r.text).group(1)
        import html

        r = browser.post(world.url("/oidc/authorize", host), headers=same_origin(world, host),
                         data={"csrf": csrf_of(r.text), "request": html.unescape(request), "decision": consent})
    return r


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.fixture(scope="session")
def issuer_world(tmp_path_factory) -> IssuerWorld:
    tmp = tmp_path_factory.mktemp("issuer")
    url = f"sqlite:///{tmp / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    tls = issue_certificates(tmp / "tls", [TENANT_HOST, OTHER_HOST, "*.acme-corp.test", "127.0.0.1", "localhost"])
    port = free_port()
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    tenants.init_installation(store, "id.example.test", "other", "admin@other.test", PASSWORD, CLI_ACTOR)
    acme = tenants.tenant_by_slug(store, "acme").id
    other = tenants.tenant_by_slug(store, "other").id
    for email in ("alice@acme.test", "bob@acme.test", "dave@acme.test", "erin@acme.test", "frank@acme.test"):
        users.add_user(store, acme, CLI_ACTOR, email=email, password=PASSWORD)
    users.add_user(store, other, CLI_ACTOR, email="olga@other.test", password=PASSWORD)
    groups.add_group(store, acme, CLI_ACTOR, "staff")
    groups.add_group(store, acme, CLI_ACTOR, "engineering", parent="staff")
    groups.add_member(store, acme, CLI_ACTOR, "engineering", "alice@acme.test")
    for email in ("dave@acme.test", "erin@acme.test", "frank@acme.test"):
        groups.add_member(store, acme, CLI_ACTOR, "staff", email)
    world = IssuerWorld(store, None, port, tls, acme, other, tmp)
    world.app = AppServer(tls, APP_PORT, listening=_APP_SOCKET.dup())

    def register(name, tenant_id, settings, redirect):
        new = clients.add_client(store, tenant_id, CLI_ACTOR, name, settings)
        world.clients[name] = Registered(new.row.client_id, new.secret, redirect)

    register("grafana", acme, clients.ClientSettings(
        redirect_uris=[GRAFANA_CALLBACK], post_logout_redirect_uris=[GRAFANA_HOME],
        backchannel_logout_uri=GRAFANA_BACKCHANNEL,
        scopes="openid profile email groups offline_access", groups=["staff"]), GRAFANA_CALLBACK)
    register("spa", acme, clients.ClientSettings(
        redirect_uris=[SPA_CALLBACK], scopes="openid profile offline_access", public=True, all_users=True,
        skip_consent=True), SPA_CALLBACK)
    register("vault", acme, clients.ClientSettings(
        redirect_uris=["https://vault.acme-corp.test/cb"], groups=["staff"], require_2fa=True, skip_consent=True),
        "https://vault.acme-corp.test/cb")
    register("wiki", other, clients.ClientSettings(redirect_uris=[OTHER_CALLBACK], all_users=True), OTHER_CALLBACK)
    env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_PUBLIC_PORT": str(port), "OSTIARY_DATA_DIR": str(tmp),
           "SSL_CERT_FILE": str(tls.ca_cert)}
    server = OstiaryServer(env, port, workers=2, tls=(tls.cert_chain, tls.private_key), log_path=tmp / "server.log")
    server.start(ready_host=TENANT_HOST, ca_cert=tls.ca_cert)
    world.server = server
    world.app.start()
    yield world
    world.app.stop()
    server.stop()
    store.dispose()


def follow_to_client(browser: httpx.Client, response: httpx.Response, prefix: str) -> str:
    """Follows the issuer's redirects until one leaves for `prefix` (the client); returns that URL."""
    for _ in range(10):
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(prefix):
            return location
        response = browser.get(location)
    raise AssertionError("never sent back to the client")
