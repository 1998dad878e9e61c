"""The Caddyfile that serves Ostiary itself: tenant hosts and portal hosts.

Names are not listed: any host gets a certificate on demand, but only after
Ostiary's ``/caddy/check-domain`` says it is an existing tenant host or a
verified portal host. ``on_demand_tls { ask <url> }`` is read by Caddy 2.6
and still by 2.11 (which turns it into ``permission http``), so one text
serves both.
"""

from __future__ import annotations

import re
from importlib import resources

from ostiary import wire

_UPSTREAM = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_EMAIL = re.compile(r"^[^\s{}\"'@]+@[^\s{}\"'@]+$")


def render_ostiary_caddyfile(
    ostiary_upstream: str = "127.0.0.1:9090",
    *,
    internal_tls: bool = False,
    email: str | None = None,
    https_port: int | None = None,
    http_port: int | None = None,
    admin: str | None = None,
    local_certs: bool = False,
    skip_install_trust: bool = False,
) -> str:
    """A complete Caddyfile putting Caddy in front of Ostiary at ``ostiary_upstream`` (host:port).

    ``internal_tls`` issues certificates from Caddy's own CA (tests, private
    networks); ``https_port``/``http_port``/``admin`` override Caddy's
    defaults (443, 80, localhost:2019; ``admin="off"`` disables the API).
    ``local_certs`` gives *every* site in the file — also app snippets pasted
    below it — a certificate from Caddy's internal CA (private networks,
    names no public CA issues for, tests). ``skip_install_trust`` stops Caddy
    adding its internal CA to the system trust store, which it otherwise
    does (silently, when run as root) the first time it uses that CA.
    """
    upstream = ostiary_upstream.removeprefix("http://").rstrip("/")
    if not _UPSTREAM.match(upstream):
        raise ValueError(f'Ostiary upstream "{ostiary_upstream}" must be host:port (plain http), e.g. 127.0.0.1:9090')
    if email is not None and not _EMAIL.match(email):
        raise ValueError(f'ACME email "{email}" is not an email address')
    options = []
    if admin is not None:
        options.append(f"\tadmin {admin}")
    if email:
        options.append(f"\temail {email}")
    if http_port is not None:
        options.append(f"\thttp_port {int(http_port)}")
    if https_port is not None:
        options.append(f"\thttps_port {int(https_port)}")
    if local_certs:
        options.append("\tlocal_certs")
    if skip_install_trust:
        options.append("\tskip_install_trust")
    lines = [
        "# Caddy in front of Ostiary: tenant hosts and portal hosts, any name, with a",
        "# certificate issued on demand only for names Ostiary vouches for.",
        "# Works unchanged on Caddy 2.6.2 and 2.11.x.",
        "{",
        *options,
        "\ton_demand_tls {",
        "\t\t# 200 for an existing tenant host or a verified portal host, 404 otherwise.",
        f"\t\task http://{upstream}{wire.CADDY_CHECK_DOMAIN_PATH}",
        "\t}",
        "}",
        "",
        "https:// {",
        "\ttls internal {" if internal_tls else "\ttls {",
        "\t\ton_demand",
        "\t}",
        "\t# Caddy sets X-Forwarded-For/-Proto/-Host and keeps the Host header.",
        f"\treverse_proxy {upstream}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def shipped_ostiary_caddyfile() -> str:
    """The example shipped as ``ostiary/proxies/ostiary.Caddyfile``."""
    return resources.files("ostiary.proxies").joinpath("ostiary.Caddyfile").read_text(encoding="utf-8")
