"""The proxy kinds Ostiary writes configuration for: one list, read by the
CLI, the admin pages, the API and the gate.

Each kind names its renderer and how it wants "not signed in" answered by
``/forward-auth/check`` (docs/how-it-works.md):

- ``REDIRECT``: 302 to the sign-in page for page navigations, 401 with the
  target in ``X-Ostiary-Location`` for XHR/fetch/non-GET. The proxy relays
  the check's answer as it is (Caddy, Traefik, HAProxy's Lua action).
- ``STATUS_401``: always 401 with ``X-Ostiary-Location``, plus
  ``X-Ostiary-Navigation: 1`` when a redirect is due; for proxies that can
  pass on only 2xx, 401 and 403 from a check (nginx's ``auth_request``).
  The snippet asks for it with ``?not-signed-in=401`` on the check URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ostiary.proxies.facts import AppFacts
from ostiary.wire import STATUS_401_QUERY


class NotSignedIn(Enum):
    REDIRECT = "redirect"
    STATUS_401 = "401"


@dataclass(frozen=True)
class ProxyKind:
    name: str  # the value of --proxy, the API's ?proxy= and the admin page's tabs
    label: str
    render: Callable[[AppFacts], str]
    not_signed_in: NotSignedIn
    # The same configuration in another form (Docker labels of a file-provider
    # config): shown and validated, but not a proxy of its own.
    variant_of: str | None = None


def _kinds() -> tuple[ProxyKind, ...]:
    from ostiary.proxies import caddy, haproxy, nginx, traefik

    return (
        ProxyKind("caddy", "Caddy", caddy.render, NotSignedIn.REDIRECT),
        ProxyKind("nginx", "nginx", nginx.render, NotSignedIn.STATUS_401),
        ProxyKind("traefik", "Traefik (file provider)", traefik.render, NotSignedIn.REDIRECT),
        ProxyKind("traefik-labels", "Traefik (Docker labels)", traefik.render_labels, NotSignedIn.REDIRECT,
                  variant_of="traefik"),
        ProxyKind("haproxy", "HAProxy", haproxy.render, NotSignedIn.REDIRECT),
    )


KINDS: tuple[ProxyKind, ...] = _kinds()
BY_NAME: dict[str, ProxyKind] = {kind.name: kind for kind in KINDS}
PROXIES: tuple[str, ...] = tuple(BY_NAME)


def proxy_kind(name: str) -> ProxyKind:
    """The kind called ``name``; ValueError naming the choices otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f'unknown proxy "{name}": choose one of {", ".join(PROXIES)}') from None


def status_401_queries() -> frozenset[bytes]:
    """Query-string parts that ask the check for STATUS_401: the parameter, and
    ``proxy=<kind>`` for every kind that wants it (snippets pasted before the
    parameter existed say ``?proxy=nginx``). The gate reads the same set
    from ``ostiary.wire.STATUS_401_QUERIES``, so it never imports the renderers."""
    parts = {STATUS_401_QUERY.encode("ascii")}
    parts.update(f"proxy={k.name}".encode("ascii") for k in KINDS if k.not_signed_in is NotSignedIn.STATUS_401)
    return frozenset(parts)
