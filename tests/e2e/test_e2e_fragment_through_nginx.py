"""Issue 13.1 end to end: a `#` in the request line through real nginx with
the snippet Ostiary generates, a real `ostiary serve`, and an upstream that
serves the normalised path (tests/support/normalising_upstream.py).

nginx forwards the raw line, both to /check (`X-Forwarded-Uri $request_uri`)
and to the upstream. Before the fix, /check judged the part before `#`
(`/static/x`, public: 200) and the upstream served `/admin`. Requests are
sent over a raw TLS socket: HTTP clients drop a fragment before sending."""

from __future__ import annotations

import json
import socket
import ssl

import pytest

from ostiary.services.queries.snippets import snippet_for_app
from tests.e2e.conftest import APP_HOSTS, E2E, NamespacedNginx, nginx_ostiary_server
from tests.support.normalising_upstream import NormalisingUpstream

pytestmark = pytest.mark.slow

APP = "grafana.acme-corp.test"  # public paths /static/* and /health; the group staff otherwise


@pytest.fixture(scope="module")
def nginx_in_front_of_a_normalising_upstream(e2e: E2E, tmp_path_factory):
    with NormalisingUpstream() as upstream:
        snippet = snippet_for_app(e2e.store, e2e.settings, e2e.tenant_id, "grafana", "nginx", upstream=upstream.url)
        http_block = "\n".join([snippet, nginx_ostiary_server(e2e)])
        server = NamespacedNginx(http_block, tls=e2e.tls, hosts=APP_HOSTS, ports=[e2e.port],
                                 workdir=tmp_path_factory.mktemp("nginx-fragment"))
        with server:
            yield server


def raw_get(port: int, host: str, target: str) -> tuple[int, dict[str, str], bytes]:
    """`GET <target>` exactly as written, over TLS to 127.0.0.1 with SNI `host`."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/html\r\n"
                    f"Sec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n".encode("ascii"))
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def served(answer) -> str | None:
    status, headers, body = answer
    if status != 200 or "application/json" not in headers.get("content-type", ""):
        return None
    return json.loads(body)["served"]


def test_the_public_path_still_reaches_the_upstream_through_nginx(nginx_in_front_of_a_normalising_upstream, e2e):
    assert served(raw_get(e2e.port, APP, "/static/app.js")) == "/static/app.js", \
        nginx_in_front_of_a_normalising_upstream.logs()


@pytest.mark.parametrize("target", ["/static/x#/../../admin/", "/health#/../admin", "/static/x#/%2e%2e/%2e%2e/admin"],
                         ids=["fragment_out_of_public_prefix", "fragment_out_of_public_exact", "fragment_encoded_dots"])
def test_a_fragment_in_the_request_line_cannot_reach_a_private_path_through_nginx(
        nginx_in_front_of_a_normalising_upstream, e2e, target):
    status, headers, _ = answer = raw_get(e2e.port, APP, target)
    assert served(answer) is None, f"the upstream served {served(answer)!r} to an anonymous request for {target!r}"
    assert status == 302 and "/forward-auth/start?rd=" in headers["location"], (status, headers)
