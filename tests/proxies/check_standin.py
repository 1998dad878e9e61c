"""A stand-in for Ostiary's /forward-auth/check and /caddy/check-domain, for proxy tests.

It follows docs/contract.md §3 closely enough to exercise the snippets without
Ostiary: the portal host is recognised by the Host header, the forward-auth
cookie ``_ostiary_fa=good`` means "signed in as Zoë", paths under /public are
public (identity headers present and empty), paths under /forbidden are 403,
and ``?not-signed-in=401`` (or the older ``?proxy=nginx``) turns every
not-signed-in answer into 401 with ``X-Ostiary-Location`` (and
``X-Ostiary-Navigation: 1`` when the browser asked for a page). A portal
host named in the path (``/forward-auth/check/<host>``) stands in for Host. Every request it receives is recorded for assertions.
Header values are written as raw UTF-8 bytes; HEAD is answered as GET, without the body.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from ostiary import wire

PORTAL_HOST = "auth.acme-corp.test"
GOOD_COOKIE = "good"
IDENTITY = {
    "X-Forwarded-User": "zoe",
    "X-Forwarded-Email": "zoë@acme-corp.test",
    "X-Forwarded-Groups": "staff,ops",
    "X-Forwarded-Display-Name": "Zoë Ångström-山田",
}


class _CheckHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        standin: CheckStandIn = self.server.standin  # type: ignore[attr-defined]
        standin.record(self)
        parts = urlsplit(self.path)
        if parts.path == wire.CADDY_CHECK_DOMAIN_PATH:
            domain = parse_qs(parts.query).get("domain", [""])[0]
            self._answer(200 if domain in standin.allowed_domains else 404, {})
            return
        portal = self.headers.get("Host")
        if parts.path.startswith(wire.CHECK_PATH + "/"):
            portal = parts.path[len(wire.CHECK_PATH) + 1:]
        elif parts.path != wire.CHECK_PATH:
            portal = None
        if portal != standin.portal_host:
            self._answer(403, {"X-Standin-Refused": f"path {parts.path} host {self.headers.get('Host')}"})
            return
        query = parse_qs(parts.query)
        nginx = query.get("proxy") == ["nginx"] or query.get("not-signed-in") == ["401"]
        uri = self.headers.get("X-Forwarded-Uri", "")
        path = urlsplit(uri).path
        if path.startswith("/public"):
            self._answer(200, {name: "" for name in IDENTITY})
            return
        if _cookie(self.headers.get_all("Cookie") or [], wire.FORWARD_AUTH_COOKIE) != GOOD_COOKIE:
            original = (
                f"{self.headers.get('X-Forwarded-Proto', '')}://{self.headers.get('X-Forwarded-Host', '')}{uri}"
            )
            target = f"https://{standin.portal_host}{wire.START_PATH}?rd={quote(original, safe='')}"
            if nginx:
                page = "text/html" in self.headers.get("Accept", "")
                self._answer(401, {wire.LOCATION_HEADER: target, **({wire.NAVIGATION_HEADER: "1"} if page else {})})
            else:
                self._answer(302, {"Location": target, wire.LOCATION_HEADER: target})
            return
        if path.startswith("/forbidden"):
            self._answer(403, {})
            return
        self._answer(200, IDENTITY)

    def _answer(self, status: int, headers: dict[str, str]) -> None:
        body = f"stand-in check: {status}\n".encode()
        lines = [f"HTTP/1.1 {status} X".encode()]
        for name, value in {**headers, "Content-Length": str(len(body)), "Content-Type": "text/plain"}.items():
            lines.append(name.encode("ascii") + b": " + value.encode("utf-8"))
        self.wfile.write(b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if self.command == "HEAD" else body))

    # Ostiary answers HEAD exactly as GET, without the body (nginx's snippet asks with HEAD).
    do_HEAD = do_GET

    def log_message(self, format: str, *args) -> None:
        pass


def _cookie(headers: list[str], name: str) -> str | None:
    for header in headers:
        for pair in header.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                return value
    return None


class CheckStandIn:
    """Plain-http server on loopback; ``requests`` holds (path, headers) of each request received."""

    def __init__(self, portal_host: str = PORTAL_HOST, allowed_domains: tuple[str, ...] = ()) -> None:
        self.portal_host = portal_host
        self.allowed_domains = set(allowed_domains)
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _CheckHandler)
        self._server.daemon_threads = True
        self._server.standin = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="check-standin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append((handler.path, list(handler.headers.raw_items())))

    def start(self) -> CheckStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CheckStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
