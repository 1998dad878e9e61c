"""Start one proxy kind in front of an upstream with the app's generated snippet, unchanged.

Shared by the proxy tests: the snippet text comes from `render_snippet`; the
parts around it (Caddy's global options, nginx's http block, Traefik's static
configuration and certificate file, HAProxy's global section and frontend)
are Ostiary's own renderings for its hosts where Ostiary has one.
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import httpx

from ostiary.proxies import AppFacts, render_snippet
from ostiary.proxies.haproxy import assemble, lua_script, render_ostiary_haproxy
from ostiary.proxies.ostiary_traefik import render_ostiary_traefik_static
from ostiary.proxies.traefik import write_plugin
from tests.proxies.matrix import APP_HOST, CADDY_BINARIES, PORTAL_URL
from tests.support.echo_app import EchoedRequest
from tests.support.proxies import (
    CaddyServer,
    HAProxyServer,
    NginxServer,
    ProxyError,
    TraefikServer,
    caddy_global_options,
    free_port,
    haproxy_pem,
    loopback_request,
    traefik_tls_file,
)

KINDS = ("caddy-2.11", "caddy-2.6", "haproxy", "nginx", "traefik")


class Proxied:
    """A running proxy in front of the upstream, and an HTTPS client trusting it."""

    def __init__(self, kind: str, server, base_url: str, ca: str) -> None:
        self.kind = kind
        self.server = server
        self.base_url = base_url
        self.client = httpx.Client(verify=ssl.create_default_context(cafile=ca), follow_redirects=False, timeout=10)

    def get(self, path: str, *, headers=(), method: str = "GET") -> httpx.Response:
        return loopback_request(self.client, method, self.base_url + path, headers=list(headers))

    def echoed(self, path: str, *, headers=()) -> EchoedRequest:
        response = self.get(path, headers=headers)
        assert response.status_code == 200, f"{response.status_code} {response.text}\n{self.server.logs()}"
        return EchoedRequest.from_json(response.json())

    def json(self, path: str, *, headers=()) -> dict:
        response = self.get(path, headers=headers)
        assert response.status_code == 200, f"{response.status_code} {response.text}\n{self.server.logs()}"
        return response.json()

    def close(self) -> None:
        self.client.close()
        self.server.cleanup()


def app_facts(port: int, check_url: str, upstream_url: str, **extra) -> AppFacts:
    values = dict(app_name="Grafana", host=APP_HOST, port=port, portal_url=PORTAL_URL, ostiary_address=check_url,
                  upstream=upstream_url, identity_headers=("user", "groups", "display_name"))
    values.update(extra)
    return AppFacts(**values)


def start_proxied(kind: str, *, check_url: str, upstream_url: str, tls, workdir: Path, **facts_extra) -> Proxied:
    """``kind`` from KINDS; ``tls`` a tests.support.tls.TestTLS covering APP_HOST."""
    port = free_port()
    if kind == "nginx":
        facts = app_facts(port, check_url, upstream_url, tls_certificate=str(tls.cert_chain),
                          tls_certificate_key=str(tls.private_key), **facts_extra)
        server = NginxServer(render_snippet(facts, "nginx"), ports=[port], workdir=workdir)
        ca = str(tls.ca_cert)
        server.start()
    elif kind == "traefik":
        facts = app_facts(port, check_url, upstream_url, **facts_extra)
        static = render_ostiary_traefik_static(https_address=f"127.0.0.1:{port}", dynamic_directory="{dynamic_dir}")
        dynamic = {"app.yml": render_snippet(facts, "traefik"), "tls.yml": traefik_tls_file(tls.cert_chain, tls.private_key)}
        write_plugin(workdir)  # Traefik runs in workdir and finds plugins-local/ there
        server = TraefikServer(static, dynamic, ports=[port], workdir=workdir)
        ca = str(tls.ca_cert)
        server.start()
    elif kind == "haproxy":
        facts = app_facts(port, check_url, upstream_url, **facts_extra)
        base = render_ostiary_haproxy(check_url, https_bind=f"127.0.0.1:{port}", certificates="{workdir}/site.pem",
                                      lua_path="{workdir}/ostiary_forward_auth.lua")
        config = assemble(base, [render_snippet(facts, "haproxy")])
        files = {"ostiary_forward_auth.lua": lua_script(), "site.pem": haproxy_pem(tls.cert_chain, tls.private_key)}
        server = HAProxyServer(config, files, ports=[port], workdir=workdir)
        ca = str(tls.ca_cert)
        server.start()
    else:
        facts = app_facts(port, check_url, upstream_url, **facts_extra)
        caddyfile = caddy_global_options(http_port=free_port(), https_port=port) + render_snippet(facts, "caddy")
        server = CaddyServer(caddyfile, binary=CADDY_BINARIES[kind], ports=[port], workdir=workdir)
        server.start()
        ca = str(server.wait_for_local_ca())
    proxied = Proxied(kind, server, f"https://{APP_HOST}:{port}", ca)
    try:
        _wait_for_tls(proxied)
    except BaseException:
        proxied.close()
        raise
    return proxied


def _wait_for_tls(proxied: Proxied) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            if proxied.get("/public/ready").status_code != 404:  # Traefik says 404 until it has loaded the router
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ProxyError(f"the proxy did not serve the app within 15 s\n{proxied.server.logs()}")
        time.sleep(0.1)
