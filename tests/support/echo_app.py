"""An upstream app that answers every request with the request it received, as JSON.

Header values are reported byte-exact: HTTP header bytes are decoded as
ISO-8859-1 (one character per byte), so ``value.encode("latin-1")`` gives the
raw bytes back, and a UTF-8 value decodes with ``.decode("utf-8")``. Repeated
headers appear once per occurrence, in arrival order. Independent of pytest:

    with EchoApp() as app:           # http://127.0.0.1:<app.port>
        ...
        echoed = EchoedRequest.from_json(response.json())
        echoed.values("x-forwarded-user")   # [b"alice"]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ostiary-echo"

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = {
            "method": self.command,
            "path": self.path,
            # http.server decodes header bytes as ISO-8859-1: characters == bytes.
            "headers": [[name, value] for name, value in self.headers.raw_items()],
            "body": body.decode("latin-1"),
        }
        data = json.dumps(payload).encode("ascii")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _echo

    def log_message(self, format: str, *args) -> None:  # quiet: tests read the JSON instead
        pass


class EchoApp:
    """A threaded HTTP server on loopback; use as a context manager or call start/stop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _EchoHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="echo-app", daemon=True)

    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EchoApp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EchoApp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True)
class EchoedRequest:
    """What the echo app received, parsed from its JSON answer."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]  # (name as received, value as ISO-8859-1 text)
    body: bytes

    @classmethod
    def from_json(cls, data: dict) -> EchoedRequest:
        return cls(
            method=data["method"],
            path=data["path"],
            headers=tuple((name, value) for name, value in data["headers"]),
            body=data["body"].encode("latin-1"),
        )

    def values(self, name: str) -> list[bytes]:
        """Raw bytes of every occurrence of header ``name`` (case-insensitive)."""
        return [value.encode("latin-1") for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        """The single value of ``name`` decoded as UTF-8; None when absent; error when repeated."""
        found = self.values(name)
        if len(found) > 1:
            raise AssertionError(f"header {name} arrived {len(found)} times: {found!r}")
        return found[0].decode("utf-8") if found else None

    def names(self) -> list[str]:
        """Header names as received, lowercased."""
        return [key.lower() for key, _ in self.headers]

    def cookies(self) -> dict[str, str]:
        """Cookie names and values from every Cookie header (later ones win)."""
        jar: dict[str, str] = {}
        for raw in self.values("cookie"):
            for pair in raw.decode("latin-1").split(";"):
                name, sep, value = pair.strip().partition("=")
                if sep:
                    jar[name] = value
        return jar

    def cookie_headers(self) -> list[str]:
        return [raw.decode("latin-1") for raw in self.values("cookie")]


__all__ = ["EchoApp", "EchoedRequest"]
