"""Traefik dynamic-configuration (file provider) snippets for a chat and its consoles.

Traefik has no built-in way to rewrite a ``Set-Cookie`` value: its ``headers``
middleware can only set or delete a whole header, which would drop every other
cookie. The sibling-subdomain layout therefore uses Ostiary's own middleware,
shipped as source and loaded as a Traefik *local plugin* (interpreted by
Traefik, nothing downloaded; ``ostiary.proxies.traefik``): it applies the same
Go regexps to each value as Caddy does. See docs/shared-cookie.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ostiary.sharedcookie.tooling.setcookie_rewrite import (
    DEFAULT_COOKIE_NAMES,
    SnippetSettingsError,
    check_path_prefixes,
    host_of,
    set_cookie_rewrites,
    shared_cookie_domain,
)

from ostiary.proxies.traefik import PLUGIN_MODULE as REWRITE_PLUGIN_MODULE
from ostiary.proxies.traefik import PLUGIN_NAME as REWRITE_PLUGIN_NAME


@dataclass(frozen=True)
class TraefikSnippet:
    dynamic_yaml: str  # the file provider's dynamic configuration
    static_yaml: str   # what traefik.yml needs (empty when nothing)


def traefik_same_origin(chat_host: str, chat_upstream: str, consoles: Mapping[str, str], *,
                        entry_points: Sequence[str] = (), cert_resolver: str | None = None) -> TraefikSnippet:
    """Consoles under path prefixes of the chat's host; no cookie rewrite is needed."""
    host = host_of(chat_host)
    routers: dict[str, Any] = {"chat": _router(f"Host(`{host}`)", "chat", entry_points, cert_resolver)}
    services = {"chat": _service(chat_upstream)}
    for index, (prefix, upstream) in enumerate(check_path_prefixes(consoles).items()):
        name = f"console{index}"
        rule = f"Host(`{host}`) && (Path(`{prefix}`) || PathPrefix(`{prefix}/`))"
        routers[name] = _router(rule, name, entry_points, cert_resolver)
        services[name] = _service(upstream)
    return TraefikSnippet(_dump({"http": {"routers": routers, "services": services}}), "")


def traefik_sibling_subdomains(chat_host: str, chat_upstream: str, siblings: Mapping[str, str], *,
                               cookie_domain: str | None = None,
                               cookie_names: Sequence[str] = DEFAULT_COOKIE_NAMES,
                               entry_points: Sequence[str] = (), cert_resolver: str | None = None) -> TraefikSnippet:
    """Consoles on sibling subdomains, with the Set-Cookie rewrite done by Ostiary's local plugin
    (write its source next to Traefik with ``ostiary proxy-files DIR``)."""
    domain = shared_cookie_domain([chat_host, *siblings], cookie_domain)
    rewrites = [{"header": "Set-Cookie", "regex": r.regex, "replacement": r.replacement}
                for r in set_cookie_rewrites(cookie_names, domain)]
    chat_router = _router(f"Host(`{host_of(chat_host)}`)", "chat", entry_points, cert_resolver)
    chat_router["middlewares"] = ["chat-shared-cookie"]
    routers: dict[str, Any] = {"chat": chat_router}
    services = {"chat": _service(chat_upstream)}
    for index, (address, upstream) in enumerate(siblings.items()):
        name = f"sibling{index}"
        routers[name] = _router(f"Host(`{host_of(address)}`)", name, entry_points, cert_resolver)
        services[name] = _service(upstream)
    middlewares = {"chat-shared-cookie": {"plugin": {REWRITE_PLUGIN_NAME: {"rewrites": rewrites}}}}
    dynamic = {"http": {"routers": routers, "services": services, "middlewares": middlewares}}
    static = {"experimental": {"localPlugins": {REWRITE_PLUGIN_NAME: {"moduleName": REWRITE_PLUGIN_MODULE}}}}
    header = (f"# Shares the chat's cookies ({', '.join(cookie_names)}) with every host under {domain}.\n"
              "# Needs Ostiary's local plugin in the static configuration (see static_yaml) and its\n"
              "# source in Traefik's working directory: `ostiary proxy-files DIR`.\n")
    return TraefikSnippet(header + _dump(dynamic), _dump(static))


def _router(rule: str, service: str, entry_points: Sequence[str], cert_resolver: str | None) -> dict[str, Any]:
    router: dict[str, Any] = {"rule": rule, "service": service}
    if entry_points:
        router["entryPoints"] = list(entry_points)
    if cert_resolver:
        router["tls"] = {"certResolver": cert_resolver}
    return router


def _service(upstream: str) -> dict[str, Any]:
    url = upstream if "://" in upstream else f"http://{upstream}"
    if any(c in url for c in " \n\"'`"):
        raise SnippetSettingsError(f"upstream {upstream!r} must be a URL like http://127.0.0.1:8001")
    return {"loadBalancer": {"servers": [{"url": url}]}}


def _dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True)
