"""An upstream that serves the path it makes of the raw request line, as
uvicorn (h11) with Starlette's StaticFiles does: the query dropped, the rest
percent-decoded with "#" an ordinary character, then `..` and `.` resolved
(`/static/x#/../../admin/` serves `/admin`). It answers JSON
``{"served": <that path>, "target": <the raw request-target>}``."""

from __future__ import annotations

import json
import posixpath
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


def served_path(target: str) -> str:
    path = unquote(target.split("?", 1)[0])
    return posixpath.normpath(re.sub("/+", "/", "/" + path))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        data = json.dumps({"served": served_path(self.path), "target": self.path}).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # quiet: tests read the JSON
        pass


class NormalisingUpstream:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = ThreadingHTTPServer((host, 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="normalising-upstream", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> NormalisingUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
