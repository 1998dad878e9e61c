"""Reverse-proxy configuration for proxy apps, and for Ostiary's own hosts.

The text `render_snippet` returns is what the UI shows, the CLI prints, the
API serves and the end-to-end tests run. The kinds of proxy live in one
registry (`ostiary.proxies.registry`).
"""

from __future__ import annotations

from ostiary.proxies.facts import AppFacts
from ostiary.proxies.ostiary_caddy import render_ostiary_caddyfile, shipped_ostiary_caddyfile
from ostiary.proxies.registry import KINDS, PROXIES, NotSignedIn, ProxyKind, proxy_kind


def render_snippet(facts: AppFacts, proxy: str) -> str:
    """The configuration snippet for one app and one proxy."""
    return proxy_kind(proxy).render(facts)


__all__ = [
    "AppFacts",
    "KINDS",
    "NotSignedIn",
    "PROXIES",
    "ProxyKind",
    "proxy_kind",
    "render_ostiary_caddyfile",
    "render_snippet",
    "shipped_ostiary_caddyfile",
]
