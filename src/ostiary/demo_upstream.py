"""The demo's protected app: one page showing the identity Ostiary sent.

It trusts the X-Forwarded-* identity headers blindly, as any app behind
forward auth does — safe only because Caddy's snippet removes every client
copy of them and sets Ostiary's.
"""

from __future__ import annotations

import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ostiary import wire

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo app · behind Ostiary</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 3rem auto; padding: 0 1rem; color: #1d2330; }}
h1 {{ font-size: 1.6rem; margin-bottom: .2rem; }}
.who {{ background: #eef6ee; border: 1px solid #9c9; border-radius: .5rem; padding: 1rem 1.2rem; }}
.anon {{ background: #fbeeee; border-color: #d99; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1rem; }}
th, td {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ white-space: nowrap; font-weight: 600; }}
code {{ font-size: .9em; word-break: break-all; }}
a.button {{ display: inline-block; margin-top: 1rem; padding: .4rem .9rem; border-radius: .4rem;
           background: #1d2330; color: #fff; text-decoration: none; }}
</style></head>
<body>
<h1>Demo app</h1>
<p>This app knows nothing about passwords or sessions. Caddy asked Ostiary before every request
and passed on who you are in the headers below.</p>
{who}
<h2>Identity headers this app received</h2>
<table>{identity_rows}</table>
<a class="button" href="{sign_out}">Sign out (everywhere)</a>
<details><summary>Every request header</summary><table>{all_rows}</table></details>
</body></html>
"""


def render_page(headers: list[tuple[str, str]], sign_out_url: str) -> str:
    """The page for a request with these headers (values already decoded)."""
    lowered = {name.lower(): value for name, value in headers}
    identity = [(name, lowered.get(name.lower())) for name in wire.IDENTITY_HEADERS.values()]
    user = lowered.get("x-forwarded-user")
    if user:
        name = lowered.get("x-forwarded-display-name") or user
        who = f'<p class="who">Signed in as <strong>{escape(name)}</strong> ({escape(user)}).</p>'
    else:
        who = '<p class="who anon">No identity: this is a public path, or the proxy is not asking Ostiary.</p>'
    identity_rows = "".join(
        f"<tr><th>{escape(n)}</th><td><code>{escape(v) if v is not None else '<em>absent</em>'}</code></td></tr>"
        for n, v in identity
    )
    all_rows = "".join(f"<tr><th>{escape(n)}</th><td><code>{escape(v)}</code></td></tr>" for n, v in headers)
    return PAGE.format(who=who, identity_rows=identity_rows, all_rows=all_rows, sign_out=escape(sign_out_url))


def _handler(sign_out_url: str):
    class DemoHandler(BaseHTTPRequestHandler):
        server_version = "ostiary-demo-app"

        def do_GET(self) -> None:
            # http.server reads header bytes as ISO-8859-1; identity values are UTF-8.
            headers = [(n, v.encode("latin-1").decode("utf-8", "replace")) for n, v in self.headers.raw_items()]
            body = render_page(headers, sign_out_url).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            pass

    return DemoHandler


class DemoUpstream:
    """The demo app on a background thread."""

    def __init__(self, host: str, port: int, sign_out_url: str) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(sign_out_url))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-app", daemon=True)

    def start(self) -> DemoUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
