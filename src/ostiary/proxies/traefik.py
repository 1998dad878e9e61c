"""Traefik v3 configuration for one proxy app: file-provider YAML and Docker labels.

Both come from one dict (`dynamic_config`), so they cannot drift apart;
`ostiary.proxies.traefik_labels.labels_to_dynamic_config` reads labels back
into that dict for the tests.

Traefik cannot rewrite one cookie out of the Cookie header without a plugin
(its headers middleware only sets or deletes whole headers), so with Traefik
the app does receive the forward-auth cookie; docs/proxies/traefik.md says so.
Traefik also cannot set the Host header of the forwardAuth request: the
address is always the portal host's own URL.
"""

from __future__ import annotations

import json

from ostiary import wire
from ostiary.proxies.facts import AppFacts

ENTRY_POINT = "websecure"


def names(facts: AppFacts) -> dict[str, str]:
    """Router, service and middleware names used for this app."""
    slug = facts.slug
    return {
        "router": slug,
        "service": slug,
        "strip": f"ostiary-{slug}-strip",
        "auth": f"ostiary-{slug}-auth",
    }


def _rule(facts: AppFacts) -> str:
    rule = f"Host(`{facts.host}`)"
    if facts.path_prefix:
        rule += f" && (Path(`{facts.path_prefix}`) || PathPrefix(`{facts.path_prefix}/`))"
    return rule


def dynamic_config(facts: AppFacts) -> dict:
    """The dynamic configuration as a plain dict (what the YAML and labels express)."""
    n = names(facts)
    strip = {name: "" for header in wire.IDENTITY_HEADERS.values() for name in (header, header.replace("-", "_"))}
    auth: dict = {"address": facts.portal_check_url, "trustForwardHeader": False}
    if facts.header_names:
        auth["authResponseHeaders"] = list(facts.header_names)
    router: dict = {
        "rule": _rule(facts),
        "entryPoints": [ENTRY_POINT],
        "middlewares": [n["strip"], n["auth"]],
        "service": n["service"],
    }
    if facts.scheme == "https":
        router["tls"] = {}
    return {
        "http": {
            "routers": {n["router"]: router},
            "middlewares": {
                n["strip"]: {"headers": {"customRequestHeaders": strip}},
                n["auth"]: {"forwardAuth": auth},
            },
            "services": {n["service"]: {"loadBalancer": {"servers": [{"url": facts.upstream_url}]}}},
        }
    }


def _q(value: object) -> str:
    # JSON scalars are valid YAML flow scalars, and quote everything that needs it.
    return json.dumps(value, ensure_ascii=False)


def render(facts: AppFacts) -> str:
    """File-provider YAML, commented."""
    config = dynamic_config(facts)["http"]
    n = names(facts)
    router = config["routers"][n["router"]]
    strip = config["middlewares"][n["strip"]]["headers"]["customRequestHeaders"]
    auth = config["middlewares"][n["auth"]]["forwardAuth"]
    lines = [
        f"# Ostiary forward auth for {facts.app_name!r}: {facts.external_url}",
        "# Traefik v3 dynamic configuration (file provider).",
        "# Traefik cannot strip one cookie: the app also receives the forward-auth",
        f"# cookie {facts.forward_auth_cookie} (see the Ostiary docs on Traefik).",
        "http:",
        "  routers:",
        f"    {n['router']}:",
        f"      rule: {_q(router['rule'])}",
        f"      entryPoints: [{_q(ENTRY_POINT)}]  # your HTTPS entry point",
        "      # Order matters: strip client copies first, then ask Ostiary.",
        f"      middlewares: [{_q(n['strip'])}, {_q(n['auth'])}]",
        f"      service: {_q(n['service'])}",
    ]
    if "tls" in router:
        lines.append("      tls: {}")
    lines += [
        "  middlewares:",
        f"    {n['strip']}:",
        "      headers:",
        "        # An empty value removes the header: only Ostiary may set identity headers,",
        "        # including the X_Forwarded_* spellings some app servers treat as the same.",
        "        customRequestHeaders:",
    ]
    lines += [f"          {name}: {_q(value)}" for name, value in strip.items()]
    lines += [
        f"    {n['auth']}:",
        "      forwardAuth:",
        f"        address: {_q(auth['address'])}",
        "        # Traefik writes X-Forwarded-* for the check itself instead of passing on",
        "        # whatever the client (or an untrusted hop) sent.",
        "        trustForwardHeader: false",
    ]
    if "authResponseHeaders" in auth:
        lines.append("        # Copied from Ostiary's answer; client copies are replaced.")
        lines.append(f"        authResponseHeaders: [{', '.join(_q(h) for h in auth['authResponseHeaders'])}]")
    lines += [
        "  services:",
        f"    {n['service']}:",
        "      loadBalancer:",
        "        servers:",
        f"          - url: {_q(facts.upstream_url)}  # your app",
    ]
    return "\n".join(lines) + "\n"


def labels(facts: AppFacts) -> dict[str, str]:
    """Docker labels (insertion-ordered) expressing `dynamic_config` for the app's container."""
    n = names(facts)
    config = dynamic_config(facts)["http"]
    router = config["routers"][n["router"]]
    strip = config["middlewares"][n["strip"]]["headers"]["customRequestHeaders"]
    auth = config["middlewares"][n["auth"]]["forwardAuth"]
    r = f"traefik.http.routers.{n['router']}"
    s = f"traefik.http.middlewares.{n['strip']}.headers.customrequestheaders"
    a = f"traefik.http.middlewares.{n['auth']}.forwardauth"
    out = {
        "traefik.enable": "true",
        f"{r}.rule": router["rule"],
        f"{r}.entrypoints": ",".join(router["entryPoints"]),
        f"{r}.middlewares": ",".join(router["middlewares"]),
        f"{r}.service": router["service"],
    }
    if "tls" in router:
        out[f"{r}.tls"] = "true"
    out.update({f"{s}.{name}": value for name, value in strip.items()})
    out[f"{a}.address"] = auth["address"]
    out[f"{a}.trustForwardHeader"] = "false"
    if "authResponseHeaders" in auth:
        out[f"{a}.authResponseHeaders"] = ",".join(auth["authResponseHeaders"])
    svc = f"traefik.http.services.{n['service']}.loadbalancer.server"
    if facts.upstream_scheme != "http":
        out[f"{svc}.scheme"] = facts.upstream_scheme
    out[f"{svc}.port"] = str(facts.upstream_port)
    return out


def render_labels(facts: AppFacts) -> str:
    """Docker Compose ``labels:`` list for the app's container."""
    lines = [
        f"# Ostiary forward auth for {facts.app_name!r}: {facts.external_url}",
        "# Docker labels for the app's container (Traefik v3, Docker provider).",
        "# Traefik cannot strip one cookie: the app also receives the forward-auth",
        f"# cookie {facts.forward_auth_cookie} (see the Ostiary docs on Traefik).",
        "labels:",
    ]
    lines += [f"  - {_q(f'{key}={value}')}" for key, value in labels(facts).items()]
    return "\n".join(lines) + "\n"
