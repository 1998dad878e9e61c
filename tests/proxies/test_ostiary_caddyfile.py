"""The Caddyfile that serves Ostiary itself, with certificates on demand."""

from __future__ import annotations

import ssl
import time

import httpx
import pytest

from ostiary.proxies import render_ostiary_caddyfile, shipped_ostiary_caddyfile
from tests.proxies.matrix import CADDY_BINARIES
from tests.support.proxies import (
    CaddyServer,
    caddy_adapt,
    caddy_validate,
    free_port,
    loopback_request,
    require_binary,
)


@pytest.mark.parametrize("internal_tls", [False, True], ids=["acme", "internal"])
def test_ostiary_caddyfile_passes_caddy_validate(caddy_binary, internal_tls):
    text = render_ostiary_caddyfile("127.0.0.1:9090", internal_tls=internal_tls, email="ops@example.com")
    done = caddy_validate(caddy_binary, text)
    assert done.returncode == 0, done.stderr[-4000:]


def test_ostiary_caddyfile_asks_check_domain_before_any_certificate(caddy_binary):
    config = caddy_adapt(caddy_binary, render_ostiary_caddyfile("10.1.2.3:9000"))
    on_demand = config["apps"]["tls"]["automation"]["on_demand"]
    ask = on_demand.get("ask") or on_demand["permission"]["endpoint"]  # 2.6 / 2.11 spelling
    assert ask == "http://10.1.2.3:9000/caddy/check-domain"
    assert all(policy.get("on_demand") for policy in config["apps"]["tls"]["automation"]["policies"])


def test_shipped_ostiary_caddyfile_is_the_generated_default(caddy_binary):
    assert shipped_ostiary_caddyfile() == render_ostiary_caddyfile("127.0.0.1:9090", email="ops@example.com")
    done = caddy_validate(caddy_binary, shipped_ostiary_caddyfile())
    assert done.returncode == 0, done.stderr[-4000:]


def test_ostiary_caddyfile_refuses_an_upstream_that_is_not_host_port():
    with pytest.raises(ValueError, match="must be host:port"):
        render_ostiary_caddyfile("https://ostiary:9000/x")


@pytest.fixture(scope="module", params=sorted(CADDY_BINARIES))
def ostiary_caddy(request, check_standin, tmp_path_factory):
    binary = require_binary(CADDY_BINARIES[request.param])
    port = free_port()
    text = render_ostiary_caddyfile(
        check_standin.hostport, internal_tls=True, https_port=port, http_port=free_port(), admin="off",
        skip_install_trust=True,  # never touch the machine's trust store
    )
    with CaddyServer(text, binary=binary, ports=[port], workdir=tmp_path_factory.mktemp("ostiary-caddy")) as caddy:
        yield caddy, port


def _handshake(port: int, name: str, verify) -> httpx.Response:
    with httpx.Client(verify=verify, timeout=10) as client:
        return loopback_request(client, "GET", f"https://{name}:{port}/caddy/check-domain?domain={name}")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["auth.acme-corp.test", "acme.id.example.test"])
def test_on_demand_certificate_is_issued_for_a_name_ostiary_vouches_for(ostiary_caddy, name):
    caddy, port = ostiary_caddy
    deadline = time.monotonic() + 15
    while not caddy.local_ca_root.exists():  # the internal CA appears with the first issuance
        try:
            _handshake(port, name, False)
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, caddy.logs()
        time.sleep(0.1)
    response = _handshake(port, name, ssl.create_default_context(cafile=str(caddy.local_ca_root)))
    assert response.status_code == 200  # the stand-in answered through Caddy: proxied to Ostiary


@pytest.mark.slow
def test_on_demand_certificate_is_refused_for_any_other_name(ostiary_caddy, check_standin):
    caddy, port = ostiary_caddy
    with pytest.raises(httpx.ConnectError):
        _handshake(port, "evil.example.test", False)
    asked = [path for path, _ in check_standin.requests if "domain=evil.example.test" in path]
    assert asked, "Caddy never asked Ostiary about the name"
