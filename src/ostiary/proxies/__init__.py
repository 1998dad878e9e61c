"""Reverse-proxy configuration for proxy apps, and the Caddyfile for Ostiary itself.

The text `render_snippet` returns is what the UI shows, the CLI prints, the
API serves and the end-to-end tests run.
"""

from __future__ import annotations

from collections.abc import Callable

from ostiary.proxies import caddy, nginx, traefik
from ostiary.proxies.facts import AppFacts
from ostiary.proxies.ostiary_caddy import render_ostiary_caddyfile, shipped_ostiary_caddyfile

RENDERERS: dict[str, Callable[[AppFacts], str]] = {
    "caddy": caddy.render,
    "nginx": nginx.render,
    "traefik": traefik.render,
    "traefik-labels": traefik.render_labels,
}
PROXIES = tuple(RENDERERS)


def render_snippet(facts: AppFacts, proxy: str) -> str:
    """The configuration snippet for one app and one proxy."""
    try:
        renderer = RENDERERS[proxy]
    except KeyError:
        raise ValueError(f'unknown proxy "{proxy}": choose one of {", ".join(PROXIES)}') from None
    return renderer(facts)


__all__ = [
    "AppFacts",
    "PROXIES",
    "render_ostiary_caddyfile",
    "render_snippet",
    "shipped_ostiary_caddyfile",
]
