"""End to end: a console gated by Ostiary's /check with the chat's JWT cookie as its identity
source, next to a Python console using the ASGI middleware, behind real Caddy (2.6 and 2.11)
with the generated shared-cookie snippets, driven by Chromium.

The chat is a LibreChat stand-in that sets ``refreshToken`` host-only and SameSite=Strict and
clears it at sign-out as LibreChat does. The gated console is the echo app behind the Caddy
snippet `snippet_for_app` generates for it (only its placeholder upstream edited, as an operator
does); Ostiary is a real `ostiary serve` on plain http on loopback that only Caddy reaches.
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from ostiary.config import Settings, load_settings
from ostiary.proxies.facts import DEFAULT_UPSTREAM
from ostiary.services.rules import apps, domains, shared_cookie, tenants
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.sharedcookie import (
    SharedCookieASGIMiddleware,
    SharedCookieSource,
    caddy_same_origin,
    caddy_sibling_subdomains,
)
from ostiary.sharedcookie.verifier.source_config import SharedCookieSettings
from ostiary.store import Store, open_store
from tests.support.browser import chromium
from tests.support.dnsserver import Dnsmasq
from tests.support.echo_app import EchoApp
from tests.support.server import OstiaryServer

from sharedcookie_servers import UvicornThread, free_port

pytestmark = pytest.mark.slow

PARENT = "acme-corp.test"
CHAT = f"chat.{PARENT}"
GATED = f"console.{PARENT}"  # gated by Ostiary's /check
PYTHON = f"admin.{PARENT}"  # the ASGI middleware
PORTAL = f"auth.{PARENT}"
SAME_ORIGIN_GATED = "/console"  # on the chat's host, gated by /check
SAME_ORIGIN_PYTHON = "/admin"  # on the chat's host, the ASGI middleware
CHAT_COOKIES = ("refreshToken", "token_provider")


@dataclass
class Gate:
    store: Store
    settings: Settings
    tenant_id: int
    port: int  # Caddy's HTTPS port: every host the browser uses

    def url(self, host: str, path: str = "/") -> str:
        return f"https://{host}:{self.port}{path}"

    def caddy_snippet(self, app_name: str, upstream: str) -> str:
        """The app's forward-auth snippet as generated, its placeholder upstream set to the real one."""
        text = snippet_for_app(self.store, self.settings, self.tenant_id, app_name, "caddy")
        assert text.count(DEFAULT_UPSTREAM) == 1, text
        return text.replace(DEFAULT_UPSTREAM, upstream)


@pytest.fixture(scope="module")
def https_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def gate(tmp_path_factory, https_port, chat_secret) -> Gate:
    """A real `ostiary serve`: one tenant, acme-corp.test verified against dnsmasq, and two apps
    whose identity is the chat's cookie — a sibling host and a path on the chat's host."""
    tmp = tmp_path_factory.mktemp("gate")
    url = f"sqlite:///{tmp / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery",
                              CLI_ACTOR)
    tenant_id = tenants.tenant_by_slug(store, "acme").id
    row = domains.add_domain(store, tenant_id, CLI_ACTOR, PARENT, PORTAL)
    challenge = {f"_ostiary-challenge.{PARENT}": [f"ostiary-domain-verification={row.verification_token}"]}
    with Dnsmasq(txt=challenge) as dns:
        assert domains.verify_domain(store, tenant_id, CLI_ACTOR, PARENT, dns.resolvers, 3).status == "verified"
    chat_sign_in = f"https://{CHAT}:{https_port}/login"
    for name, app_url in (("console", f"https://{GATED}:{https_port}"),
                          ("chat-console", f"https://{CHAT}:{https_port}{SAME_ORIGIN_GATED}")):
        apps.add_app(store, tenant_id, CLI_ACTOR, name=name, url=app_url, all_users=True)
        shared_cookie.set_for_app(store, tenant_id, CLI_ACTOR, name,
                                  SharedCookieSettings(sign_in_url=chat_sign_in))
    ostiary_port = free_port()
    upstream = f"http://127.0.0.1:{ostiary_port}"
    env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_DATA_DIR": str(tmp), "OSTIARY_PUBLIC_PORT": str(https_port),
           "OSTIARY_PROXY_UPSTREAM": upstream, "OSTIARY_TRUSTED_PROXIES": "127.0.0.1/32",
           "JWT_REFRESH_SECRET": chat_secret}
    settings = load_settings(database_url=url, data_dir=tmp, public_port=https_port, proxy_upstream=upstream,
                             trusted_proxies="127.0.0.1/32")
    server = OstiaryServer(env, ostiary_port, workers=1, log_path=tmp / "server.log")
    server.start(ready_host="acme.id.example.test")
    yield Gate(store, settings, tenant_id, https_port)
    server.stop()
    store.dispose()


@pytest.fixture(scope="module")
def chat_upstream(node_minter, chat_secret, librechat_ids):
    """A LibreChat stand-in: sets and clears its cookies as LibreChat's Express code does; every
    other path (its /login among them) shows the path and query it was asked for."""

    class Chat(BaseHTTPRequestHandler):
        def do_GET(self):
            path = urlsplit(self.path).path
            cookies: list[str] = []
            if path == "/test-sign-in":
                token = node_minter(librechat_ids, chat_secret, expires_in="7d")
                expires = format_datetime(datetime.now(timezone.utc) + timedelta(days=7), usegmt=True)
                for name, value in (("refreshToken", token), ("token_provider", "librechat")):
                    cookies.append(f"{name}={value}; Path=/; Expires={expires}; HttpOnly; Secure; SameSite=Strict")
            elif path == "/test-sign-out":
                # res.clearCookie(name): host-only, Path=/, expired.
                for name in CHAT_COOKIES:
                    cookies.append(f"{name}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
            body = f'<h1>chat</h1><p id="chat">{html.escape(self.path)}</p>'.encode()
            self.send_response(200)
            for line in cookies:
                self.send_header("Set-Cookie", line)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def echo():
    with EchoApp() as app:
        yield app


def asgi_console() -> Starlette:
    async def page(request: Request):
        if "/api/" in request.url.path:
            return JSONResponse({"user": request.state.user_id})
        return HTMLResponse(f'<h1>python console</h1><p id="user">{html.escape(request.state.user_id)}</p>')

    return Starlette(routes=[Route("/{path:path}", page)])


@pytest.fixture(scope="module")
def python_consoles(chat_secret, https_port):
    """The ASGI console twice: on a sibling host, and under /admin on the chat's host."""
    source = SharedCookieSource.from_env(f"https://{CHAT}:{https_port}/login",
                                        environ={"JWT_REFRESH_SECRET": chat_secret})
    servers = {
        "sibling": UvicornThread(SharedCookieASGIMiddleware(asgi_console(), source)),
        "same-origin": UvicornThread(SharedCookieASGIMiddleware(
            asgi_console(), source, api_prefix=f"{SAME_ORIGIN_PYTHON}/api/",
            unauthorized_path=f"{SAME_ORIGIN_PYTHON}/unauthorized")),
    }
    for server in servers.values():
        server.__enter__()
    yield {name: f"127.0.0.1:{server.port}" for name, server in servers.items()}
    for server in servers.values():
        server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def caddy_globals(https_port: int) -> str:
    """No admin port, no trust-store changes, high ports; every site (also the generated
    forward-auth site, which names no issuer) gets a certificate from Caddy's own CA."""
    return (f"{{\n\tadmin off\n\tskip_install_trust\n\tlocal_certs\n\thttp_port {free_port()}\n"
            f"\thttps_port {https_port}\n\tauto_https disable_redirects\n}}\n\n")


def start_caddy(caddy_run, binary: str, sites: str, port: int, workdir: Path):
    proxy = caddy_run(binary, caddy_globals(port) + sites, workdir)
    proxy.wait_for(port)
    return proxy


def merge_site_blocks(site: str, forward_auth: str) -> str:
    """The chat's site block with the generated forward-auth snippet's body pasted into it, as the
    snippet's own comment says to do when the host already has a site block."""
    lines = forward_auth.splitlines()
    opening = next(i for i, line in enumerate(lines) if line.startswith("https://") and line.endswith(" {"))
    closing = max(i for i, line in enumerate(lines) if line == "}")
    body = [line for line in lines[:opening] if line.startswith("#")] + lines[opening + 1:closing]
    head, _, tail = site.rstrip("\n").rpartition("\n}")
    assert tail == "", site
    return head + "\n" + "\n".join("\t" + line if line.startswith("#") else line for line in body) + "\n}\n"


def echoed_user(page, url: str) -> str | None:
    """X-Forwarded-User as the gated echo app received it; None when the page is not the echo app."""
    response = page.goto(url)
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    received = json.loads(response.text())
    users = [value for name, value in received["headers"] if name.lower() == "x-forwarded-user"]
    assert len(users) == 1, received["headers"]
    return users[0]


def python_user(page, url: str) -> str | None:
    page.goto(url)
    found = page.locator("#user")
    return found.inner_text() if found.count() else None


def landed_on_chat_sign_in(page, gate: Gate) -> str:
    """The redirect_to the chat's sign-in page was opened with (fails if the page is elsewhere)."""
    landed = urlsplit(page.url)
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == gate.url(CHAT, "/login"), page.url
    assert page.locator("#chat").count() == 1
    return parse_qs(landed.query)["redirect_to"][0]


def chat_cookies(context) -> dict[str, dict]:
    return {c["name"]: c for c in context.cookies() if c["name"] in CHAT_COOKIES}


def shoot(page, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"shared-cookie-gate-{name}.png"))


@pytest.mark.parametrize("caddy", ["caddy-2.6", "caddy-2.11"])
def test_sibling_subdomains_gated_by_check_and_by_middleware_follow_the_chat_sign_in_and_sign_out(
        browser, gate, caddy_binaries, caddy_run, tmp_path, chat_upstream, echo, python_consoles, librechat_ids,
        artifacts_dir, caddy):
    port = gate.port
    shared = caddy_sibling_subdomains(f"{CHAT}:{port}", chat_upstream, {f"{PYTHON}:{port}": python_consoles["sibling"]},
                                      tls="internal")
    start_caddy(caddy_run, caddy_binaries[caddy], shared + "\n" + gate.caddy_snippet("console", echo.url), port,
                tmp_path)
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    reports = gate.url(GATED, "/reports?tab=1")

    assert echoed_user(page, reports) is None
    assert landed_on_chat_sign_in(page, gate) == reports
    shoot(page, artifacts_dir, f"{caddy}-sibling-1-gated-before-sign-in")
    assert python_user(page, gate.url(PYTHON, "/reports")) is None
    assert urlsplit(page.url).path == "/unauthorized"

    page.goto(gate.url(CHAT, "/test-sign-in"))
    cookies = chat_cookies(context)
    assert {c["domain"] for c in cookies.values()} == {f".{PARENT}"}
    assert {c["sameSite"] for c in cookies.values()} == {"Lax"}
    assert echoed_user(page, reports) == librechat_ids["id"]
    shoot(page, artifacts_dir, f"{caddy}-sibling-2-gated-signed-in")
    assert python_user(page, gate.url(PYTHON, "/reports")) == librechat_ids["id"]
    shoot(page, artifacts_dir, f"{caddy}-sibling-3-python-signed-in")

    page.goto(gate.url(CHAT, "/test-sign-out"))
    assert chat_cookies(context) == {}
    assert echoed_user(page, reports) is None
    assert landed_on_chat_sign_in(page, gate) == reports
    shoot(page, artifacts_dir, f"{caddy}-sibling-4-gated-after-sign-out")
    assert python_user(page, gate.url(PYTHON, "/reports")) is None
    assert urlsplit(page.url).path == "/unauthorized"
    context.close()


@pytest.mark.parametrize("caddy", ["caddy-2.6", "caddy-2.11"])
def test_same_origin_paths_gated_by_check_and_by_middleware_follow_the_chat_sign_in_and_sign_out(
        browser, gate, caddy_binaries, caddy_run, tmp_path, chat_upstream, echo, python_consoles, librechat_ids,
        artifacts_dir, caddy):
    port = gate.port
    site = caddy_same_origin(f"{CHAT}:{port}", chat_upstream, {SAME_ORIGIN_PYTHON: python_consoles["same-origin"]},
                             tls="internal")
    sites = merge_site_blocks(site, gate.caddy_snippet("chat-console", echo.url))
    start_caddy(caddy_run, caddy_binaries[caddy], sites, port, tmp_path)
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    reports = gate.url(CHAT, f"{SAME_ORIGIN_GATED}/reports?tab=1")

    assert echoed_user(page, reports) is None
    # Same origin: the link back is relative, the only kind LibreChat's redirect_to follows.
    assert landed_on_chat_sign_in(page, gate) == f"{SAME_ORIGIN_GATED}/reports?tab=1"
    shoot(page, artifacts_dir, f"{caddy}-same-origin-1-gated-before-sign-in")
    assert python_user(page, gate.url(CHAT, f"{SAME_ORIGIN_PYTHON}/reports")) is None
    assert urlsplit(page.url).path == f"{SAME_ORIGIN_PYTHON}/unauthorized"

    page.goto(gate.url(CHAT, "/test-sign-in"))
    cookies = chat_cookies(context)
    assert {c["domain"] for c in cookies.values()} == {CHAT}
    assert {c["sameSite"] for c in cookies.values()} == {"Strict"}
    assert echoed_user(page, reports) == librechat_ids["id"]
    shoot(page, artifacts_dir, f"{caddy}-same-origin-2-gated-signed-in")
    assert python_user(page, gate.url(CHAT, f"{SAME_ORIGIN_PYTHON}/reports")) == librechat_ids["id"]
    assert python_user(page, gate.url(CHAT, "/c/new")) is None and page.locator("#chat").count() == 1

    page.goto(gate.url(CHAT, "/test-sign-out"))
    assert chat_cookies(context) == {}
    status, location = page.evaluate(
        "async (u) => { const r = await fetch(u); return [r.status, r.headers.get('x-ostiary-location')]; }",
        gate.url(CHAT, f"{SAME_ORIGIN_GATED}/api/me"))
    assert status == 401 and parse_qs(urlsplit(location).query)["redirect_to"] == [f"{SAME_ORIGIN_GATED}/api/me"]
    assert echoed_user(page, reports) is None
    assert landed_on_chat_sign_in(page, gate) == f"{SAME_ORIGIN_GATED}/reports?tab=1"
    shoot(page, artifacts_dir, f"{caddy}-same-origin-3-gated-after-sign-out")
    assert python_user(page, gate.url(CHAT, f"{SAME_ORIGIN_PYTHON}/reports")) is None
    assert urlsplit(page.url).path == f"{SAME_ORIGIN_PYTHON}/unauthorized"
    context.close()
