"""End to end: real Caddy (2.6 and 2.11) with the generated snippets, Chromium, a LibreChat stand-in,
and Python consoles using the middlewares (ASGI under uvicorn, WSGI under wsgiref).

Gating a sibling through Ostiary's /check with the shared-cookie identity source is the gate's part
and is tested with the gate, not here.
"""

from __future__ import annotations

import html
import json
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from ostiary.sharedcookie import (
    SharedCookieASGIMiddleware,
    SharedCookieSource,
    SharedCookieWSGIMiddleware,
    caddy_same_origin,
    caddy_sibling_subdomains,
)

from sharedcookie_servers import CHROMIUM, UvicornThread, WsgirefThread, caddy_globals, free_port, require_binary

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--ignore-certificate-errors",
                 "--host-resolver-rules=MAP * 127.0.0.1"]


@pytest.fixture(scope="module")
def browser():
    require_binary(CHROMIUM, "install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def https_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def chat_upstream(node_minter, chat_secret, librechat_ids):
    """A LibreChat stand-in: sets and clears its cookies exactly as LibreChat's Express code does."""

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
                for name in ("refreshToken", "token_provider"):
                    cookies.append(f"{name}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
            body = f'<p id="chat">{html.escape(path)}</p>'.encode()
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


def asgi_console() -> Starlette:
    async def page(request: Request):
        if "/api/" in request.url.path:
            return JSONResponse({"user": request.state.user_id})
        return HTMLResponse(f'<p id="user">{html.escape(request.state.user_id)}</p>')

    return Starlette(routes=[Route("/{path:path}", page)])


def wsgi_console(environ, start_response):
    body = f'<p id="user">{html.escape(environ["REMOTE_USER"])}</p>'.encode()
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def consoles(chat_secret, https_port):
    """Four consoles: ASGI and WSGI, each for the sibling-subdomain and the same-origin layout."""
    source = SharedCookieSource.from_env(f"https://chat.acme.test:{https_port}/login",
                                        environ={"JWT_REFRESH_SECRET": chat_secret})
    servers = {
        "sibling-asgi": UvicornThread(SharedCookieASGIMiddleware(asgi_console(), source)),
        "sibling-wsgi": WsgirefThread(SharedCookieWSGIMiddleware(wsgi_console, source)),
        "same-origin-asgi": UvicornThread(SharedCookieASGIMiddleware(
            asgi_console(), source, api_prefix="/console/api/", unauthorized_path="/console/unauthorized")),
        "same-origin-wsgi": WsgirefThread(SharedCookieWSGIMiddleware(
            wsgi_console, source, api_prefix="/admin/api/", unauthorized_path="/admin/unauthorized")),
    }
    for server in servers.values():
        server.__enter__()
    yield {name: f"127.0.0.1:{server.port}" for name, server in servers.items()}
    for server in servers.values():
        server.__exit__(None, None, None)


def start_caddy(caddy_run, binary, snippet, https_port, workdir):
    proxy = caddy_run(binary, caddy_globals(free_port(), https_port) + snippet, workdir)
    proxy.wait_for(https_port)
    return proxy


def shown_user(page, url: str) -> str | None:
    page.goto(url)
    found = page.locator("#user")
    return found.inner_text() if found.count() else None


def browser_fetch(page, url: str) -> tuple[int, dict]:
    """A fetch() from the page itself, as a console's front end calls its API."""
    status, text = page.evaluate("async (u) => { const r = await fetch(u); return [r.status, await r.text()]; }", url)
    return status, json.loads(text)


def chat_cookies(context) -> dict[str, dict]:
    return {c["name"]: c for c in context.cookies() if c["name"] in ("refreshToken", "token_provider")}


@pytest.mark.parametrize("caddy", ["caddy-2.6", "caddy-2.11"])
def test_sibling_subdomains_share_the_chat_sign_in_and_its_sign_out(
        browser, caddy_binaries, caddy_run, tmp_path, chat_upstream, consoles, https_port, librechat_ids, caddy):
    port = https_port
    chat, console, admin = (f"https://{name}.acme.test:{port}" for name in ("chat", "console", "admin"))
    snippet = caddy_sibling_subdomains(
        f"chat.acme.test:{port}", chat_upstream,
        {f"console.acme.test:{port}": consoles["sibling-asgi"], f"admin.acme.test:{port}": consoles["sibling-wsgi"]},
        tls="internal")
    # Another site linking into the console, as a mail or chat message would.
    outside = (f"elsewhere.other.test:{port} {{\n\ttls internal\n\theader Content-Type text/html\n"
               f"\trespond `<a id=\"go\" href=\"{console}/reports\">go</a>` 200\n}}\n")
    start_caddy(caddy_run, caddy_binaries[caddy], snippet + "\n" + outside, port, tmp_path)
    context = browser.new_context()
    page = context.new_page()

    assert shown_user(page, f"{console}/reports?tab=1") is None
    landed = urlsplit(page.url)
    assert (landed.path, parse_qs(landed.query)["next"]) == ("/unauthorized", ["/reports?tab=1"])
    sign_in = urlsplit(page.locator("#sign-in").get_attribute("href"))
    assert f"{sign_in.scheme}://{sign_in.netloc}{sign_in.path}" == f"{chat}/login"

    page.goto(f"{chat}/test-sign-in")
    cookies = chat_cookies(context)
    assert {c["domain"] for c in cookies.values()} == {".acme.test"}
    assert {c["sameSite"] for c in cookies.values()} == {"Lax"}
    assert shown_user(page, f"{console}/reports") == librechat_ids["id"]
    assert shown_user(page, f"{admin}/") == librechat_ids["id"]
    page.goto(f"https://elsewhere.other.test:{port}/")
    with page.expect_navigation():
        page.click("#go")
    # SameSite=Lax: a link from another site arrives signed in (Strict would land on /unauthorized).
    assert urlsplit(page.url).path == "/reports"
    assert page.locator("#user").inner_text() == librechat_ids["id"]
    assert shown_user(page, f"{console}/reports") == librechat_ids["id"]
    assert browser_fetch(page, f"{console}/api/me") == (200, {"user": librechat_ids["id"]})

    page.goto(f"{chat}/test-sign-out")
    assert chat_cookies(context) == {}
    assert shown_user(page, f"{console}/reports") is None
    assert urlsplit(page.url).path == "/unauthorized"
    assert shown_user(page, f"{admin}/") is None
    page.goto(f"{console}/unauthorized")
    status, body = browser_fetch(page, f"{console}/api/me")
    assert (status, body["error"]) == (401, "not_signed_in")
    context.close()


@pytest.mark.parametrize("caddy", ["caddy-2.6", "caddy-2.11"])
def test_sibling_subdomain_console_without_the_rewrite_never_sees_the_user(
        browser, caddy_binaries, caddy_run, tmp_path, chat_upstream, consoles, https_port, caddy):
    """The control: the chat's host-only cookie alone does not reach a sibling."""
    port = https_port
    plain = (f"chat.acme.test:{port} {{\n\ttls internal\n\treverse_proxy {chat_upstream}\n}}\n"
             f"console.acme.test:{port} {{\n\ttls internal\n\treverse_proxy {consoles['sibling-asgi']}\n}}\n")
    start_caddy(caddy_run, caddy_binaries[caddy], plain, port, tmp_path)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"https://chat.acme.test:{port}/test-sign-in")
    assert chat_cookies(context)["refreshToken"]["domain"] == "chat.acme.test"
    assert shown_user(page, f"https://console.acme.test:{port}/") is None
    context.close()


@pytest.mark.parametrize("caddy", ["caddy-2.6", "caddy-2.11"])
def test_same_origin_consoles_share_the_chat_sign_in_and_its_sign_out(
        browser, caddy_binaries, caddy_run, tmp_path, chat_upstream, consoles, https_port, librechat_ids, caddy):
    port = https_port
    chat = f"https://chat.acme.test:{port}"
    snippet = caddy_same_origin(f"chat.acme.test:{port}", chat_upstream,
                                {"/console": consoles["same-origin-asgi"], "/admin": consoles["same-origin-wsgi"]},
                                tls="internal")
    start_caddy(caddy_run, caddy_binaries[caddy], snippet, port, tmp_path)
    context = browser.new_context()
    page = context.new_page()

    assert shown_user(page, f"{chat}/console/reports") is None
    assert urlsplit(page.url).path == "/console/unauthorized"
    sign_in = urlsplit(page.locator("#sign-in").get_attribute("href"))
    # Same origin: the deep link back is relative, the only kind LibreChat's redirect_to accepts.
    assert parse_qs(sign_in.query)["redirect_to"] == ["/console/reports"]

    page.goto(f"{chat}/test-sign-in")
    cookies = chat_cookies(context)
    assert {c["domain"] for c in cookies.values()} == {"chat.acme.test"}
    assert {c["sameSite"] for c in cookies.values()} == {"Strict"}
    assert shown_user(page, f"{chat}/console/reports") == librechat_ids["id"]
    assert shown_user(page, f"{chat}/admin/") == librechat_ids["id"]
    assert page.locator("#chat").count() == 0
    assert browser_fetch(page, f"{chat}/console/api/me") == (200, {"user": librechat_ids["id"]})

    page.goto(f"{chat}/test-sign-out")
    assert chat_cookies(context) == {}
    assert shown_user(page, f"{chat}/console/reports") is None
    assert shown_user(page, f"{chat}/admin/") is None
    assert urlsplit(page.url).path == "/admin/unauthorized"
    status, body = browser_fetch(page, f"{chat}/console/api/me")
    assert (status, body["error"]) == (401, "not_signed_in")
    assert parse_qs(urlsplit(body["sign_in"]).query)["redirect_to"] == ["/console/api/me"]
    context.close()
