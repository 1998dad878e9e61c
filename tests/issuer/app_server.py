"""The app's own HTTPS server, as an OIDC client runs one: it answers its
sign-in callback, its post-logout page and its back-channel logout URI
with 200, and records every request for the test to read."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.tls import TestTLS


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    body: str


class AppServer:
    def __init__(self, tls: TestTLS, port: int, listening: socket.socket | None = None):
        """`listening`: a socket already bound to `port` and listening (one the test process held
        since it chose the port, so no other server could take it meanwhile); else it binds `port`."""
        self.port = port
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: str = "") -> None:
                with owner.arrived:
                    owner.received.append(Received(self.command, self.path, body))
                    owner.arrived.notify_all()
                page = b"<!doctype html><title>app</title><h1>The app answered</h1>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def do_GET(self):
                self._answer()

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                self._answer(self.rfile.read(length).decode())

            def log_message(self, *args):
                pass

        if listening is None:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        else:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
            self.httpd.socket.close()
            self.httpd.socket = listening
            self.httpd.server_name, self.httpd.server_port = "127.0.0.1", self.port
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls.cert_chain), str(tls.private_key))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "AppServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, predicate, timeout: float = 10.0) -> list[Received]:
        """The requests that match, once at least one has arrived (or none after `timeout`)."""
        with self.arrived:
            self.arrived.wait_for(lambda: any(predicate(r) for r in self.received), timeout=timeout)
            return [r for r in self.received if predicate(r)]
