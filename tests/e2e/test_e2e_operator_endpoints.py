"""Issue 13.8 end to end: through real nginx serving Ostiary's hosts with the
server block `ostiary snippet --ostiary` prints, `/metrics`, the details of
`/readyz` and `/caddy/check-domain` tell the internet nothing, while the
operator reaching Ostiary straight on loopback still reads them all."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import ACME_PORTAL, APP_HOSTS, TENANT_HOST, E2E, NamespacedNginx, proxy_client
from tests.e2e.proxy_configs import nginx_http_block

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nginx_in_front(e2e: E2E, tmp_path_factory):
    server = NamespacedNginx(nginx_http_block(e2e), tls=e2e.tls, hosts=APP_HOSTS, ports=[e2e.port],
                             workdir=tmp_path_factory.mktemp("nginx-operator"))
    with server:
        yield server


def test_the_public_proxy_gets_no_metrics_no_readiness_details_and_no_check_domain(nginx_in_front, e2e):
    with proxy_client() as client:
        for host in (TENANT_HOST, ACME_PORTAL):
            metrics = client.get(e2e.url(host, "/metrics"))
            assert metrics.status_code == 404 and "ostiary_checks_total" not in metrics.text, nginx_in_front.logs()
            ready = client.get(e2e.url(host, "/readyz"))
            assert ready.status_code == 200 and ready.json() == {"status": "ready"}
            for name in (TENANT_HOST, ACME_PORTAL, "unknown.acme-corp.test"):
                assert client.get(e2e.url(host, f"/caddy/check-domain?domain={name}")).status_code == 404


def test_the_operator_on_loopback_reads_them_all(nginx_in_front, e2e):
    direct = f"http://{e2e.ostiary_hostport}"
    with httpx.Client(timeout=10) as client:
        assert "ostiary_checks_total" in client.get(direct + "/metrics", headers={"Host": TENANT_HOST}).text
        assert client.get(direct + "/readyz", headers={"Host": TENANT_HOST}).json()["database_reachable"] is True
        ask = client.get(direct + f"/caddy/check-domain?domain={ACME_PORTAL}")
        assert ask.status_code == 200
