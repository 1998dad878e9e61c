"""Fixtures for the proxy-snippet tests: binaries, the echo app, the stand-in check, TLS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # so `tests.support` imports however pytest is started
    sys.path.insert(0, _ROOT)

from tests.proxies.check_standin import CheckStandIn  # noqa: E402
from tests.support.echo_app import EchoApp  # noqa: E402
from tests.proxies.matrix import APP_HOST, CADDY_BINARIES, TRAEFIK_SCHEMA  # noqa: E402
from tests.support.proxies import NGINX, binary_version, require_binary  # noqa: E402
from tests.support.tls import issue_certificates  # noqa: E402


@pytest.fixture(scope="session", params=sorted(CADDY_BINARIES))
def caddy_binary(request) -> str:
    """Each Caddy in the matrix; a missing binary fails the test with how to install it."""
    path = require_binary(CADDY_BINARIES[request.param])
    expected = {"caddy-2.6": "2.6.", "caddy-2.11": "v2.11."}[request.param]
    version = binary_version(path)
    assert expected in version, f"{path} is {version}, the matrix expects {expected}x"
    return path


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    return require_binary(NGINX)


@pytest.fixture(scope="session")
def traefik_schema() -> dict:
    import json

    assert TRAEFIK_SCHEMA.exists(), f"Traefik's JSON schema is missing at {TRAEFIK_SCHEMA}"
    return json.loads(TRAEFIK_SCHEMA.read_text())


@pytest.fixture(scope="session")
def echo_app():
    with EchoApp() as app:
        yield app


@pytest.fixture(scope="session")
def check_standin():
    with CheckStandIn(allowed_domains=("acme.id.example.test", "auth.acme-corp.test")) as standin:
        yield standin


@pytest.fixture(scope="session")
def test_tls(tmp_path_factory):
    return issue_certificates(tmp_path_factory.mktemp("tls"), [APP_HOST, "*.acme-corp.test"])
