"""App facts covering the shapes a snippet must handle, for the validation tests."""

from __future__ import annotations

from ostiary.proxies import AppFacts
from tests.proxies.matrix import PORTAL_URL


def facts_variants(cert: str, key: str) -> dict[str, AppFacts]:
    """Named variants; nginx needs real certificate files and resolvable Ostiary names."""
    tls = {"tls_certificate": cert, "tls_certificate_key": key}
    return {
        "all-headers-internal-http": AppFacts.for_app(
            "Grafana", "https://grafana.acme-corp.test", PORTAL_URL, ostiary_address="http://127.0.0.1:9090", **tls
        ),
        "no-headers": AppFacts.for_app(
            "Wiki", "https://wiki.acme-corp.test", PORTAL_URL,
            identity_headers=(), ostiary_address="http://127.0.0.1:9090", **tls,
        ),
        "prefix-port-some-headers": AppFacts.for_app(
            "Console (admin)", "https://tools.homelab.test:8443/console", "https://auth.homelab.test:8443",
            identity_headers=("email", "user"), ostiary_address="http://[::1]:9090",
            upstream="http://10.0.0.7:8080", **tls,
        ),
        "https-ostiary-by-other-name": AppFacts.for_app(
            "Chat", "https://chat.acme-corp.test", PORTAL_URL,
            identity_headers=("display_name",), ostiary_address="https://localhost:9443",
            upstream="https://127.0.0.1:3443", **tls,
        ),
    }
