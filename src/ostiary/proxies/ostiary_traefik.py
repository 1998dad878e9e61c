"""Traefik configuration for Ostiary itself: the static part every app's
snippet relies on, and the routers for Ostiary's own hosts.

The static configuration's ``aliasHeadersStrategy: delete`` (Traefik >=
3.7.12) removes header spellings such as ``X_Forwarded-User`` or
``X.Forwarded.User`` that CGI-style app servers read as
``X-Forwarded-User``; the snippets' strip middleware removes the exact names.
See docs/proxies/traefik.md.
"""

from __future__ import annotations

import json

from ostiary.proxies.traefik import ENTRY_POINT, PLUGIN_MODULE, PLUGIN_NAME


def _q(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_ostiary_traefik_static(*, https_address: str = ":443", dynamic_directory: str = "/etc/traefik/dynamic",
                                  log_level: str = "INFO") -> str:
    """traefik.yml: the HTTPS entry point the app snippets name, and the file provider."""
    lines = [
        "# Traefik static configuration (traefik.yml) for Ostiary's apps (Traefik >= 3.7.12).",
        "global:",
        "  checkNewVersion: false",
        "  sendAnonymousUsage: false",
        "log:",
        f"  level: {_q(log_level)}",
        "  noColor: true",
        "entryPoints:",
        f"  {ENTRY_POINT}:",
        f"    address: {_q(https_address)}",
        "    http:",
        "      # Delete X_Forwarded-User, X.Forwarded.User and every other spelling an app",
        "      # server reads as X-Forwarded-User: only Ostiary may set identity headers.",
        "      aliasHeadersStrategy: delete",
        "experimental:",
        "  localPlugins:",
        "    # Ostiary's cookie middleware, interpreted from source in Traefik's working directory:",
        "    # `ostiary proxy-files DIR` writes DIR/plugins-local/src/... (nothing is downloaded).",
        f"    {PLUGIN_NAME}:",
        f"      moduleName: {_q(PLUGIN_MODULE)}",
        "providers:",
        "  file:",
        f"    directory: {_q(dynamic_directory)}",
        "    watch: true",
    ]
    return "\n".join(lines) + "\n"


def render_ostiary_traefik_dynamic(hosts: list[str], ostiary_upstream: str) -> str:
    """Dynamic configuration routing the tenant host and every portal host to Ostiary."""
    upstream = ostiary_upstream if "://" in ostiary_upstream else f"http://{ostiary_upstream}"
    rule = " || ".join(f"Host(`{host}`)" for host in hosts)
    lines = [
        "# Ostiary's own hosts: the tenant host and every portal host (no forward auth).",
        "http:",
        "  routers:",
        "    ostiary:",
        f"      rule: {_q(rule)}",
        f"      entryPoints: [{_q(ENTRY_POINT)}]",
        "      service: \"ostiary\"",
        "      tls: {}",
        "  services:",
        "    ostiary:",
        "      loadBalancer:",
        "        servers:",
        f"          - url: {_q(upstream.rstrip('/'))}",
    ]
    return "\n".join(lines) + "\n"
