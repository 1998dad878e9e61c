"""An upstream app that reads identity the way CGI-style servers hand it over: from ``environ``.

The proxy tests use it to catch alias spellings of identity headers. Header
names are folded into ``HTTP_*`` keys the widest way common servers do:
Apache httpd's CGI environment turns every byte that is not a letter or a
digit into ``_`` and uppercases the rest (wsgiref, gunicorn and PHP-FPM fold
``-`` alone; their class is a subset), and repeated keys are joined with
``,`` as wsgiref does. So ``X-Forwarded-User: alice`` plus a client's
``x.forwarded_USER: ,admin`` reaches the app as ``HTTP_X_FORWARDED_USER =
"alice,,admin"``, which is the attack. The app answers with JSON:

    {"path": "/x?y=1", "method": "GET", "environ": {"HTTP_X_FORWARDED_USER": "alice", ...}}

Values are ISO-8859-1 text (one character per byte), as WSGI passes them.
Independent of pytest:

    with WsgiUpstream() as app:      # http://127.0.0.1:<app.port>
        ...
"""

from __future__ import annotations

import json
import re
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


class _FoldingHandler(WSGIRequestHandler):
    def get_environ(self):
        env = super().get_environ()
        for key in [k for k in env if k.startswith("HTTP_")]:
            del env[key]
        for name, value in self.headers.items():
            key = "HTTP_" + _NOT_ALNUM.sub("_", name).upper()
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            env[key] = env[key] + "," + value.strip() if key in env else value.strip()
        return env

    def log_message(self, format, *args) -> None:  # quiet: tests read the JSON
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _app(environ, start_response):
    query = environ.get("QUERY_STRING", "")
    payload = {
        "method": environ["REQUEST_METHOD"],
        "path": environ.get("PATH_INFO", "") + ("?" + query if query else ""),
        "environ": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    body = json.dumps(payload).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class WsgiUpstream:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = make_server(host, port, _app, server_class=_ThreadingWSGIServer, handler_class=_FoldingHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="wsgi-upstream", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WsgiUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WsgiUpstream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def identity_environ(payload: dict) -> dict[str, str]:
    """The ``HTTP_X_FORWARDED_{USER,EMAIL,GROUPS,DISPLAY_NAME}`` keys an app would read."""
    keys = ("HTTP_X_FORWARDED_USER", "HTTP_X_FORWARDED_EMAIL", "HTTP_X_FORWARDED_GROUPS",
            "HTTP_X_FORWARDED_DISPLAY_NAME")
    return {k: payload["environ"][k] for k in keys if k in payload["environ"]}
